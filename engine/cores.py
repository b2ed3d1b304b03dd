"""How many worker processes to start by default: the cores this process may run on.

A leaf module, shared by batch mode and the exhaustive and impact checks. On Linux a process may be
confined to fewer cores than the machine has (containers, `taskset`), so the affinity mask counts.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
