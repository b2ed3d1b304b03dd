"""How batch workers run: in this process for one worker, else in worker processes (`engine.processes`).

Either way a runner takes a chunk of tasks and gives back a handle whose `get()` returns the
chunk's results; the batch keeps a bounded number of handles in flight.

A worker that dies (killed, out of memory, a crash in a C extension) loses only its chunk: the
chunk's rows are done again one row at a time, each in a worker of its own, so a row that kills its
worker fails alone and its neighbours are done. A row whose worker dies a second time is reported
as failed, with how the worker died; once `MAX_ROW_DEATHS` rows of a chunk have, its rows not yet
tried again fail without a try (a chunk where every row crashes would otherwise cost a worker
start per row). Failed rows are not in the manifest, so running the batch again retries them.
Worker processes that die before they take any work (they cannot start) stop the run with an
error (exit 1) instead of waiting for ever.
"""

from __future__ import annotations

import pickle
import traceback
from collections import deque
from concurrent.futures import Future
from typing import Any, Protocol

from engine.batch.input import RowError
from engine.batch.manifest import Entry
from engine.batch.worker import StageTimes, Task, Worker, WorkerConfig, run_chunk, start
from engine.errors import AdvisorError, EngineError
from engine.processes import PoolBroken, WorkerDied, Workers, result

MAX_ROW_DEATHS = 5  # rows of one chunk that may kill a worker on their own before the rest is given up


class Runner(Protocol):
    def submit(self, tasks: list[Task]) -> Any: ...  # a handle with get()
    def close(self) -> None: ...
    def terminate(self) -> None: ...


def start_workers(config: WorkerConfig, processes: int, *, isolate: bool = True) -> Runner:
    return Pool(config, processes) if isolate or processes > 1 else InProcess(config)


class _Finished:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


class InProcess:
    """One worker, in this process: no start-up cost, the same code path (no isolation from crashes)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.worker = Worker(config)

    def submit(self, tasks: list[Task]) -> _Finished:
        return _Finished(self.worker.run(tasks))

    def close(self) -> None:
        self.worker.close()

    def terminate(self) -> None:
        self.worker.close()


class Pool:
    """Worker processes (`engine.processes.Workers`), each holding a `Worker` for the run.

    A chunk whose worker dies is done again row by row, at most one row per worker at a time, so
    that a row which kills its worker fails alone; after `MAX_ROW_DEATHS` such rows, the rows not
    yet tried fail without a try.
    """

    def __init__(self, config: WorkerConfig, processes: int) -> None:
        self.processes = processes
        self.workers = Workers(processes, initializer=start, initargs=(config,), preload=("engine.batch.pool",))

    def submit(self, tasks: list[Task]) -> _Handle:
        return _Handle(self, list(tasks), self.workers.submit(_run, tasks))

    def close(self) -> None:
        """Let the workers finish and exit."""
        self.workers.close()

    def terminate(self) -> None:
        """Stop now: running workers are stopped (their temporary files are swept)."""
        self.workers.terminate()

    def one_by_one(self, tasks: list[Task]) -> tuple[list[Entry], StageTimes]:
        """The rows of a chunk whose worker died, each alone in a worker, in order."""
        entries: list[Entry] = []
        times = StageTimes()
        waiting = deque(tasks)
        running: deque[tuple[Task, Future]] = deque()
        deaths = 0
        while waiting or running:
            while waiting and len(running) < self.processes and deaths < MAX_ROW_DEATHS:
                task = waiting.popleft()
                running.append((task, self.workers.submit(_run, [task])))
            if not running:  # given up: the rest fail untried
                reason = f"not tried again: worker processes died on {deaths} other rows of its chunk; run again to retry"
                entries.append(_failed(waiting.popleft(), reason))
                continue
            task, future = running.popleft()
            try:
                (entry,), spent = _outcome(future)
            except WorkerDied as died:
                deaths += 1
                reason = (
                    f"the worker process died ({died.how}) twice while processing this row, with its chunk and then alone; "
                    "the row was not done"
                )
                entries.append(_failed(task, reason))
                continue
            entries.append(entry)
            times.add(spent)
        return entries, times


class _Handle:
    def __init__(self, pool: Pool, tasks: list[Task], future: Future) -> None:
        self.pool = pool
        self.tasks = tasks
        self.future = future

    def get(self) -> tuple[list[Entry], StageTimes]:
        """The chunk's entries, in the order of its tasks, and the time its stages took."""
        try:
            return _outcome(self.future)
        except WorkerDied:
            return self.pool.one_by_one(self.tasks)


def _outcome(future: Future) -> tuple[list[Entry], StageTimes]:
    try:
        kind, value = result(future)
    except PoolBroken as broken:
        raise EngineError(
            f"batch worker processes stop before they are ready ({broken}); out of memory, or, from a "
            "script, run_batch is not called under if __name__ == '__main__'"
        ) from None
    if kind == "error":
        raise value
    return value


def _failed(task: Task, reason: str) -> Entry:
    record = task.record
    return Entry.failed(record, task.slug, RowError.single(record.row, reason, where=record.where))


# --- in the worker process ---------------------------------------------------------------------


def _run(tasks: list[Task]) -> tuple[str, Any]:
    """A chunk in a worker: ("ok", its entries and times), or ("error", what the parent raises)."""
    try:
        return "ok", run_chunk(tasks)
    except Exception as error:  # reported to the parent, which stops the run
        return "error", _portable(error)


def _portable(error: Exception) -> BaseException:
    """The error itself when it survives pickling, else an EngineError carrying its traceback."""
    if isinstance(error, AdvisorError):
        try:
            pickle.loads(pickle.dumps(error))
            return error
        except Exception:
            return EngineError(str(error))
    return EngineError(
        f"a batch worker failed: {type(error).__name__}: {error}\n" + "".join(traceback.format_exception(error))
    )
