"""JSON Schema validation whose errors a product manager can act on.

jsonschema reports a dotted path and a terse message; we turn each error into a Diagnostic at the
offending node's `file:line:col`, in plain words ("weight must be a number from 0 to 10, got 'high'"),
and pick the intended branch of a `oneOf` so a mistyped condition is explained, not enumerated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from engine.errors import Diagnostic, InputError, did_you_mean
from engine.rules.source import QUOTE_TEXT, Document, PathKey, format_path

SCHEMA_PACKAGE = "engine.rules.schemas"


@cache
def _registry() -> Registry:
    """The packaged schemas, for the `$ref`s between them, read when a `$ref` first needs them: an
    answers file's schema has none, so `recommend` reads no packaged schema."""
    return Registry(retrieve=_packaged_resource)  # type: ignore[call-arg]  # an attrs alias mypy misses


@cache
def _packaged_resource(uri: str) -> Resource:
    return Resource.from_contents(packaged_schemas()[uri])


@cache
def packaged_schemas() -> dict[str, dict[str, Any]]:
    """Every schema shipped in `engine/schemas/rules`, by `$id` (its file name)."""
    folder = resources.files(SCHEMA_PACKAGE) / "rules"
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".schema.json"):
            out[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    return out


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """One validator per schema object (schemas are built once and cached by their makers)."""
    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, Draft202012Validator(schema, registry=_registry()))
        _VALIDATORS[id(schema)] = cached
    return cached[1]


def validate(doc: Document, schema: dict[str, Any]) -> list[Diagnostic]:
    """All schema problems in `doc`, each at its node, in file order."""
    validator = _validator_for(schema)
    diagnostics = {_diagnose(doc, error) for error in validator.iter_errors(doc.data)}
    return sorted(diagnostics, key=lambda d: (d.location, d.message))


def check(doc: Document, schema: dict[str, Any]) -> None:
    """Raise an InputError with every schema problem in `doc`."""
    problems = validate(doc, schema)
    if problems:
        raise InputError(problems)


def _diagnose(doc: Document, error: ValidationError) -> Diagnostic:
    error = _intended(error)
    path: PathKey = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        extra = _extra_keys(error)
        if extra:
            key = extra[0]
            schema = cast("dict[str, Any]", error.schema)  # our schemas: mappings, never booleans
            allowed = sorted(schema.get("properties", {}))
            noun = schema.get("x-key-noun", "field")
            message = f"unknown {noun} '{key}'{did_you_mean(key, allowed)}"
            if len(allowed) <= 10:
                message += f"; allowed here: {', '.join(allowed)}"
            return Diagnostic(doc.locate(path + (key,), key=True), message, format_path(path))
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(error.validator_value)
        what = doc.whole if not path else format_path(path)
        return Diagnostic(doc.locate(path), f"{what} is missing the required field '{missing}'")
    if kind == "type" and _text_read_as_a_key(doc, error, path):
        return Diagnostic(doc.locate(path), QUOTE_TEXT, format_path(path))
    return Diagnostic(doc.locate(path), _message(error, path, doc.whole), format_path(path) if len(path) > 1 else "")


def _text_read_as_a_key(doc: Document, error: ValidationError, path: PathKey) -> bool:
    """Text was expected, and YAML made a one-key mapping of a line such as `- Raised it: from 2 to 3`."""
    instance, schema = error.instance, error.schema
    if not isinstance(schema, dict) or "string" not in str(schema.get("type", "")) or not isinstance(instance, dict) or len(instance) != 1:
        return False
    (key, value), = instance.items()
    located = doc.located()
    return not isinstance(value, (dict, list)) and located.keys.get(path + (key,)) == located.values.get(path)


def _intended(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, descend into the branch the author evidently meant."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches = cast("list[Any]", error.validator_value)  # a oneOf/anyOf: its list of branches
        instance = error.instance
        chosen = None
        if isinstance(instance, dict):
            for index, branch in enumerate(branches):
                needed = _discriminators(branch)
                if needed and needed <= set(instance):
                    chosen = index
                    break
        else:
            typed = [i for i, branch in enumerate(branches) if _accepts_type(branch, instance)]
            chosen = typed[0] if len(typed) == 1 else None
        if chosen is None:
            return error
        sub = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == chosen]
        if not sub:
            return error
        error = min(sub, key=lambda e: (-len(e.absolute_path), e.validator == "required"))
    return error


