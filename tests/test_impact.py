"""`rostering-advisor impact`: what a rule change does, to every yes/no combination and every example."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from engine.cli import main
from engine.verify.impact import ImpactReport, compare, diff_rules, load_districts, load_version, render_markdown
from engine.rules.rulebook import load_rules

from .conftest import FIXTURES, ROOT, RULES, copy_rules, position
from .reference import evaluate

EXAMPLES = FIXTURES / "examples"
WEIGHT_OLD = "    no:\n      favours: user_import\n      weight: 2\n      rationale: Classroom teachers"
WEIGHT_NEW = WEIGHT_OLD.replace("weight: 2", "weight: 3")
VERSION = load_rules(RULES).version


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules with "not a Clever customer" weighing 3 instead of 2, and the version not bumped."""
    return copy_rules(tmp_path_factory.mktemp("changed") / "rules", ("factors.yaml", WEIGHT_OLD, WEIGHT_NEW))


@pytest.fixture(scope="module")
def report(changed: Path) -> ImpactReport:
    head = load_version(changed)
    return compare(load_version(RULES), head, load_districts(EXAMPLES, head.rules), workers=2)


def reference_changes(base_dir: Path, head_dir: Path) -> Counter[str]:
    base, head = load_rules(base_dir), load_rules(head_dir)
    questions = [q.id for q in head.questions]
    counts: Counter[str] = Counter()
    for values in itertools.product(("yes", "no"), repeat=len(questions)):
        answers = dict(zip(questions, values))
        old, new = evaluate(base, answers), evaluate(head, answers)
        if old.option != new.option:
            counts[f"{old.option} -> {new.option}"] += 1
        counts["confidence"] += old.confidence != new.confidence
        counts["decided_by"] += old.decided_by != new.decided_by
    return counts


def test_rules_are_compared_field_by_field(report: ImpactReport, changed: Path) -> None:
    (change,) = report.rule_changes
    assert (change.kind, change.id, change.status) == ("factors", "clever_customer.no", "changed")
    assert change.text() == "weight 2 → 3"
    line, column = position(changed / "factors.yaml", "favours: user_import\n      weight: 3\n      rationale: Classroom")
    assert change.location.endswith(f"factors.yaml:{line}:{column}")


def test_counts_agree_with_the_reference_evaluator(report: ImpactReport, changed: Path) -> None:
    expected = reference_changes(RULES, changed)
    combos = report.combinations
    assert combos.total == 8192
    assert {f"{t.before} -> {t.after}": t.count for t in combos.of("option")} == {"sis_sync -> user_import": 12}
    assert expected["sis_sync -> user_import"] == 12 and expected["user_import -> sis_sync"] == 0
    assert combos.option_changed == 12
    assert combos.confidence_changed == expected["confidence"] > 0
    assert combos.decided_by_changed == expected["decided_by"]
    assert combos.head_options["sis_sync"] == combos.base_options["sis_sync"] - 12


def test_minimal_answer_sets_show_the_change_and_need_every_answer(report: ImpactReport, changed: Path) -> None:
    base, head = load_rules(RULES), load_rules(changed)
    (move,) = report.combinations.of("option")
    assert 1 <= len(move.minimal) <= 3
    for minimal in move.minimal:
        assert len(minimal.answers) < 13
        assert (evaluate(base, minimal.answers).option, evaluate(head, minimal.answers).option) == ("sis_sync", "user_import")
        for question in minimal.answers:  # 1-minimal: no answer can be dropped
            fewer = {q: v for q, v in minimal.answers.items() if q != question}
            assert (evaluate(base, fewer).option, evaluate(head, fewer).option) != ("sis_sync", "user_import")
        assert minimal.answers["clever_customer"] == "no"


def test_example_districts_whose_advice_changes(report: ImpactReport, changed: Path) -> None:
    base, head = load_rules(RULES), load_rules(changed)
    expected = set()
    for name, _, district in load_districts(EXAMPLES, head):
        old, new = evaluate(base, district.answers, district.profile), evaluate(head, district.answers, district.profile)
        if (old.option, old.confidence, old.decided_by, old.scores) != (new.option, new.confidence, new.decided_by, new.scores):
            expected.add(name)  # a change of the scores changes the advice document too, as `test` sees
    assert {e.name for e in report.examples} == expected
    moved = {e.name for e in report.examples if any(f.field in ("option", "confidence", "decided_by") for f in e.fields)}
    assert moved == {"willow-bend", "fox-hollow", "brookhaven", "riverbend"}
    only_scores = next(e for e in report.examples if e.name not in moved)
    assert "scores" in [f.field for f in only_scores.fields] and {f.field for f in only_scores.fields} <= {"scores", "reasons"}
    willow = next(e for e in report.examples if e.name == "willow-bend")
    assert (willow.before["option"], willow.after["option"]) == ("sis_sync", "user_import")
    assert report.examples_checked == len(list(EXAMPLES.glob("*/answers.yaml")))


