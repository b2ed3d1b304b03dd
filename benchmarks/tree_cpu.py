"""CPU time of a command and every process it starts, even those that outlive it.

`getrusage(RUSAGE_CHILDREN)` counts only descendants that were waited for. A fork server's workers
are waited for by the fork server, but the fork server itself is orphaned when the command exits
and would be reaped by init, taking its CPU time (and its workers') with it. So this process makes
itself a child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER)`): orphans of its descendants become
its children, and it waits for them (and only them: children it had before are left alone)
before reading the figure.
"""

from __future__ import annotations

import compileall
import ctypes
import os
import sys
import resource
import subprocess
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def _become_subreaper() -> None:
    global _subreaper
    if not _subreaper:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
        _subreaper = True


def as_installed(root: Path) -> None:
    """Run the engine as an installed package runs: from bytecode files (.pyc), made now.

    With PYTHONDONTWRITEBYTECODE set (as on the machines here), every process, workers included,
    would compile the engine's modules from source first (~100 ms of CPU each time), which an
    installed package (pip compiles it) never does. Child processes inherit the change.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    compileall.compile_dir(str(root / "engine"), quiet=1)


def _children() -> set[int]:
    pid = os.getpid()
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out.update(int(c) for c in (task / "children").read_text().split())
    return out


def cpu_ms(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, int]:
    """(CPU milliseconds, user + system, of `command` and all its descendants; its exit code)."""
    _become_subreaper()
    earlier = _children()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    orphans = _children() - earlier
    while orphans:  # the command's orphans (a fork server and what it started) are ours to wait for now
        for pid in orphans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        orphans = _children() - earlier
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3, done.returncode
