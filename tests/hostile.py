"""Run a table of hostile command lines in one bounded subprocess, and check how each ended.

The table runs in a single child process (one start-up for all its cases), under an address-space
limit (`MEMORY_BYTES`, RLIMIT_AS set by `preexec_fn`; worker processes inherit it) and with an
alarm of `SECONDS` per case, so a case that blocks, runs away or allocates without bound fails its
test instead of hanging the suite. Each case reports its exit code, its stderr and its time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEMORY_BYTES = 512 * 1024 * 1024
SECONDS = 10
# `file:` / `file:line:` / `file:line:col:` then the message; `file` may be a template or an option
LOCATED = re.compile(r"^[^\s:][^:\n]*(?::\d+){0,2}: \S[^\n]*$")

_CHILD = r"""
import io, json, signal, sys, time, traceback
from engine.cli import main

class Stuck(BaseException):
    pass

def alarm(signum, frame):
    raise Stuck()

signal.signal(signal.SIGALRM, alarm)
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    start = time.monotonic()
    signal.alarm(int(sys.argv[2]))
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    except Stuck:
        code, err = "stuck", io.StringIO("still running at the alarm\n")
    except BaseException:
        code = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    results.append({"code": code, "stderr": err.getvalue(), "seconds": time.monotonic() - start})
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Outcome:
    code: int | str
    stderr: str
    seconds: float


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_table(table: list[list[str]], cwd: Path) -> list[Outcome]:
    """Run every command line of `table` (arguments after `rostering-advisor`) in one bounded child."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(table), str(SECONDS)],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=_limit,
        timeout=SECONDS * len(table) + 30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [Outcome(**found) for found in json.loads(done.stdout.splitlines()[-1])]


def run_command(argv: list[str], cwd: Path, *, stdout: Any = subprocess.DEVNULL, file_bytes: int | None = None,
                interrupt_after: float | None = None, close_stdout: bool = False) -> Outcome:
    """`rostering-advisor ARGV` alone in a bounded process: for what a table cannot do in one process
    (standard output on a full device or closed, a file-size limit as a full disk, a Ctrl-C)."""

    def limits() -> None:
        _limit()
        if close_stdout:
            os.close(1)
        if file_bytes is not None:  # writes past it fail with EFBIG, as on a full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))

    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *argv], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, preexec_fn=limits, text=True,
    )
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=SECONDS)
    return Outcome(process.returncode, stderr, time.monotonic() - start)


def snapshot(*folders: Path) -> dict[str, str]:
    """Every regular file below `folders` (and the kind of every other entry), to show nothing changed."""
    seen: dict[str, str] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_symlink():
                seen[str(path)] = "link"
            elif path.is_file():
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif not path.is_dir():
                seen[str(path)] = f"special {path.lstat().st_mode:o}"
    return seen


def assert_refused(outcome: Outcome, expected: str, code: int = 2) -> None:
    """Exit `code`, one located line on stderr that contains `expected`, no traceback, in time."""
    assert outcome.code == code, (outcome.code, outcome.stderr[-1500:])
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and LOCATED.match(lines[0]), outcome.stderr[-1500:]
    assert expected in lines[0], lines[0]
    assert outcome.seconds < SECONDS