def _discriminators(branch: dict[str, Any]) -> set[str]:
    """The keys that identify a branch: its first required key, resolved through a $ref if any."""
    if "$ref" in branch:
        target = _resolve_ref(branch["$ref"])
        return _discriminators(target) if isinstance(target, dict) else set()
    required = branch.get("required") or []
    return {required[0]} if required else set()


_JSON_TYPES = {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}


def _accepts_type(branch: dict[str, Any], instance: Any) -> bool:
    """Whether a branch's declared `type` admits the instance's JSON type."""
    if "$ref" in branch:
        branch = _resolve_ref(branch["$ref"]) or {}
    declared = branch.get("type")
    if declared is None:
        return False
    kinds = declared if isinstance(declared, list) else [declared]
    for kind in kinds:
        if kind in ("number", "integer"):
            if isinstance(instance, (int, float)) and not isinstance(instance, bool):
                return True
        elif isinstance(instance, _JSON_TYPES.get(kind, ())) and not (kind != "boolean" and isinstance(instance, bool)):
            return True
    return False


def _resolve_ref(ref: str) -> Any:
    """A `$ref` target among the packaged schemas (`file#/pointer` or a local `#/pointer`)."""
    name, _, pointer = ref.partition("#")
    candidates = [packaged_schemas()[name]] if name else list(packaged_schemas().values())
    for document in candidates:
        node: Any = document
        for part in [p for p in pointer.split("/") if p]:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def _extra_keys(error: ValidationError) -> list[str]:
    schema = cast("dict[str, Any]", error.schema)
    allowed = set(schema.get("properties", {}))
    patterns = schema.get("patternProperties", {})
    if not isinstance(error.instance, dict):
        return []
    return [
        key
        for key in error.instance
        if key not in allowed and not any(re.search(p, key) for p in patterns)
    ]


def _field(path: PathKey) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "item"


def describe(value: Any) -> str:
    """A value as a user would recognise it in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


def _expected_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    words = [_TYPE_WORDS.get(k, str(k)) for k in kinds if k]
    return " or ".join(words) or "a different value"


def _range(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    noun = _expected_type(schema) if "type" in schema else "a number"
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    if high is not None:
        return f"{noun} of at most {high}"
    return noun


def _message(error: ValidationError, path: PathKey, whole: str) -> str:
    name = _field(path) if path else whole
    schema = error.schema if isinstance(error.schema, dict) else {}
    got = describe(error.instance)
    kind = error.validator
    if kind == "type":
        if not path and error.instance is None:
            return f"{whole} is empty; expected a mapping of fields"
        if not path:
            return f"{whole} must hold a mapping of fields, got {got}"
        if "minimum" in schema or "maximum" in schema:
            return f"{name} must be {_range(schema)}, got {got}"
        return f"{name} must be {_expected_type(schema)}, got {got}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{name} must be {_range(schema)}, got {got}"
    if kind == "enum":
        choices = [str(c) for c in cast("list[Any]", error.validator_value)]
        hint = did_you_mean(str(error.instance), choices) if isinstance(error.instance, str) else ""
        return f"{name} must be one of {', '.join(choices)}, got {got}{hint}"
    if kind == "const":
        return f"{name} must be {describe(error.validator_value)}, got {got}"
    if kind == "pattern":
        hint = schema.get("description", "")
        if "id" in name or str(error.validator_value).startswith("^[a-z]"):
            return (
                f"{name} {got} is not a valid id: use lower-case letters, digits and underscores, "
                "starting with a letter"
            )
        return f"{name} {got} does not have the expected form{': ' + hint if hint else ''}"
    if kind == "minLength":
        return f"{name} must not be empty"
    if kind == "maxLength":
        return f"{name} must be at most {error.validator_value} characters long"
    if kind == "minItems":
        return f"{name} must list at least {error.validator_value} item(s)"
    if kind == "maxItems":
        return f"{name} must list at most {error.validator_value} item(s)"
    if kind == "maxProperties":
        return f"{name} has more than {error.validator_value} fields"
    if kind == "uniqueItems":
        return f"{name} lists the same item twice"
    if kind in ("oneOf", "anyOf"):
        title = schema.get("title") or schema.get("description") or "an allowed form"
        return f"{name} is not {title[0].lower() + title[1:] if title else 'valid'}, got {got}"
    if kind == "not":
        return f"{name} has a combination of fields that is not allowed"
    if kind == "additionalProperties":
        return f"{name} has fields that are not allowed"
    return f"{name}: {error.message}"

