"""A district's answers as the browser carries them, and as the files a district downloads.

The server keeps nothing about a district: each page carries the answers in its form fields, and
each request turns them back into the answers document (`form_data`) that the engine checks like a
file. Field names: `district_name`, `district_id`, `notes`, `answer.<question>` (yes / no /
unknown), `profile.<field>` for the profile fields the rules name (typed by what the rules compare
them with), `profile_json.<field>` for any other profile field (its JSON value, so nothing an
uploaded file held is lost or changes type). `answers_yaml` writes the answers file that
`rostering-advisor recommend` loads with the same advice.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine import __version__
from engine.errors import InputError
from engine.evaluate.answers import District, district_from_data, district_from_document
from engine.render.context import field_label
from engine.rules.conditions import Condition, ProfileTest, atoms
from engine.rules.model import Rules
from engine.rules.source import decode, load_json, load_yaml

_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
# Characters PyYAML reads as line breaks or refuses inside a double-quoted scalar: written as escapes.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


@dataclass(frozen=True)
class ProfileField:
    """A profile field the rules name, as the questionnaire asks for it."""

    name: str
    label: str
    kind: str  # number, text or boolean
    choices: tuple[str, ...]  # the catalogue items the rules compare it with (a text field's suggestions)


def profile_fields(rules: Rules) -> list[ProfileField]:
    """The profile fields of the rules, in the order the rules first name them."""
    choices: dict[str, list[str]] = {}
    conditions: list[Condition | None] = [d.when for d in rules.derived]
    conditions += [o.when for o in rules.overrides] + [c.when for c in rules.policy.confidence]
    conditions += [n.when for n in rules.next_steps]
    for condition in conditions:
        for atom in atoms(condition):
            if isinstance(atom, ProfileTest) and atom.op == "in_catalogue":
                items = choices.setdefault(atom.field, [])
                items.extend(i for i in rules.catalogues[atom.value].items if i not in items)
    return [
        ProfileField(name, field_label(name), kind, tuple(sorted(choices.get(name, []), key=str.casefold)))
        for name, kind in rules.profile_fields().items()
        if kind in ("number", "text", "boolean")
    ]


def form_data(form: Mapping[str, Any], rules: Rules) -> dict[str, Any]:
    """The answers document the form fields stand for (checked later, like a file)."""
    kinds = {f.name: f.kind for f in profile_fields(rules)}
    district: dict[str, Any] = {"name": _text(form, "district_name")}
    if _text(form, "district_id"):
        district["id"] = _text(form, "district_id")
    profile: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):  # an uploaded file is not a field
            continue
        kind, _, name = key.partition(".")
        if kind == "answer":
            answers[name] = value
        elif kind == "profile" and value.strip():
            profile[name] = _typed(value.strip(), kinds.get(name, "text"))
        elif kind == "profile_json":
            try:
                profile[name] = json.loads(value)
            except ValueError:
                profile[name] = value  # the schema names the field and what it wanted
    data: dict[str, Any] = {"district": district}
    if profile:
        data["profile"] = profile
    if answers:
        data["answers"] = answers
    if _text(form, "notes"):
        data["notes"] = form["notes"]
    return data


def district_from_form(form: Mapping[str, Any], rules: Rules) -> District:
    """The district a form stands for; InputError names each bad field (`form: ... (at profile.students)`)."""
    return district_from_data(form_data(form, rules), rules, source="form")


def form_fields(district: District, rules: Rules) -> list[tuple[str, str]]:
    """The form fields that stand for `district`: `district_from_form` of them gives it back."""
    kinds = {f.name: f.kind for f in profile_fields(rules)}
    fields = [("district_name", district.name)]
    if district.id is not None:
        fields.append(("district_id", district.id))
    for name, value in district.profile.items():
        kind = kinds.get(name)
        if kind == "boolean" and isinstance(value, bool):
            fields.append((f"profile.{name}", "yes" if value else "no"))
        elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            fields.append((f"profile.{name}", repr(value)))
        elif kind == "text" and isinstance(value, str) and value.strip() == value and value:
            fields.append((f"profile.{name}", value))
        else:
            fields.append((f"profile_json.{name}", json.dumps(value, ensure_ascii=False)))
    fields.extend((f"answer.{q}", value) for q, value in district.answers.items())
    if district.notes:
        fields.append(("notes", district.notes))
    return fields


def read_answers(raw: bytes, name: str, rules: Rules, *, json_only: bool = False) -> District:
    """An answers document sent to the server (a request body or an uploaded file), checked like a
    file named `name`: YAML (JSON is YAML too), or strictly JSON."""
    text = decode(raw, name)
    doc = load_json(text, name) if json_only or name.lower().endswith(".json") else load_yaml(text, name)
    if not isinstance(doc.data, dict):
        raise InputError.at(doc.locate(()), "expected an answers document: a mapping with `district`, `answers`, ...")
    return district_from_document(doc, rules)


def answers_yaml(district: District, rules: Rules) -> str:
    """The district's answers file: `rostering-advisor recommend` reads it back as the same district."""
    lines = [
        f"# Answers for {rules.manifest.name} {rules.version}, saved by rostering-advisor {__version__}.",
        "# Advice from the command line: rostering-advisor recommend answers.yaml --format md",
        "district:",
        f"  name: {_scalar(district.name)}",
    ]
    if district.id is not None:
        lines.append(f"  id: {_scalar(district.id)}")
    lines += _mapping("profile", district.profile.items())
    lines += _mapping("answers", district.answers.items())
    if district.notes:
        lines.append(f"notes: {_scalar(district.notes)}")
    return "\n".join(lines) + "\n"


def _mapping(key: str, items: Iterable[tuple[str, Any]]) -> list[str]:
    body = [f"  {name}: {_scalar(value)}" for name, value in items]  # names are ids: plain keys are safe
    return [f"{key}:", *body] if body else []


def _scalar(value: Any) -> str:
    """A YAML 1.2 scalar the engine's loader reads back as exactly `value`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value in ("yes", "no", "unknown"):
        return value  # an answer: plain words stay text in YAML 1.2
    quoted = json.dumps(str(value), ensure_ascii=False)  # JSON's string escapes are YAML's too
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _typed(value: str, kind: str) -> Any:
    """A profile field's text as the value its kind needs; left as text when it is not one (the
    schema then says what was expected, at the field)."""
    if kind == "number":
        number = value.replace(",", "").replace(" ", "")
        if _INTEGER.fullmatch(number):
            return int(number)
        if _DECIMAL.fullmatch(number) and math.isfinite(float(number)):
            return float(number)
    elif kind == "boolean" and value in ("yes", "no"):
        return value == "yes"
    return value


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""
