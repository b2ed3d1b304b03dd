"""Bounding a render (`render.limits`): the output cap is checked after every chunk (a render that
prints past it stops at the chunk that crossed it, so the error names the line that printed it and
nothing more is built; empty chunks never end a document early), and the memory limit is set from
this process's own size, in a forked child too."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest

from engine.render.limits import OutputTooLarge, collect, memory_limit

CAP = 20_000
CHUNK = 1_000


def endless(taken: list[int]) -> Iterator[str]:
    """Chunks of CHUNK characters for ever, counting those taken."""
    while True:
        taken[0] += 1
        yield "y" * CHUNK


def test_a_render_past_the_cap_stops_at_the_chunk_that_crossed_it() -> None:
    taken = [0]
    with pytest.raises(OutputTooLarge, match="the output passed 20,000 characters") as raised:
        collect(endless(taken), max_output=CAP, max_seconds=5, max_memory=1 << 30)
    assert taken[0] == CAP // CHUNK + 1
    assert raised.value.frame is not None  # where the template was printing: the error's file:line


def test_the_generator_is_closed_when_the_cap_stops_it() -> None:
    closed = []

    def chunks() -> Iterator[str]:
        try:
            while True:
                yield "y" * CHUNK
        finally:
            closed.append(True)

    with pytest.raises(OutputTooLarge):
        collect(chunks(), max_output=CAP, max_seconds=5, max_memory=1 << 30)
    assert closed == [True]


def test_empty_chunks_do_not_end_the_document() -> None:
    chunks = iter([""] * 200 + ["end"])
    assert collect(chunks, max_output=CAP, max_seconds=5, max_memory=1 << 30) == "end"


def test_text_up_to_the_cap_is_whole() -> None:
    pieces = [str(n % 10) * 7 for n in range(CAP // 7)]
    assert collect(iter(pieces), max_output=CAP, max_seconds=5, max_memory=1 << 30) == "".join(pieces)


# --- the memory limit reads the process's own size ----------------------------------------------


def _statm_bytes() -> int:
    with open("/proc/self/statm", "rb") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="no /proc")
def test_the_memory_limit_is_set_from_this_process_size_and_put_back() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_limit(1 << 30):
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        size = _statm_bytes()
    assert abs(soft - (1 << 30) - size) < 64 << 20  # this process's size plus 1 GB
    assert resource.getrlimit(resource.RLIMIT_AS) == before


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/self/statm"), reason="no fork or /proc")
def test_a_forked_child_measures_its_own_size_not_its_parents() -> None:
    with memory_limit(1 << 30):  # the parent has /proc/self/statm open now
        pass
    pid = os.fork()
    if pid == 0:  # the child: grow, then the limit must count the growth
        ballast = bytearray(256 << 20)
        try:
            with memory_limit(1 << 30):
                soft, _ = resource.getrlimit(resource.RLIMIT_AS)
            ok = abs(soft - (1 << 30) - _statm_bytes()) < 64 << 20 and len(ballast) > 0
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
