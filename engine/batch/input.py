"""Stream the districts of a batch input: a CSV file, a JSON Lines file, or a folder of answers files.

Nothing is loaded whole: the CSV and JSON Lines readers decode one line at a time (UTF-8, a
byte-order mark allowed), so memory stays flat however many rows there are. Each district comes out
as a `Record` carrying its row number, id and name (enough to name its files), a digest of its
content (for the resume manifest) and the raw payload that `batch_rows` turns into a `District` in
a worker process. A record that cannot be read carries a `RowError` instead; only problems with the
input as a whole (no such file, no header, unknown format) raise `InputError`.

Row numbers are what a spreadsheet shows: the CSV header is row 1, the first district row 2, and a
cell with line breaks stays in one row. In JSON Lines the row is the line number; in a folder it is
the file's position in name order (the error then names the file, line and column).

CSV columns are matched by name, ignoring case, surrounding spaces, and spaces or hyphens for
underscores (`District ID` is `district_id`): `district_id`, `district_name`, `notes`, the
question ids, and profile columns: the fields the rules use plus `KNOWN_PROFILE`. Any other column
is *unknown*. Every row that has a value in an unknown column fails with that column's number and
name (and a "did you mean" for near-misses), because silently ignoring, say, `sis_chaning` would
give those districts the wrong advice; rows that leave it blank are processed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

from engine.compact_json import compact
from engine.errors import InputError, SourceLocation, control_character, did_you_mean
from engine.files import open_regular, read_regular
from engine.paths import display
from engine.rules.model import Rules
from engine.rules.source import MAX_FILE_BYTES, bounded_int, load_bytes

CSV_SUFFIXES = {".csv"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
ANSWERS_SUFFIXES = {".yaml", ".yml", ".json"}
KNOWN_PROFILE = {"students": "number", "sis": "text", "uses_clever": "boolean"}
MAX_LINE_BYTES = 1024 * 1024
MAX_NOTICES = 20  # unknown columns told about one by one
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class CellProblem:
    """One problem in a row: the 1-based column (None for the row as a whole), its name, why."""

    column: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        if self.column is not None:
            where = f"column {self.column} ({self.field})" if self.field else f"column {self.column}"
            return f"{where}: {self.reason}"
        return f"{self.field}: {self.reason}" if self.field else self.reason


@dataclass(frozen=True)
class RowError:
    """Why a row was skipped; `where` replaces "row N" when a file names the place better."""

    row: int
    problems: tuple[CellProblem, ...]
    where: str = ""

    @classmethod
    def single(cls, row: int, reason: str, column: int | None = None, field: str = "", where: str = "") -> RowError:
        return cls(row, (CellProblem(column, field, reason),), where)

    def __str__(self) -> str:
        head = self.where or f"row {self.row}"
        return f"{head}: " + "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class Column:
    """A CSV column: 1-based number, header as written, normalised name, and what it holds."""

    number: int
    header: str
    name: str
    kind: str  # id | name | notes | question | profile | blank | unknown
    value_kind: str = ""  # profile columns: number | text | boolean | any
    hint: str = ""  # unknown columns: " (did you mean 'x'?)"


@dataclass(frozen=True)
class Layout:
    """What each CSV column holds; built once from the header and shared with the workers."""

    columns: tuple[Column, ...]
    id_index: int | None
    name_index: int | None

    @cached_property
    def named(self) -> tuple[Column, ...]:
        """The columns with a header (computed once: a header may have a million blank columns)."""
        return tuple(c for c in self.columns if c.kind != "blank")

    @cached_property
    def width(self) -> int:
        """Cells a row must have: up to the last column with a header."""
        return self.named[-1].number if self.named else 0

    def unknown(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "unknown"]

    def notices(self) -> list[str]:
        """What to tell the user once about the header (each affected row also fails on its own);
        at most MAX_NOTICES lines, however many columns are unknown."""
        unknown = self.unknown()
        lines = [
            f"column {c.number} ({shown(c.header)[1:-1]}) is not a question, a profile field, district_id or "
            f"district_name{c.hint}; rows with a value in it are skipped"
            for c in unknown[:MAX_NOTICES]
        ]
        if len(unknown) > MAX_NOTICES:
            lines.append(f"... and {len(unknown) - MAX_NOTICES:,} more unknown columns")
        return lines


@dataclass
class Record:
    """One district as read: enough to name its files and skip it when unchanged."""

    row: int
    district_id: str | None
    district_name: str | None
    payload: Any  # csv: the list of cells; jsonl: the line's text; folder: a loader Document
    digest: str
    error: RowError | None = None
    where: str = ""


def detect_format(path: Path) -> str:
    """csv, jsonl or folder; anything else is refused (exit 2)."""
    name = display(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise InputError.at(SourceLocation(name), "no such file or folder")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise InputError.at(
        SourceLocation(name),
        f"unknown input format '{path.suffix or path.name}': give a .csv file, a .jsonl (JSON Lines) file "
        "or a folder of answers files",
    )


class BatchInput:
    """An open batch input: `records()` streams it; `fraction()` says how far reading has got."""

    def __init__(self, path: Path, rules: Rules) -> None:
        self.path = Path(path)
        self.name = display(self.path)
        self.format = detect_format(self.path)
        self.rules = rules
        self.layout: Layout | None = None
        self._lines: _Lines | None = None
        self._files: list[Path] = []
        self._file_index = 0
        self._handle: BinaryIO | None = None
        if self.format == "folder":
            self._files = sorted(
                # FIFOs, devices, folders and looping links among them are reported, row by row
                (p for p in self.path.iterdir() if p.suffix.lower() in ANSWERS_SUFFIXES),
                key=lambda p: p.name,
            )
            if not self._files:
                raise InputError.at(
                    SourceLocation(self.name), "the folder holds no answers files (*.yaml, *.yml, *.json)"
                )
            return
        self._handle = open_regular(self.path, self.name)  # closed by close()
        self._lines = _Lines(self._handle, self.name, os.fstat(self._handle.fileno()).st_size)
        if self.format == "csv":
            self._reader = csv.reader(self._lines)
            try:
                self.layout = self._read_header()
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> BatchInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def fraction(self) -> float | None:
        """How much of the input has been read, 0 to 1."""
        if self.format == "folder":
            return self._file_index / len(self._files)
        assert self._lines is not None
        return min(1.0, self._lines.consumed / self._lines.size) if self._lines.size else 1.0

    def records(self) -> Iterator[Record]:
        if self.format == "csv":
            return self._csv_records()
        if self.format == "jsonl":
            return self._jsonl_records()
        return self._folder_records()

    # --- CSV -------------------------------------------------------------------------------

    def _read_header(self) -> Layout:
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            reason = (
                "lines end with a lone carriage return (an old Mac format); save the file as CSV UTF-8"
                if "new-line character" in str(exc)
                else str(exc)
            )
            raise InputError.at(SourceLocation(self.name, 1, 1), f"cannot read the header row: {reason}") from None
        if self._lines is not None:
            self._lines.check_closed(1)
        if header is None or not any(cell.strip() for cell in header):
            raise InputError.at(
                SourceLocation(self.name, 1, 1),
                "no header row: the first row must name the columns (district_id, district_name, question ids...)",
            )
        if self._lines and self._lines.bad_lines:
            raise InputError.at(SourceLocation(self.name, 1, 1), f"the header row {self._lines.not_utf8()}")
        return analyse_header(header, self.rules, self.name)

    def _csv_records(self) -> Iterator[Record]:
        assert self.layout is not None and self._lines is not None
        layout = self.layout
        row = 1
        start = self._reader.line_num + 1  # the file line the next row starts on
        while True:
            row += 1
            self._lines.start_row()
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                reason = self._unreadable(exc, start)
                start = self._reader.line_num + 1
                yield _failed(row, reason)
                continue
            self._lines.check_closed(start)
            start = self._reader.line_num + 1
            bad = self._lines.take_bad_lines(self._reader.line_num)
            if bad:
                yield _failed(row, f"is not valid UTF-8 text (file line {bad}); save the file as CSV UTF-8")
                continue
            if not any(cell.strip() for cell in cells):
                continue  # an empty row, as spreadsheets leave between blocks
            control = next(((number, what) for number, cell in enumerate(cells, start=1) if (what := control_character(cell))), None)
            if control is not None:  # NUL (binary data), an escape sequence, a bidirectional override...
                number, what = control
                column = layout.columns[number - 1].header.strip() if number <= len(layout.columns) else ""
                reason = f"holds {what}; remove it (a NUL means binary data: save the file as CSV UTF-8)"
                yield Record(row, None, None, None, "", RowError.single(row, reason, number, column))
                continue
            yield self._csv_record(row, cells, layout)

    def _unreadable(self, error: csv.Error, start: int) -> str:
        """Why a row cannot be read; raises InputError when the rest of the file cannot be trusted."""
        if "field larger than field limit" not in str(error):
            return f"cannot be read as CSV: {error}"
        limit = csv.field_size_limit()
        if self._reader.line_num > start:  # inside a quoted cell over several lines: lost in it
            raise InputError.at(
                SourceLocation(self.name, start, 1),
                f"a quoted cell longer than {limit:,} characters, over file lines {start}-{self._reader.line_num}; "
                "is a closing quote missing? The rest of the file cannot be read reliably",
            )
        return f"a cell is longer than {limit:,} characters"

    def _csv_record(self, row: int, cells: list[str], layout: Layout) -> Record:
        district_id = cell_value(cells, layout.id_index)
        name = cell_value(cells, layout.name_index)
        width = layout.width
        problems = []
        if len(cells) < width:
            last = layout.columns[len(cells) - 1] if cells else None
            after = f" (it ends at column {last.number}, {last.header})" if last else ""
            problems.append(CellProblem(None, "", f"too few cells: {len(cells)} for {width} columns{after}"))
        extra = [i for i in range(len(layout.columns), len(cells)) if cells[i].strip()]
        if extra:
            problems.append(
                CellProblem(
                    extra[0] + 1,
                    "",
                    f"too many cells: a value beyond the last column ({len(layout.columns)}), {shown(cells[extra[0]])}",
                )
            )
        if not district_id and not name and not problems:
            problems.append(CellProblem(None, "", "neither district_id nor district_name is given"))
        content = [(c.name, cells[c.number - 1]) for c in layout.columns[: len(cells)] if c.kind != "blank"]
        record = Record(row, district_id, name, cells, _digest(sorted(content)))
        if problems:
            record.error = RowError(row, tuple(problems))
        return record

    # --- JSON Lines ------------------------------------------------------------------------

    def _jsonl_records(self) -> Iterator[Record]:
        """Each line an answers document. Read here only for the id and name (and the digest);
        the worker reads it again strictly, with positions, through `loader.load_json`."""
        assert self._lines is not None
        empty = True
        for number, line in enumerate(self._lines, start=1):
            text = line.strip()
            if not text:
                continue
            empty = False
            where = f"line {number}"
            if self._lines.take_bad_lines(number):
                yield _failed(number, "is not valid UTF-8 text; save the file as UTF-8", where=where)
                continue
            try:
                data = json.loads(text, parse_int=bounded_int)
            except json.JSONDecodeError as exc:
                yield _failed(number, f"invalid JSON: {exc.msg}", column=exc.colno, where=where)
                continue
            except (ValueError, RecursionError) as exc:
                yield _failed(number, f"invalid JSON: {exc}", where=where)
                continue
            if not isinstance(data, dict):
                reason = "must be an answers document: a JSON object with district, answers..."
                yield _failed(number, reason, where=where)
                continue
            district = data.get("district")
            district = district if isinstance(district, dict) else {}
            district_id, name = _text(district.get("id")), _text(district.get("name"))
            record = Record(number, district_id, name, text, _digest(text))
            if not district_id and not name:
                record.error = RowError.single(number, "neither district.id nor district.name is given", where=where)
            yield record
        if empty:
            raise InputError.at(SourceLocation(self.name), "the file is empty: no JSON lines")

    # --- a folder of answers files ---------------------------------------------------------

    def _folder_records(self) -> Iterator[Record]:
        for index, path in enumerate(self._files, start=1):
            self._file_index = index
            name = display(path)
            try:
                raw = read_regular(path, name, MAX_FILE_BYTES)
                doc = load_bytes(raw, name, json=path.suffix.lower() == ".json")  # checks the encoding
            except InputError as error:
                first = error.diagnostics[0]
                yield _failed(index, first.message, where=str(first.location))
                continue
            except OSError as exc:
                yield _failed(index, f"cannot read: {exc.strerror}", where=name)
                continue
            district = doc.data.get("district") if isinstance(doc.data, dict) else None
            district = district if isinstance(district, dict) else {}
            district_id, district_name = _text(district.get("id")), _text(district.get("name"))
            record = Record(index, district_id, district_name, doc, hashlib.sha256(raw).hexdigest()[:32], where=name)
            if not district_id and not district_name:
                record.error = RowError.single(index, "neither district.id nor district.name is given", where=name)
            yield record


def analyse_header(header: list[str], rules: Rules, name: str) -> Layout:
    """Match header cells to what they hold; duplicated or missing key columns make the input unusable."""
    questions = {q.id for q in rules.questions}
    profile = dict(KNOWN_PROFILE, **rules.profile_fields())
    known = sorted(questions | set(profile) | {"district_id", "district_name", "notes"})
    columns = []
    seen: dict[str, int] = {}
    unknown = 0
    for number, raw in enumerate(header, start=1):
        key = normalise_header(raw)
        if not key:
            columns.append(Column(number, raw, "", "blank"))
            continue
        if key in seen:
            raise InputError.at(
                SourceLocation(name, 1, number),
                f"columns {seen[key]} and {number} are both '{key}'; remove one of them",
            )
        seen[key] = number
        if key in ("district_id", "district_name", "notes"):
            kind = {"district_id": "id", "district_name": "name", "notes": "notes"}[key]
            columns.append(Column(number, raw, key, kind))
        elif key in questions:
            columns.append(Column(number, raw, key, "question"))
        elif key in profile:
            columns.append(Column(number, raw, key, "profile", profile[key]))
        else:  # a hint only for the columns the notices show: difflib for 100,000 columns took 30 s
            unknown += 1
            hint = did_you_mean(key, known) if unknown <= MAX_NOTICES else ""
            columns.append(Column(number, raw, key, "unknown", hint=hint))
    if "district_id" not in seen and "district_name" not in seen:
        raise InputError.at(
            SourceLocation(name, 1, 1),
            "the header has neither a district_id nor a district_name column; one of them is required",
        )
    return Layout(tuple(columns), _index(seen, "district_id"), _index(seen, "district_name"))


def normalise_header(text: str) -> str:
    return "_".join(text.strip().casefold().replace("-", " ").split())


class _Lines:
    """Text lines from a binary file, decoded one by one; undecodable lines are remembered, not fatal."""

    def __init__(self, handle: BinaryIO, name: str, size: int) -> None:
        self.handle = handle
        self.name = name
        self.size = size
        self.consumed = 0
        self.number = 0
        self.bad_lines: list[int] = []
        self.first: str | None = None  # the first line of the current CSV row
        self.quotes = 0  # quote characters in the current CSV row's lines
        self.ended = False  # the file ended inside the current CSV row

    def __iter__(self) -> _Lines:
        return self

    def start_row(self) -> None:
        self.first, self.quotes = None, 0

    def check_closed(self, start: int) -> None:
        """Refuse (exit 2) a row that ran to the end of the file inside a quoted cell: Python's csv
        reader returns the rest of the file as that cell, and every row after it would be lost."""
        if not (self.ended and self.quotes % 2 and self.first is not None):
            return
        opened, inside = 0, False
        for column, char in enumerate(self.first, start=1):
            if char == '"':
                inside = not inside
                opened = column if inside else opened
        raise InputError.at(
            SourceLocation(self.name, start, opened or 1),
            f"a quoted cell opens here and never closes; the {self.number - start} lines after it would be read "
            "as part of it: add the closing quote",
        )

    def __next__(self) -> str:
        raw = self.handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            self.ended = True
            raise StopIteration
        self.quotes += raw.count(b'"')
        if len(raw) > MAX_LINE_BYTES:
            raise InputError.at(
                SourceLocation(self.name, self.number + 1, 1),
                f"a line longer than {MAX_LINE_BYTES:,} bytes; is this really a {Path(self.name).suffix} file?",
            )
        if self.number == 0 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
            self.consumed += len(_BOM)
        self.number += 1
        self.consumed += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_lines.append(self.number)
            text = raw.decode("utf-8", "replace")
        if self.first is None:
            self.first = text
        return text

    def not_utf8(self) -> str:
        """Why the start of the file is not UTF-8 text, for the message."""
        self.handle.seek(0)
        start = self.handle.read(4)
        if start.startswith(_UTF16_BOMS):
            return "is UTF-16 text (Excel's \"Unicode Text\"); save the file as CSV UTF-8"
        return "is not valid UTF-8 text; save the file as CSV UTF-8"

    def take_bad_lines(self, up_to: int) -> int | None:
        """The first undecodable line at or before `up_to`, forgetting those lines."""
        if not self.bad_lines or self.bad_lines[0] > up_to:
            return None
        first = self.bad_lines[0]
        self.bad_lines = [n for n in self.bad_lines if n > up_to]
        return first


def _failed(row: int, reason: str, column: int | None = None, where: str = "") -> Record:
    return Record(row, None, None, None, "", RowError.single(row, reason, column, where=where))


def cell_value(cells: list[str], index: int | None) -> str | None:
    """The stripped cell at `index`, None when absent or blank."""
    if index is None or index >= len(cells):
        return None
    return cells[index].strip() or None


def _index(seen: dict[str, int], key: str) -> int | None:
    return seen[key] - 1 if key in seen else None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    return text or None


def shown(value: str) -> str:
    """A cell quoted for a message, cut at 40 characters."""
    value = value.strip()
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _digest(content: Any) -> str:
    return hashlib.sha256(compact(content).encode("utf-8", "surrogatepass")).hexdigest()[:32]
