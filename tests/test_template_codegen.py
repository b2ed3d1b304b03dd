"""`JoinedOutput` (one yield per output run, one call per printed value) renders exactly what
Jinja's own code generator does, and errors still name their template line."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from jinja2.compiler import CodeGenerator

from engine import Advisor
from engine.render.documents import FORMATS, Renderer
from engine.errors import TemplateError
from engine.render.codegen import JoinedOutput

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
DAY = datetime.date(2026, 11, 28)
EXAMPLES = sorted((FIXTURES / "examples").glob("*/answers.yaml"))


def _stock_renderer(folder: Path = FIXTURES / "templates") -> Renderer:
    """A renderer whose templates compile with Jinja's own code generator."""
    renderer = Renderer(folder)
    for env in renderer._envs.values():
        env.code_generator_class = CodeGenerator
    return renderer


def _folder_with(tmp_path: Path, source: str) -> Path:
    """A copy of the shipped templates with `source` as t.j2."""
    folder = tmp_path / "templates"
    shutil.copytree(FIXTURES / "templates", folder)
    (folder / "t.j2").write_text(source, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def recommendations() -> list:
    advisor = Advisor.load(FIXTURES / "rules")
    return [advisor.recommend(advisor.read(path)) for path in EXAMPLES]


def _documents() -> list[tuple[str, str]]:
    """(format, template) for every document template shipped: `name.md.j2` is Markdown's, and so on."""
    names = sorted(p.name for p in (FIXTURES / "templates").glob("*.j2") if not p.name.startswith("_"))
    return [(fmt, name) for name in names for fmt in FORMATS if name.count(".") == 1 or name.endswith(f".{fmt}.j2")]


@pytest.mark.parametrize(("fmt", "template"), _documents())
def test_every_template_renders_as_jinja_would(fmt: str, template: str, recommendations: list) -> None:
    ours, stock = Renderer(FIXTURES / "templates"), _stock_renderer()
    assert ours._envs[fmt].code_generator_class is JoinedOutput
    assert recommendations
    for rec in recommendations:
        expected = stock.render(rec, fmt, generated=DAY, template=template)
        assert ours.render(rec, fmt, generated=DAY, template=template) == expected


EDGES = {
    "autoescape off and on": "{% autoescape false %}{{ '<b>' }} {{ 3 }}{% endautoescape %}"
    "{% autoescape true %}{{ '<i>' }} {{ 2.5 }} {{ none }} {{ true }}{% endautoescape %}",
    "numbers and markup": "{{ 1 }} {{ -2.5 }} {{ 1e20 }} {{ markup({'a': '<hr>'}).a }} {{ false }} {{ none }} {{ [1, '<'] }}",
    "in a macro": "{% macro x(v) %}[{{ v }}|{{ v ~ '&' }}]{% endmacro %}{{ x(1) }}{{ x('<&>') }}{{ x(district.name) }}",
    "filters and sets": "{% set s %}{{ 'a<b' }}{{ 7 }}{% endset %}{{ s }}{% filter upper %}{{ 'x&y' }} {{ 4 }}{% endfilter %}",
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", EDGES)
def test_edge_cases_render_as_jinja_would(fmt: str, case: str, tmp_path: Path, recommendations: list) -> None:
    folder = _folder_with(tmp_path, EDGES[case])
    ours, stock = Renderer(folder), _stock_renderer(folder)
    expected = stock.render(recommendations[0], fmt, generated=DAY, template="t.j2")
    assert ours.render(recommendations[0], fmt, generated=DAY, template="t.j2") == expected


def test_a_run_of_output_is_one_chunk(recommendations: list) -> None:
    """The point of it: far fewer pieces for the render loop to gather."""
    ours, stock = Renderer(FIXTURES / "templates"), _stock_renderer()
    context = ours.context(recommendations[0], generated=DAY)
    chunks = len(list(ours.template("md").generate(context)))
    assert chunks < len(list(stock.template("md").generate(context))) / 2


SOURCES = {
    "same line": "{{ district.name }} | {{ nope }} |\n",
    "next line": "{{ district.name }}\n{{ nope }}\n",
    "in a loop": "{% for q in questions %}\n| {{ q.text }} | {{ q.nope }} |\n{% endfor %}\n",
    "in a block": "{% extends '_sections.j2' %}{% block headline %}\n# {{ district.name }}\n{{ nope.x }} and {{ district.id }}\n{% endblock %}",
}


@pytest.mark.parametrize("case", SOURCES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_name_the_line_of_the_failing_piece(case: str, fmt: str, tmp_path: Path, recommendations: list) -> None:
    source = SOURCES[case]
    folder = _folder_with(tmp_path, source)
    line = next(i for i, text in enumerate(source.splitlines(), start=1) if "nope" in text)
    with pytest.raises(TemplateError) as caught:
        Renderer(folder).render(recommendations[0], fmt, generated=DAY, template="t.j2")
    message = str(caught.value)
    assert f"t.j2:{line}: " in message and "nope" in message, message
