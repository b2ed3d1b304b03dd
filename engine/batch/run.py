"""Batch mode: a file of districts in, one advice document per district and format out.

    result = run_batch(BatchConfig(Path("districts.csv"), Path("out"), formats=("md", "json")))
    result.exit_code      # 0 all rows done; 3 some rows failed (the rest were done)

The parent process streams the input (`batch_input`), names each district's files (`slugs`),
skips districts the manifest shows unchanged (`manifest`), and hands chunks of the rest to worker
processes (`batch_pool`), which turn rows into districts (`batch_rows`), evaluate, render and write
the documents themselves (`batch_worker`). At most `2 × workers` chunks are in flight, so memory
stays flat however long the input is; the parent keeps only counters, the slugs seen (to report
collisions) and the manifest's index. Results come back in input order: the parent journals them
in the manifest, streams `summary.csv`, and writes `index.html` when the run completes
(`batch_report`); `progress` shows how far it got.

Exit codes: 0 every row succeeded; 3 some rows failed (each reported with row, column and reason,
and listed in summary.csv); 2 the input as a whole is unusable (raised as `InputError` before
anything is written). An interrupted run keeps every finished chunk: run the same command again to
resume. A worker process that dies loses only its chunk's rows: they are tried again one by one in
a fresh worker, and a row whose worker dies again fails (exit 3) while the run goes on (`batch_pool`).

What is unchanged: the district's input row, the rules (digest), the templates (digest, when
Markdown or HTML is written, and the --template chosen), the formats, the tool's version and the compiled form of the rules
(`compiler.FORMAT_TAG`). The generation date is not part of it, so a re-run on another day skips
unchanged districts; use --force to redo them all.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from engine import __version__
from engine.batch.input import BatchInput, Record, RowError
from engine.batch.manifest import MANIFEST_NAME, Entry, Manifest, config_digest, file_digest, folder_digest
from engine.batch.names import district_slug, document_name, links_in, safe_name
from engine.batch.pool import Runner, start_workers
from engine.batch.progress import ProgressEvent, Reporter, reporter_for
from engine.batch.report import INDEX_NAME, SUMMARY_NAME, SummaryWriter, check_ours, write_index
from engine.batch.worker import REPEATS, StageTimes, Task, WorkerConfig
from engine.cores import worker_count
from engine.errors import EXIT_OK, EXIT_PARTIAL, AdvisorError, InputError, SourceLocation, printable
from engine.evaluate.advisor import Advisor
from engine.evaluate.compiler import FORMAT_TAG
from engine.files import GENERATOR_MARK, remove_ours, sweep_temporaries
from engine.paths import display
from engine.render.formats import DOCUMENTS, FORMATS
from engine.rules.model import Rules
from engine.rules.rulebook import load_rules

CHUNK_SIZE = 250
KEPT_ERRORS = 1000  # row errors kept on the result (all of them are in summary.csv)
SHOWN_ERRORS = 20  # row errors the command prints

class StoppedRun(AdvisorError):
    """The batch stopped early: an error that is not a district's came back row after row (exit 2)."""


@dataclass(frozen=True)
class BatchConfig:
    input: Path
    out: Path
    formats: tuple[str, ...] = ("md",)
    workers: int | None = None  # default: the cores this process may use (cores.usable_cores)
    force: bool = False
    prune: bool = False  # remove the documents of earlier runs that this run did not produce (`Manifest.stale`)
    rules: Path | None = None
    templates: Path | None = None
    template: str | None = None  # a template name (in `templates`) or file for md/html, else each format's own
    date: str | None = None  # YYYY-MM-DD; default: $SOURCE_DATE_EPOCH, else today
    chunk_size: int = CHUNK_SIZE
    # Work in worker processes even when one is enough, so a crash in a C extension costs a row,
    # not the run (~0.4 s to start one). False runs in this process: for tests and profiling.
    isolate: bool = True


@dataclass
class BatchResult:
    out: Path
    districts: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    options: Counter = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS
    notices: list[str] = field(default_factory=list)  # about the input as a whole, e.g. unknown columns
    capped: str = ""  # why fewer workers run than --workers asked for
    stale: list[str] = field(default_factory=list)  # earlier runs' documents this run did not produce, left in place
    pruned: list[str] = field(default_factory=list)  # the same, removed (--prune)
    times: StageTimes = field(default_factory=StageTimes)
    read_seconds: float = 0.0  # the parent: reading, splitting and planning rows
    wait_seconds: float = 0.0  # the parent: waiting for workers' results
    elapsed: float = 0.0
    workers: int = 1
    labels: dict[str, str] = field(default_factory=dict)  # option id -> its label, for the summary line

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.failed else EXIT_OK

    def summary_line(self) -> str:
        options = ", ".join(f"{self.labels.get(option, option)} {count}" for option, count in sorted(self.options.items()))
        return (
            f"{self.districts} districts: {self.done} done, {self.skipped} skipped (unchanged), "
            f"{self.failed} failed" + (f"; {options}" if options else "")
        )


