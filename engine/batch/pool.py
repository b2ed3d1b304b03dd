"""How batch workers run: in this process for one worker, else in worker processes of our own.

Either way a runner takes a chunk of tasks and gives back a handle whose `get()` returns the
chunk's results; the batch keeps a bounded number of handles in flight.

Each worker process has its own pipe, so the pool always knows which chunk a worker holds. A
worker that dies (killed, out of memory, a crash in a C extension) loses only that chunk: a fresh
worker takes its rows again, one row at a time, so a row that kills its worker fails alone and its
neighbours are done. A row whose worker dies a second time is reported as failed, with how the
worker died; once `MAX_ROW_DEATHS` rows of a chunk have, its rows not yet tried again fail without
a try (a chunk where every row crashes would otherwise cost a worker start, about half a second,
per row). Failed rows are not in the manifest, so running the batch again retries them. A worker that dies before it
is ready (it cannot start) stops the run with an error (exit 1) instead of waiting for ever.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import threading
import traceback
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator, Protocol

from engine.batch.input import RowError
from engine.batch.manifest import Entry
from engine.batch.worker import StageTimes, Task, Worker, WorkerConfig, run_chunk, start
from engine.errors import AdvisorError, EngineError

MAX_ROW_DEATHS = 5  # rows of one chunk that may kill a worker on their own before the rest is given up
MAX_START_FAILURES = 3  # workers in a row that die before they are ready: the pool cannot work


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


@dataclass
class _Chunk:
    """A submitted chunk: its tasks, the results so far, and how many units are still out."""

    tasks: list[Task]
    results: dict[str, Entry] = field(default_factory=dict)  # by slug (unique in a run)
    times: StageTimes = field(default_factory=StageTimes)
    outstanding: int = 1
    row_deaths: int = 0
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.outstanding == 0 or self.error is not None


@dataclass
class _Unit:
    """Work sent to one worker: the whole chunk, or (after a worker died on it) a single row."""

    chunk: _Chunk
    tasks: list[Task]
    retry: bool = False


class _Slot:
    """One worker process and its end of the pipe."""

    def __init__(self, context: Any, config: WorkerConfig) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, config), name="batch-worker", daemon=True)
        with _sigint_ignored():  # a Ctrl-C while it starts is the parent's to handle
            self.process.start()
        child.close()
        self.ready = False
        self.unit: _Unit | None = None

    def died(self) -> str:
        """How the process ended, for the message."""
        self.process.join(5)
        if self.process.is_alive():  # its pipe broke, yet it runs: make sure it is gone
            self.process.kill()
            self.process.join()
        code = self.process.exitcode
        self.connection.close()
        if code is not None and code < 0:
            try:
                return f"killed by signal {-code}, {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"


class Pool:
    """Worker processes, started fresh ("spawn": no engine state or threads inherited).

    From a script, call run_batch under `if __name__ == "__main__":`, as multiprocessing requires
    for spawned workers (else they cannot start, and the run stops with an error).
    """

    def __init__(self, config: WorkerConfig, processes: int) -> None:
        self.config = config
        self.context = multiprocessing.get_context("spawn")
        self.slots: list[_Slot | None] = [None] * processes
        self.queue: deque[_Unit] = deque()
        self.start_failures = 0

    def submit(self, tasks: list[Task]) -> "_Handle":
        chunk = _Chunk(list(tasks))
        self.queue.append(_Unit(chunk, chunk.tasks))
        self._dispatch()
        return _Handle(self, chunk)

    def wait_for(self, chunk: _Chunk) -> tuple[list[Entry], StageTimes]:
        while not chunk.done:
            self._pump()
        if chunk.error is not None:
            raise chunk.error
        return [chunk.results[task.slug] for task in chunk.tasks], chunk.times

    def close(self) -> None:
        """Let the workers finish and exit."""
        self._stop(lambda slot: slot.connection.send(None))

    def terminate(self) -> None:
        """Stop now: running workers are killed (their temporary files are swept)."""
        self.queue.clear()
        self._stop(lambda slot: slot.process.terminate())

    def _stop(self, how: Callable[[_Slot], None]) -> None:
        slots = [slot for slot in self.slots if slot is not None]
        self.slots = [None] * len(self.slots)
        for slot in slots:
            if slot.process.is_alive():
                try:
                    how(slot)
                except OSError:  # it has just died
                    pass
        for slot in slots:
            slot.process.join()
            slot.connection.close()

    # --- scheduling ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Give queued units to idle workers, starting workers where none runs."""
        for index, slot in enumerate(self.slots):
            while self.queue and (slot is None or slot.unit is None):
                unit = self.queue.popleft()
                if unit.chunk.error is not None:
                    continue
                if unit.retry and unit.chunk.row_deaths >= MAX_ROW_DEATHS:
                    self._give_up(unit)
                    continue
                if slot is None:
                    slot = self.slots[index] = _Slot(self.context, self.config)
                slot.unit = unit
                try:
                    slot.connection.send(unit.tasks)
                except OSError:  # it died (while idle, or before it began this unit)
                    slot.ready = False
                    self._lost(slot)
                    slot = None
            if not self.queue:
                return

    def _pump(self) -> None:
        """Wait for one or more workers to answer or die, and act on it."""
        live = [slot for slot in self.slots if slot is not None]
        if not live:
            self._dispatch()
            return
        ready = wait([s.connection for s in live] + [s.process.sentinel for s in live])
        for slot in live:
            if slot.connection in ready or slot.process.sentinel in ready:
                self._answer(slot)
        self._dispatch()

    def _answer(self, slot: _Slot) -> None:
        try:
            while slot.connection.poll():
                kind, value = slot.connection.recv()
                if kind == "ready":
                    slot.ready = True
                    self.start_failures = 0
                    continue
                unit, slot.unit = slot.unit, None
                if unit is not None:
                    self._completed(unit, kind, value)
            if slot.process.is_alive():
                return
        except (EOFError, OSError):
            pass  # it died part-way through a message
        self._lost(slot)

    def _completed(self, unit: _Unit, kind: str, value: Any) -> None:
        chunk = unit.chunk
        if kind == "error":
            chunk.error = value
            return
        results, times = value
        chunk.times.add(times)
        for result in results:
            chunk.results[result.slug] = result
        chunk.outstanding -= 1

    def _lost(self, slot: _Slot) -> None:
        """A worker died: free its place, and try its rows again (or fail them)."""
        index = self.slots.index(slot)
        self.slots[index] = None
        how = slot.died()
        unit = slot.unit
        if not slot.ready:
            self.start_failures += 1
            if unit is not None:
                self.queue.appendleft(unit)  # it never began the unit
            if self.start_failures >= MAX_START_FAILURES:
                raise EngineError(
                    f"batch worker processes stop before they are ready ({how}); out of memory, or, from a "
                    "script, run_batch is not called under if __name__ == '__main__'"
                )
            return
        if unit is None:
            return
        chunk = unit.chunk
        if not unit.retry:  # its rows again, one by one, ahead of everything else
            singles = [_Unit(chunk, [task], retry=True) for task in unit.tasks]
            chunk.outstanding += len(singles) - 1
            self.queue.extendleft(reversed(singles))
            return
        chunk.row_deaths += 1
        reason = (
            f"the worker process died ({how}) twice while processing this row, with its chunk and then alone; "
            "the row was not done"
        )
        self._fail(unit, reason)

    def _give_up(self, unit: _Unit) -> None:
        deaths = unit.chunk.row_deaths
        self._fail(unit, f"not tried again: worker processes died on {deaths} other rows of its chunk; run again to retry")

    @staticmethod
    def _fail(unit: _Unit, reason: str) -> None:
        for task in unit.tasks:
            record = task.record
            unit.chunk.results[task.slug] = Entry.failed(record, task.slug, RowError.single(record.row, reason, where=record.where))
        unit.chunk.outstanding -= 1


class _Handle:
    def __init__(self, pool: Pool, chunk: _Chunk) -> None:
        self.pool = pool
        self.chunk = chunk

    def get(self) -> tuple[list[Entry], StageTimes]:
        return self.pool.wait_for(self.chunk)


# --- the worker process ----------------------------------------------------------------------


def serve(connection: Connection, config: WorkerConfig) -> None:
    """A worker process: say it is ready, then run each chunk received until told to stop (None)."""
    start(config)
    connection.send(("ready", None))
    while True:
        try:
            tasks = connection.recv()
        except EOFError:  # the parent is gone
            return
        if tasks is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", run_chunk(tasks))
        except Exception as error:  # reported to the parent, which stops the run
            reply = ("error", _portable(error))
        connection.send(reply)


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


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start a process with Ctrl-C ignored, so that an interrupt during its start cannot print a
    traceback from it (the worker ignores SIGINT anyway once running; the parent handles it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
