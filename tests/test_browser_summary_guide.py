"""The one-page HTML summary and the decision guide in headless Chromium, and the full advice on
paper: each page shows what it must, runs no script (not even one in the district's name), and
the advice's print stylesheet keeps it short. Skipped where Chromium is absent."""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path

import pytest

from engine import Advisor
from engine.render.documents import Renderer
from engine.render.guide import render_guide

from .test_documents_browser import CHROMIUM, FIXTURES, NAME, NOTES, _chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
DAY = datetime.date(2026, 1, 15)
MAX_PRINTED_PAGES = 7  # the full advice of a district with open questions and a review flag


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    advisor = Advisor.load(FIXTURES / "rules")
    rec = advisor.recommend(
        {
            "district": {"name": NAME},
            "profile": {"students": 7300, "sis": "PowerSchool", "uses_clever": True},
            "answers": {"mobile_population": "yes", "teachers_resist_layout_change": "yes", "strong_desire_for_sync": "no"},
            "notes": NOTES,
        }
    )
    renderer = Renderer(FIXTURES / "templates")
    folder = tmp_path_factory.mktemp("pages")
    texts = {
        "summary": renderer.render(rec, "html", generated=DAY, template="summary"),
        "advice": renderer.render(rec, "html", generated=DAY),
        "guide": render_guide(renderer, advisor.rules, "html", generated=DAY),
    }
    out = {}
    for name, text in texts.items():
        out[name] = folder / f"{name}.html"
        out[name].write_text(text)
    return out


def _dom(tmp_path: Path, document: Path) -> tuple[str, str]:
    result = _chromium(tmp_path, "--dump-dom", document.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<script" not in dom.lower() and not re.search(r"<img\b", dom)
    return dom, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def test_summary_page(pages: dict[str, Path], tmp_path: Path) -> None:
    dom, text = _dom(tmp_path, pages["summary"])
    title = html.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1))
    assert title == f"Rostering summary for {NAME}"  # the script in the name set no title
    assert NAME in text and "Recommendation" in text and "Confidence" in text and "First steps" in text
    assert 'lang="en"' in dom and "Content-Security-Policy" in dom


def test_guide_page(pages: dict[str, Path], tmp_path: Path) -> None:
    dom, text = _dom(tmp_path, pages["guide"])
    rules = Advisor.load(FIXTURES / "rules").rules
    for question in rules.questions:
        assert " ".join(question.text.split()) in text
    assert dom.count("<h1") == 1 and "Conditions that decide on their own" in text and rules.version in text


def test_the_full_advice_prints_on_few_pages(pages: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "advice.pdf"
    result = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", pages["advice"].as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    printed = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    assert 3 <= printed <= MAX_PRINTED_PAGES
