"""The one process pool (`engine.processes`) under faults that no job is to blame for: a worker
killed while idle, workers that cannot start, Ctrl-C while the fork server starts; and `impact
--workers` capped like batch's.

Deaths are waited for with a pidfd (the kernel says when the process is gone), never with a sleep.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cache
from engine.cli import main
from engine.cores import usable_cores
from engine.processes import PoolBroken, Workers, result

from .conftest import ROOT, RULES

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="Linux: waits for a death with a pidfd")


def kill_and_wait(pid: int) -> None:
    """SIGKILL `pid` and return once it has ended."""
    handle = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        select.select([handle], [], [])
    finally:
        os.close(handle)


def process_id() -> int:
    return os.getpid()


def cannot_start() -> None:
    raise RuntimeError("this worker cannot start")


def kill_idle(workers: Workers, pid: int) -> None:
    """Kill a worker that is idle: with the pool's channel locked by this process, so that it is not
    killed in the microseconds after a job when it still holds that lock (a dead holder would stall
    the channel: pebble issue #163, another fault than the one tested here)."""
    with workers._pool._pool_manager.worker_manager.workers_channel.lock():
        kill_and_wait(pid)


def test_a_worker_killed_while_idle_is_replaced() -> None:
    workers = Workers(1)
    try:
        first = result(workers.submit(process_id))
        kill_idle(workers, first)  # no job runs anywhere: pebble alone would break the pool here
        second = result(workers.submit(process_id))
        assert second != first
        kill_idle(workers, second)  # again, after a job was taken in between: replaced again
        assert result(workers.submit(process_id)) not in (first, second)
    finally:
        workers.terminate()


def test_workers_that_cannot_start_break_the_pool() -> None:
    workers = Workers(1, initializer=cannot_start)
    try:
        with pytest.raises(PoolBroken):
            result(workers.submit(process_id))
    finally:
        workers.terminate()


GATE = """
import os, select
go = os.open(os.environ["GATE_GO"], os.O_RDONLY | os.O_NONBLOCK)  # before saying so: the test may then open it
with open(os.environ["GATE_READY"], "w") as ready:
    ready.write("importing\\n")
select.select([go], [], [])  # until the test, having sent Ctrl-C, has opened and closed the other end
"""

SCRIPT = """
import sys
from engine import processes
from engine import cache
from engine.cli import main

def with_gate(preload):
    return original(("gate", *preload))

if __name__ == "__main__":
    original = processes._context
    processes._context = with_gate
    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(usable_cores() < 2, reason="the exhaustive check uses worker processes on 2 cores or more")
def test_ctrl_c_while_the_exhaustive_check_starts_its_workers(tmp_path: Path) -> None:
    """The real command; SIGINT goes to the whole process group, as a terminal's Ctrl-C does, while
    the fork server imports its preload modules (held there by a gate module)."""
    (tmp_path / "gate.py").write_text(GATE, encoding="utf-8")
    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT, encoding="utf-8")
    ready, go = tmp_path / "ready", tmp_path / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]), GATE_READY=str(ready), GATE_GO=str(go))
    env[cache.ENV_OFF] = "1"  # outcomes cached on disk by another test would need no workers
    command = [sys.executable, str(script), "validate", str(RULES), "--exhaustive"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        signalled = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)
        try:  # readable once the fork server is in the gate; the limit only keeps a broken test from hanging
            assert select.select([signalled], [], [], 60)[0], "the fork server never reached the gate"
        finally:
            os.close(signalled)
        os.killpg(process.pid, signal.SIGINT)
        try:  # the fork server, still in the gate, goes on; one killed by the Ctrl-C is not there to read
            os.close(os.open(go, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert (process.returncode, stdout, stderr) == (130, "", "rostering-advisor: interrupted\n")


def test_impact_workers_are_capped_at_the_usable_cores(capsys: pytest.CaptureFixture[str]) -> None:
    many = usable_cores() + 7
    assert main(["impact", "--rules", str(RULES), "--base-dir", str(RULES), "--workers", str(many)]) == 0
    assert capsys.readouterr().err == f"--workers {many}: using {usable_cores()}, the cores this process may use\n"
    assert main(["impact", "--rules", str(RULES), "--base-dir", str(RULES), "--workers", "0"]) == 2
    assert capsys.readouterr().err.startswith("--workers: must be at least 1")
