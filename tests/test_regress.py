"""`rostering-advisor test`: example districts against the rules and templates, goldens, coverage."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine import Advisor
from engine.cli import main
from engine.render.documents import Renderer
from engine.verify.regress import GOLDEN_DATE, coverage, load_examples, run_examples

from .conftest import FIXTURES, ROOT, RULES, position

EXAMPLES = FIXTURES / "examples"
PICKED = ("fox-hollow", "lakeview-unified", "prairie-view")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shipped examples, their golden documents made afresh by --update (once per module)."""
    folder = tmp_path_factory.mktemp("prepared") / "examples"
    for name in PICKED:
        shutil.copytree(EXAMPLES / name, folder / name)
        (folder / name / "advice.md").unlink(missing_ok=True)
    assert run(folder, "--update") == 0
    return folder


@pytest.fixture
def examples(prepared: Path, tmp_path: Path) -> Path:
    """A copy of the prepared examples that a test may edit."""
    return Path(shutil.copytree(prepared, tmp_path / "examples"))


def run(folder: Path, *extra: str) -> int:
    return main(["test", "--rules", str(RULES), "--examples", str(folder), *extra])


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_examples_pass_with_full_factor_and_override_coverage(advisor: Advisor) -> None:
    report = run_examples(advisor, EXAMPLES, Renderer(FIXTURES / "templates"))
    assert [r.name for r in report.results if not r.passed] == []
    assert len(report.results) >= 15
    assert report.coverage.kind("factors").percent == 100.0
    assert report.coverage.kind("overrides").percent == 100.0
    assert report.coverage.percent == 100.0
    assert all(r.goldens and r.goldens[0].status == "same" for r in report.results)


def test_shipped_examples_cover_every_answer_level_and_decision(advisor: Advisor) -> None:
    examples = load_examples(EXAMPLES, advisor.rules)
    recs = advisor.recommend_many([e.district for e in examples])
    outcomes = [r.outcome for r in recs]
    assert {o.confidence for o in outcomes} == {"strong", "moderate", "lean", "insufficient"}
    assert {o.decided_by for o in outcomes} == {"override", "score", "tie_break"}
    answered = {(q, v) for e in examples for q, v in e.district.answers.items()}
    assert {v for _, v in answered} == {"yes", "no", "unknown"}
    margins = sorted(abs(o.scores["sis_sync"] - o.scores["user_import"]) for o in outcomes if o.decided_by != "override")
    assert {0.0, 1.0} <= set(margins)  # an exact tie and a near tie
    # an explicit answer beats the answer the profile would derive
    brookhaven = next(r for e, r in zip(examples, recs) if e.name == "brookhaven")
    assert brookhaven.outcome.answers["over_5000_students"] == "yes" and "over_5000_students" not in brookhaven.outcome.derived


