"""The output cap is checked a batch of chunks at a time (`limits._join`): a render that prints past
it stops within a bounded number of chunks, and empty chunks never end a document early."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.render.limits import _BATCH, OutputTooLarge, collect

CAP = 20_000
CHUNK = 1_000


def endless(taken: list[int]) -> Iterator[str]:
    """Chunks of CHUNK characters for ever, counting those taken."""
    while True:
        taken[0] += 1
        yield "y" * CHUNK


def test_a_render_past_the_cap_stops_within_a_batch_of_chunks() -> None:
    taken = [0]
    with pytest.raises(OutputTooLarge, match="the output passed 20,000 characters"):
        collect(endless(taken), max_output=CAP, max_seconds=5, max_memory=1 << 30)
    assert CAP // CHUNK < taken[0] <= CAP // CHUNK + _BATCH


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
    chunks = iter([""] * (3 * _BATCH) + ["end"])
    assert collect(chunks, max_output=CAP, max_seconds=5, max_memory=1 << 30) == "end"


def test_text_up_to_the_cap_is_whole() -> None:
    pieces = [str(n % 10) * 7 for n in range(CAP // 7)]
    assert collect(iter(pieces), max_output=CAP, max_seconds=5, max_memory=1 << 30) == "".join(pieces)
