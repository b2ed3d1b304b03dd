"""Worker processes, one way for the whole package (batch, and the exhaustive check behind impact).

A `Workers` pool (pebble) runs jobs in processes started from a fork server that has imported the
modules the jobs need (spawned where there is no fork server): they inherit no engine state or
threads of the parent, and start in milliseconds. A job whose worker dies — killed, out of memory,
a crash in a C extension — fails alone with `WorkerDied`, saying how; the pool starts a new worker
and the other jobs go on. A worker that dies idle (no job to blame) is replaced too, as long as
workers take jobs in between; workers that die before any job was taken since the last such death
(they cannot start) break the pool: `PoolBroken`. Workers and the fork server ignore Ctrl-C,
which is the parent's to handle: it waits until the pool has started (the fork server has
imported the preload modules, about half a second).

From a script, call the API that uses workers under `if __name__ == "__main__":`, as
multiprocessing requires: a worker imports the main module again.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from pebble import ProcessExpired, ProcessPool
from pebble.pool.process import PoolManager, TaskManager  # not pebble's public API: pyproject pins pebble's minor version


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


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Block Ctrl-C in this thread; one that came meanwhile is delivered (KeyboardInterrupt) at the end.

    Processes started meanwhile inherit the block: the fork server, while it imports the preload
    modules, and the workers it forks, until pebble has them ignore Ctrl-C. The parent is not
    interrupted half-way through starting a worker (the fork server would then start it for a
    parent gone, and it would print a traceback)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # first: when it starts it unblocks Ctrl-C in this thread
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class _Manager(PoolManager):
    """pebble's pool manager, but a worker that dies idle is replaced while jobs keep finishing.

    pebble breaks the whole pool when a worker dies while no job is running anywhere (an idle
    worker killed, or out of memory, between jobs); the pool before pebble replaced it. A second
    such death with no job finished since means the workers cannot start: the pool breaks then.
    """

    def __init__(self, context: Any, mp_context: Any) -> None:
        super().__init__(context, mp_context)
        self.task_manager = self.tasks = _Tasks(context.task_queue.task_done)
        self.taken_at_idle_death = -1

    def find_expired_task(self, worker_id: int) -> Any:
        try:
            return super().find_expired_task(worker_id)
        except BrokenProcessPool:
            taken = self.tasks.taken
            if taken == self.taken_at_idle_death:
                raise
            self.taken_at_idle_death = taken
            raise LookupError("no job to fail: the worker is replaced") from None


class _Tasks(TaskManager):
    """pebble's task bookkeeping, counting the jobs workers have taken (they started, then)."""

    taken = 0

    def task_start(self, task_id: int, worker_id: int | None) -> None:
        if worker_id is not None:  # a worker's acknowledgement, which comes before the job's outcome
            self.taken += 1
        super().task_start(task_id, worker_id)


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
        context = _context(preload)
        self._pool = ProcessPool(max_workers=processes, initializer=initializer, initargs=tuple(initargs), context=context)
        self._pool._pool_manager = _Manager(self._pool._context, context)  # before the pool starts
        try:
            with _ctrl_c_deferred():
                if not self._pool.active:  # reading it starts the pool: fork server, workers, pebble's threads
                    raise PoolBroken("the worker pool did not start")
        except KeyboardInterrupt:
            self.terminate()
            raise

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
