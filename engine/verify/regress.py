"""Example districts as regression tests: `rostering-advisor test` and the pytest plugin.

An example is a folder `examples/<name>/` holding

* `answers.yaml` — the district's answers file (what `recommend` reads);
* `expect.yaml` — the expected advice, checked against `engine/rules/schemas/example.schema.json`:
  option, `decided_by`, confidence, exactly which overrides fire, and optionally rules that must
  or must not fire;
* `advice.md` — the golden document: the advice rendered with the current templates, compared
  exactly. (`advice.html` is compared too when it exists.)

Golden documents are rendered with the fixed date `GOLDEN_DATE` (or `--date`), never today's, so
they change only when the rules, templates or answers do. `--update` rewrites the golden
documents after a deliberate change, never an expectation: an example whose expected advice
changed still fails. It also scaffolds a new example, a folder with only an answers file: its
`expect.yaml` is written from the current advice with `needs_review: true`, which every run
warns about until a person removes it. And it keeps the editor schemas (`answers.schema.json`,
`example.schema.json`) in the examples folder, where the examples' `$schema` lines point.

Coverage, in the manner of `opa test --coverage`: the rules of each kind (derived answers,
factors, overrides, confidence levels, next steps) that fired for at least one example, and those
that fired for none, with where they are written.

The API: `load_examples` → `run_examples` → `TestReport`; `render_text`, `render_json`,
`render_junit` and `render_github` format it; `command` is the CLI adapter. The pytest plugin
checks each example with `load_example` and `check_example` and reports `coverage` as
`coverage_lines` words it, so both report the same.
"""

from __future__ import annotations

import datetime
import difflib
import fnmatch
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import EXIT_FAILED, EXIT_OK, Diagnostic, InputError, SourceLocation, did_you_mean, github_annotation
from engine.evaluate.answers import District, answers_schema, read_district
from engine.paths import ANSWERS_FILES, display
from engine.paths import example_answers as answers_file
from engine.paths import examples_dir as find_examples_dir
from engine.render.formats import DOCUMENTS, FORMATS
from engine.rules.model import Rules
from engine.rules.schema import validate
from engine.rules.source import Document, format_path, load_file

if TYPE_CHECKING:  # pragma: no cover
    from engine.evaluate.advisor import Advisor, Recommendation

GOLDEN_DATE = datetime.date(2026, 1, 15)  # the generation date golden documents are rendered with
EXPECT_FILE = "expect.yaml"
GOLDEN_FILES = {name: f"advice.{FORMATS[name].extension}" for name in DOCUMENTS}
REQUIRED_GOLDENS = ("md",)  # compared always; the others only when their file exists
MAX_DIFF_LINES = 120
SCHEMA_FILES = ("answers.schema.json", "example.schema.json")  # kept in the examples folder for editors
REVIEW_WARNING = f"{EXPECT_FILE} was written by `test --update` and needs review: check it, then delete its needs_review line"

# Rule kinds in coverage reports: (key, label, file).
KINDS = (
    ("derived", "derived answers", "derived.yaml"),
    ("factors", "factors", "factors.yaml"),
    ("overrides", "overrides", "overrides.yaml"),
    ("confidence", "confidence levels", "policy.yaml"),
    ("next_steps", "next steps", "next_steps.yaml"),
)


# --- examples and their expectations ----------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What an example's advice must be (`expect.yaml`)."""

    option: str
    decided_by: str
    confidence: str
    overrides: tuple[str, ...]
    must_fire: tuple[str, ...] = ()
    must_not_fire: tuple[str, ...] = ()
    description: str = ""
    source: str = EXPECT_FILE
    needs_review: bool = False  # written by `test --update`; a person has not confirmed it yet


@dataclass(frozen=True)
class Example:
    name: str
    folder: Path
    answers_path: Path
    expect_path: Path
    district: District
    expectation: Expectation


def example_schema() -> dict[str, Any]:
    return json.loads((resources.files("engine.rules.schemas") / "example.schema.json").read_text(encoding="utf-8"))


