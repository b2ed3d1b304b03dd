"""A batch worker: a chunk of records in, their documents written, small results out.

Each worker process holds its own `Advisor` (durable_rules keeps one engine host per process and is
not thread-safe) and its own template renderer. A chunk is evaluated with one
`Advisor.recommend_many` call (batched engine calls), then every district's documents are rendered
and written atomically by the worker itself, one after the other (with a worker per core there is
no idle core for writer threads to use, only the interpreter lock to fight over); only the summary
fields go back to the parent, with the time spent in each stage. The parent makes the documents
durable before it journals them (`manifest`). With one worker the same code runs inside the
parent process. JSON documents are written compact (no indentation), by orjson (`compact_json`).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.batch.input import CellProblem, Layout, Record, RowError
from engine.batch.manifest import Entry
from engine.batch.rows import RowProblem, to_district
from engine.errors import AdvisorError, EngineError, InputError, TemplateError
from engine.evaluate.advisor import Advisor, Recommendation
from engine.evaluate.answers import District
from engine.files import ForeignFile, OutputFolder
from engine.paths import display
from engine.render.formats import DOCUMENTS, FORMATS


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs, sent once when it starts."""

    rules: Path | None
    rules_digest: str
    templates: Path | None
    template: str | None  # --template: a template name or file for the md/html documents
    formats: tuple[str, ...]
    config_key: str  # the digest of what shapes the documents (`Entry.config`)
    out: Path
    generated: date | None
    layout: Layout | None
    source: str
    # Called with each task before the worker reads its row: a test hook, e.g. to kill the worker on
    # one district (batch_pool's crash recovery). Must pickle (a module-level function) for worker processes.
    task_hook: Callable[[Task], None] | None = None


@dataclass(frozen=True)
class Task:
    """One district to do: its record and its file-name stem."""

    record: Record
    slug: str


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over workers, so the figures can exceed the wall time."""

    parse: float = 0.0
    engine: float = 0.0
    render: float = 0.0
    write: float = 0.0

    def add(self, other: StageTimes) -> None:
        self.parse += other.parse
        self.engine += other.engine
        self.render += other.render
        self.write += other.write


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.advisor = Advisor.load(config.rules)
        if self.advisor.rules.digest != config.rules_digest:
            raise EngineError("the rules changed while the batch was starting; run it again")
        self.folder = OutputFolder(config.out)
        self.renderer: Any = None
        if any(f in DOCUMENTS for f in config.formats):
            from engine.render.documents import Renderer

            self.renderer = Renderer(config.templates)

    def run(self, tasks: Sequence[Task]) -> tuple[list[Entry], StageTimes]:
        """Each task's Entry, in the order of the tasks, and the time spent in each stage."""
        times = StageTimes()
        results: dict[int, Entry] = {}
        ready: list[tuple[Task, District]] = []
        start = time.perf_counter()
        for task in tasks:
            if self.config.task_hook is not None:
                self.config.task_hook(task)
            try:
                district = to_district(task.record, self.config.layout, self.advisor.rules, self.config.source)
            except RowProblem as problem:
                results[task.record.row] = Entry.failed(task.record, task.slug, problem.error)
            else:
                ready.append((task, district))
        times.parse = time.perf_counter() - start

        start = time.perf_counter()
        recommendations = self._recommend(ready, results)
        times.engine = time.perf_counter() - start

        repeated = _Repeats()
        for (task, _), recommendation in zip(ready, recommendations):
            if recommendation is not None and repeated.stopped:  # that error would fail every district
                results[task.record.row] = repeated.entry(task)
            elif recommendation is not None:
                documents = self._render_all(task, recommendation, results, times)
                if documents is not None:
                    results[task.record.row] = self._write_all(task, recommendation, documents, times)
                repeated.saw(results.get(task.record.row))
        return [results[task.record.row] for task in tasks], times

    def close(self) -> None:
        self.folder.close()

    def _recommend(
        self, ready: list[tuple[Task, District]], results: dict[int, Entry]
    ) -> list[Recommendation | None]:
        """Recommendations for the chunk; if the engine fails, district by district to find the culprit."""
        districts = [district for _, district in ready]
        try:
            return list(self.advisor.recommend_many(districts))
        except AdvisorError:
            pass
        out: list[Recommendation | None] = []
        for task, district in ready:
            try:
                out.append(self.advisor.recommend(district))
            except AdvisorError as error:
                row = task.record.row
                results[row] = Entry.failed(task.record, task.slug, RowError.single(row, f"the rules engine failed: {error}"))
                out.append(None)
        return out

    def _render_all(
        self, task: Task, recommendation: Recommendation, results: dict[int, Entry], times: StageTimes
    ) -> list[tuple[str, str | bytes]] | None:
        """(file name, text) per format, or None with the error recorded in `results`."""
        row = task.record.row
        documents = []
        context: dict[str, Any] | None = None  # the template context: built once for all document formats
        for fmt in self.config.formats:
            start = time.perf_counter()
            try:
                if fmt in DOCUMENTS and context is None:
                    context = self.renderer.context(recommendation, generated=self.config.generated)
                documents.append((f"{task.slug}.{FORMATS[fmt].extension}", self._render(recommendation, fmt, context)))
            except TemplateError as error:
                failed = RowError.single(row, f"{fmt} document: {error}")
                results[row] = Entry.failed(task.record, task.slug, failed, repeated=str(error))
                return None
            except AdvisorError as error:
                results[row] = Entry.failed(task.record, task.slug, RowError.single(row, f"{fmt} document: {error}"))
                return None
            finally:
                times.render += time.perf_counter() - start
        return documents

    def _write_all(
        self, task: Task, recommendation: Recommendation, documents: list[tuple[str, str | bytes]], times: StageTimes
    ) -> Entry:
        """Write a district's documents; a file this tool did not write is never replaced, whatever the options."""
        start = time.perf_counter()
        problems = []
        written = []
        repeated = ""
        for name, text in documents:
            try:
                self.folder.write(name, text)  # replaces only a sealed file of ours, unedited
                written.append(name)
            except ForeignFile:
                reason = f"{name} already exists and was not written by rostering-advisor; move it away to write this district"
                problems.append(CellProblem(None, "", reason))
            except InputError as error:
                why = "; ".join(d.message for d in error.diagnostics)
                problems.append(CellProblem(None, "", f"{why} ({name})"))
                if why.startswith("cannot write"):  # the folder's or the disk's problem, not this district's
                    repeated = f"{display(self.config.out)}: {why}"
        times.write += time.perf_counter() - start
        record = task.record
        if problems:  # the documents it did write are named, so the batch can tell them from older ones
            return Entry.failed(record, task.slug, RowError(record.row, tuple(problems)), tuple(written), repeated=repeated)
        return Entry(
            task.slug,
            record.district_id,
            record.district_name,
            record.digest,
            self.config.config_key,
            outputs=tuple(name for name, _ in documents),
            option=recommendation.option,
            confidence=recommendation.confidence,
            decided_by=recommendation.decided_by,
            open_questions=tuple(o.question for o in recommendation.open_questions),
        )

    def _render(self, recommendation: Recommendation, fmt: str, context: dict[str, Any] | None) -> str | bytes:
        if fmt not in DOCUMENTS:  # JSON: the recommendation's data, sealed (files.seal)
            return recommendation.to_json(compact=True)
        return self.renderer.render_bytes(self.renderer.template(fmt, self.config.template), context)


