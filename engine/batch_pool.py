"""How batch workers run: in this process for one worker, else in a pool of spawned processes.

Either way a runner takes a chunk of tasks and gives back a handle whose `get()` returns the
chunk's results; the batch keeps a bounded number of handles in flight.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from .batch_worker import Task, Worker, WorkerConfig, run_chunk, start
from .errors import EngineError


class Runner(Protocol):
    def submit(self, tasks: list[Task]) -> Any: ...  # a handle with get()
    def close(self) -> None: ...
    def terminate(self) -> None: ...


def start_workers(config: WorkerConfig, processes: int) -> Runner:
    return InProcess(config) if processes == 1 else Pool(config, processes)


class _Finished:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


class InProcess:
    """One worker, in this process: no start-up cost, the same code path."""

    def __init__(self, config: WorkerConfig) -> None:
        self.worker = Worker(config)

    def submit(self, tasks: list[Task]) -> _Finished:
        return _Finished(self.worker.run(tasks))

    def close(self) -> None:
        self.worker.close()

    def terminate(self) -> None:
        self.worker.close()


class Pool:
    """Worker processes, started fresh ("spawn": no engine state or threads inherited).

    A worker that dies or cannot start breaks the pool: the run stops with an error instead of
    waiting for ever. From a script, call run_batch under `if __name__ == "__main__":`, as
    multiprocessing requires for spawned workers.
    """

    def __init__(self, config: WorkerConfig, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(processes, mp_context=context, initializer=start, initargs=(config,))

    def submit(self, tasks: list[Task]) -> "_Pending":
        return _Pending(self.executor.submit(run_chunk, tasks))

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    def terminate(self) -> None:
        """Stop now: queued chunks are cancelled, running workers killed (their temporary files are swept)."""
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()


class _Pending:
    def __init__(self, future: Future) -> None:
        self.future = future

    def get(self) -> Any:
        try:
            return self.future.result()
        except BrokenProcessPool:
            raise EngineError(
                "a batch worker process stopped unexpectedly (out of memory, killed, or it could not start; "
                "from a script, call run_batch under if __name__ == '__main__')"
            ) from None