def discover(examples_dir: Path, pattern: str | None = None) -> list[Path]:
    """The example folders (those holding an answers file or an expect.yaml), by name."""
    folders = [
        p
        for p in sorted(Path(examples_dir).iterdir(), key=lambda p: p.name)
        if p.is_dir() and not p.name.startswith((".", "_")) and (answers_file(p) or (p / EXPECT_FILE).is_file())
    ]
    return [f for f in folders if matches(f.name, pattern)]


def matches(name: str, pattern: str | None) -> bool:
    """`-k`: a substring of the name, or a glob when it has * ? or [."""
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def load_expectation(path: Path, rules: Rules) -> Expectation:
    """Read and check an `expect.yaml`; every problem is reported at its file:line:col."""
    doc = load_file(path, display(path))
    problems = validate(doc, example_schema())
    if problems:
        raise InputError(problems)
    data = doc.data
    problems = list(_check_references(doc, rules))
    if problems:
        raise InputError(problems)
    return Expectation(
        option=data["option"],
        decided_by=data["decided_by"],
        confidence=data["confidence"],
        overrides=tuple(data["overrides"]),
        must_fire=tuple(data.get("must_fire", ())),
        must_not_fire=tuple(data.get("must_not_fire", ())),
        description=" ".join(str(data.get("description", "")).split()),
        source=doc.file,
        needs_review=bool(data.get("needs_review", False)),
    )


def traceable_ids(rules: Rules) -> list[str]:
    """Every id that can appear in a trace: the YAML rules, and the decision paths of the policy."""
    deciding = [o.id for o in rules.overrides if o.effect == "recommend"]
    return (
        rules.all_rule_ids()
        + [f"policy.decision.override.{o}" for o in deciding]
        + [f"policy.decision.score.{o.id}" for o in rules.options]
        + ["policy.decision.tie_break"]
    )


def _check_references(doc: Document, rules: Rules) -> Iterable[Diagnostic]:
    data = doc.data

    def unknown(path: tuple, value: str, choices: Sequence[str], noun: str) -> Diagnostic:
        return Diagnostic(doc.locate(path), f"unknown {noun} '{value}'{did_you_mean(value, choices)}", format_path(path))

    options = [o.id for o in rules.options]
    if data["option"] not in options:
        yield unknown(("option",), data["option"], options, "option")
    levels = list(rules.policy.levels)
    if data["confidence"] not in levels:
        yield unknown(("confidence",), data["confidence"], levels, "confidence level")
    overrides = [o.id for o in rules.overrides]
    for i, value in enumerate(data["overrides"]):
        if value not in overrides:
            yield unknown(("overrides", i), value, overrides, "override")
    ids = traceable_ids(rules)
    for key in ("must_fire", "must_not_fire"):
        for i, value in enumerate(data.get(key, ())):
            if value not in ids:
                yield unknown((key, i), value, ids, "rule")
    both = set(data.get("must_fire", ())) & set(data.get("must_not_fire", ()))
    for i, value in enumerate(data.get("must_not_fire", ())):
        if value in both:
            yield Diagnostic(doc.locate(("must_not_fire", i)), f"'{value}' is listed in both must_fire and must_not_fire")


def load_examples(examples_dir: Path, rules: Rules, pattern: str | None = None) -> list[Example]:
    """Every example (matching `pattern`), checked; one InputError lists the problems of all of them."""
    folders = discover(examples_dir, pattern)
    if not folders:
        where = SourceLocation(display(Path(examples_dir)))
        if pattern:
            raise InputError.at(where, f"no example matches -k {pattern!r}")
        raise InputError.at(where, "no examples here: an example is a folder with answers.yaml and expect.yaml")
    return gather(folders, lambda folder: load_example(folder, rules))


def gather(items: Iterable[Any], load: Callable[[Any], Any]) -> list[Any]:
    """`load` each item; one InputError with the problems of all of them, in file order."""
    out: list[Any] = []
    problems: list[Diagnostic] = []
    for item in items:
        try:
            out.append(load(item))
        except InputError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise InputError(problems)
    return out


