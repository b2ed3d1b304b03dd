"""Read YAML and JSON files into plain data, remembering the line and column of every node.

Safe by construction: no tags, anchors or aliases (so no code runs and nothing expands
exponentially), a size cap, a nesting cap checked *before* libyaml sees the text (deep flow
nesting crashes its C parser), duplicate keys rejected, and the YAML 1.2 scalar rules: only
true/false are booleans; `yes`, `no`, `on`, `0777`, `1:20` and dates stay text.

libyaml's complaints are reworded as the mistakes people make (`_explain`): an unquoted `: ` in
text ("put this text in quotes"), a line indented wrongly (named as such, with the levels above
it, at the line that is wrong), a tab.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from engine.errors import InputError, SourceLocation
from engine.files import read_regular

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 30

PathKey = tuple[str | int, ...]

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|(0|[1-9][0-9]*)(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_PLAIN_TAG = "!plain"  # our marker for an untagged plain scalar, typed by _plain_scalar


class _Resolver(yaml.resolver.BaseResolver):
    """Resolve nothing implicitly: plain scalars are typed by `_plain_scalar` below."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN_TAG if implicit[0] else _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


try:
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]  # libyaml: ~10x faster; guarded by _check_depth
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None  # type: ignore[assignment, misc]

if _CParser is not None:

    class _Composer(_CParser, _Resolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)

else:  # pragma: no cover - libyaml missing

    class _Composer(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)


@dataclass
class Document:
    """Parsed data plus the source position of every mapping key and value."""

    file: str
    data: Any
    keys: dict[PathKey, SourceLocation] = field(default_factory=dict)
    values: dict[PathKey, SourceLocation] = field(default_factory=dict)
    whole: str = "the file"  # what messages call it as a whole; "the data" when made in Python
    # JSON text whose positions are not read yet: `load_json` parses with the fast JSON parser and
    # reads positions (a second parse, by the YAML composer) only when a message needs one
    json_text: str | None = field(default=None, repr=False, compare=False)

    def located(self) -> Document:
        """This document with the positions of its nodes read (`keys` and `values` filled)."""
        if self.json_text is not None:
            positions = _positions_only(self.json_text, self.file)
            self.keys, self.values, self.json_text = positions.keys, positions.values, None
        return self

    def locate(self, path: PathKey, *, key: bool = False) -> SourceLocation:
        """The position of the value (or key) at `path`, else of its nearest located parent."""
        self.located()
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        if not self.values:  # data made in Python (`district_from_data`): no lines to point at, only the path
            return SourceLocation(self.file)
        return self.values.get((), SourceLocation(self.file, 1, 1))


def format_path(path: PathKey) -> str:
    """`factors[3].yes.weight` style, for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def decode(raw: bytes, name: str) -> str:
    """UTF-8 text from bytes, naming the line and column of the first invalid byte."""
    if len(raw) > MAX_FILE_BYTES:
        raise InputError.at(
            SourceLocation(name), f"the input is larger than {MAX_FILE_BYTES:,} bytes and is refused"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.at(
            _offset_location(name, raw, exc.start), "the file is not valid UTF-8 text; save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError.at(SourceLocation(name, line, 1), "the file contains binary data (a NUL byte)")
    return text


def load_file(path: Path, display: str | None = None) -> Document:
    """Load a `.json` file strictly as JSON, anything else as YAML."""
    name = display or ("<stdin>" if str(path) == "-" else str(path))
    return load_bytes(read_regular(path, name, MAX_FILE_BYTES), name, json=Path(path).suffix.lower() == ".json")


def load_bytes(raw: bytes, name: str, *, json: bool) -> Document:
    """Parse a file's bytes (read by the caller, who may digest them too) as JSON or YAML."""
    text = decode(raw, name)
    return load_json(text, name) if json else load_yaml(text, name)


