"""The HTML document in a real browser: Debian's headless Chromium opens it from a file, takes a
screenshot, and dumps the DOM. The page must show the district, the recommendation and the chart,
and no script may run, even one hidden in the district's name. Skipped where Chromium is absent
(`.ci/run` installs it)."""

from __future__ import annotations

import datetime
import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine import Advisor
from engine.render.documents import Renderer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NAME = "Lakeside <script>document.title='pwned';document.body.innerHTML='pwned'</script> Schools"
NOTES = "<img src=x onerror=\"document.title='pwned-img'\"> Two schools share one SIS."

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    advisor = Advisor.load(FIXTURES / "rules")
    rec = advisor.recommend(
        {
            "district": {"name": NAME},
            "profile": {"students": 7300, "sis": "PowerSchool", "uses_clever": True},
            "answers": {"mobile_population": "yes", "teachers_resist_layout_change": "yes", "dbm_supports_setup": "yes",
                        "dbm_maintains_data": "yes", "sis_changing": "no", "sftp_daily": "yes"},
            "notes": NOTES,
        }
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("browser")
    document = folder / "advice.html"
    document.write_text(Renderer(FIXTURES / "templates").render(rec, "html", generated=datetime.date(2026, 11, 28)))
    return document, str(rec.rules.option(rec.option).label)


def test_page_shows_district_recommendation_and_chart_and_runs_no_script(page, tmp_path: Path) -> None:
    document, label = page
    result = _chromium(tmp_path, "--dump-dom", document.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    title = html.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1))
    assert title == f"Rostering advice for {NAME}"  # the script in the name did not set the title
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    assert NAME in " ".join(text.split())  # shown as text
    assert f"Our recommendation for {NAME} is {label}" in " ".join(text.split())
    assert "<script" not in dom.lower()  # the name's script is text (&lt;script), not an element
    assert not re.search(r"<img\b", dom)  # and so is the notes' image
    assert dom.count("<svg") == 2 and "<title id=\"score-chart-title\">" in dom
    assert 'lang="en"' in dom


def test_screenshot(page, tmp_path: Path) -> None:
    document, _ = page
    shot = tmp_path / "advice.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", "--hide-scrollbars", document.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 2000)
    assert len(data) > 30_000  # a rendered page, not a blank one


def test_print_to_pdf(page, tmp_path: Path) -> None:
    document, _ = page
    pdf = tmp_path / "advice.pdf"
    result = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", document.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3  # the print stylesheet breaks pages