def load_districts(examples_dir: Path | None, rules: Rules) -> list[tuple[str, str, District]]:
    """(name, folder, District) of every example's answers file, read with `rules` (for `impact`).

    Without `examples_dir` and without an examples folder to find, there are none.
    """
    try:
        folder = find_examples_dir(examples_dir)
    except InputError:
        if examples_dir is not None:
            raise
        return []

    def read(example: Path) -> tuple[str, str, District]:
        path = answers_file(example)
        if path is None:
            raise InputError.at(SourceLocation(display(example)), f"no {ANSWERS_FILES[0]} in this example folder")
        return example.name, display(example), read_district(path, rules, display(path))

    return gather(discover(folder), read)


def load_example(folder: Path, rules: Rules) -> Example:
    answers = answers_file(folder)
    expect = folder / EXPECT_FILE
    problems: list[Diagnostic] = []
    if answers is None:
        problems.append(Diagnostic(SourceLocation(display(folder)), f"no {ANSWERS_FILES[0]} in this example folder"))
    if not expect.is_file():
        problems.append(
            Diagnostic(
                SourceLocation(display(folder)),
                f"no {EXPECT_FILE} in this example folder; `rostering-advisor test --update` writes one from the current advice",
            )
        )
    district = expectation = None
    if answers is not None:
        try:
            district = read_district(answers, rules, display(answers))
        except InputError as error:
            problems.extend(error.diagnostics)
    if expect.is_file():
        try:
            expectation = load_expectation(expect, rules)
        except InputError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise InputError(problems)
    assert answers is not None and district is not None and expectation is not None
    return Example(folder.name, folder, answers, expect, district, expectation)


def scaffold_expectations(advisor: Advisor, examples_dir: Path, pattern: str | None = None) -> list[str]:
    """Write `expect.yaml` for each example folder that has only an answers file, from the advice
    the rules give now, marked `needs_review: true`; the paths written."""
    from engine.files import write_atomic

    new = [(f, path) for f in discover(examples_dir, pattern) if (path := answers_file(f)) and not (f / EXPECT_FILE).exists()]
    districts = gather(new, lambda item: read_district(item[1], advisor.rules, display(item[1])))
    written = []
    for (folder, _), rec in zip(new, advisor.recommend_many(districts)):
        write_atomic(folder / EXPECT_FILE, expectation_text(rec, advisor.rules.version), force=False)
        written.append(display(folder / EXPECT_FILE))
    return written


def editor_schemas(examples_dir: Path, rules: Rules, *, update: bool) -> tuple[list[str], list[str]]:
    """The JSON Schemas that the examples' `# yaml-language-server: $schema=../NAME` lines name,
    kept in the examples folder: (written, out of date). Only `update` writes them."""
    from engine.files import write_atomic

    wanted = {"answers.schema.json": answers_schema(rules), "example.schema.json": example_schema()}
    written, stale = [], []
    for name in SCHEMA_FILES:
        path = Path(examples_dir) / name
        text = json.dumps(wanted[name], indent=2, ensure_ascii=False) + "\n"
        if _read_golden(path) == text:
            continue
        if update:
            write_atomic(path, text, force=True)
            written.append(display(path))
        else:
            stale.append(display(path))
    return written, stale


def expectation_text(rec: Recommendation, version: str) -> str:
    """A new example's expect.yaml: the current advice, to be confirmed by a person."""
    fields = outcome_fields(rec)
    overrides = "".join(f"\n  - {o}" for o in fields["overrides"]) or " []"
    return (
        "# yaml-language-server: $schema=../example.schema.json\n"
        f"# Written by `rostering-advisor test --update` from the advice of the rules {version}.\n"
        "# Check that this is the advice the district should get, describe the case, then delete\n"
        "# the needs_review line.\n"
        "needs_review: true\n"
        f"option: {fields['option']}\n"
        f"decided_by: {fields['decided_by']}\n"
        f"confidence: {fields['confidence']}\n"
        f"overrides:{overrides}\n"
    )


# --- checking one example ---------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One expectation that does not hold: `field` expected `expected`, got `actual`."""

    field: str
    expected: str
    actual: str

    def text(self) -> str:
        if self.field in ("must fire", "must not fire"):
            return f"{self.field + ':':<12} {self.actual}"
        return f"{self.field + ':':<12} expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class GoldenCheck:
    """A golden document compared with the rendered one."""

    format: str
    path: str
    status: str  # same | differs | missing | updated | created
    diff: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("differs", "missing")


