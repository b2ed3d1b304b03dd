"""A district's answers file: its JSON Schema (built from the rules' questions) and its reading.

Answers are yes / no / unknown in any case; true/false and the YAML 1.1 words on/off, y/n, 1/0
are understood as the answers they mean; a missing answer is unknown. Unknown question ids and
unreadable answers are errors at their `file:line:col`, with "did you mean" for near-misses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import Diagnostic, InputError, control_character, did_you_mean
from engine.rules.model import Rules
from engine.rules.schema import validate
from engine.rules.source import Document, format_path, load_file

_YES = {"yes", "y", "true", "on", "1"}
_NO = {"no", "n", "false", "off", "0"}
_UNKNOWN = {"unknown", "", "?", "n/a", "na", "dont know", "don't know"}
ID_PATTERN = "^[a-z][a-z0-9_]*$"
MAX_TEXT = 10_000


@dataclass(frozen=True)
class District:
    """One district's answers, normalised: `answers` holds only questions it answered or marked unknown."""

    name: str
    id: str | None
    profile: dict[str, Any]
    answers: dict[str, str]
    notes: str = ""
    source: str = "<district>"
    positions: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def normalise_answer(value: Any) -> str | None:
    """'yes', 'no' or 'unknown' for anything a district might write, else None."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {1.0: "yes", 0.0: "no"}.get(value) if math.isfinite(value) else None
    if isinstance(value, str):
        word = " ".join(value.strip().casefold().split())
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
        if word in _UNKNOWN:
            return "unknown"
    return None


_SCHEMAS: dict[str, dict[str, Any]] = {}


def answers_schema(rules: Rules) -> dict[str, Any]:
    """The JSON Schema of an answers file for these rules (what `rostering-advisor schema` writes)."""
    if rules.digest not in _SCHEMAS:
        _SCHEMAS[rules.digest] = _build_answers_schema(rules)
    return _SCHEMAS[rules.digest]


def _build_answers_schema(rules: Rules) -> dict[str, Any]:
    answer_value = {
        "title": "yes, no or unknown",
        "anyOf": [
            {"enum": ["yes", "no", "unknown"]},
            {"type": ["string", "boolean", "integer", "null"]},
        ],
    }
    kinds = {"number": {"type": "number"}, "text": {"type": "string"}, "boolean": {"type": "boolean"}}
    profile_props = {
        name: dict(kinds.get(kind, {"type": ["string", "number", "boolean"]}), description=f"Used by the rules ({kind}).")
        for name, kind in sorted(rules.profile_fields().items())
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "answers.schema.json",
        "title": f"District answers for {rules.manifest.name}",  # no version: changes with the questions only
        "type": "object",
        "required": ["district"],
        "additionalProperties": False,
        "properties": {
            "district": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The district's name."},
                    "id": {
                        "type": ["string", "integer"],
                        "description": "An identifier, e.g. the NCES LEA id (quote it to keep leading zeros).",
                    },
                },
            },
            "profile": {
                "type": "object",
                "description": "Raw facts about the district; rules derive answers from them.",
                "properties": profile_props,
                "propertyNames": {"pattern": ID_PATTERN, "maxLength": 40},
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                "maxProperties": 100,
            },
            "answers": {
                # null: `answers:` with only commented-out questions under it, as `blank` writes it
                "type": ["object", "null"],
                "x-key-noun": "question",
                "additionalProperties": False,
                "properties": {q.id: dict(answer_value, description=q.text) for q in rules.questions},
            },
            "notes": {"type": ["string", "null"], "maxLength": MAX_TEXT, "description": "Free text shown in the advice."},
        },
    }


def read_district(path: Path, rules: Rules, display: str | None = None) -> District:
    """Load and check an answers file (YAML or JSON)."""
    doc = load_file(path, display)
    return district_from_document(doc, rules)


def district_from_data(data: Any, rules: Rules, source: str = "<district>") -> District:
    """Check already-parsed answers (the Python API); errors name `source` and the path."""
    return district_from_document(Document(source, data, whole="the data"), rules)


def district_from_document(doc: Document, rules: Rules) -> District:
    """A checked District; every problem of the document at once (schema and answer values)."""
    problems = _control_characters(doc, doc.data, ()) or validate(doc, answers_schema(rules))
    data = doc.data
    answers: dict[str, str] = {}
    bad: list[Diagnostic] = []
    given = data.get("answers") if isinstance(data, dict) else None
    for question, raw in (given.items() if isinstance(given, dict) else ()):
        value = normalise_answer(raw)
        if value is None and not isinstance(raw, (str, bool, int)):
            continue  # not yes/no/unknown in any spelling: the schema has said so
        if value is None:
            shown = repr(raw) if isinstance(raw, str) else str(raw)
            hint = did_you_mean(str(raw).casefold(), ["yes", "no", "unknown"]) if isinstance(raw, str) else ""
            bad.append(
                Diagnostic(
                    doc.locate(("answers", question)),
                    f"the answer to '{question}' must be yes, no or unknown, got {shown}{hint}",
                    format_path(("answers", question)),
                )
            )
        else:
            answers[question] = value
    if problems:
        raise InputError(sorted(problems + bad, key=lambda d: (d.location, d.message)))
    profile = {k: v for k, v in (data.get("profile") or {}).items() if v is not None}
    for name, value in profile.items():
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(Diagnostic(doc.locate(("profile", name)), f"profile field '{name}' must be a finite number"))
    if bad:
        raise InputError(bad)
    district = data["district"]
    district_id = district.get("id")
    return District(
        name=district["name"].strip(),
        id=None if district_id is None else str(district_id),
        profile=profile,
        answers=answers,
        notes=(data.get("notes") or "").strip(),
        source=doc.file,
    )


def blank_answers(rules: Rules) -> str:
    """A new district's answers file: every question as a comment, by theme, to uncomment and answer."""
    themes = {t.id: t.label for t in rules.themes}
    lines = [
        "# yaml-language-server: $schema=../answers.schema.json",
        f"# Written by rostering-advisor blank for {rules.manifest.name} {rules.version}. Uncomment a question",
        "# and answer yes, no or unknown; a question left out is unknown.",
        "district:",
        "  name: My District        # required",
        '  # id: "0600000"          # optional; quote ids to keep leading zeros',
        "answers:                   # every question is a comment: uncomment, then answer",
    ]
    theme = None
    for question in rules.questions:
        if question.theme != theme:
            theme = question.theme
            lines.append(f"  # --- {themes.get(theme, theme)}")
        lines.append(f"  # {question.text}")
        lines.append(f"  # {question.id}: unknown")
    lines.append("notes: ''")
    return "\n".join(lines) + "\n"


def _control_characters(doc: Document, node: Any, path: tuple) -> list[Diagnostic]:
    """Every text (key or value) that holds a control character (`errors.control_character`): an
    escape sequence or a bidirectional override would reach documents, summary.csv and terminals."""
    found: list[Diagnostic] = []
    if isinstance(node, dict):
        for key, value in node.items():
            what = control_character(key) if isinstance(key, str) else None
            if what is not None:
                found.append(Diagnostic(doc.locate(path + (key,), key=True), f"a key holds {what}; remove it"))
            else:
                found.extend(_control_characters(doc, value, path + (key,)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_control_characters(doc, value, path + (index,)))
    elif isinstance(node, str):
        what = control_character(node)
        if what is not None:
            found.append(Diagnostic(doc.locate(path), f"holds {what}; remove it", format_path(path)))
    return found
