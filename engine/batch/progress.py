"""Progress of a long run: a bar on a terminal (tqdm), plain periodic lines in logs, nothing when quiet.

A reporter is any callable taking a `ProgressEvent`; the batch calls it after every finished
chunk and once more, with `final=True`, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class ProgressEvent:
    """Counts so far; `expected` is an estimate of the total (None until one can be made)."""

    rows: int
    done: int
    skipped: int
    failed: int
    expected: int | None
    elapsed: float
    final: bool = False

    @property
    def rate(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        if self.final:
            return 1.0
        if not self.expected:
            return None
        return min(1.0, self.rows / self.expected)

    @property
    def seconds_left(self) -> float | None:
        if self.final or not self.expected or self.rate <= 0:
            return None
        return max(0.0, (self.expected - self.rows) / self.rate)


Reporter = Callable[[ProgressEvent], None]


class TerminalProgress:
    """A bar redrawn in place on a terminal (tqdm): percentage, districts, rate, time left, failures."""

    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        from tqdm import tqdm  # imported only for a terminal

        self.bar = tqdm(
            file=stream,
            total=None,
            unit=" districts",
            mininterval=interval,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar:24}| {n_fmt}{unit}, {rate_fmt}, {remaining} left{postfix}",
        )

    def __call__(self, event: ProgressEvent) -> None:
        bar = self.bar
        total = event.rows if event.final else event.expected
        if total != bar.total:
            bar.total = total
        if event.failed:
            bar.set_postfix_str(f"{event.failed:,} failed", refresh=False)
        bar.update(event.rows - bar.n)
        if event.final:
            bar.close()


class PlainProgress:
    """A line every `interval` seconds, for logs and CI."""

    def __init__(self, stream: TextIO, interval: float = 10.0) -> None:
        self.stream = stream
        self.interval = interval
        self._last = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.final or now - self._last < self.interval:
            return  # the final counts are the summary line's job
        self._last = now
        share = f" ({event.fraction:.0%})" if event.fraction is not None else ""
        left = event.seconds_left
        eta = f", about {_duration(left)} left" if left is not None else ""
        self.stream.write(f"batch: {event.rows:,} districts{share}, {event.rate:,.0f}/s{eta}\n")
        self.stream.flush()


def reporter_for(stream: TextIO, quiet: bool) -> Reporter | None:
    if quiet:
        return None
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream) if isatty is not None and isatty() else PlainProgress(stream)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
