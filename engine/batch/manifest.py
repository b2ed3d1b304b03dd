"""The resume manifest of a batch output folder: what was written for which district, from what.

`DIR/.rostering-manifest.jsonl` is JSON Lines: a header line carrying the generator mark, then
one `Entry` per district: its slug, a digest of its input row, a digest of the configuration
(tool version, rules digest, templates digest, formats), the files written and the summary
fields (so a skipped district still appears in `summary.csv` and `index.html`).

During a run the file is a journal: a resumed run trusts it, so an entry is journalled only once
its documents are on disk. Entries wait in memory until the next flush (`Manifest.flush`): one
`sync_folder` for all the documents written since the last one (cheaper than a flush per file),
then the entries, appended and flushed. Flushes are spaced so that they take at most a tenth of the
run, and come at least every `MAX_FLUSH_WAIT` seconds. A run that is interrupted journals what it
finished; one that is killed resumes from its last flush (the last entry of a slug wins). At the end
of a run the journal is compacted: replaced, atomically, by the entries of the districts in this
run's input, in input order, then a line `{"stale": [...]}` naming the documents of earlier runs
left in the folder (`stale`; batch --prune removes them). A lock keeps two runs out of one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO

from engine.batch.input import Record, RowError
from engine.batch.names import document_name
from engine.compact_json import compact
from engine.errors import InputError, SourceLocation
from engine.files import GENERATOR, GENERATOR_MARK, AtomicStream, our_file, sync_folder
from engine.paths import display

try:  # POSIX; elsewhere runs are simply not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

MANIFEST_NAME = ".rostering-manifest.jsonl"
MANIFEST_FORMAT = 1
FLUSH_SPACING = 9  # after a flush that took s seconds, the next waits 9·s: flushing is at most a tenth of the time
MAX_FLUSH_WAIT = 30.0  # seconds: however slow the disk, a killed run loses at most this much work


@dataclass(frozen=True)
class Entry:
    """One finished district: the files written and the summary fields, or why it failed (`error`).

    The one record of a district from the worker to the manifest, summary.csv and index.html; the
    manifest journals only the done ones (no error), without the `error` field.
    """

    slug: str
    district_id: str | None
    district_name: str | None
    input: str  # digest of the input row
    config: str  # digest of tool version, rules, templates and formats
    outputs: tuple[str, ...]  # file names inside the output folder
    option: str = ""
    confidence: str = ""
    decided_by: str = ""
    open_questions: tuple[str, ...] = ()
    error: RowError | None = None
    # an error that is not the district's (a template's, a full disk's), as one line: when it comes
    # back on `worker.REPEATS` districts in a row, the batch stops
    repeated: str = ""

    @classmethod
    def failed(cls, record: Record, slug: str, error: RowError, outputs: tuple[str, ...] = (), repeated: str = "") -> Entry:
        """A district that failed; `outputs` are the files it wrote before it did."""
        return cls(slug, record.district_id, record.district_name, record.digest, "", outputs, error=error, repeated=repeated)

    def to_json(self) -> str:
        return compact({name: getattr(self, name) for name in _JOURNALLED})

    @classmethod
    def from_json(cls, line: str) -> Entry:
        return cls.from_data(json.loads(line))

    @classmethod
    def from_data(cls, data: dict) -> Entry:
        data["outputs"] = tuple(data["outputs"])
        data["open_questions"] = tuple(data["open_questions"])
        return cls(**data)


_JOURNALLED = tuple(f.name for f in fields(Entry) if f.name not in ("error", "repeated"))


def config_digest(*parts: object) -> str:
    """A digest of everything besides the input row that shapes a district's documents."""
    text = json.dumps([str(p) for p in parts], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def folder_digest(folder: Path) -> str:
    """A digest of every file below `folder` (names and bytes), e.g. the templates."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\x00")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def file_digest(path: Path) -> str:
    """A digest of one file's bytes (a template given by path, outside the templates folder)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32]


class Manifest:
    """Read the previous runs' entries, journal this run's, compact at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_NAME
        self._lines: dict[str, str] = {}  # slug -> its latest entry, unparsed (small in memory)
        self._journal: IO[str] | None = None
        self._pending: list[str] = []  # entries whose documents may not be on disk yet
        self._next_flush = 0.0
        self._compact: AtomicStream | None = None
        self._kept: set[str] = set()  # the files this run's entries list
        self._kept_lines: set[str] = set()  # this run's entries, as written
        # documents no entry names any more: found stale by an earlier run, or named by an entry that
        # a later one of the same district replaced (a run stopped after it narrowed the formats)
        self._stale: set[str] = set()
        self._orphans: set[str] = set()  # written by this run for districts that then failed (`orphan`)

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def open(self) -> None:
        """Load the entries, lock the folder and open the journal."""
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        if not is_new:
            self._load()
        try:
            self._journal = open(self.path, "a+", encoding="utf-8", newline="\n")  # noqa: SIM115
        except OSError as exc:  # a read-only folder, another user's
            raise InputError.at(SourceLocation(display(self.folder)), f"cannot write: {exc.strerror}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._journal.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._journal.close()
                self._journal = None
                raise InputError.at(
                    SourceLocation(display(self.folder)), "another batch run is writing to this folder"
                ) from None
        try:
            if is_new:
                self._journal.write(_header() + "\n")
            else:
                self._journal.seek(0, os.SEEK_END)
                self._journal.seek(self._journal.tell() - 1)
                if self._journal.read(1) != "\n":  # a line cut short by a crash
                    self._journal.write("\n")
            self._sync(self._journal)
        except OSError as exc:  # a full disk: no empty manifest is left behind
            self.close()
            if is_new:
                self.path.unlink(missing_ok=True)
            raise InputError.at(SourceLocation(display(self.folder)), f"cannot write: {exc.strerror}") from None

    def begin(self) -> None:
        """Start the compacted copy that `finish()` puts in place of the journal."""
        self._compact = AtomicStream(self.path, newline="\n")
        self._compact.handle.write(_header() + "\n")

    def _load(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
            if GENERATOR_MARK not in first:
                raise InputError.at(
                    SourceLocation(display(self.path)),
                    "already exists and was not written by rostering-advisor; choose another output folder",
                )
            try:
                if json.loads(first).get("manifest") != MANIFEST_FORMAT:
                    return  # another layout: start afresh, everything is redone
            except ValueError:
                return
            for line in handle:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if not isinstance(data, dict):
                    continue
                if isinstance(data.get("slug"), str):
                    replaced = self._lines.get(data["slug"])
                    if replaced is not None:
                        self._stale.update(_outputs(replaced))
                    self._lines[data["slug"]] = line.rstrip("\n")
                elif isinstance(data.get("stale"), list):
                    self._stale.update(name for name in data["stale"] if isinstance(name, str))

    def get(self, slug: str) -> Entry | None:
        line = self._lines.get(slug)
        if line is None:
            return None
        try:
            return Entry.from_json(line)
        except (ValueError, TypeError, KeyError):
            return None

    def unchanged(self, slug: str, input_digest: str, config: str) -> Entry | None:
        """The entry of a district whose input and configuration match and whose files are all there."""
        entry = self.get(slug)
        if entry is None or entry.input != input_digest or entry.config != config:
            return None
        if not all((self.folder / name).is_file() for name in entry.outputs):
            return None
        return entry

    def keep(self, entry: Entry, *, new: bool) -> None:
        """Add a district of this run to the compacted manifest (in input order); a `new` one (its
        documents written by this run) is journalled too, at the next flush."""
        assert self._compact is not None
        line = entry.to_json()
        self._compact.handle.write(line + "\n")
        self._kept.update(entry.outputs)
        self._kept_lines.add(line)
        if new:
            self._pending.append(line)

    def orphan(self, names: tuple[str, ...]) -> None:
        """Documents this run wrote for a district whose row then failed (another of its files could
        not be written): not stale in this run, but named in the manifest for later ones."""
        self._orphans.update(names)

    def flush_when_due(self) -> None:
        if self._pending and time.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> None:
        """Put every document written so far on disk, then journal the waiting entries durably."""
        assert self._journal is not None
        if not self._pending:
            return
        start = time.monotonic()
        sync_folder(self.folder)
        self._journal.write("\n".join(self._pending) + "\n")
        self._sync(self._journal)
        self._pending.clear()
        took = time.monotonic() - start
        self._next_flush = time.monotonic() + min(FLUSH_SPACING * took, MAX_FLUSH_WAIT)

    def stale(self) -> list[str]:
        """Documents that earlier runs wrote and this run did not, still in the folder and still
        ours (a file someone put in a document's place is not): of districts no longer in the
        input, whose rows failed this time, or of a format no longer asked for. Call it once every
        entry of this run is kept."""
        earlier = set(self._stale)
        for line in self._lines.values():
            if line not in self._kept_lines:  # a district kept unchanged leaves nothing stale
                earlier.update(_outputs(line))
        # names only from a file anyone could edit: documents' names, never paths
        return sorted(
            name for name in earlier - self._kept - self._orphans if document_name(name) and our_file(self.folder / name)
        )

    def finish(self, stale: list[str]) -> None:
        """Replace the journal by the compacted manifest; it remembers the `stale` documents left in
        the folder, and this run's orphans, so that a later run (with --prune) still knows them."""
        assert self._compact is not None
        remembered = sorted(set(stale) | {name for name in self._orphans if (self.folder / name).is_file()})
        if remembered:
            self._compact.handle.write(json.dumps({"stale": remembered}, ensure_ascii=False) + "\n")
        self.flush()  # the documents on disk before the manifest that lists them
        compact, self._compact = self._compact, None
        compact.commit()
        self.close()

    def close(self) -> None:
        """Journal what is finished, release the lock; drop an unfinished compacted copy (the
        journal stays for a resume)."""
        if self._journal is not None and self._pending:
            try:
                self.flush()
            except OSError:  # a full disk, say: those districts are redone by the next run
                pass
        if self._compact is not None:
            compact, self._compact = self._compact, None
            compact.abort()
        if self._journal is not None:
            journal, self._journal = self._journal, None
            try:
                journal.close()
            except OSError:  # a full disk: the journal keeps what was flushed before
                pass

    def entries(self) -> Iterator[Entry]:
        """The entries of the (compacted) manifest on disk, in order."""
        with open(self.path, encoding="utf-8") as handle:
            handle.readline()
            for line in handle:
                if line.strip():
                    data = json.loads(line)
                    if "slug" in data:  # not the list of stale documents (`finish`)
                        yield Entry.from_data(data)

    @staticmethod
    def _sync(handle: IO[str]) -> None:
        handle.flush()
        os.fsync(handle.fileno())


def _header() -> str:
    return json.dumps({"generator": GENERATOR, "manifest": MANIFEST_FORMAT})


def _outputs(line: str) -> list[str]:
    """The file names an entry's line lists (none, if it cannot be read)."""
    try:
        outputs = json.loads(line).get("outputs")
    except (ValueError, AttributeError):
        return []
    return [name for name in outputs if isinstance(name, str)] if isinstance(outputs, list) else []