def run_batch(
    config: BatchConfig,
    progress: Reporter | None = None,
    *,
    hook: Callable[[int], None] | None = None,
    task_hook: Callable[[Task], None] | None = None,
) -> BatchResult:
    """Advise every district of `config.input`; documents, summary.csv and index.html go to `config.out`.

    `progress` receives a ProgressEvent after every chunk; `hook(chunks_finished)` runs after each
    chunk is finished (tests use it to interrupt a run); `task_hook(task)` runs in the worker before
    each district (tests use it to kill a worker; a module-level function, so that it pickles).
    """
    formats = check_formats(config.formats)
    workers, capped = worker_count(config.workers)
    rules = load_rules(config.rules)
    Advisor(rules)  # rules the engine cannot build are refused here (exit 2), not by every worker
    templates, generated, templates_key = _documents_setup(formats, config)
    with BatchInput(config.input, rules) as source:
        if source.format == "folder" and Path(config.out).resolve() == source.path.resolve():
            raise InputError.at(SourceLocation(display(config.out)), "--out must not be the input folder itself")
        out = _prepare_folder(config.out)
        # FORMAT_TAG: the facts and trace in a JSON document follow the compiled form of the rules
        key = config_digest(GENERATOR_MARK, __version__, FORMAT_TAG, rules.digest, templates_key, ",".join(formats))
        worker_config = WorkerConfig(
            rules=config.rules,
            rules_digest=rules.digest,
            templates=templates,
            template=config.template,
            formats=formats,
            config_key=key,
            out=out,
            generated=generated,
            layout=source.layout,
            source=source.name,
            task_hook=task_hook,
        )
        run = _Run(config, rules, source, worker_config, key, workers, progress, hook)
        run.result.capped = capped
        try:
            return run.execute()
        except OSError as exc:  # the output folder: a full disk, a folder made read-only meanwhile
            raise InputError.at(SourceLocation(display(out)), f"cannot write: {exc.strerror}") from None


