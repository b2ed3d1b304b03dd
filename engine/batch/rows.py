"""Turn a batch `Record` into a `District`, with the same reading of answers as an answers file.

CSV cells go through `normalise_answer` (yes / no / unknown in any case, y/n, true/false, 1/0; a
blank cell is a missing answer). Profile columns are typed by what the rules compare them with:
numbers accept US thousands separators (`18,400`), booleans accept the answer words, text is
kept as written; a blank profile cell is a missing fact. A JSON Lines line is read strictly by
`loader.load_json` and, like an answers file of a folder, checked by `district_from_document`: the
very checks `recommend` applies, with the line and column of each problem.
Every problem of a row is collected, so one pass tells the user all that is wrong with it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from engine.batch.input import CellProblem, Column, Layout, Record, RowError, cell_value, shown
from engine.errors import InputError, did_you_mean
from engine.evaluate.answers import MAX_TEXT, District, district_from_document, normalise_answer
from engine.rules.model import Rules
from engine.rules.source import Document, load_json

MAX_NAME = 200
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class RowProblem(Exception):
    """A row that cannot become a District."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def to_district(record: Record, layout: Layout | None, rules: Rules, source: str) -> District:
    """The District of a record that was read without error."""
    if layout is not None:
        return from_cells(record.row, record.payload, layout, source)
    if isinstance(record.payload, Document):  # a file of a folder: errors name its line and column
        try:
            return district_from_document(record.payload, rules)
        except InputError as error:
            problems = tuple(CellProblem(None, d.path, d.message) for d in error.diagnostics)
            raise RowProblem(RowError(record.row, problems, str(error.diagnostics[0].location))) from None
    try:  # a JSON Lines line: strict JSON (no duplicate keys, NaN...), errors at their column
        return district_from_document(load_json(record.payload, f"{source}:{record.row}"), rules)
    except InputError as error:
        problems = tuple(CellProblem(d.location.column or None, d.path, d.message) for d in error.diagnostics)
        raise RowProblem(RowError(record.row, problems, f"line {record.row}")) from None


def from_cells(row: int, cells: list[str], layout: Layout, source: str) -> District:
    """A District from one CSV row, or RowProblem listing every bad cell."""
    problems: list[CellProblem] = []
    answers: dict[str, str] = {}
    profile: dict[str, Any] = {}
    notes = ""
    for column in layout.named:  # blank columns: below, only as far as the row goes
        raw = cells[column.number - 1] if column.number <= len(cells) else ""
        value = raw.strip()
        kind = column.kind
        if kind == "question":
            if not value:
                continue
            answer = normalise_answer(value)
            if answer is None:
                hint = did_you_mean(value.casefold(), ["yes", "no", "unknown"])
                problems.append(_problem(column, f"the answer must be yes, no or unknown, got {shown(value)}{hint}"))
            else:
                answers[column.name] = answer
        elif kind == "profile":
            if value:
                try:
                    fact = profile_value(value, column.value_kind)
                except ValueError as exc:
                    problems.append(_problem(column, str(exc)))
                else:
                    if fact is not None:
                        profile[column.name] = fact
        elif kind == "notes":
            notes = value
            if len(notes) > MAX_TEXT:
                problems.append(_problem(column, f"notes are limited to {MAX_TEXT:,} characters"))
        elif kind == "unknown" and value:
            problems.append(
                _problem(column, f"not a question, a profile field, district_id or district_name{column.hint}")
            )
    if len(layout.named) < len(layout.columns):
        for column in layout.columns[: len(cells)]:
            value = cells[column.number - 1].strip()
            if column.kind == "blank" and value:
                problems.append(_problem(column, f"a value, {shown(value)}, in a column without a header"))
        problems.sort(key=lambda problem: problem.column or 0)
    district_id = cell_value(cells, layout.id_index)
    name = cell_value(cells, layout.name_index)
    if name and layout.name_index is not None and len(name) > MAX_NAME:
        problems.append(_problem(layout.columns[layout.name_index], f"longer than {MAX_NAME} characters"))
    if problems:
        raise RowProblem(RowError(row, tuple(problems)))
    return District(
        name=name or district_id or "",
        id=district_id,
        profile=profile,
        answers=answers,
        notes=notes,
        source=f"{source}:{row}",
    )


def profile_value(text: str, kind: str) -> Any:
    """A profile cell as the rules compare it; None for an explicit "unknown"."""
    if kind in ("number", "any"):
        number = _number(text)
        if number is not None:
            return number
        if kind == "number":
            raise ValueError(f"must be a number, got {shown(text)}")
        return text
    if kind == "boolean":
        answer = normalise_answer(text)
        if answer is None:
            raise ValueError(f"must be yes or no (true/false), got {shown(text)}")
        return None if answer == "unknown" else answer == "yes"
    return text


def _number(text: str) -> int | float | None:
    compact = text.replace(",", "") if _THOUSANDS.match(text) else text
    if not _NUMBER.match(compact) or len(compact) > 40:
        return None
    number = float(compact)
    if not math.isfinite(number):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def _problem(column: Column, reason: str) -> CellProblem:
    return CellProblem(column.number, column.header.strip() or column.name, reason)
