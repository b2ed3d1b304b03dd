"""Golden documents of the tests' own example districts: how they are kept, and that they parse.

The goldens live with the districts they are made from, `tests/fixtures/examples/<name>/advice.md`
(and `advice.html` where one exists), and go through the one golden-document system that the
shipped examples use: the pytest plugin compares them byte for byte (each example is a test item),
and after a deliberate change to the fixture templates or rules they are rewritten, and their diff
read, with

    cd tests/fixtures && rostering-advisor test --update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.verify.pytest_plugin import project_of

from .conftest import FIXTURES

EXAMPLES = sorted(p.parent for p in (FIXTURES / "examples").glob("*/expect.yaml"))


def test_the_fixture_goldens_are_plugin_items_in_both_formats() -> None:
    """Every fixture example is collected by the plugin; several carry an HTML golden as well."""
    assert EXAMPLES and all(project_of(folder / "expect.yaml") == FIXTURES for folder in EXAMPLES)
    assert all((folder / "advice.md").is_file() for folder in EXAMPLES)
    assert sum((folder / "advice.html").is_file() for folder in EXAMPLES) >= 5


@pytest.mark.parametrize("folder", EXAMPLES, ids=[f.name for f in EXAMPLES])
def test_golden_markdown_renders_cleanly(folder: Path) -> None:
    """The Markdown parses as intended on a CommonMark renderer with GitHub's tables: one hidden
    comment at the top and the seal at the end, headings in order, every table row with all its cells, no raw HTML or links."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py parses the Markdown output")
    text = (folder / "advice.md").read_text(encoding="utf-8")
    tokens = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table"]).parse(text)
    assert [t.type for t in tokens].count("html_block") == 2 and tokens[0].type == tokens[-1].type == "html_block"
    inline = [c.type for t in tokens for c in (t.children or [])]
    assert "html_inline" not in inline and "link_open" not in inline
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    assert levels[0] == 1 and levels.count(1) == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    for i, t in enumerate(tokens):
        if t.type == "tr_open":
            row = tokens[i : next(j for j in range(i, len(tokens)) if tokens[j].type == "tr_close")]
            assert sum(1 for c in row if c.type in ("th_open", "td_open")) in (2, 5)
