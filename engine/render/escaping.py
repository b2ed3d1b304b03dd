"""Escaping text for Markdown documents, so that text prints as itself and never as markup.

Two levels, both producing one line (whitespace, newlines included, collapses to single spaces):

* `markdown_escape(text)` — for text the district wrote (name, notes, profile values) and for any
  value of unknown origin: every character Markdown could read as syntax is backslash-escaped,
  so `| # ](javascript:alert(1))` or `<script>` stay literal text, in a paragraph, a list item,
  a heading or a table cell alike.
* `markdown_escape(text, strict=False)` — for prose from the rules (`RulesText`): the same, except
  that `(`, `)`, `!`, `{`, `}` inside the text stay as they are. Without an unescaped `[`, `]` or `<`
  they cannot form a link, an image or an autolink, and the raw Markdown stays readable.

HTML is escaped as Jinja's autoescape does it (markupsafe).
"""

from __future__ import annotations

import re

# Characters that are Markdown syntax wherever they appear (CommonMark, GitHub Flavored Markdown,
# markdown-it): code spans, emphasis, links and images, raw HTML and autolinks, table cells,
# strikethrough, GitHub math, and the backslash itself.
_ALWAYS = r"\\`*_\[\]<>|~$"
# Also escaped in district text: link destinations and images, and attribute lists ({: ...}) of
# some renderers.
_STRICT_EXTRA = r"(){}!"
_STRICT = re.compile(f"[{_ALWAYS}{_STRICT_EXTRA}]")
_LIGHT = re.compile(f"[{_ALWAYS}]")
# `&amp;`, `&#60;` and `&#x3C;` would print as the character they name.
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)")
# Markers that start a block when they open a line (CommonMark 4-5): an ATX heading, a bullet or
# ordered list item (the marker followed by a space or the end), a thematic break or setext
# underline (a line of only - or =), and a `(` that could follow a template's `]` as a link
# destination. `>`, `*`, `_`, `` ` ``, `~`, `<`, `|` are escaped everywhere already.
_LEADING = re.compile(r"^(?:#{1,6}(?=\s|$)|[-+](?=\s|$)|-[-\s]*$|=+\s*$|\(|\d{1,9}(?=[.)](?:\s|$)))")
_SPACE = re.compile(r"\s+")


class RulesText(str):
    """Prose written in the rules (labels, rationale, reasons, next steps): escaped lightly in
    Markdown. Any change to it (a filter, a concatenation) gives a plain `str`, escaped strictly."""

    __slots__ = ()


class MarkdownText(str):
    """Markdown that a template produced (a macro's output, `|safe`): printed as it is."""

    __slots__ = ()


def one_line(text: str) -> str:
    """Whitespace runs, newlines included, as single spaces; no space at either end."""
    return _SPACE.sub(" ", text).strip()


def markdown_escape(text: str, *, strict: bool = True) -> str:
    """`text` as one line of Markdown that displays exactly that text."""
    line = one_line(text)
    if not line:
        return line
    line = (_STRICT if strict else _LIGHT).sub(r"\\\g<0>", line)
    line = _ENTITY.sub(r"\\&", line)
    marker = _LEADING.match(line)
    if marker:
        end = marker.end()
        line = line[:end] + "\\" + line[end:] if line[:1].isdigit() else "\\" + line
    return line


_STRICT_CACHE: dict[str, str] = {}
_LIGHT_CACHE: dict[str, str] = {}
_CACHE_SIZE = 8192


def cached_markdown_escape(text: str, strict: bool) -> str:
    """`markdown_escape`, remembered: rules texts repeat in every document of a batch."""
    cache = _STRICT_CACHE if strict else _LIGHT_CACHE
    escaped = cache.get(text)
    if escaped is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        escaped = cache[text] = markdown_escape(text, strict=strict)
    return escaped


def markdown_finalize(value: object) -> str:
    """What `{{ value }}` prints in a Markdown template."""
    kind = type(value)
    if kind is MarkdownText:
        return value  # type: ignore[return-value]
    if kind is RulesText:  # the caches are read here first: hundreds of values per document
        escaped = _LIGHT_CACHE.get(value)  # type: ignore[call-overload]
        return escaped if escaped is not None else cached_markdown_escape(value, False)  # type: ignore[arg-type]
    if kind is str:
        escaped = _STRICT_CACHE.get(value)  # type: ignore[call-overload]
        return escaped if escaped is not None else cached_markdown_escape(value, True)  # type: ignore[arg-type]
    if kind is int or kind is float:  # digits, `-`, `.`, `e`, `+`, inf, nan: nothing to escape
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, MarkdownText):
        return value
    if isinstance(value, RulesText):
        return cached_markdown_escape(str(value), False)
    return cached_markdown_escape(str(value), True)


def html_finalize(value: object) -> object:
    """What `{{ value }}` prints in an HTML template, before autoescape: `None` prints nothing.
    Rules text and numbers (~290 values a document) are handed on as exact `str`, which markupsafe's
    `escape` takes on its fast path; the text it escapes is the same."""
    kind = type(value)
    if kind is str:
        return value
    if kind is RulesText or kind is int or kind is float:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value
