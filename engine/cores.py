"""How many worker processes to start by default: the cores this process may run on.

A helper module, shared by batch mode and the exhaustive and impact checks. On Linux a process may be
confined to fewer cores than the machine has (containers, `taskset`), so the affinity mask counts.
"""

from __future__ import annotations

import os

from engine.errors import InputError, SourceLocation


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def worker_count(requested: int | None) -> tuple[int, str]:
    """The processes to start for `--workers N` (default: the usable cores), and a notice when N is
    capped at the usable cores: more processes only compete for them, each with its own memory
    (`--workers 200` on 2 cores: 80 processes, 3.3 GB, 3.3 times slower)."""
    cores = usable_cores()
    if requested is None:
        return cores, ""
    if requested < 1:
        raise InputError.at(SourceLocation("--workers"), "must be at least 1")
    if requested > cores:
        return cores, f"--workers {requested}: using {cores}, the cores this process may use"
    return requested, ""
