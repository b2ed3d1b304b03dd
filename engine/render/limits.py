"""Bounding one render in time, size and memory.

Output is streamed from the template and counted, so a render stops as soon as it passes the
output cap. Time is watched by one daemon thread per process: when a render passes its deadline,
the watchdog raises `RenderTimeout` inside the rendering thread (CPython's
`PyThreadState_SetAsyncExc`). That stops even a loop that prints nothing and calls nothing, which
no check made from the template's own hooks could. `RenderTimeout` is a `BaseException`, so no
`except Exception` inside Jinja swallows it; it is delivered only while the thread runs Python
code, so a single long C call (which the sandbox's size checks keep small) finishes first.

Memory is bounded by the process itself: during a render (and a template's compilation) the
address space may grow by at most `max_bytes` (RLIMIT_AS, restored afterwards), so a template that
builds a huge value inside one C call (`~` doubling, `|string` of nested lists, block capture)
gets a `MemoryError` instead of taking the machine's memory; in batch each worker has its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any


class RenderTimeout(BaseException):
    """Raised inside a render that ran past its deadline."""


class OutputTooLarge(Exception):
    """A render produced more than its output cap; `frame` is the template code that was printing."""

    def __init__(self, message: str, frame: FrameType | None = None) -> None:
        super().__init__(message)
        self.frame = frame


class _Job:
    __slots__ = ("deadline", "fired", "thread_id")

    def __init__(self, thread_id: int, deadline: float) -> None:
        self.thread_id = thread_id
        self.deadline = deadline
        self.fired = False


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Schedule `exception` in a thread (None cancels a scheduled one)."""
    target = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class Watchdog:
    """Raises `RenderTimeout` in threads whose render passed its deadline."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._jobs: dict[int, _Job] = {}
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the watchdog will next look; None: not waiting for a time

    def start(self, seconds: float) -> _Job:
        job = _Job(threading.get_ident(), time.monotonic() + seconds)
        with self._cond:
            self._jobs[id(job)] = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rostering-advisor-render-watchdog", daemon=True)
                self._thread.start()
            if self._wake_at is None or job.deadline < self._wake_at:
                self._cond.notify()
        return job

    def stop(self, job: _Job) -> bool:
        """Forget `job`; True if it fired (its exception may still be pending: see `finish`)."""
        with self._cond:
            self._jobs.pop(id(job), None)
            return job.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, job in list(self._jobs.items()):
                    if job.deadline <= now:
                        job.fired = True
                        del self._jobs[key]
                        _raise_in(job.thread_id, RenderTimeout)
                self._wake_at = min((j.deadline for j in self._jobs.values()), default=None)
                self._cond.wait(None if self._wake_at is None else max(0.0, self._wake_at - now))


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._reset)  # the parent's thread and lock do not exist in a child


def collect(chunks: Iterator[str], *, max_output: int, max_seconds: float, max_memory: int) -> str:
    """Join `chunks` (a template's generate()) within the caps.

    Raises `OutputTooLarge` past `max_output` characters, `RenderTimeout` past `max_seconds`
    (with the traceback of the template code it interrupted, when it interrupted one) and
    `MemoryError` past `max_memory` more bytes of address space.
    """
    with bounded(max_seconds, max_memory):
        return _join(chunks, max_output)


@contextlib.contextmanager
def bounded(max_seconds: float, max_memory: int) -> Iterator[None]:
    """The block within `max_seconds` (`RenderTimeout`) and `max_memory` more bytes (`MemoryError`):
    a render, or a template's compilation (200,000 `{% set %}` would take 35 s and 1.8 GB)."""
    with time_limit(max_seconds), memory_limit(max_memory):
        yield


_PAGE = resource.getpagesize()


class _AddressSpace:
    """The process's address-space limit while renders run, shared by the threads that render (a
    server): the first render in sets it, the last one out puts the previous limit back."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A fresh state; in a forked child too, whose inherited `/proc/self/statm` is its parent's."""
        self._lock = threading.Lock()
        self._inside = 0
        self._previous: tuple[int, int] | None = None
        statm = getattr(self, "_statm", None)
        if statm is not None:
            try:
                os.close(statm)
            except OSError:
                pass
        self._statm: int | None = None

    def enter(self, max_bytes: int) -> None:
        with self._lock:
            self._inside += 1
            if self._inside > 1:
                return
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            used = self._used()
            if used is None:  # no /proc: only the time limit and the size checks hold
                return
            limit = used + max_bytes
            for ceiling in (soft, hard):
                if ceiling != resource.RLIM_INFINITY:
                    limit = min(limit, ceiling)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            self._previous = (soft, hard)

    def _used(self) -> int | None:
        """Bytes of address space in use. /proc/self/statm is kept open and read with `pread`: one
        system call a render, where opening the file each time cost ~7 us of a ~12 us limit."""
        try:
            if self._statm is None:
                self._statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
            return int(os.pread(self._statm, 128, 0).split()[0]) * _PAGE
        except OSError:
            return None

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._previous is not None:
                resource.setrlimit(resource.RLIMIT_AS, self._previous)
                self._previous = None


_ADDRESS_SPACE = _AddressSpace()
os.register_at_fork(after_in_child=_ADDRESS_SPACE.reset)  # a child starts with no render inside


@contextlib.contextmanager
def memory_limit(max_bytes: int) -> Iterator[None]:
    """Let this process's address space grow by at most `max_bytes` while the block runs
    (`MemoryError` past that), never beyond a limit already set; the previous limit is back once no
    render is running (renders in several threads share one limit, set by the first)."""
    _ADDRESS_SPACE.enter(max_bytes)
    try:
        yield
    finally:
        _ADDRESS_SPACE.leave()


@contextlib.contextmanager
def time_limit(max_seconds: float) -> Iterator[None]:
    """Raise `RenderTimeout` in this thread if the block runs longer than `max_seconds`."""
    job = WATCHDOG.start(max_seconds)
    try:
        yield
    except BaseException:
        _settle(job)
        raise
    if _settle(job):
        raise RenderTimeout  # the deadline passed just as the block ended


def _settle(job: _Job) -> bool:
    """Stop watching `job`; if it fired, cancel its exception should it still be pending."""
    fired = WATCHDOG.stop(job)
    if fired:
        _raise_in(job.thread_id, None)
    return fired


def _join(chunks: Iterator[str], max_output: int) -> str:
    parts: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > max_output:
                raise OutputTooLarge(f"the output passed {max_output:,} characters", _innermost_frame(chunks))
            parts.append(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return "".join(parts)


def _innermost_frame(generator: Any) -> FrameType | None:
    """The frame of the innermost generator a suspended generator is delegating to."""
    frame = None
    while generator is not None:
        frame = getattr(generator, "gi_frame", None) or frame
        generator = getattr(generator, "gi_yieldfrom", None)
    return frame