@dataclass(frozen=True)
class ExampleResult:
    name: str
    path: str
    expected: dict[str, Any]
    actual: dict[str, Any]
    mismatches: tuple[Mismatch, ...]
    goldens: tuple[GoldenCheck, ...]
    fired: frozenset[str]
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.mismatches and not any(g.failed for g in self.goldens)

    def failure_text(self) -> str:
        """What differs, for people: the CLI and the pytest plugin both show this."""
        lines = [m.text() for m in self.mismatches]
        for golden in self.goldens:
            if golden.status == "missing":
                lines.append(f"{golden.path}: the golden document is missing; run `rostering-advisor test --update`")
            elif golden.status == "differs":
                lines.append(f"{golden.path}: differs from the golden document (run with --update if this is intended)")
                lines.extend("  " + line for line in golden.diff.splitlines())
        return "\n".join(lines)


def outcome_fields(rec: Recommendation) -> dict[str, Any]:
    outcome = rec.outcome
    return {
        "option": outcome.option,
        "decided_by": outcome.decided_by,
        "confidence": outcome.confidence,
        "overrides": list(dict.fromkeys(outcome.overrides)),
    }


def check_example(
    example: Example,
    rec: Recommendation,
    renderer: Any | None,
    *,
    update: bool = False,
    generated: datetime.date = GOLDEN_DATE,
) -> ExampleResult:
    """Compare a recommendation with the example's expectation and golden documents.

    With `update`, golden documents that differ (or are missing) are rewritten; nothing else is.
    Without a renderer, golden documents are not compared.
    """
    started = time.perf_counter()
    expect = example.expectation
    actual = outcome_fields(rec)
    expected: dict[str, Any] = {
        "option": expect.option,
        "decided_by": expect.decided_by,
        "confidence": expect.confidence,
        "overrides": list(expect.overrides),
    }
    mismatches: list[Mismatch] = []
    for key in ("option", "decided_by", "confidence"):
        if expected[key] != actual[key]:
            mismatches.append(Mismatch(key, expected[key], actual[key]))
    if set(expected["overrides"]) != set(actual["overrides"]):
        mismatches.append(Mismatch("overrides", _list(expected["overrides"]), _list(actual["overrides"])))
    fired = rec.outcome.fired()
    for rule in expect.must_fire:
        if rule not in fired:
            mismatches.append(Mismatch("must fire", rule, f"{rule} did not fire"))
    for rule in expect.must_not_fire:
        if rule in fired:
            mismatches.append(Mismatch("must not fire", rule, f"{rule} fired"))
    goldens = [] if renderer is None else _check_goldens(example, rec, renderer, update=update, generated=generated)
    return ExampleResult(
        name=example.name,
        path=display(example.folder),
        expected={**expected, "must_fire": list(expect.must_fire), "must_not_fire": list(expect.must_not_fire)},
        actual=actual,
        mismatches=tuple(mismatches),
        goldens=tuple(goldens),
        fired=frozenset(fired),
        warnings=tuple(repeated_firings(rec.outcome)) + ((REVIEW_WARNING,) if expect.needs_review else ()),
        seconds=time.perf_counter() - started,
    )


def repeated_firings(outcome: Any) -> list[str]:
    """A rule should fire at most once on one fact; more is an engine problem worth seeing."""
    counts: dict[tuple[str, int], int] = {}
    for firing in outcome.trace:
        counts[(firing.rule, firing.fact)] = counts.get((firing.rule, firing.fact), 0) + 1
    return [f"rule '{rule}' fired {n} times on one fact" for (rule, _), n in counts.items() if n > 1]


