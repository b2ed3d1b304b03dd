"""Batch under faults: a worker process killed or crashing on a row, and a real Ctrl-C.

Faults are injected through `run_batch(task_hook=...)`, which every worker process calls before each
district: the hooks here kill the worker (SIGKILL) or make it dereference NULL (SIGSEGV) on the
districts whose name starts with "Poison", optionally only once (a marker file remembers).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.batch.run import BatchConfig, BatchResult, run_batch
from engine.batch.pool import MAX_ROW_DEATHS
from engine.batch.worker import Task
from engine.batch.manifest import MANIFEST_NAME

from .conftest import FIXTURES, ROOT, RULES
from .test_batch import leftovers, mtimes, summary, write_csv

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")


def crash(how: str, out: Path, marker: Path | None, task: Task) -> None:
    """In a worker: die on a Poison district (once, when `marker` is given), leaving a half-written file."""
    if not (task.record.district_name or "").startswith("Poison"):
        return
    if marker is not None:
        if marker.exists():
            return
        marker.write_text("crashed\n", encoding="utf-8")
    (out / f".{task.slug}.json.abcd1234.tmp").write_text("half a docu", encoding="utf-8")
    if how == "segv":
        ctypes.string_at(0)  # a crash in C: SIGSEGV
    os.kill(os.getpid(), signal.SIGKILL)


def rows(count: int, poison: set[int]) -> list[str]:
    return [
        f"05{n:05d},{'Poison' if n in poison else 'District'} {n},{n * 100},,yes,no,{'yes' if n % 2 else 'no'}"
        for n in range(1, count + 1)
    ]


def run(source: Path, out: Path, hook=None, chunk_size: int = 3, workers: int = 2) -> BatchResult:
    config = BatchConfig(
        source, out, formats=("json",), workers=workers, rules=RULES, date="2026-01-05", chunk_size=chunk_size
    )
    return run_batch(config, task_hook=hook)


def manifest_slugs(out: Path) -> list[str]:
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()[1:]
    return [line.split('"slug":"', 1)[1].split('"', 1)[0] for line in lines]


def test_a_worker_killed_once_costs_nothing_its_rows_are_retried(tmp_path: Path) -> None:
    out, marker = tmp_path / "out", tmp_path / "crashed"
    source = write_csv(tmp_path / "d.csv", rows(9, poison={5}))
    result = run(source, out, functools.partial(crash, "kill", out, marker))
    assert marker.exists()  # the worker did die
    assert (result.districts, result.done, result.failed, result.exit_code) == (9, 9, 0, 0)
    assert [r["error"] for r in summary(out)] == [""] * 9
    assert leftovers(out) == []
    assert len(manifest_slugs(out)) == 9


@pytest.mark.parametrize(("how", "signal_text"), [("kill", "signal 9, SIGKILL"), ("segv", "signal 11, SIGSEGV")])
def test_a_row_that_kills_its_worker_fails_alone_and_the_run_finishes(
    tmp_path: Path, how: str, signal_text: str
) -> None:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "d.csv", rows(9, poison={5}))
    result = run(source, out, functools.partial(crash, how, out, None))
    assert (result.districts, result.done, result.failed, result.exit_code) == (9, 8, 1, 3)
    assert str(result.errors[0]) == (
        f"row 6: the worker process died (killed by {signal_text}) twice while processing this row, "
        "with its chunk and then alone; the row was not done"
    )
    table = summary(out)
    assert [bool(r["error"]) for r in table] == [False] * 4 + [True] + [False] * 4
    assert table[4]["district_name"] == "Poison 5" and table[4]["outputs"] == ""
    assert "0500005-poison-5" not in manifest_slugs(out) and len(manifest_slugs(out)) == 8
    assert not (out / "0500005-poison-5.json").exists()
    assert leftovers(out) == []  # the half-written files of the dead workers were swept
    assert "Failed (see summary.csv)</td><td>1<" in (out / "index.html").read_text(encoding="utf-8")
    before = mtimes(out)
    again = run(source, out)  # no fault now: only the failed row is done
    assert (again.done, again.skipped, again.failed, again.exit_code) == (1, 8, 0, 0)
    assert {name: mtimes(out)[name] for name in before} == before


def test_one_worker_and_one_small_chunk_are_isolated_too(tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "d.csv", rows(4, poison={2}))
    result = run(source, out, functools.partial(crash, "segv", out, None), chunk_size=250, workers=1)
    assert (result.districts, result.done, result.failed, result.exit_code) == (4, 3, 1, 3)
    assert leftovers(out) == []


def test_a_chunk_where_every_row_crashes_gives_up_after_a_few(tmp_path: Path) -> None:
    out = tmp_path / "out"
    count = MAX_ROW_DEATHS + 3
    source = write_csv(tmp_path / "d.csv", rows(count, poison=set(range(1, count + 1))) + rows(2, poison=set()))
    result = run(source, out, functools.partial(crash, "kill", out, None), chunk_size=count)
    assert (result.done, result.failed, result.exit_code) == (2, count, 3)
    reasons = [r["error"].split(": ", 1)[1] for r in summary(out)[:count]]
    died = sum(reason.startswith("the worker process died (killed by signal 9") for reason in reasons)
    assert MAX_ROW_DEATHS <= died <= MAX_ROW_DEATHS + 1  # the other worker may hold a row when the limit is reached
    assert reasons[-1].startswith("not tried again: worker processes died on ")
    assert reasons[-1].endswith(" other rows of its chunk; run again to retry")
    assert leftovers(out) == []


SCRIPT = """
import dataclasses, sys, time
from engine.batch import run as batch
from engine.cli import main

def slow(task):
    time.sleep(0.05)

def run_batch(config, progress=None, **options):
    config = dataclasses.replace(config, chunk_size=2)
    return original(config, progress, task_hook=slow, **options)

if __name__ == "__main__":
    original = batch.run_batch
    batch.run_batch = run_batch
    sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_on_a_parallel_run_stops_cleanly_and_the_rerun_resumes(tmp_path: Path) -> None:
    """The real command with two worker processes; SIGINT goes to the whole process group, as a
    terminal's Ctrl-C does, once the first chunk is journalled."""
    out = tmp_path / "out"
    count = 60
    source = write_csv(tmp_path / "d.csv", rows(count, poison=set()))
    script = tmp_path / "slow_batch.py"
    script.write_text(SCRIPT, encoding="utf-8")
    command = [sys.executable, str(script), "batch", str(source), "--out", str(out), "--format", "json",
               "--workers", "2", "--rules", str(RULES), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            manifest = out / MANIFEST_NAME
            if manifest.exists() and len(manifest.read_text(encoding="utf-8").splitlines()) >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "stopped: finished districts are kept in" in stderr and "Traceback" not in stderr
    assert stdout == ""
    assert leftovers(out) == [] and not (out / "summary.csv").exists()
    journalled = {f"{slug}.json" for slug in manifest_slugs(out)}  # what the interrupted run finished
    assert 2 <= len(journalled) < count
    finished = {name: time for name, time in mtimes(out).items() if name in journalled}
    config = BatchConfig(source, out, formats=("json",), workers=2, rules=RULES, chunk_size=2)
    resumed = run_batch(config)
    assert (resumed.done + resumed.skipped, resumed.failed, resumed.exit_code) == (count, 0, 0)
    assert resumed.skipped == len(journalled)
    assert {name: mtimes(out)[name] for name in finished} == finished
    assert leftovers(out) == [] and len(summary(out)) == count