class _Run:
    """One execution: plan chunks, keep a bounded number in flight, finish them in input order."""

    def __init__(
        self,
        config: BatchConfig,
        rules: Rules,
        source: BatchInput,
        worker_config: WorkerConfig,
        key: str,
        workers: int,
        progress: Reporter | None,
        hook: Callable[[int], None] | None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.source = source
        self.worker_config = worker_config
        self.out = worker_config.out
        self.key = key
        self.workers = workers
        self.progress = progress
        self.hook = hook
        self.result = BatchResult(
            worker_config.out,
            notices=source.layout.notices() if source.layout else [],
            labels={o.id: o.label for o in rules.options},
        )
        self.seen: dict[str, int] = {}  # slug -> the row that took it
        self.records_read = 0
        self.chunks_finished = 0
        self.repeated = ("", 0)  # the last district's error that was not its own, and how many in a row had it
        self.started = time.perf_counter()

    def execute(self) -> BatchResult:
        manifest = Manifest(self.out)
        manifest.open()  # locks the folder before anything in it is touched
        sweep_temporaries(self.out, _ours)
        self.manifest = manifest
        self.links = links_in(self.out)  # one listing, rather than a look at every file name
        runner: Runner | None = None
        summary: SummaryWriter | None = None
        try:
            manifest.begin()
            summary = SummaryWriter(self.out)
            chunks = self._chunks()
            head = list(itertools.islice(chunks, 2))
            single = len(head) < 2 or self.workers == 1
            self.result.workers = 1 if single else self.workers
            ahead = 0 if single else 2 * self.workers  # chunks submitted but not yet finished
            in_flight: deque[tuple[list[Any], Any]] = deque()
            for records in itertools.chain(head, chunks):
                slots, tasks = self._plan(records)
                handle = None
                if tasks:
                    if runner is None:  # started only when there is work: a re-run may skip all
                        runner = start_workers(self.worker_config, 1 if single else self.workers, isolate=self.config.isolate)
                    handle = runner.submit(tasks)
                in_flight.append((slots, handle))
                while len(in_flight) > ahead:
                    self._finish(*in_flight.popleft(), summary)
            while in_flight:
                self._finish(*in_flight.popleft(), summary)
            if runner is not None:
                runner.close()
                runner = None
                sweep_temporaries(self.out, document_name)  # a worker that died may have left one
            summary.commit()
            stale = manifest.stale()
            if self.config.prune:
                self.result.pruned = [name for name in stale if remove_ours(self.out / name)]
            self.result.stale = [name for name in stale if name not in self.result.pruned]
            manifest.finish(self.result.stale)
        except BaseException:
            if runner is not None:
                runner.terminate()
            if summary is not None:
                summary.abort()
            manifest.close()
            sweep_temporaries(self.out, _ours)
            raise
        write_index(
            self.out,
            manifest.entries(),
            dict(self.result.options),
            {o.id: o.label for o in self.rules.options},
            {level: info.label for level, info in self.rules.policy.levels.items()},
            self.result.failed,
            self.rules.version,
        )
        self.result.elapsed = time.perf_counter() - self.started
        if self.progress is not None:
            self.progress(self._event(final=True))
        return self.result

    def _chunks(self) -> Iterator[list[Record]]:
        records = self.source.records()
        while True:
            start = time.perf_counter()
            chunk = list(itertools.islice(records, self.config.chunk_size))
            self.result.read_seconds += time.perf_counter() - start
            if not chunk:
                return
            self.records_read += len(chunk)
            yield chunk

    def _plan(self, records: list[Record]) -> tuple[list[Any], list[Task]]:
        """Per record, what is known already (an error, an unchanged entry) or a task for a worker."""
        start = time.perf_counter()
        slots: list[Any] = []
        tasks: list[Task] = []
        for record in records:
            if record.error is not None:
                slots.append((record, Entry.failed(record, "", record.error)))
                continue
            slug = district_slug(record.district_id, record.district_name)
            problem = self._claim(record, slug)
            if problem is not None:
                slots.append((record, Entry.failed(record, slug, problem)))
                continue
            entry = None if self.config.force else self.manifest.unchanged(slug, record.digest, self.key)
            if entry is not None:
                slots.append((record, entry))
                continue
            tasks.append(Task(record, slug))
            slots.append((record, None))
        self.result.read_seconds += time.perf_counter() - start
        return slots, tasks

    def _claim(self, record: Record, slug: str) -> RowError | None:
        """Take the slug for this row, or say why not (a collision, an unsafe path)."""
        taken = self.seen.get(slug)
        if taken is not None:
            return RowError.single(
                record.row,
                f"its file name '{slug}' is already taken by row {taken}; give the districts different "
                "ids or names (nothing was overwritten)",
                where=record.where,
            )
        try:
            for fmt in self.worker_config.formats:
                safe_name(self.out, slug, FORMATS[fmt].extension, self.links)
        except ValueError as error:
            return RowError.single(record.row, f"no safe file name: {error}", where=record.where)
        self.seen[slug] = record.row
        return None

    def _finish(self, slots: list[Any], handle: Any, summary: SummaryWriter) -> None:
        """Journal and summarise a chunk, in input order."""
        worked: Iterator[Entry] = iter(())
        if handle is not None:
            wait = time.perf_counter()
            results, times = handle.get()  # in the order of the chunk's tasks
            self.result.wait_seconds += time.perf_counter() - wait
            self.result.times.add(times)
            worked = iter(results)
        result = self.result
        for _, known in slots:
            entry = known if known is not None else next(worked)
            result.districts += 1
            summary.write(entry)
            if known is None:
                self._repeats(entry.repeated)
            if entry.error is not None:
                result.failed += 1
                self.manifest.orphan(entry.outputs)
                if len(result.errors) < KEPT_ERRORS:
                    result.errors.append(entry.error)
                continue
            if known is not None:  # unchanged since the run the manifest comes from
                result.skipped += 1
            else:
                result.done += 1
            result.options[entry.option] += 1
            self.manifest.keep(entry, new=known is None)
        self.manifest.flush_when_due()
        self.chunks_finished += 1
        if self.progress is not None:
            self.progress(self._event())
        if self.hook is not None:
            self.hook(self.chunks_finished)

    def _repeats(self, repeated: str) -> None:
        """Stop the run (exit 2) when an error that is not a district's (a template's, a full disk's)
        comes back on `REPEATS` districts in a row: it would fail every district, each perhaps only
        after the template's time limit."""
        same = repeated and repeated == self.repeated[0]
        self.repeated = (repeated, self.repeated[1] + 1 if same else 1)
        if repeated and self.repeated[1] >= REPEATS:
            raise StoppedRun(f"{repeated} (on {REPEATS} districts in a row: the batch stopped)")

    def _event(self, final: bool = False) -> ProgressEvent:
        fraction = self.source.fraction()
        expected = int(self.records_read / fraction) if fraction else None
        result = self.result
        return ProgressEvent(
            rows=result.districts,
            done=result.done,
            skipped=result.skipped,
            failed=result.failed,
            expected=result.districts if final else expected,
            elapsed=time.perf_counter() - self.started,
            final=final,
        )


def check_formats(names: Iterable[str]) -> tuple[str, ...]:
    """The --format names given (case and spaces ignored, each once, in the order given), or exit 2."""
    allowed = tuple(FORMATS)
    chosen: list[str] = []
    for name in names:
        name = name.strip().lower()
        if name not in FORMATS:
            raise InputError.at(SourceLocation("--format"), f"unknown format '{name}'; choose from {', '.join(allowed)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InputError.at(SourceLocation("--format"), f"give at least one format: {', '.join(allowed[:-1])} or {allowed[-1]}")
    return tuple(chosen)


def _documents_setup(formats: tuple[str, ...], config: BatchConfig) -> tuple[Path | None, date | None, str]:
    """The templates folder, the generation date and the templates digest (when documents are rendered)."""
    from engine.render.documents import Renderer, generation_date

    generated = generation_date(config.date, "--date")  # a bad --date is refused even when only JSON is written
    rendered = [fmt for fmt in formats if fmt in DOCUMENTS]
    if not rendered:
        if config.template is not None:
            raise InputError.at(SourceLocation("--template"), f"needs --format {' or '.join(DOCUMENTS)} among the formats")
        return None, None, ""
    renderer = Renderer(config.templates)
    folder = renderer.folder
    renderer.check(tuple(rendered))  # template errors surface here, once, before any worker starts
    key = folder_digest(folder)
    if config.template is not None:
        chosen = [renderer.template(fmt, config.template).filename for fmt in rendered]  # one for each format, or exit 2
        key = config_digest(key, config.template, *(file_digest(Path(name)) for name in chosen if name))
    return folder, generated, key


def _prepare_folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError.at(SourceLocation(display(out)), "is a file; --out needs a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError.at(SourceLocation(display(out)), f"cannot create the folder: {exc.strerror}") from None
    check_ours(out)
    return out


def _ours(name: str) -> bool:
    """A file name batch mode writes in its output folder: a document, or one of its own files."""
    return document_name(name) or name in (SUMMARY_NAME, INDEX_NAME, MANIFEST_NAME)


def command(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """`rostering-advisor batch INPUT --out DIR ...`: progress on stderr, the summary line on stdout."""
    config = BatchConfig(
        input=args.input,
        out=args.out,
        formats=tuple(part for part in str(args.format).split(",") if part.strip()),
        workers=args.workers,
        force=args.force,
        prune=args.prune,
        rules=args.rules,
        templates=getattr(args, "templates", None),
        template=getattr(args, "template", None),
        date=getattr(args, "date", None),
    )
    progress = reporter_for(stderr, args.quiet)
    try:
        with _terminate_as_interrupt():
            result = run_batch(config, progress)
    except KeyboardInterrupt:
        stderr.write(f"\nstopped: finished districts are kept in {display(args.out)}; run the same command to resume\n")
        raise
    prefix = "" if Path(args.input).is_dir() else f"{display(args.input)}: "  # a folder's errors name the file
    if result.capped:
        stderr.write(result.capped + "\n")
    for notice in result.notices:
        stderr.write(printable(f"{prefix}{notice}") + "\n")
    for error in result.errors[:SHOWN_ERRORS]:
        stderr.write(printable(f"{prefix}{error}") + "\n")
    if result.failed > SHOWN_ERRORS:
        more = result.failed - SHOWN_ERRORS
        stderr.write(f"... and {more} more failed rows; see {display(result.out / SUMMARY_NAME)}\n")
    folder = display(result.out)
    if result.pruned:
        stderr.write(f"removed {_documents(result.pruned)} of earlier runs from {folder}\n")
    if result.stale:
        stderr.write(
            f"{_documents(result.stale)} in {folder} (e.g. {result.stale[0]}) came from earlier runs: districts no longer "
            "in the input, rows that failed this time, or a format not asked for now; --prune removes them\n"
        )
    stdout.write(result.summary_line() + "\n")
    return result.exit_code


def _documents(names: list[str]) -> str:
    return f"{len(names):,} document{'' if len(names) == 1 else 's'}"


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """A `kill` (SIGTERM) stops the run as cleanly as Ctrl-C: workers stopped, temporary files removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