def _check_goldens(
    example: Example, rec: Recommendation, renderer: Any, *, update: bool, generated: datetime.date
) -> list[GoldenCheck]:
    from engine.files import write_atomic

    checks = []
    for fmt, name in GOLDEN_FILES.items():
        path = example.folder / name
        if fmt not in REQUIRED_GOLDENS and not path.exists():
            continue
        text = renderer.render(rec, fmt, generated=generated)
        shown = display(path)
        golden = _read_golden(path)
        if golden == text:
            checks.append(GoldenCheck(fmt, shown, "same"))
            continue
        if update:
            write_atomic(path, text, force=True)
            checks.append(GoldenCheck(fmt, shown, "created" if golden is None else "updated"))
        elif golden is None:
            checks.append(GoldenCheck(fmt, shown, "missing"))
        else:
            checks.append(GoldenCheck(fmt, shown, "differs", unified_diff(golden, text, shown)))
    return checks


def _read_golden(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.at(SourceLocation(display(path)), f"cannot read the golden document: {exc}") from None


def unified_diff(golden: str, actual: str, name: str, *, limit: int = MAX_DIFF_LINES) -> str:
    lines = list(
        difflib.unified_diff(
            golden.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{name} (golden)",
            tofile=f"{name} (actual)",
        )
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines[:limit])
    if len(lines) > limit:
        text += f"... {len(lines) - limit} more diff lines\n"
    return text


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


# --- coverage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCoverage:
    kind: str
    label: str
    total: int
    fired: tuple[str, ...]
    never: tuple[tuple[str, str], ...]  # (rule id, location)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.fired) / self.total if self.total else 100.0


@dataclass(frozen=True)
class Coverage:
    kinds: tuple[KindCoverage, ...]
    scope: str = ""  # which examples, when not all of them: "the 2 examples matching -k fox"

    @property
    def total(self) -> int:
        return sum(k.total for k in self.kinds)

    @property
    def fired(self) -> int:
        return sum(len(k.fired) for k in self.kinds)

    @property
    def percent(self) -> float:
        return 100.0 * self.fired / self.total if self.total else 100.0

    def kind(self, key: str) -> KindCoverage:
        return next(k for k in self.kinds if k.kind == key)


def coverage(rules: Rules, fired: Iterable[str], scope: str = "") -> Coverage:
    """Which YAML rules fired (in any of the `fired` ids), by kind; `scope` names a selection."""
    fired = set(fired)
    groups = {
        "derived": [d.id for d in rules.derived],
        "factors": [f.id for f in rules.factors],
        "overrides": [o.id for o in rules.overrides],
        "confidence": [c.id for c in rules.policy.confidence],
        "next_steps": [n.id for n in rules.next_steps],
    }
    kinds = []
    for key, label, _ in KINDS:
        ids = groups[key]
        kinds.append(
            KindCoverage(
                kind=key,
                label=label,
                total=len(ids),
                fired=tuple(i for i in ids if i in fired),
                never=tuple((i, str(rules.rule_location(i) or "")) for i in ids if i not in fired),
            )
        )
    return Coverage(tuple(kinds), scope)


# --- a run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest test class

    results: tuple[ExampleResult, ...]
    coverage: Coverage
    min_coverage: float | None = None
    generated: datetime.date = GOLDEN_DATE
    seconds: float = 0.0
    rules_version: str = ""
    examples_dir: str = ""
    warnings: tuple[str, ...] = field(default=())
    written: tuple[str, ...] = ()  # files --update made besides golden documents: new expect.yaml, schemas

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def coverage_ok(self) -> bool:
        return self.min_coverage is None or self.coverage.percent + 1e-9 >= self.min_coverage

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.coverage_ok

    @property
    def updated(self) -> list[str]:
        return [g.path for r in self.results for g in r.goldens if g.status in ("updated", "created")]

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def run_examples(
    advisor: Advisor,
    examples_dir: Path,
    renderer: Any | None,
    pattern: str | None = None,
    *,
    update: bool = False,
    generated: datetime.date = GOLDEN_DATE,
    min_coverage: float | None = None,
) -> TestReport:
    """Run the examples (matching `pattern`) against the advisor's rules and the renderer's templates."""
    started = time.perf_counter()
    written = scaffold_expectations(advisor, examples_dir, pattern) if update else []
    schemas, stale = editor_schemas(examples_dir, advisor.rules, update=update)
    examples = load_examples(examples_dir, advisor.rules, pattern)
    recommendations = advisor.recommend_many([e.district for e in examples])
    results = tuple(
        check_example(example, rec, renderer, update=update, generated=generated)
        for example, rec in zip(examples, recommendations)
    )
    fired = set().union(*(r.fired for r in results))
    selected = len(results) < len(discover(examples_dir))
    scope = f"the {len(results)} example{'s' if len(results) != 1 else ''} matching -k {pattern!r}" if selected else ""
    return TestReport(
        results=results,
        coverage=coverage(advisor.rules, fired, scope),
        written=tuple(written + schemas),
        warnings=tuple(f"{path} is out of date; `rostering-advisor test --update` rewrites it" for path in stale),
        min_coverage=min_coverage,
        generated=generated,
        seconds=time.perf_counter() - started,
        rules_version=advisor.rules.version,
        examples_dir=display(Path(examples_dir)),
    )


# --- reports ----------------------------------------------------------------------------------


def coverage_lines(cov: Coverage, min_coverage: float | None = None) -> list[str]:
    over = f", over {cov.scope} only" if cov.scope else ""
    lines = [f"coverage: {cov.fired}/{cov.total} rules fired ({cov.percent:.1f}%){over}"]
    width = max(len(k.label) for k in cov.kinds)
    for k in cov.kinds:
        lines.append(f"  {k.label:<{width}}  {len(k.fired):>3}/{k.total:<3} {k.percent:5.1f}%")
    never = [(i, loc, k.label) for k in cov.kinds for i, loc in k.never]
    if never:
        lines.append("  never fired:")
        lines.extend(f"    {loc + ': ' if loc else ''}{i} ({label})" for i, loc, label in never)
    if min_coverage is not None and cov.percent + 1e-9 < min_coverage:
        lines.append(f"coverage {cov.percent:.1f}% is below the minimum of {min_coverage:g}%")
    return lines


def render_text(report: TestReport) -> str:
    lines = []
    for result in report.results:
        lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.name}")
        if not result.passed:
            lines.extend("      " + line for line in result.failure_text().splitlines())
        for golden in result.goldens:
            if golden.status in ("updated", "created"):
                lines.append(f"      {golden.status} {golden.path}")
        lines.extend(f"      warning: {w}" for w in result.warnings)
    lines.extend(f"wrote {path}" + (" (new example: review it)" if path.endswith(EXPECT_FILE) else "") for path in report.written)
    lines.extend(f"warning: {w}" for w in report.warnings)
    lines.extend(coverage_lines(report.coverage, report.min_coverage))
    if report.updated:
        lines.append(f"rewrote {len(report.updated)} golden document{'s' if len(report.updated) != 1 else ''}")
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def report_dict(report: TestReport) -> dict[str, Any]:
    cov = report.coverage
    return {
        "summary": {
            "passed": report.passed,
            "failed": report.failed,
            "total": len(report.results),
            "ok": report.ok,
            "updated": report.updated,
            "written": list(report.written),
            "warnings": list(report.warnings),
            "rules_version": report.rules_version,
            "generated": report.generated.isoformat(),
            "seconds": round(report.seconds, 3),
        },
        "examples": [
            {
                "name": r.name,
                "path": r.path,
                "status": "pass" if r.passed else "fail",
                "expected": r.expected,
                "actual": r.actual,
                "mismatches": [{"field": m.field, "expected": m.expected, "actual": m.actual} for m in r.mismatches],
                "goldens": [{"format": g.format, "path": g.path, "status": g.status, "diff": g.diff} for g in r.goldens],
                "warnings": list(r.warnings),
            }
            for r in report.results
        ],
        "coverage": {
            "fired": cov.fired,
            "total": cov.total,
            "percent": round(cov.percent, 2),
            "min_coverage": report.min_coverage,
            "ok": report.coverage_ok,
            "kinds": [
                {
                    "kind": k.kind,
                    "label": k.label,
                    "fired": len(k.fired),
                    "total": k.total,
                    "percent": round(k.percent, 2),
                    "never_fired": [{"rule": i, "location": loc} for i, loc in k.never],
                }
                for k in cov.kinds
            ],
        },
    }


