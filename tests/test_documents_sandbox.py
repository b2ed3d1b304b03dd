"""Templates run sandboxed, strictly and within limits: escapes fail, runaways stop, errors name
`template:line`, symbolic links are refused, and nothing ends in a traceback."""

from __future__ import annotations

import re

import datetime
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from engine import Advisor
from engine.render.documents import Renderer
from engine.errors import TemplateError
from engine.render.templates import TemplateFolder
from engine.render.formats import DOCUMENTS
from engine.render.sandbox import DocumentSandbox, Limits

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
DAY = datetime.date(2026, 11, 28)


@pytest.fixture(scope="module")
def rec():
    advisor = Advisor.load(FIXTURES / "rules")
    return advisor.recommend(advisor.read(FIXTURES / "examples" / "harbor-view" / "answers.yaml"))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped templates to add test templates to."""
    target = tmp_path / "templates"
    shutil.copytree(FIXTURES / "templates", target)
    return target


def render(folder: Path, rec, source: str, fmt: str = "md", limits: Limits | None = None) -> str:
    """The document, without the seal line that ends every document (`body`)."""
    (folder / "t.j2").write_text(source, encoding="utf-8")
    return body(Renderer(folder, limits=limits).render(rec, fmt, generated=DAY, template="t.j2"))


# --- escapes -----------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ district.__class__ }}",
    "{{ district.name.__class__.__base__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ ''.format }}",
    "{{ ''.format_map }}",
    "{{ '{0.__class__.__mro__}'.format(district.name) }}",
    "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "{{ ''|attr('format') }}",
    "{{ (''|attr('format'))('{0.__class__}', 1) }}",
    "{{ (''|attr('format_map'))({}) }}",
    "{{ district.name|attr('__class__') }}",
    "{{ ['{0.__class__}']|map(attribute='format')|list }}",
    "{% set f = ''.format %}{{ f('{0.__globals__}', lipsum) }}",
    "{{ lipsum.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ options.append(1) }}",
    "{{ district.update({'name': 'x'}) }}",
    "{{ self.__init__.__globals__ }}",
    "{{ (range(3)|map('string')).gi_frame }}",
    "{{ config }}",
    "{{ request }}",
]


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_known_sandbox_escapes_render_nothing_dangerous(folder: Path, rec, source: str, fmt: str) -> None:
    try:
        out = render(folder, rec, source, fmt)
    except TemplateError as error:
        message = str(error)
        assert message.startswith(f"{folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder}")
        assert "\n" not in message
        return
    leaked = ("<class", "<module", "<built-in", "<function", "os.", "subprocess", "__", "0x")
    assert not any(mark in out for mark in leaked), out


def test_str_format_is_refused_with_a_clear_message(folder: Path, rec) -> None:
    with pytest.raises(TemplateError, match=r"t\.j2:1: not allowed in a template: .*'format'"):
        render(folder, rec, "{{ '{0}'.format(1) }}")
    assert render(folder, rec, "{{ '%s and %d'|format('a', 2) }}").endswith("a and 2\n")


# --- strictness and error locations ----------------------------------------------------------------


def test_misspelt_variable_names_template_and_line(folder: Path, rec) -> None:
    with pytest.raises(TemplateError) as caught:
        render(folder, rec, "{{ generator }}\n\n{{ recomendation.label }}\n")
    assert str(caught.value).endswith("t.j2:3: 'recomendation' is undefined")


def test_misspelt_field_names_template_and_line(folder: Path, rec) -> None:
    with pytest.raises(TemplateError, match=r"t\.j2:2: 'dict object' has no attribute 'lable'"):
        render(folder, rec, "{{ generator }}\n{{ recommendation.lable }}\n")


def test_error_inside_an_included_template_names_that_template(folder: Path, rec) -> None:
    (folder / "_broken.j2").write_text("fine\n{% macro part() %}\n{{ nothing_here }}\n{% endmacro %}\n")
    with pytest.raises(TemplateError, match=r"_broken\.j2:3: 'nothing_here' is undefined"):
        render(folder, rec, '{% import "_broken.j2" as b %}{{ b.part() }}')


def test_error_in_the_shipped_sections_names_its_line(folder: Path, rec) -> None:
    sections = folder / "_sections.j2"
    lines = sections.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "{{ m.h2 }}At a glance" in line)
    lines[number - 1] = lines[number - 1].replace("At a glance", "{{ at_a_glanse }}")
    sections.write_text("\n".join(lines) + "\n")
    with pytest.raises(TemplateError, match=rf"_sections\.j2:{number}: 'at_a_glanse' is undefined$"):
        Renderer(folder).render(rec, "md", generated=DAY)


def test_syntax_error_names_template_and_line(folder: Path, rec) -> None:
    with pytest.raises(TemplateError, match=r"t\.j2:2: syntax error: "):
        render(folder, rec, "ok\n{% if %}\n")


def test_missing_template_and_include(folder: Path, rec) -> None:
    with pytest.raises(TemplateError, match=r"no template 'nope' \(templates there: .*advice\.md\.j2"):
        Renderer(folder).render(rec, "md", generated=DAY, template="nope")
    with pytest.raises(TemplateError, match=r"t\.j2:1: no template '_missing\.j2'"):
        render(folder, rec, '{% include "_missing.j2" %}')
    with pytest.raises(TemplateError, match=r"t\.j2:1: .*no template '\.\./rules/manifest\.yaml'|t\.j2:1: "):
        render(folder, rec, '{% include "../rules/manifest.yaml" %}')


def test_missing_value_prints_nothing_but_missing_name_is_an_error(folder: Path, rec) -> None:
    assert render(folder, rec, "<!-- {{ generator }} -->[{{ override }}]").endswith("[]\n")


# --- runaways --------------------------------------------------------------------------------------

RUNAWAYS = [
    ("{{ 'x' * 10**9 }}", "'\\*' would build more than"),
    ("{{ 10**9 * 'x' }}", "'\\*' would build more than"),
    ("{{ [0] * 10**9 }}", "'\\*' would build more than"),
    ("{{ 2 ** 100000 }}", "'\\*\\*' would compute a number"),
    ("{{ 2.0 ** 100000 }}", "OverflowError"),
    ("{% for i in range(10**9) %}{% endfor %}", "range\\(\\) of more than"),
    ("{{ 'x'|center(10**9) }}", "a width above"),
    ("{{ 'x'|indent(10**9) }}", "a width above"),
    ("{{ '%999999999s' % 'x' }}", "width or precision above"),
    ("{{ '%*s' % (10**9, 'x') }}", "width or precision above"),
    ("{{ '%999999999s'|format('x') }}", "width or precision above"),
    ("{{ ('x' * 100000)|replace('', 'y' * 100) }}", "replace\\(\\) would build more than"),
    ("{% set b = 'x' * 3000000 %}{{ [b, b]|join }}", "join\\(\\) would build more than"),
    ("{% set b = 'x' * 3000000 %}{{ b + b }}", "'\\+' would build more than"),
    (
        "{% set ns = namespace(s='x' * 1000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "a value of more than",
    ),
    ("{% macro d(s) %}{{ d(s ~ s) }}{% endmacro %}{{ d('x') }}", "(macros nested more than|an argument of more than)"),
    ("{% macro again() %}{{ again() }}{% endmacro %}{{ again() }}", "macros nested more than 64 deep"),
    ("{% include 't.j2' %}", "templates include or call each other without end"),
    ("{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}", "the output passed 5,000,000 characters"),
    ("{{ lipsum(10**6) }}", "'lipsum' is undefined"),
    ("{{ [1, 2]|random }}", "No filter named 'random'"),
]


@pytest.mark.parametrize(("source", "message"), RUNAWAYS, ids=[s[:40] for s, _ in RUNAWAYS])
def test_runaway_render_stops_with_a_template_error(folder: Path, rec, source: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=rf"t\.j2(:\d+)?: .*{message}"):
        render(folder, rec, source)
    assert time.monotonic() - started < 5


def test_output_cap_is_enforced_while_streaming(folder: Path, rec) -> None:
    limits = Limits(max_output=20_000)
    with pytest.raises(TemplateError, match=r"t\.j2:1: the output passed 20,000 characters"):
        render(folder, rec, "{% for i in range(10000) %}{{ 'y' * 10 }}{% endfor %}", limits=limits)
    assert len(render(folder, rec, "{{ 'y' * 19000 }}", limits=limits)) < 20_000


def test_time_cap_stops_a_loop_that_prints_nothing(folder: Path, rec) -> None:
    source = (
        "{% set r = range(10000)|list %}\n"
        "{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"t\.j2:2: the render ran longer than 0\.5 s and was stopped"):
        render(folder, rec, source, limits=Limits(max_seconds=0.5))
    assert time.monotonic() - started < 5
    # The watchdog leaves nothing behind: the next render in this thread works.
    assert "rostering-advisor" in Renderer(folder).render(rec, "md", generated=DAY)
    time.sleep(0.2)


def test_time_cap_in_another_thread(folder: Path, rec) -> None:
    import threading

    errors: list[str] = []

    def work() -> None:
        try:
            render(folder, rec, "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
                   limits=Limits(max_seconds=0.3))  # fmt: skip
        except TemplateError as error:
            errors.append(str(error))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert errors and "ran longer than 0.3 s" in errors[0]


# --- symbolic links --------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_symlinked_template_is_refused(folder: Path, rec, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.md.j2"
    real.write_text("<!-- {{ generator }} --> outside")
    (folder / "advice.md.j2").unlink()
    (folder / "advice.md.j2").symlink_to(real)
    with pytest.raises(TemplateError, match=r"advice\.md\.j2: is a symbolic link"):
        Renderer(folder).render(rec, "md", generated=DAY)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_symlinked_include_and_folder_are_refused(folder: Path, rec, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "_leak.j2").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(TemplateError, match=r"_leak\.j2: is a symbolic link"):
        render(folder, rec, '{% include "_leak.j2" %}')
    (folder / "parts").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(TemplateError, match=r"parts: is a symbolic link"):
        render(folder, rec, '{% include "parts/secret.txt" %}')


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_template_path_that_is_a_symlink_is_refused(folder: Path, rec, tmp_path: Path) -> None:
    real = tmp_path / "mine.md.j2"
    real.write_text("<!-- {{ generator }} -->\n# {{ district.name }}\n")
    link = tmp_path / "link.md.j2"
    link.symlink_to(real)
    renderer = Renderer(folder)
    assert "# Harbor View" in renderer.render(rec, "md", generated=DAY, template=str(real))
    with pytest.raises(TemplateError, match=r"link\.md\.j2: is a symbolic link"):
        renderer.render(rec, "md", generated=DAY, template=str(link))


def test_template_given_by_path_can_extend_the_shipped_sections(folder: Path, rec, tmp_path: Path) -> None:
    mine = tmp_path / "mine.md.j2"
    mine.write_text(
        '{% extends "_sections.j2" %}{% block before %}<!-- {{ generator }} -->\n{% endblock %}'
        "{% block appendix %}{% endblock %}{% block colophon %}{{ f.number(7) }}The end.{% endblock %}"
    )
    text = body(Renderer(folder).render(rec, "md", generated=DAY, template=str(mine)))
    assert text.startswith("<!-- rostering-advisor")
    assert "# Rostering advice for Harbor View Charter Network" in text
    assert "## Next steps" in text and "| No. | Question | Your answer | Favors | Weight |" not in text
    assert text.endswith("7. The end.\n")


def test_check_compiles_every_template_up_front(folder: Path) -> None:
    Renderer(folder).check()
    (folder / "_typo.j2").write_text("fine\nfine\n{% for x in %}\n")
    with pytest.raises(TemplateError, match=r"_typo\.j2:3: syntax error: "):
        Renderer(folder).check(("md",))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this system")
def test_check_refuses_a_symlink_in_the_folder(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "x.j2").write_text("x")
    (folder / "linked.j2").symlink_to(tmp_path / "x.j2")
    with pytest.raises(TemplateError, match=r"linked\.j2: is a symbolic link"):
        Renderer(folder).check()


# --- markup tokens and the fast paths ------------------------------------------------------------


def body(document: str) -> str:
    """A document without the seal line that ends every document."""
    return re.sub(r"<!-- rostering-advisor seal:[0-9a-f]{64} -->\n$", "", document)


def test_markup_tokens_are_a_global_built_in_when_compiled(folder: Path, rec) -> None:
    assert body(render(folder, rec, "{{ m.b }}x{{ m.b_ }} {{ m.h2 }}T{{ m.h2_ }}")) == "**x** ## T\n"
    assert "<strong>x</strong>" in render(folder, rec, "{{ m.b }}x{{ m.b_ }}", fmt="html")
    env = DocumentSandbox(TemplateFolder(folder), DOCUMENTS["md"], Limits())
    env.load_format()
    code = env.compile("{{ m.b }}x{{ m.b_ }}", raw=True)
    assert "getattr" not in code and "'**x**'" in code  # the tokens are template text
    assert env.globals["m"]["b"] == "**"


@pytest.mark.parametrize(
    "source",
    [
        '{% set m = {"b": "*"} %}{{ m.b }}x',
        '{% for m in [{"b": "+"}] %}{{ m.b }}{% endfor %}',
        '{% macro w(m) %}{{ m.b }}{% endmacro %}{{ w({"b": "~"}) }}',
        '{% macro m() %}x{% endmacro %}',
        '{% import "_words.j2" as m %}',
    ],
)
def test_m_is_reserved_for_the_markup_tokens(folder: Path, rec, source: str) -> None:
    # Every `m` a template reads is then the format's tokens, whatever includes or extends it.
    with pytest.raises(TemplateError, match=r"t\.j2:1: syntax error: 'm' is the format's markup tokens"):
        render(folder, rec, source)


def test_an_included_or_extending_template_cannot_bring_its_own_m(folder: Path, rec) -> None:
    (folder / "inc.j2").write_text("[{{ m.b }}]")
    with pytest.raises(TemplateError, match="'m' is the format's markup tokens"):
        render(folder, rec, "{% set m = {'b': 'OWN'} %}{% include 'inc.j2' %}")
    assert body(render(folder, rec, "{% include 'inc.j2' %}")) == "[**]\n"
    with pytest.raises(TemplateError, match="'m' is the format's markup tokens"):
        render(folder, rec, '{% extends "_sections.j2" %}{% set m = {} %}')


def test_tokens_not_made_by_markup_are_printed_escaped(folder: Path, rec) -> None:
    markdown = folder / "_markdown.j2"
    text = markdown.read_text(encoding="utf-8").replace("{% set m = markup({", '{% set plain = {"star": "**"} %}\n{% set m = markup({')
    text = text.replace("}) %}", "}) %}\n{% set m = dict(m, star=plain.star) %}", 1)
    markdown.write_text(text, encoding="utf-8")
    assert body(render(folder, rec, "{{ m.star }}{{ m.b }}x{{ m.b_ }}")) == "\\*\\***x**\n"


def test_f_and_m_are_globals_whatever_compiles_first(folder: Path, rec) -> None:
    assert body(render(folder, rec, "{{ f.number(3) }}{{ m.b }}")) == "3. **\n"
    (folder / "x.j2").write_text('{% extends "_sections.j2" %}{% block appendix %}{{ f.number(7) }}{% endblock %}')
    assert "7. " in Renderer(folder).render(rec, "md", generated=DAY, template="x.j2")


def test_the_format_file_runs_within_the_time_limit(folder: Path, rec) -> None:
    markdown = folder / "_markdown.j2"
    markdown.write_text(
        markdown.read_text(encoding="utf-8") + "\n{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"_markdown\.j2:\d+: the render ran longer than 0\.5 s"):
        render(folder, rec, "{{ m.b }}", limits=Limits(max_seconds=0.5))
    assert time.monotonic() - started < 5


def test_markup_file_changes_show_in_every_template(folder: Path, rec) -> None:
    markdown = folder / "_markdown.j2"
    markdown.write_text(markdown.read_text(encoding="utf-8").replace('"b": "**"', '"b": "__"'), encoding="utf-8")
    assert body(render(folder, rec, "{{ m.b }}x{{ m.b_ }}")) == "__x**\n"
    document = Renderer(folder).render(rec, "md", generated=DAY)
    assert "__" in document


def test_without_a_markup_file_m_is_undefined(folder: Path, rec) -> None:
    (folder / "_markdown.j2").unlink()
    with pytest.raises(TemplateError, match="t.j2:1: 'm' is undefined"):
        render(folder, rec, "{{ m.b }}")


def test_squash_matches_its_definition() -> None:
    import re

    from hypothesis import given, settings, strategies as st

    from engine.render.escaping import MarkdownText
    from engine.render.sandbox import squash

    definition = re.compile(r" +(?=[,.;:!?)”])|(?<=[(“]) +")  # no space before these, nor after ( “

    @settings(max_examples=2000, deadline=None)
    @given(st.text(alphabet=" \n\t,.;:!?)”(“ab", max_size=40))
    def check(text: str) -> None:
        assert squash(text) == definition.sub("", " ".join(text.split()))
        assert type(squash(MarkdownText(text))) is MarkdownText

    check()


def test_macros_nest_within_the_depth_cap_on_the_fast_path(folder: Path, rec) -> None:
    source = "{% macro down(n) %}{% if n %}{{ down(n - 1) }}{% endif %}.{% endmacro %}{{ down(N) }}"
    assert body(render(folder, rec, source.replace("N", "10"))) == "...........\n"
    with pytest.raises(TemplateError, match="macros nested more than 64 deep"):
        render(folder, rec, source.replace("N", "100"))
    assert body(render(folder, rec, "{% macro k(a, b=2) %}{{ a }}{{ b }}{% endmacro %}{{ k(1) }}{{ k(1, b=3) }}")) == "1213\n"


_NUMBER = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, min_value=-1e6, max_value=1e6))
_EXPONENT = st.one_of(st.integers(-20, 20), st.floats(allow_nan=False, min_value=-20, max_value=20))


@given(st.one_of(st.tuples(_NUMBER, st.sampled_from(["+", "*", "%"]), _NUMBER), st.tuples(_NUMBER, st.just("**"), _EXPONENT)))
def test_arithmetic_on_numbers_is_python_arithmetic(case: tuple) -> None:
    """The sandbox's operators give Python's result (or error) for numbers of a sane size; a fast
    path takes sums and anything with a float."""
    left, operator_, right = case
    env = DocumentSandbox(TemplateFolder(FIXTURES / "templates"), DOCUMENTS["md"], Limits())
    try:
        expected = env.binop_table[operator_](left, right)
    except (ArithmeticError, ValueError) as error:
        with pytest.raises(type(error)):
            env.call_binop(None, operator_, left, right)
        return
    result = env.call_binop(None, operator_, left, right)
    assert result == expected and type(result) is type(expected)
