"""District-supplied text cannot inject markup: Markdown-escaped in Markdown, HTML-escaped in HTML.

The Markdown checks parse the output with markdown-it-py (the CommonMark parser family behind VS
Code's preview) with tables and strikethrough on, as GitHub renders them; they skip where it is
not installed (it is in the test extras).
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from engine import Advisor
from engine.render.documents import Renderer

from engine.render.escaping import RulesText, html_finalize, markdown_escape, markdown_finalize, one_line

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
DAY = datetime.date(2026, 11, 28)

HOSTILE = [
    "| # ](javascript:alert(1))",
    "<script>alert('x')</script>",
    "[click](javascript:alert(1))",
    "![img](http://evil.example/x.png)",
    "<http://evil.example>",
    "# Heading",
    "## Also a heading",
    "> quoted",
    "- item",
    "+ item",
    "* item",
    "1. first",
    "12) twelfth",
    "---",
    "===",
    "```code```",
    "~~~",
    "`code`",
    "*em* **strong** _em_ __strong__",
    "~~strike~~",
    "a | b | c",
    "&amp; &#60; &#x3C; &copy;",
    "back\\slash\\",
    "$x^2$ and $$y$$",
    "{: .class onclick=alert(1)}",
    "[ref]: http://evil.example",
    "[^1]",
    "    indented code",
    "line one\n# line two\n- line three",
    "tab\there",
    "<img src=x onerror=alert(1)>",
    "St. Mary's (North) & Sons!",
]


def _md():
    """A CommonMark parser with GitHub's tables and strikethrough (the Markdown checks skip without it)."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py parses the Markdown output")
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _inline_tokens(source: str) -> list:
    tokens = _md().parse(source)
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], (source, tokens)
    return tokens[1].children


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("strict", [True, False])
def test_escaped_text_renders_as_exactly_that_text(text: str, strict: bool) -> None:
    escaped = markdown_escape(text, strict=strict)
    assert "\n" not in escaped
    for prefix, suffix in (("", ""), ("Name: ", "."), ("- ", "")):
        source = f"{prefix}{escaped}{suffix}"
        if prefix == "- ":
            tokens = _md().parse(source)
            assert [t.type for t in tokens][:3] == ["bullet_list_open", "list_item_open", "paragraph_open"], source
            children = tokens[3].children
            prefix = ""
        else:
            children = _inline_tokens(source)
        assert {t.type for t in children} <= {"text"}, (source, [t.type for t in children])
        assert "".join(t.content for t in children) == f"{prefix}{one_line(text)}{suffix}"


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_stays_in_its_table_cell(text: str) -> None:
    source = f"| a | b |\n| --- | --- |\n| {markdown_escape(text)} | second |\n"
    tokens = _md().parse(source)
    cells = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "td_open"]
    assert len(cells) == 2
    assert {c.type for c in cells[0].children} <= {"text"}
    assert "".join(c.content for c in cells[0].children) == one_line(text)
    assert cells[1].content == "second"


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_stays_a_heading_and_a_list_item(text: str) -> None:
    tokens = _md().parse(f"## Advice for {markdown_escape(text)}\n")
    assert [t.type for t in tokens] == ["heading_open", "inline", "heading_close"]
    assert {c.type for c in tokens[1].children} <= {"text"}


def test_finalize_prints_values_as_text() -> None:
    assert markdown_finalize(None) == ""
    assert markdown_finalize(True) == "yes"
    assert markdown_finalize(30) == "30"
    assert markdown_finalize(-3) == "-3"
    assert markdown_finalize("1.0.0") == "1.0.0"
    assert markdown_finalize("1. first") == "1\\. first"
    assert markdown_finalize(RulesText("Use (and keep) it!")) == "Use (and keep) it!"
    assert markdown_finalize("Use (and keep) it!") == "Use \\(and keep\\) it\\!"


@given(st.one_of(st.integers(), st.floats()))
def test_numbers_print_as_escaping_would_print_them(number: int | float) -> None:
    """Numbers skip the escaping (a fast path): what they print must be what escaping gives."""
    assert markdown_finalize(number) == markdown_escape(str(number))