def render_json(report: TestReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def render_junit(report: TestReport) -> str:
    """JUnit XML, as CI systems read it: one testcase per example, plus one for the coverage minimum."""
    cases = len(report.results) + (report.min_coverage is not None)
    failures = report.failed + (not report.coverage_ok)
    suites = ET.Element("testsuites", name="rostering-advisor test", tests=str(cases), failures=str(failures), errors="0")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="examples",
        tests=str(cases),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{report.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("rules_version", report.rules_version),
        ("coverage_percent", f"{report.coverage.percent:.1f}"),
        ("coverage_fired", str(report.coverage.fired)),
        ("coverage_total", str(report.coverage.total)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="examples",
            name=result.name,
            file=f"{result.path}/{EXPECT_FILE}",
            time=f"{result.seconds:.3f}",
        )
        if not result.passed:
            first = result.mismatches[0].text() if result.mismatches else "golden document differs"
            failure = ET.SubElement(case, "failure", message=" ".join(first.split()), type="ExampleMismatch")
            failure.text = result.failure_text()
        if result.warnings:
            ET.SubElement(case, "system-out").text = "\n".join(f"warning: {w}" for w in result.warnings)
    if report.min_coverage is not None:
        case = ET.SubElement(suite, "testcase", classname="coverage", name=f"coverage >= {report.min_coverage:g}%", time="0")
        if not report.coverage_ok:
            message = f"coverage {report.coverage.percent:.1f}% is below the minimum of {report.min_coverage:g}%"
            ET.SubElement(case, "failure", message=message, type="CoverageBelowMinimum").text = "\n".join(
                coverage_lines(report.coverage)
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render_github(report: TestReport) -> str:
    """GitHub Actions annotations: each failing example at its expect.yaml (or golden document),
    each warning, the coverage minimum; then the summary line."""

    def note(level: str, path: str, message: str) -> str:
        return github_annotation(level, message, SourceLocation(path))

    lines = []
    for result in report.results:
        if result.mismatches:
            text = "\n".join(m.text() for m in result.mismatches)
            lines.append(note("error", f"{result.path}/{EXPECT_FILE}", f"example {result.name}: {text}"))
        for golden in (g for g in result.goldens if g.failed):
            what = "the golden document is missing" if golden.status == "missing" else "differs from the golden document"
            fix = "`rostering-advisor test --update` rewrites it after a deliberate change"
            lines.append(note("error", golden.path, f"example {result.name}: {what}; {fix}\n{golden.diff}".rstrip()))
        lines.extend(note("warning", f"{result.path}/{EXPECT_FILE}", f"example {result.name}: {w}") for w in result.warnings)
    lines.extend(note("warning", report.examples_dir, w) for w in report.warnings)
    if not report.coverage_ok:
        lines.append(note("error", report.examples_dir, coverage_lines(report.coverage, report.min_coverage)[-1]))
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit, "github": render_github}


# --- the command ------------------------------------------------------------------------------


def command(args: Any, stdout: IO[str], stderr: IO[str]) -> int:
    """`rostering-advisor test`: exit 0 all pass, 1 a failure (or coverage below the minimum), 2 bad input."""
    from engine.evaluate.advisor import Advisor
    from engine.render.documents import Renderer, generation_date

    min_coverage = getattr(args, "min_coverage", None)
    if min_coverage is not None and not 0 <= min_coverage <= 100:
        raise InputError.at(SourceLocation("--min-coverage"), f"expected a percentage from 0 to 100, got {min_coverage:g}")
    advisor = Advisor.load(args.rules)
    renderer = Renderer(getattr(args, "templates", None))
    date = generation_date(args.date, "--date") if getattr(args, "date", None) else GOLDEN_DATE
    report = run_examples(
        advisor,
        find_examples_dir(getattr(args, "examples", None)),
        renderer,
        getattr(args, "pattern", None),
        update=bool(getattr(args, "update", False)),
        generated=date,
        min_coverage=min_coverage,
    )
    stdout.write(RENDERERS[getattr(args, "format", None) or "text"](report))
    return EXIT_OK if report.ok else EXIT_FAILED
