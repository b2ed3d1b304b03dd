"""Golden documents: the example districts in tests/data/districts/ rendered in both formats with a
fixed date must match tests/golden/ byte for byte.

After a deliberate change to the templates, the rules or the context, regenerate them and read the
diff before committing:

    UPDATE_GOLDEN=1 pytest tests/test_documents_golden.py
"""

from __future__ import annotations

import datetime
import difflib
import os
from pathlib import Path

import pytest

from engine import Advisor
from engine.render.documents import Renderer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
DISTRICTS = ROOT / "tests" / "data" / "districts"
GOLDEN = ROOT / "tests" / "golden"
DAY = datetime.date(2026, 11, 28)
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CASES = [(path.stem, fmt) for path in sorted(DISTRICTS.glob("*.yaml")) for fmt in ("md", "html")]


@pytest.fixture(scope="module")
def documents() -> tuple[Advisor, Renderer]:
    return Advisor.load(FIXTURES / "rules"), Renderer(FIXTURES / "templates")


def test_there_are_golden_districts() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}.{f}" for n, f in CASES])
def test_document_matches_golden(name: str, fmt: str, documents: tuple[Advisor, Renderer]) -> None:
    advisor, renderer = documents
    rec = advisor.recommend(advisor.read(DISTRICTS / f"{name}.yaml"))
    text = renderer.render(rec, fmt, generated=DAY)
    golden = GOLDEN / f"{name}.{fmt}"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1"
    expected = golden.read_bytes().decode("utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True), f"golden/{golden.name}", "rendered", n=2
            )
        )
        pytest.fail(f"{golden.name} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change):\n{diff[:4000]}")


@pytest.mark.parametrize("name", sorted({n for n, _ in CASES}))
def test_golden_markdown_renders_cleanly(name: str) -> None:
    """The Markdown parses as intended on a CommonMark renderer with GitHub's tables: one hidden
    comment at the top and the seal at the end, headings in order, every table row with all its cells, no raw HTML or links."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py parses the Markdown output")
    text = (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
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
