"""Worker processes, one way for the whole package (batch, and the exhaustive check behind impact).

A `Workers` pool (pebble) runs jobs in processes started from a fork server that has imported the
modules the jobs need (spawned where there is no fork server): they inherit no engine state or
threads of the parent, and start in milliseconds. A job whose worker dies — killed, out of memory,
a crash in a C extension — fails alone with `WorkerDied`, saying how; the pool starts a new worker
and the other jobs go on. Workers that die with no job to blame (they cannot start) break the
pool: `PoolBroken`. Workers ignore Ctrl-C, which is the parent's to handle.

From a script, call the API that uses workers under `if __name__ == "__main__":`, as
multiprocessing requires: a worker imports the main module again.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pebble import ProcessExpired, ProcessPool


class WorkerDied(Exception):
    """The process running a job ended before the job did; `how` says how (for messages)."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class PoolBroken(Exception):
    """Worker processes keep ending before they take a job: they cannot start."""


def _context(preload: Sequence[str]) -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))  # used when the fork server starts: first use
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


class Workers:
    """`processes` worker processes, each set up once by `initializer(*initargs)`."""

    def __init__(
        self,
        processes: int,
        *,
        initializer: Callable[..., None] | None = None,
        initargs: Sequence[Any] = (),
        preload: Sequence[str] = (),
    ) -> None:
        self._pool = ProcessPool(
            max_workers=processes, initializer=initializer, initargs=tuple(initargs), context=_context(preload)
        )

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run `function(*args)` in a worker; `result(future)` gives its value."""
        return self._pool.schedule(function, args)

    def close(self) -> None:
        """Let the workers finish their jobs and exit."""
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        """Stop now: running jobs are abandoned, their workers stopped."""
        self._pool.stop()
        self._pool.join()


def result(future: Future) -> Any:
    """The job's value, or its exception; `WorkerDied` or `PoolBroken` when its worker process failed."""
    try:
        return future.result()
    except ProcessExpired as expired:
        raise WorkerDied(_how(expired.exitcode)) from None
    except BrokenProcessPool as broken:
        raise PoolBroken(str(broken) or "worker processes ended unexpectedly") from None


def _how(code: int | None) -> str:
    """How a process ended, as a message says it: killed by signal 9, SIGKILL; exit status 1."""
    if code is not None and code < 0:
        try:
            return f"killed by signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