def test_content_changed_without_a_version_bump_is_an_error(report: ImpactReport) -> None:
    assert report.version.content_changed
    assert report.version.errors and f"the content version is still {VERSION}: bump `version`" in report.version.errors[0]
    assert report.exit_code == 1


def test_a_bumped_version_passes_the_check(tmp_path: Path) -> None:
    bumped = copy_rules(
        tmp_path / "rules",
        ("factors.yaml", WEIGHT_OLD, WEIGHT_NEW),
        ("manifest.yaml", f"version: {VERSION}\nchangelog:\n", "version: 9.0.0\nchangelog:\n  - version: 9.0.0\n    date: 2026-12-01\n    changes: [Heavier weight for not being a Clever customer.]\n"),
    )
    result = compare(load_version(RULES), load_version(bumped), workers=2)  # outcomes come from the cache
    assert result.version.ok and result.version.notes == ()
    assert _version_section(render_markdown(result)) == [f"- ✅ Version bumped: {VERSION} → 9.0.0"]
    assert [c.id for c in result.rule_changes] == ["manifest", "clever_customer.no"]
    assert result.exit_code == 1  # advice still changes


def test_the_version_section_says_one_thing_per_case(tmp_path: Path) -> None:
    # base and head differ only in the version and the changelog: a note, not a "✅ Version bumped"
    bumped_only = copy_rules(
        tmp_path / "bumped", ("manifest.yaml", f"version: {VERSION}\n", "version: 9.0.0\n")
    )
    section = _version_section(render_markdown(compare(load_version(RULES), load_version(bumped_only), workers=1)))
    assert section == [f"- ⚠️ the version changed ({VERSION} → 9.0.0) but the rules did not"]
    section = _version_section(render_markdown(compare(load_version(RULES), load_version(RULES), workers=1)))
    assert section == [f"- ✅ Rules unchanged; version {VERSION}"]


def _version_section(markdown: str) -> list[str]:
    lines = markdown.split("### Version\n\n", 1)[1].split("\n\n", 1)[0]
    return lines.splitlines()