# --- whole documents ----------------------------------------------------------------------------

NASTY_NAME = "<script>alert(1)</script> | # ](javascript:alert(1)) [x](http://e.example) *"
NASTY_NOTES = "# Not a heading\n\n- not a list\n<img src=x onerror=alert(1)>\n\n| a | b |\n[link](javascript:x)"


@pytest.fixture(scope="module")
def nasty():
    advisor = Advisor.load(FIXTURES / "rules")
    rec = advisor.recommend(
        {
            "district": {"name": NASTY_NAME, "id": "<b>id</b>"},
            "profile": {"students": 9000, "sis": "<i>Power</i>School | x", "motto": "[a](javascript:b)"},
            "answers": {"mobile_population": "yes", "sis_changing": "no"},
            "notes": NASTY_NOTES,
        }
    )
    return rec, Renderer(FIXTURES / "templates")


def test_markdown_document_has_no_injected_markup(nasty) -> None:
    rec, renderer = nasty
    text = renderer.render(rec, "md", generated=DAY)
    tokens = _md().parse(text)
    flat = [t for token in tokens for t in [token, *(token.children or [])]]
    kinds = {t.type for t in flat}
    assert "link_open" not in kinds and "image" not in kinds
    assert "html_inline" not in kinds
    html_blocks = [t for t in tokens if t.type == "html_block"]
    assert len(html_blocks) == 2 and html_blocks[0].content.startswith("<!-- Generated by rostering-advisor")
    assert html_blocks[1].content.startswith("<!-- rostering-advisor seal:")  # the last line (files.seal)
    headings = ["".join(c.content for c in tokens[i + 1].children) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[0] == f"Rostering advice for {NASTY_NAME}"
    assert not any(h.startswith("Not a heading") for h in headings)
    # Every table keeps its columns: the profile table has 2, the appendix 5.
    rows = _table_rows(tokens)
    assert {len(r) for r in rows["Fact"]} == {2} and {len(r) for r in rows["No."]} == {5}
    assert ["Motto", "[a](javascript:b)"] in rows["Fact"]
    assert ["SIS", "<i>Power</i>School | x"] in rows["Fact"]


def _table_rows(tokens: list) -> dict[str, list[list[str]]]:
    """The body rows of each table, by the text of its first header cell."""
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    row: list[str] = []
    in_head = False
    for i, t in enumerate(tokens):
        if t.type == "thead_open":
            in_head = True
        elif t.type == "th_open" and in_head and current is None:
            current = tables.setdefault(tokens[i + 1].content, [])
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open" and not in_head:
            row = []
        elif t.type == "td_open" and not in_head:
            row.append("".join(c.content for c in tokens[i + 1].children))
        elif t.type == "tr_close" and not in_head and current is not None:
            current.append(row)
        elif t.type == "table_close":
            current = None
    return tables


def test_html_document_escapes_district_text(nasty) -> None:
    rec, renderer = nasty
    text = renderer.render(rec, "html", generated=DAY)
    assert "<script" not in text and "<img" not in text and "<i>" not in text and "<b>id" not in text
    assert "javascript:" not in re.findall(r"""(?:href|src)\s*=\s*["']?([^"' >]*)""", text)
    assert f"<title>Rostering advice for {html.escape(NASTY_NAME)}</title>" in text
    assert f"<h1>Rostering advice for {html.escape(NASTY_NAME)}</h1>" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    # No attribute of any tag carries district text.
    for tag in re.findall(r"<[a-zA-Z][^>]*>", text):
        assert "alert" not in tag and "javascript" not in tag, tag


def test_context_keeps_district_text_as_written(nasty) -> None:
    rec, renderer = nasty
    context = renderer.context(rec, generated=DAY)
    assert context["district"]["name"] == NASTY_NAME
    assert context["district"]["notes"] == NASTY_NOTES
    assert context["district"]["notes_paragraphs"][0] == "# Not a heading"
    assert {"field": "motto", "label": "Motto", "value": "[a](javascript:b)", "text": "[a](javascript:b)"} in context[
        "district"
    ]["profile"]