REPEATS = 3  # the same error that is not a district's, on this many districts in a row, stops the batch (exit 2)


class _Repeats:
    """Counts one error that is not a district's (`Entry.repeated`) coming back on districts in a
    row; past `REPEATS` the rest of the chunk is failed with it unrendered (a template that runs into
    its time limit would otherwise cost that limit for every district), and the batch stops (`run`)."""

    def __init__(self) -> None:
        self.error: Entry | None = None
        self.count = 0

    @property
    def stopped(self) -> bool:
        return self.count >= REPEATS

    def saw(self, entry: Entry | None) -> None:
        if entry is None or not entry.repeated:
            self.error, self.count = None, 0
        elif self.error is not None and entry.repeated == self.error.repeated:
            self.count += 1
        else:
            self.error, self.count = entry, 1

    def entry(self, task: Task) -> Entry:
        assert self.error is not None and self.error.error is not None
        failed = RowError.single(task.record.row, self.error.error.problems[0].reason)
        return Entry.failed(task.record, task.slug, failed, repeated=self.error.repeated)


_WORKER: Worker | None = None
_START_ERROR: str | None = None


def start(config: WorkerConfig) -> None:
    """Pool initializer: build this process's worker; Ctrl-C is the parent's to handle, and a worker
    whose parent is gone (killed outright) exits rather than wait for work for ever."""
    global _WORKER, _START_ERROR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="batch-parent-watch", daemon=True).start()
    try:
        _WORKER = Worker(config)
    except AdvisorError as error:  # reported with the first chunk, rather than breaking the pool
        _START_ERROR = str(error)
    # What the worker keeps for its whole life (modules, rules, programs, templates) leaves the
    # cyclic collector's view: each collection then walks only what the districts made (half the
    # collector's time, ~6% of a batch's CPU).
    gc.collect()
    gc.freeze()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent process has ended
    os._exit(1)  # its temporary files, if any, are swept by the next run


def run_chunk(tasks: Sequence[Task]) -> tuple[list[Entry], StageTimes]:
    if _WORKER is None:
        raise EngineError(f"a batch worker could not start: {_START_ERROR or 'start() was not called'}")
    return _WORKER.run(tasks)
