"""`validate --exhaustive`: all 8,192 yes/no combinations, each with one recommendation, checked."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from engine.verify import exhaustive
from engine.cli import main
from engine.verify.exhaustive import Brief, Enumeration, ExhaustiveReport, analyse, check_exhaustive, combination
from engine.rules.rulebook import load_rules

from .conftest import RULES
from .reference import evaluate


@pytest.fixture(scope="module")
def report() -> ExhaustiveReport:
    """One enumeration of the shipped rules for the module (later ones come from the cache)."""
    return check_exhaustive(load_rules(RULES), RULES, workers=2)


@pytest.fixture(scope="module")
def enumeration(report: ExhaustiveReport) -> Enumeration:
    rules = load_rules(RULES)
    (cached,) = exhaustive.enumerate_versions([exhaustive.Version(rules, RULES)])
    return cached


def test_combination_order_matches_itertools_product() -> None:
    questions = ["a", "b", "c"]
    assert [combination(questions, i) for i in range(8)] == list(exhaustive.combinations(questions))
    assert combination(questions, 0) == {"a": "yes", "b": "yes", "c": "yes"}
    assert combination(questions, 6) == {"a": "no", "b": "no", "c": "yes"}


def test_shipped_rules_pass(report: ExhaustiveReport) -> None:
    assert report.ok, report.problems
    assert report.combinations == 8192 and report.questions == 13
    assert sum(report.options.values()) == sum(report.decided_by.values()) == sum(report.confidence.values()) == 8192
    assert report.ties == report.decided_by["tie_break"] > 0
    # every deciding override and the large-district flag fire on yes/no answers ...
    assert all(report.override_counts[o] > 0 for o in report.override_counts if o != "sync_preconditions_unconfirmed")
    # ... and the review flag for unconfirmed preconditions needs an unknown answer, found by the search
    assert report.override_counts["sync_preconditions_unconfirmed"] == 0
    assert "unknown" in report.unknown_only["sync_preconditions_unconfirmed"].values()
    assert report.never_fired["confidence levels"] == ["confidence.insufficient.2"]  # needs 6 unknowns


def test_counts_agree_with_the_reference_evaluator(report: ExhaustiveReport, enumeration: Enumeration) -> None:
    rules = load_rules(RULES)
    expected = [evaluate(rules, enumeration.answers(i)) for i in range(len(enumeration))]
    assert report.options == dict(sorted(Counter(e.option for e in expected).items()))
    assert report.decided_by == dict(sorted(Counter(e.decided_by for e in expected).items()))
    assert report.confidence == dict(sorted(Counter(e.confidence for e in expected).items()))
    assert [b.option for b in enumeration.outcomes] == [e.option for e in expected]


def test_command_prints_a_summary_and_exits_0(report: ExhaustiveReport, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RULES), "--exhaustive"]) == 0
    out = capsys.readouterr().out
    assert "8,192 combinations of yes/no answers to 13 questions" in out
    assert "exact ties:      5 (all resolved by the tie-break)" in out
    assert "sync_preconditions_unconfirmed: fires only with unknown answers" in out
    assert out.rstrip().splitlines()[-1].startswith("ok: every combination yields exactly one recommendation")


def test_an_override_that_never_fires_fails(
    enumeration: Enumeration, edited_rules: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = edited_rules(
        (
            "overrides.yaml",
            "  - id: large_district_without_sync_path\n",
            "  - id: never_both\n"
            "    priority: 70\n"
            "    when: {all: [{answer: sftp_daily, is: yes}, {answer: sftp_daily, is: no}]}\n"
            "    effect: {flag: review}\n"
            "    reason: Cannot happen.\n\n"
            "  - id: large_district_without_sync_path\n",
        )
    )
    rules = load_rules(folder)
    result = analyse(rules, enumeration)
    assert not result.ok
    assert any(p.startswith("override 'never_both' (") and "never fires" in p for p in result.problems)
    # the command exits 1 (the enumeration is the shipped one: the new flag adds no engine work)
    monkeypatch.setattr(exhaustive, "enumerate_versions", lambda versions, **_: [enumeration])
    out = io.StringIO()
    assert exhaustive.command(rules, out, io.StringIO()) == 1
    assert "problem: override 'never_both'" in out.getvalue() and "failed: 1 problem" in out.getvalue()


def test_undecided_double_decisions_and_ties_by_score_are_problems(enumeration: Enumeration) -> None:
    rules = load_rules(RULES)
    outcomes = list(enumeration.outcomes)
    good = next(b for b in outcomes if b.decided_by == "score")
    outcomes[0] = Brief("", "", "", (), (), (), error="the rules reached no decision")
    outcomes[1] = good._replace(decisions=2)
    outcomes[2] = good._replace(confidences=0)
    outcomes[3] = good._replace(scores=(("sis_sync", 10.0), ("user_import", 10.0)))
    result = analyse(rules, Enumeration(enumeration.questions, tuple(outcomes)))
    text = "\n".join(result.problems)
    assert "the engine reached no recommendation (the rules reached no decision)" in text
    assert "2 decision rules fired instead of exactly one" in text
    assert "0 confidence levels were chosen instead of exactly one" in text
    assert "a tie (sis_sync 10 vs user_import 10) was decided by score" in text
    assert len(result.problems) == 4


def test_enumerations_are_shared_between_identical_logic(enumeration: Enumeration, edited_rules: Callable[..., Path]) -> None:
    reworded = edited_rules(("factors.yaml", "Frequent updates would help keep data correct.", "Frequent updates keep data right."))
    rules = load_rules(reworded)
    assert rules.digest != load_rules(RULES).digest
    assert exhaustive.is_same_logic(rules, load_rules(RULES))
    (again,) = exhaustive.enumerate_versions([exhaustive.Version(rules, reworded)], workers=2)
    assert again is enumeration  # from the cache: no engine work
