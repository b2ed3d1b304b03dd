"""A corpus of hostile templates: each ends as `template:line: why`, exit 2, within the time limit
and the memory bound, in `recommend` and in `batch` (which stops once the same template error
repeats), never with a traceback or by exhausting the machine.

The filters and operators are bounded by the sandbox's checks, what one C call can still build by
the render's memory limit (`render.limits.memory_limit`), a compilation by the same limits, and
template files by a size cap. The table runs in one subprocess under 512 MB of address space.
By default batch runs every tenth template; HOSTILE_LONG=1 runs all of them in batch too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import FIXTURES
from tests.hostile import run_table

CSV = Path(__file__).parent / "data" / "batch" / "basic.csv"
ANSWERS = FIXTURES / "examples" / "brookhaven" / "answers.yaml"
L = "{% set l = range(10)|list %}"
BIG = "{% set a = 'x' * 4000000 %}"
NESTED = "((((" * 2500 + "1" + "))))" * 2500

# name: (t.md.j2, {other file: text})
CORPUS: dict[str, tuple[str, dict[str, str]]] = {
    # filters
    "sum-of-lists": (L + "{{ ([l] * 1000)|sum(start=[]) }}", {}),
    "sum-of-strings": ("{{ (['x' * 1000] * 1000)|sum(start='') }}", {}),
    "batch-fill": ("{{ range(10)|batch(10**9, 0)|list }}", {}),
    "slice-many": ("{{ range(10)|slice(10**9)|list }}", {}),
    "center-wide": ("{{ 'x'|center(10**6) }}", {}),
    "indent-wide": ("{{ 'x\ny'|indent(10**6) }}", {}),
    "wordwrap-wide": ("{{ 'a b'|wordwrap(10**7) }}", {}),
    "truncate-long": ("{{ 'x'|truncate(10**9) }}", {}),
    "format-width": ("{{ '%10000000s'|format('x') }}", {}),
    "percent-width": ("{{ '%*s' % (10**8, 'x') }}", {}),
    "replace-inflates": ("{{ ('x' * 1000)|replace('x', 'y' * 10000) }}", {}),
    "join-inflates": ("{{ (['x' * 10000] * 1000)|join('-') }}", {}),
    "string-of-nested": ("{{ ([['x' * 4000000]] * 1000)|string }}", {}),
    "tojson-of-nested": ("{{ ([['x' * 4000000]] * 1000)|tojson }}", {}),
    "list-times": ("{{ (range(10000)|list) * 1000 }}", {}),
    "string-times": ("{{ range(10000)|map('string')|join(',') * 1000 }}", {}),
    "string-plus": ("{{ 'x' * 4000000 + 'y' * 4000000 }}", {}),
    "power": ("{{ (10 ** 100) ** 100 }}", {}),
    "big-product": ("{{ (2 ** 4000) * (2 ** 4000) }}", {}),
    "range-huge": ("{{ range(10**9)|list }}", {}),
    "lipsum": ("{{ lipsum(10**6) }}", {}),
    "str-format": ("{{ '{0.__class__}'.format(1) }}", {}),
    "dunder": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}),
    # block capture, concatenation, output
    "capture-doubling": (
        BIG + "{% set b %}" + "{{ a }}" * 8 + "{% endset %}{% set c %}" + "{{ b }}" * 8 + "{% endset %}"
        "{% set d %}" + "{{ c }}" * 8 + "{% endset %}{{ d|length }}", {},
    ),
    "tilde-doubling": (BIG + "{% set b = a ~ a ~ a ~ a %}{% set c = b ~ b ~ b ~ b %}{% set d = c ~ c ~ c ~ c %}{% set e = d ~ d ~ d ~ d %}{{ e|length }}", {}),
    "namespace-growth": (
        "{% set ns = namespace(s='') %}{% for i in range(10000) %}{% set ns.s = ns.s ~ ('x' * 10000) %}{% endfor %}{{ ns.s }}", {},
    ),
    "output-flood": ("{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}", {}),
    "output-lines": ("{% for i in range(10000) %}{{ 'x' * 1000 }}\n{% endfor %}", {}),
    # recursion
    "macro-recursion": ("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", {}),
    "macro-doubling": ("{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('x', 40) }}", {}),
    "caller-recursion": ("{% macro r() %}{% call r() %}x{% endcall %}{% endmacro %}{{ r() }}", {}),
    # includes
    "include-self": ('{% include "t.md.j2" %}', {}),
    "include-cycle": ('{% include "a.j2" %}', {"a.j2": '{% include "b.j2" %}', "b.j2": '{% include "a.j2" %}'}),
    "import-self": ('{% import "t.md.j2" as me %}{{ me }}', {}),
    "extends-self": ('{% extends "t.md.j2" %}', {}),
    "include-missing": ('\n{% include "nowhere.j2" %}', {}),
    "include-huge": ('{% include "huge.j2" %}', {"huge.j2": "x" * (1024 * 1024 + 1)}),
    "include-not-utf8": ('{% include "latin.j2" %}', {"latin.j2": "caf\udce9"}),
    "include-fails-inside": ('{% include "inner.j2" %}', {"inner.j2": "ok\n{{ 'x' * 10**8 }}"}),
    # compile-time blow-ups
    "many-sets": ("{% set x = 1 %}\n" * 200_000, {}),
    "nested-parentheses": ("{{ " + NESTED + " }}", {}),
    "nested-ifs": ("{% if true %}" * 3000 + "x" + "{% endif %}" * 3000, {}),
    "long-sum": ("{{ " + " + ".join(["1"] * 20_000) + " }}", {}),
    "unclosed-block": ("line one\n{% if true %}\nno end", {}),
    "syntax-error": ("one\ntwo\n{{ 1 + }}", {}),
}

WHERE = re.compile(r"^\S*\.j2(:\d+)?: \S")


def _folders(root: Path) -> dict[str, Path]:
    made = {}
    for name, (template, others) in CORPUS.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "t.md.j2").write_text(template, encoding="utf-8")
        for other, text in others.items():
            (folder / other).write_bytes(text.encode("utf-8", "surrogateescape"))
        made[name] = folder
    return made


def _check(outcomes: list, names: list[str]) -> None:
    wrong = []
    for name, outcome in zip(names, outcomes):
        lines = outcome.stderr.splitlines()
        if outcome.code != 2 or len(lines) != 1 or not WHERE.match(lines[0]) or outcome.seconds >= 10:
            wrong.append((name, outcome.code, round(outcome.seconds, 1), outcome.stderr[-300:]))
    assert not wrong, "\n".join(map(str, wrong))


def test_the_corpus_has_forty_templates_and_more() -> None:
    assert len(CORPUS) >= 40


def test_hostile_templates_in_recommend(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    table = [["recommend", str(ANSWERS), "--format", "md", "--templates", str(f), "--template", "t"] for f in folders.values()]
    _check(run_table(table, cwd=FIXTURES), list(folders))


def test_hostile_templates_in_batch(tmp_path: Path) -> None:
    folders = _folders(tmp_path / "templates")
    names = list(folders) if os.environ.get("HOSTILE_LONG") == "1" else list(folders)[::10]
    table = [
        ["batch", str(CSV), "--out", str(tmp_path / "out" / name), "--quiet", "--workers", "1",
         "--templates", str(folders[name]), "--template", "t"]
        for name in names
    ]
    _check(run_table(table, cwd=FIXTURES), names)