def bounded_int(token: str) -> int:
    """A JSON integer of at most `MAX_NUMBER_DIGITS` digits (Python refuses 4,300 with a message
    about sys.set_int_max_str_digits(), and converting ones below that takes quadratic time)."""
    if len(token.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"the number {token[:12]}... is too large")
    return int(token)


def load_yaml(text: str, name: str) -> Document:
    _check_depth(text, name)
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark, problem = _explain(text, exc)
        where = _loc(name, mark) if mark else SourceLocation(name)
        raise InputError.at(where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError.at(SourceLocation(name), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise InputError.at(SourceLocation(name), f"nested deeper than {MAX_DEPTH} levels") from None
    doc = Document(name, None)
    if node is None:
        doc.values[()] = SourceLocation(name, 1, 1)
        return doc
    doc.data = _Builder(doc).build(node, ())
    _check_text(doc, None)
    return doc


def load_json(text: str, name: str) -> Document:
    """Strict JSON (no NaN, Infinity, duplicate keys or trailing commas); the YAML positions of its
    nodes are read at the first message that needs one (`Document.located`)."""
    _check_depth(text, name)

    def refuse_constant(token: str) -> Any:
        raise ValueError(f"{token} is not a number JSON allows")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"duplicate key '{key}'")
            out[key] = value
        return out

    try:
        data = json.loads(text, parse_constant=refuse_constant, object_pairs_hook=pairs, parse_int=bounded_int)
    except json.JSONDecodeError as exc:
        raise InputError.at(SourceLocation(name, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError.at(_find_problem(text, name, str(exc)), f"invalid JSON: {exc}") from None
    if isinstance(data, float) and not math.isfinite(data):  # pragma: no cover - refused above
        raise InputError.at(SourceLocation(name, 1, 1), "invalid JSON: not a finite number")
    doc = Document(name, data, json_text=text)  # positions when a message needs them (`located`)
    _check_text(doc, text)
    return doc


_SURROGATE_ESCAPE = re.compile(r"\\u([dD][89a-fA-F][0-9a-fA-F]{2})")


def _check_text(doc: Document, json_text: str | None) -> None:
    """Refuse half of a UTF-16 pair (`\\ud800`, a lone surrogate): JSON and YAML escapes can spell
    one, but it is not text, and no document could be written with it."""
    if json_text is not None and _surrogate_free(json_text):
        return  # parsed JSON holds one only from such an escape or from the text itself: no walk needed

    def text_ok(value: str) -> bool:
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    def walk(value: Any, path: PathKey) -> None:
        if isinstance(value, str) and not text_ok(value):
            refuse(path, key=False)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not text_ok(key):
                    refuse(path + (key,), key=True)
                walk(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, path + (index,))

    def refuse(path: PathKey, key: bool) -> None:
        where = doc.locate(path, key=key)
        if json_text is not None:  # positions of JSON come from a second parse, which may have failed
            where = _lone_surrogate_escape(json_text, doc.file) or where
        raise InputError.at(where, "a \\u escape for half of a character pair (a lone surrogate) is not text")

    walk(doc.data, ())


def _surrogate_free(json_text: str) -> bool:
    """Whether JSON text can spell no lone surrogate: none in the text, no escape of one (a request
    body is checked in ~1 us, its values walked in ~5)."""
    if _SURROGATE_ESCAPE.search(json_text):
        return False
    try:
        json_text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate_escape(text: str, name: str) -> SourceLocation | None:
    """Where the first `\\uD800`-style escape that is not half of a pair is in JSON text."""
    matches = list(_SURROGATE_ESCAPE.finditer(text))
    for i, match in enumerate(matches):
        high = int(match.group(1), 16) < 0xDC00
        partner = matches[i + 1] if high and i + 1 < len(matches) else matches[i - 1] if not high and i else None
        paired = partner is not None and (partner.start() == match.end() if high else partner.end() == match.start())
        if not paired or (int(partner.group(1), 16) < 0xDC00) == high:  # type: ignore[union-attr]
            return _offset_location(name, text, match.start())
    return None


def _positions_only(text: str, name: str) -> Document:
    """Positions from the YAML composer (JSON is YAML); data left to the JSON parser."""
    try:
        node = _compose(text)
        doc = Document(name, None)
        if node is not None:
            _Builder(doc, strict=False).build(node, ())
        return doc
    except (yaml.YAMLError, InputError, RecursionError):
        return Document(name, None)


def _find_problem(text: str, name: str, message: str) -> SourceLocation:
    """Where the JSON parser's complaint (raised from a hook, so without a position) is in the text."""
    match = re.search(r"'([^']*)'", message)
    if match and "duplicate key" in message:
        needle = json.dumps(match.group(1))
        first = text.find(needle)
        second = text.find(needle, first + 1) if first >= 0 else -1
        if second >= 0:
            return _offset_location(name, text, second)
    digits = re.search(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}", text)
    if "too large" in message and digits:
        return _offset_location(name, text, digits.start())
    for token in ("NaN", "Infinity"):
        if token in message and token in text:
            return _offset_location(name, text, text.find(token))
    return SourceLocation(name, 1, 1)


def _offset_location(name: str, data: str | bytes, index: int) -> SourceLocation:
    """The 1-based line and column of a character (or byte) offset."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line_start = data.rfind(newline, 0, index) + 1  # type: ignore[arg-type]
    return SourceLocation(name, data.count(newline, 0, index) + 1, index - line_start + 1)  # type: ignore[arg-type]


def _compose(text: str) -> yaml.Node | None:
    loader = _Composer(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _check_depth(text: str, name: str) -> None:
    """Refuse deep nesting before parsing: flow brackets, indentation and `- - -` runs."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_flow_depth(text, name)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" -")
        indicators = line[: len(line) - len(stripped)].count("- ")
        indent = len(line) - len(line.lstrip(" "))
        if indicators > MAX_DEPTH or indent > 8 * MAX_DEPTH:
            raise InputError.at(
                SourceLocation(name, number, 1), f"nested deeper than {MAX_DEPTH} levels; no real file needs that"
            )


def _check_flow_depth(text: str, name: str) -> None:
    depth = 0
    quote = ""
    line_no = 1
    line_start = 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
            elif char == "\n":
                line_no += 1
                line_start = index + 1
            continue
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError.at(
                    SourceLocation(name, line_no, index - line_start + 1),
                    f"nested deeper than {MAX_DEPTH} levels; no real file needs that",
                )
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == '"':
            quote = char
        elif char == "\n":
            line_no += 1
            line_start = index + 1


def _loc(name: str, mark: Any) -> SourceLocation:
    """The one place where PyYAML's 0-based marks become 1-based positions."""
    return SourceLocation(name, mark.line + 1, mark.column + 1)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    return lines[line][column : column + 1] if 0 <= line < len(lines) else ""


QUOTE_TEXT = 'the ": " in this text makes YAML read a key and a value; put this text in quotes'
_KEY_ON_LINE = re.compile(r"\S: ")
_QUOTED_START = re.compile(r"""(^|: |- )(["'])[^"']*\2\s*$""")
_INDENT_PROBLEMS = ("did not find expected key", "did not find expected '-' indicator", "expected <block end>")


def _explain(text: str, exc: yaml.MarkedYAMLError) -> tuple[yaml.Mark | None, str]:
    """libyaml's complaint as the mistake people really make (an unquoted ": ", a line indented
    wrongly, a tab), at the line that is wrong: where, and the problem."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return None, problem
    lines = text.split("\n")
    line = lines[mark.line] if mark.line < len(lines) else ""
    indent = len(line) - len(line.lstrip(" "))
    if _char_at(text, mark.line, mark.column) == "\t":
        return mark, "a tab character; indent with spaces"
    if problem.startswith("mapping values are not allowed"):
        if _KEY_ON_LINE.search(line[: mark.column]):
            return mark, QUOTE_TEXT
        return _mark(mark.line, indent), (
            "wrong indentation: this line is indented further than the line above it, so YAML reads it "
            "as more of that line's text; line it up with the key it belongs beside"
        )
    if problem == "could not find expected ':'" and exc.context_mark is not None:
        return exc.context_mark, (
            'wrong indentation: this line has no "key:"; if it continues the text above, indent it '
            "as far as that text, else write it as key: value"
        )
    if any(problem.startswith(p) for p in _INDENT_PROBLEMS):
        if mark.column > indent and _QUOTED_START.search(line[: mark.column]):
            return mark, "text that starts with a quote mark must end with it; put this text in quotes"
        if mark.column == indent:
            levels = _indent_levels(lines[: mark.line])
            lower = max((n for n in levels if n < indent), default=None)
            higher = min((n for n in levels if n > indent), default=None)
            spaces = f"{indent} space{'s' if indent != 1 else ''}"
            if indent not in levels and lower is not None and higher is not None:
                where = f"this line is indented {spaces}, between the levels above it ({lower} and {higher} spaces)"
            else:
                where = f"this line, indented {spaces}, does not fit with the lines above it"
            return mark, f"wrong indentation: {where}; line it up with the key it belongs beside"
    return mark, problem


def _mark(line: int, column: int) -> yaml.Mark:
    return yaml.Mark("", 0, line, column, "", 0)


def _indent_levels(lines: list[str]) -> set[int]:
    """The columns where keys and list items start on these lines (blank and comment lines aside)."""
    levels: set[int] = set()
    for line in lines:
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        column = len(line) - len(body)
        levels.add(column)
        while body.startswith("- "):  # `- key:` starts a level at the dash and one at the key
            rest = body[2:].lstrip(" ")
            column += len(body) - len(rest)
            levels.add(column)
            body = rest
    return levels


class _Builder:
    """Turn a node tree into dicts, lists and scalars, recording positions."""

    def __init__(self, doc: Document, strict: bool = True) -> None:
        self.doc = doc
        self.strict = strict
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> InputError:
        return InputError.at(_loc(self.doc.file, node.start_mark), message)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        if id(node) in self.seen:
            raise self.fail(node, "anchors and aliases (& and *) are not allowed; write the value out")
        self.seen.add(id(node))
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        self.doc.values[path] = _loc(self.doc.file, node.start_mark)
        if node.tag not in (_PLAIN_TAG, _STR_TAG, _SEQ_TAG, _MAP_TAG):
            raise self.fail(node, f"YAML tags such as {_short_tag(node.tag)} are not allowed")
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node)
                if key in out and self.strict:
                    first = self.doc.keys[path + (key,)]
                    raise self.fail(key_node, f"duplicate key '{key}' (first defined at line {first.line})")
                self.doc.keys[path + (key,)] = _loc(self.doc.file, key_node.start_mark)
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        if node.tag == _PLAIN_TAG:
            return self.plain_scalar(cast(yaml.ScalarNode, node))
        return node.value

    def key(self, node: yaml.Node) -> str:
        """Mapping keys are text; `true:` or `1:` become 'true' and '1'."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a mapping key must be plain text, not a list or mapping")
        if node.tag not in (_PLAIN_TAG, _STR_TAG):
            raise self.fail(node, f"YAML tags such as {_short_tag(node.tag)} are not allowed")
        return node.value

    def plain_scalar(self, node: yaml.ScalarNode) -> Any:
        value = node.value
        if value in _NULL:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if _INT.match(value):
            if len(value.lstrip("+-")) > MAX_NUMBER_DIGITS:
                raise self.fail(node, f"the number {value[:12]}... is too large")
            return int(value)
        if _FLOAT.match(value) and any(c.isdigit() for c in value):
            if len(value) > MAX_NUMBER_DIGITS + 10:
                raise self.fail(node, f"the number {value[:12]}... is too long")
            number = float(value)
            if not math.isfinite(number):
                raise self.fail(node, f"the number {value[:12]}... is too large")
            return number
        return value


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