def test_markdown_report_from_the_command(changed: Path, report: ImpactReport, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["impact", "--rules", str(changed), "--base-dir", str(RULES), "--examples", str(EXAMPLES)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("## Rules impact: ")
    assert "| “Is the district already a Clever customer?” no (`clever_customer.no`) | weight 2 → 3 |" in out
    assert "| recommendation SIS Sync → User Import Tool | 12 |" in out
    assert f"❌ **Error:** the rules changed but the content version is still {VERSION}" in out
    assert "#### Recommendation: SIS Sync → User Import Tool (12)" in out
    assert "| willow-bend | SIS Sync, leaning (by the score) | User Import Tool, leaning (by the tie-break on equal scores) |" in out
    assert "<summary><b>Rule changes (1)</b></summary>" in out and "minimal" not in out and "tie_break" not in out
    summary = out.split("### Version")[0]  # the summary table comes first
    assert "| version | ❌ the rules changed but the content version is still" in summary
    assert "| yes/no answer combinations whose recommendation changes | 12 of 8,192 |" in summary
    questions = {q.text for q in load_rules(RULES).questions}
    shown = [line for line in out.splitlines() if line.startswith("- “")]  # the fewest answers that show a change
    assert shown and all(any(f"“{text}”" in line for text in questions) for line in shown)


def test_json_report(changed: Path, report: ImpactReport, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["impact", "--rules", str(changed), "--base-dir", str(RULES), "--format", "json", "--examples", str(EXAMPLES)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["recommendations_changed"] is True and data["exit_code"] == 1
    assert data["rule_changes"][0]["fields"] == [{"field": "weight", "old": 2, "new": 3}]
    assert data["rule_changes"][0]["text"] == "weight 2 → 3"
    assert data["combinations"]["option_changed"] == 12
    assert data["version"]["ok"] is False


def test_no_change_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["impact", "--rules", str(RULES), "--base-dir", str(RULES), "--examples", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "**No advice changes**" in out and "<summary><b>Rule changes (0)</b></summary>" in out


def test_invalid_base_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy_rules(tmp_path / "rules", ("factors.yaml", WEIGHT_OLD, WEIGHT_OLD.replace("weight: 2", "weight: high")))
    assert main(["impact", "--base-dir", str(broken), "--rules", str(RULES)]) == 2
    line, column = position(broken / "factors.yaml", "weight: high", 8)
    assert f"factors.yaml:{line}:{column}: weight must be a number from 0 to 10, got 'high'" in capsys.readouterr().err


def test_rule_changes_added_removed_and_conditions(tmp_path: Path) -> None:
    head = copy_rules(
        tmp_path / "rules",
        ("overrides.yaml", "        - {answer: sftp_daily, is: no}\n    effect: {recommend", "        - {answer: sftp_daily, is: no}\n        - {answer: dedicated_sis_staff, is: no}\n    effect: {recommend"),
        ("derived.yaml", "items: [Genesis, Ascender]", "items: [Genesis, Ascender, Sapphire]"),
        ("next_steps.yaml", "  - id: import_save_utf8\n", "  - id: import_save_as_utf8\n"),
    )
    changes = {(c.kind, c.id): c for c in diff_rules(load_version(RULES), load_version(head))}
    assert changes[("overrides", "no_way_to_sync")].text() == "condition all: + {answer: dedicated_sis_staff, is: no}"
    assert changes[("catalogues", "sftp_only_sis")].text() == "items + Sapphire"
    assert changes[("next_steps", "import_save_utf8")].status == "removed"
    assert changes[("next_steps", "import_save_as_utf8")].status == "added"
    removed = changes[("next_steps", "import_save_utf8")].location  # where it was, in the base
    assert "next_steps.yaml:" in removed and str(tmp_path) not in removed


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(RULES, repo / "rules")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "rules")
    git("-c", "user.name=Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "rules")
    return repo


def test_base_git_revision(repository: Path, report: ImpactReport, capsys: pytest.CaptureFixture[str]) -> None:
    factors = repository / "rules" / "factors.yaml"
    factors.write_text(factors.read_text(encoding="utf-8").replace(WEIGHT_OLD, WEIGHT_NEW), encoding="utf-8")
    edited = factors.read_bytes()
    args = ["impact", "--rules", str(repository / "rules"), "--base", "HEAD", "--examples", str(EXAMPLES)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"## Rules impact: `HEAD:rules` {VERSION} → ")
    assert "| “Is the district already a Clever customer?” no (`clever_customer.no`) | weight 2 → 3 |" in out
    assert factors.read_bytes() == edited  # the working tree is untouched
    status = subprocess.run(["git", "-C", str(repository), "status", "--porcelain"], capture_output=True, text=True, check=True)
    assert status.stdout == " M rules/factors.yaml\n"


def test_base_git_revision_errors(repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = repository / "rules"
    assert main(["impact", "--rules", str(rules), "--base", "no-such-branch"]) == 2
    assert "unknown git revision 'no-such-branch'" in capsys.readouterr().err
    factors = rules / "factors.yaml"
    good = factors.read_text(encoding="utf-8")
    factors.write_text(good.replace(WEIGHT_OLD, WEIGHT_OLD.replace("weight: 2", "weight: high")), encoding="utf-8")
    line, column = position(factors, "weight: high", 8)
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=T", "-c", "user.email=t@e.org", "commit", "-qam", "bad"], check=True)
    factors.write_text(good, encoding="utf-8")
    assert main(["impact", "--rules", str(rules), "--base", "HEAD"]) == 2
    err = capsys.readouterr().err
    assert err == f"HEAD:rules/factors.yaml:{line}:{column}: weight must be a number from 0 to 10, got 'high' (at factors[7].no.weight)\n"


def test_wording_only_change_needs_no_evaluation(tmp_path: Path) -> None:
    reworded = copy_rules(
        tmp_path / "rules",
        ("factors.yaml", "rationale: SIS Sync would needlessly complicate things.", "rationale: SIS Sync would only complicate things."),
    )
    head = load_version(reworded)
    result = compare(load_version(RULES), head, load_districts(EXAMPLES, head.rules), workers=2)
    (change,) = result.rule_changes
    assert change.text() == 'rationale "SIS Sync would needlessly complicate things." → "SIS Sync would only complicate things."'
    assert result.combinations.changed == 0 and result.combinations.evaluations == 0
    assert not result.recommendations_changed
    assert any("only wording changed" in note for note in result.notes)
    answered_no = {name for name, _, d in load_districts(EXAMPLES, head.rules) if d.answers.get("mobile_population") == "no"}
    assert {e.name for e in result.examples} == answered_no and len(answered_no) == 11
    assert all(e.wording == ("mobile_population.no",) and not e.outcome_changed for e in result.examples)
    assert result.exit_code == 1  # the version was not bumped
