"""Each kind of mistake in the rules is reported at its exact file:line:col, in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Advisor, InputError
from engine.cli import main
from engine.rules.rulebook import load_rules

from .conftest import RULES, position


def problems(folder: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_rules(folder)
    return [str(d) for d in caught.value.diagnostics]


def where(folder: Path, name: str, needle: str, offset: int = 0) -> str:
    line, column = position(folder / name, needle, offset)
    return f"{folder / name}:{line}:{column}"


def test_shipped_rules_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "rules"]) == 0
    out = capsys.readouterr().out
    version = load_rules(RULES).version
    assert out.startswith(f"rules: ok — Rostering method advisor {version}: 13 questions, 26 factor rules, 6 overrides")
    assert out.count("\n") == 1


def test_weight_that_is_not_a_number(edited_rules) -> None:
    folder = edited_rules(("factors.yaml", "      weight: 2\n", "      weight: high\n"))
    assert problems(folder) == [
        f"{where(folder, 'factors.yaml', 'high')}: weight must be a number from 0 to 10, got 'high' "
        "(at factors[0].yes.weight)"
    ]


def test_weight_out_of_range(edited_rules) -> None:
    folder = edited_rules(("factors.yaml", "      weight: 2\n", "      weight: 11\n"))
    assert problems(folder) == [
        f"{where(folder, 'factors.yaml', '11')}: weight must be a number from 0 to 10, got 11 (at factors[0].yes.weight)"
    ]


def test_misspelt_field_suggests_the_right_one(edited_rules) -> None:
    folder = edited_rules(("overrides.yaml", "    reason: >-", "    reasn: >-"))
    found = problems(folder)
    assert f"{where(folder, 'overrides.yaml', 'reasn')}: unknown field 'reasn' (did you mean 'reason'?); " in found[1]
    assert found[0] == f"{where(folder, 'overrides.yaml', 'id: sis_in_transition')}: overrides[0] is missing the required field 'reason'"


def test_invalid_id(edited_rules) -> None:
    folder = edited_rules(("overrides.yaml", "id: sis_in_transition", "id: SIS-in-transition"))
    assert problems(folder) == [
        f"{where(folder, 'overrides.yaml', 'SIS-in')}: id 'SIS-in-transition' is not a valid id: use lower-case "
        "letters, digits and underscores, starting with a letter (at overrides[0].id)"
    ]


def test_condition_with_an_answer_that_does_not_exist(edited_rules) -> None:
    folder = edited_rules(("overrides.yaml", "{answer: sis_changing, is: yes}", "{answer: sis_changing, is: maybe}"))
    (message,) = problems(folder)
    assert message == f"{where(folder, 'overrides.yaml', 'maybe')}: is must be one of yes, no, unknown, got 'maybe' (at overrides[0].when.is)"


def test_yaml_syntax_error(edited_rules) -> None:
    folder = edited_rules(("policy.yaml", "option: user_import", "option: [user_import"))
    (message,) = problems(folder)
    assert message.startswith(f"{folder / 'policy.yaml'}:")
    assert "invalid YAML" in message


def test_tab_indentation(edited_rules) -> None:
    folder = edited_rules(("policy.yaml", "    option: user_import", "\toption: user_import"))
    (message,) = problems(folder)
    line, _ = position(folder / "policy.yaml", "\toption")
    assert message == f"{folder / 'policy.yaml'}:{line}:1: invalid YAML: a tab character; indent with spaces"


def test_duplicate_key(edited_rules) -> None:
    folder = edited_rules(("manifest.yaml", "name: Rostering method advisor\n", "name: A\nname: B\n"))
    assert problems(folder) == [
        f"{where(folder, 'manifest.yaml', 'name: B')}: duplicate key 'name' (first defined at line 3)"
    ]


def test_unknown_references_say_did_you_mean(edited_rules) -> None:
    folder = edited_rules(
        ("factors.yaml", "favours: user_import", "favours: user_imprt"),
        ("overrides.yaml", "{answer: sis_changing, is: yes}", "{answer: sis_changnig, is: yes}"),
        ("questions.yaml", "theme: students", "theme: student"),
        ("derived.yaml", "in_catalogue: sftp_only_sis", "in_catalogue: sftp_only"),
    )
    assert problems(folder) == [
        f"{where(folder, 'derived.yaml', '{profile: sis, in_catalogue: sftp_only}')}: unknown catalogue 'sftp_only' "
        "(did you mean 'sftp_only_sis'?)",
        f"{where(folder, 'factors.yaml', 'user_imprt')}: unknown option 'user_imprt' (did you mean 'user_import'?)",
        f"{where(folder, 'overrides.yaml', '{answer: sis_changnig')}: unknown question 'sis_changnig' "
        "(did you mean 'sis_changing'?)",
        f"{where(folder, 'questions.yaml', 'theme: student', 7)}: unknown theme 'student' (did you mean 'students'?)",
    ]


def test_duplicate_rule_id(edited_rules) -> None:
    folder = edited_rules(("overrides.yaml", "id: dbm_will_not_set_up", "id: sis_in_transition"))
    text = (folder / "overrides.yaml").read_text()
    second = text.index("id: sis_in_transition", text.index("id: sis_in_transition") + 1)
    line = text.count("\n", 0, second) + 1
    first = text.count("\n", 0, text.index("id: sis_in_transition")) + 1
    assert problems(folder) == [
        f"{folder / 'overrides.yaml'}:{line}:9: duplicate rule 'sis_in_transition': the first is at line {first}; "
        "give each its own id"
    ]


def test_question_without_a_factor_for_each_answer(edited_rules) -> None:
    folder = edited_rules(
        (
            "factors.yaml",
            "    no:\n      favours: user_import\n      weight: 1\n      rationale: SIS Sync would needlessly complicate things.\n",
            "",
        )
    )
    assert problems(folder) == [
        f"{where(folder, 'questions.yaml', 'mobile_population')}: question 'mobile_population' has no factor rule "
        "for the answer no (add it to factors.yaml or mark the question informational: true)"
    ]


def test_informational_question_needs_no_factor(edited_rules) -> None:
    folder = edited_rules(
        (
            "factors.yaml",
            "    no:\n      favours: user_import\n      weight: 1\n      rationale: SIS Sync would needlessly complicate things.\n",
            "",
        ),
        ("questions.yaml", "    theme: students\n", "    theme: students\n    informational: true\n"),
    )
    assert load_rules(folder).question("mobile_population").informational


def test_override_that_can_never_decide(edited_rules) -> None:
    folder = edited_rules(
        (
            "overrides.yaml",
            "    when: {answer: dbm_maintains_data, is: no}",
            "    when: {all: [{answer: dbm_maintains_data, is: no}, {answer: sis_changing, is: yes}]}",
        )
    )
    assert problems(folder) == [
        f"{where(folder, 'overrides.yaml', 'id: dbm_will_not_maintain')}: override 'dbm_will_not_maintain' can never "
        "decide: whenever it fires, a higher-priority override ('sis_in_transition', 'dbm_will_not_set_up') fires too; "
        "lower its priority number or narrow the other condition"
    ]


def test_metric_outside_the_policy(edited_rules) -> None:
    folder = edited_rules(("overrides.yaml", "{answer: sis_changing, is: yes}", "{metric: margin, at_least: 3}"))
    assert problems(folder) == [
        f"{where(folder, 'overrides.yaml', '{metric: margin')}: 'metric' conditions are only allowed in policy.yaml "
        "confidence levels"
    ]


def test_confidence_fallback_must_come_last(edited_rules) -> None:
    folder = edited_rules(("policy.yaml", "    - level: strong\n      when: {decided_by: override}\n", "    - level: strong\n"))
    assert problems(folder) == [
        f"{where(folder, 'policy.yaml', 'level: strong')}: only the last confidence level may omit 'when'; "
        "the levels after 'strong' could never be chosen"
    ]


def test_confidence_needs_a_fallback(edited_rules) -> None:
    folder = edited_rules(
        ("policy.yaml", "    - level: lean                #", "    - level: lean\n      when: {metric: margin, at_least: 1}\n      #")
    )
    assert problems(folder) == [
        f"{where(folder, 'policy.yaml', 'level: lean')}: the last confidence level must have no 'when': it is the fallback"
    ]


def test_unsupported_format(edited_rules) -> None:
    folder = edited_rules(("manifest.yaml", "format: 1", "format: 2"))
    assert problems(folder) == [
        f"{where(folder, 'manifest.yaml', '2')}: rule-language format 2 is not supported by this version of the engine "
        "(supported: 1); upgrade rostering-advisor"
    ]


def test_version_must_be_semver(edited_rules) -> None:
    version = load_rules(RULES).version
    folder = edited_rules(("manifest.yaml", f"version: {version}\n", "version: one\n"))
    (message,) = problems(folder)
    assert message.startswith(f"{where(folder, 'manifest.yaml', 'one')}: version 'one'")


def test_missing_file(edited_rules) -> None:
    folder = edited_rules()
    (folder / "policy.yaml").unlink()
    assert problems(folder) == [f"{folder / 'policy.yaml'}: no such file"]


def test_all_problems_at_once_in_file_order(edited_rules) -> None:
    folder = edited_rules(
        ("policy.yaml", "    option: user_import", "    option: 7"),
        ("factors.yaml", "      weight: 2\n", "      weight: high\n"),
    )
    found = problems(folder)
    assert [f.split(":")[0] for f in found] == [str(folder / "factors.yaml"), str(folder / "policy.yaml")]


def test_validate_command_reports_errors_without_traceback(edited_rules, capsys) -> None:
    folder = edited_rules(("factors.yaml", "      weight: 2\n", "      weight: high\n"))
    assert main(["validate", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().endswith("weight must be a number from 0 to 10, got 'high' (at factors[0].yes.weight)")
    assert "Traceback" not in captured.err


# --- the rules are data: editing YAML changes the advice, no code involved -----------------

BALANCED = {
    "mobile_population": "yes",  # sis_sync 2
    "over_5000_students": "no",  # user_import 2
}


def test_changing_a_weight_changes_the_outcome(edited_rules) -> None:
    before = Advisor.load(edited_rules()).recommend({"district": {"name": "A"}, "answers": BALANCED})
    assert (before.option, before.decided_by) == ("user_import", "tie_break")
    folder = edited_rules(("factors.yaml", "      weight: 2\n", "      weight: 5\n"))
    after = Advisor.load(folder).recommend({"district": {"name": "A"}, "answers": BALANCED})
    assert (after.option, after.decided_by) == ("sis_sync", "score")
    assert after.outcome.scores == {"sis_sync": 5.0, "user_import": 2.0}


def test_changing_a_rationale_changes_the_output(edited_rules) -> None:
    folder = edited_rules(
        ("factors.yaml", "Frequent updates would help keep data correct.", "Nightly updates keep rosters right.")
    )
    result = Advisor.load(folder).recommend({"district": {"name": "A"}, "answers": BALANCED}).to_dict()
    factor = next(f for f in result["factors"] if f["question"] == "mobile_population")
    assert factor["rationale"] == "Nightly updates keep rosters right."


def test_changing_an_override_condition_changes_the_outcome(edited_rules) -> None:
    answers = {**{q: "yes" for q in ("mobile_population", "over_5000_students", "sis_supports_clever")}, "sftp_daily": "no"}
    before = Advisor.load(edited_rules()).recommend({"district": {"name": "A"}, "answers": answers})
    assert before.decided_by == "score" and before.option == "sis_sync"
    folder = edited_rules(
        (
            "overrides.yaml",
            "        - {answer: sis_supports_clever, is: no}\n        - {answer: sftp_daily, is: no}",
            "        - {answer: sftp_daily, is: no}",
        )
    )
    after = Advisor.load(folder).recommend({"district": {"name": "A"}, "answers": answers})
    assert (after.option, after.decided_by, after.deciding_override) == ("user_import", "override", "no_way_to_sync")