def test_passing_run_prints_one_line_per_example_and_a_summary(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(examples) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["PASS  fox-hollow", "PASS  lakeview-unified", "PASS  prairie-view"]
    assert lines[-1] == "3 passed, 0 failed"


def test_failure_shows_expected_and_actual_and_exits_1(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = examples / "lakeview-unified" / "expect.yaml"
    replace_in(expect, "option: sis_sync", "option: user_import")
    replace_in(expect, "confidence: strong", "confidence: moderate")
    replace_in(expect, "overrides: []", "overrides: [dbm_will_not_set_up]")
    capsys.readouterr()
    assert run(examples) == 1
    out = capsys.readouterr().out
    assert "FAIL  lakeview-unified" in out
    assert "option:      expected user_import, got sis_sync" in out
    assert "confidence:  expected moderate, got strong" in out
    assert "overrides:   expected [dbm_will_not_set_up], got []" in out
    assert out.splitlines()[-1] == "2 passed, 1 failed"


def test_golden_difference_is_shown_as_a_unified_diff(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = examples / "fox-hollow" / "advice.md"
    text = golden.read_text(encoding="utf-8")
    golden.write_text(text.replace("# Rostering advice for", "# Advice for", 1), encoding="utf-8")
    capsys.readouterr()
    assert run(examples) == 1
    out = capsys.readouterr().out
    assert "FAIL  fox-hollow" in out
    assert f"--- {golden} (golden)" in out and f"+++ {golden} (actual)" in out
    assert "-# Advice for Fox Hollow Area School District" in out
    assert "+# Rostering advice for Fox Hollow Area School District" in out
    assert "differs from the golden document" in out


def test_update_rewrites_only_golden_documents(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fox = examples / "fox-hollow"
    (fox / "advice.md").write_text("stale\n", encoding="utf-8")
    replace_in(fox / "expect.yaml", "confidence: lean", "confidence: strong")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in examples.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run(examples, "--update") == 1  # the expectation still fails: --update never touches it
    out = capsys.readouterr().out
    assert "updated " in out and "rewrote 1 golden document" in out
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in examples.rglob("*") if p.is_file()}
    assert set(after) == set(before)
    assert [p.name for p in after if after[p] != before[p]] == ["advice.md"]
    assert (fox / "advice.md").read_text(encoding="utf-8").startswith("<!-- Generated by rostering-advisor")
    assert f"on {GOLDEN_DATE.isoformat()}" in (fox / "advice.md").read_text(encoding="utf-8")


def test_k_selects_examples(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(examples, "-k", "fox") == 0
    assert capsys.readouterr().out.splitlines()[0] == "PASS  fox-hollow"
    assert run(examples, "-k", "*view*") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 passed, 0 failed"
    assert run(examples, "-k", "nowhere") == 2
    assert "no example matches -k 'nowhere'" in capsys.readouterr().err


def test_json_format(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(examples / "prairie-view" / "expect.yaml", "decided_by: override", "decided_by: score")
    capsys.readouterr()
    assert run(examples, "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["passed"] == 2 and data["summary"]["failed"] == 1
    failed = next(e for e in data["examples"] if e["status"] == "fail")
    assert failed["name"] == "prairie-view"
    assert failed["mismatches"] == [{"field": "decided_by", "expected": "score", "actual": "override"}]
    assert {k["kind"] for k in data["coverage"]["kinds"]} == {"derived", "factors", "overrides", "confidence", "next_steps"}


def test_junit_format_is_valid_xml(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(examples / "fox-hollow" / "expect.yaml", "option: user_import", "option: sis_sync")
    capsys.readouterr()
    assert run(examples, "--format", "junit", "--min-coverage", "100") == 1
    root = ET.fromstring(capsys.readouterr().out)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4" and suite.get("failures") == "2"  # 3 examples + the coverage minimum
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["fox-hollow"].find("failure")
    assert failure is not None and "expected sis_sync, got user_import" in (failure.text or "")
    assert cases["lakeview-unified"].find("failure") is None
    assert cases["coverage >= 100%"].find("failure") is not None


def test_coverage_lists_rules_that_never_fired(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(examples, "--min-coverage", "100") == 1
    out = capsys.readouterr().out
    assert "never fired:" in out
    line, column = position(RULES / "overrides.yaml", "- id: no_way_to_sync", 2)
    assert f"overrides.yaml:{line}:{column}: no_way_to_sync (overrides)" in out
    assert "is below the minimum of 100%" in out
    assert run(examples, "--min-coverage", "50") == 0


def test_coverage_counts_by_kind(advisor: Advisor) -> None:
    cov = coverage(advisor.rules, {"mobile_population.yes", "sis_in_transition", "confidence.strong.1"})
    assert cov.kind("factors").fired == ("mobile_population.yes",) and cov.kind("factors").total == 26
    assert cov.kind("overrides").percent == pytest.approx(100 / 6)
    assert cov.fired == 3 and cov.total == len(advisor.rules.all_rule_ids())


def test_invalid_expectation_exits_2_at_file_line_col(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = examples / "fox-hollow" / "expect.yaml"
    replace_in(expect, "option: user_import", "option: user_imprt")
    replace_in(expect, "decided_by: tie_break", "decided_by: tiebreak")
    capsys.readouterr()
    assert run(examples) == 2
    err = capsys.readouterr().err
    line, column = position(expect, "tiebreak")
    assert f"{expect}:{line}:{column}: decided_by must be one of override, score, tie_break, got 'tiebreak'" in err
    replace_in(expect, "decided_by: tiebreak", "decided_by: tie_break")
    assert run(examples) == 2
    err = capsys.readouterr().err
    line, column = position(expect, "user_imprt")
    assert err == f"{expect}:{line}:{column}: unknown option 'user_imprt' (did you mean 'user_import'?) (at option)\n"


def test_unknown_rule_and_missing_expectation_are_input_errors(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(examples / "lakeview-unified" / "expect.yaml", "  - uses_clever_already\n", "  - uses_clever_alredy\n")
    (examples / "prairie-view" / "expect.yaml").unlink()
    capsys.readouterr()
    assert run(examples) == 2
    err = capsys.readouterr().err
    assert "unknown rule 'uses_clever_alredy' (did you mean 'uses_clever_already'?)" in err
    assert f"{examples / 'prairie-view'}: no expect.yaml in this example folder" in err


def test_bad_answers_in_an_example_are_input_errors(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = examples / "fox-hollow" / "answers.yaml"
    replace_in(answers, "sftp_daily: no", "sftp_daily: perhaps")
    capsys.readouterr()
    assert run(examples) == 2
    line, column = position(answers, "perhaps")
    assert f"{answers}:{line}:{column}: the answer to 'sftp_daily' must be yes, no or unknown" in capsys.readouterr().err


def test_missing_golden_fails_and_names_update(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (examples / "prairie-view" / "advice.md").unlink()
    capsys.readouterr()
    assert run(examples) == 1
    assert "the golden document is missing; run `rostering-advisor test --update`" in capsys.readouterr().out
