"""Reading a district's answers file: forgiving about how answers are written, exact about mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import Advisor, InputError
from engine.evaluate.answers import answers_schema, normalise_answer
from engine.cli import main

from .conftest import FIXTURES, ROOT


def write(tmp_path: Path, text: str, name: str = "district.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(advisor: Advisor, path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        advisor.read(path)
    return [str(d) for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", "yes"), ("YES", "yes"), (" Yes ", "yes"), ("y", "yes"), ("on", "yes"), ("true", "yes"), (True, "yes"),
        (1, "yes"), ("no", "no"), ("No", "no"), ("n", "no"), ("OFF", "no"), (False, "no"), (0, "no"),
        ("unknown", "unknown"), ("", "unknown"), (None, "unknown"), ("Don't know", "unknown"),
        ("maybe", None), (2, None), (float("nan"), None), ([], None),
    ],
)
def test_answer_words(raw: object, expected: str | None) -> None:
    assert normalise_answer(raw) == expected


def test_yaml_1_1_words_and_booleans_are_read_as_the_answers_they_mean(advisor: Advisor, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "district: {name: Hill Valley}\nanswers:\n  mobile_population: Yes\n  sis_changing: off\n"
        "  sftp_daily: true\n  clever_customer: NO\n  teachers_want_sync: unknown\n",
    )
    district = advisor.read(path)
    assert district.answers == {
        "mobile_population": "yes",
        "sis_changing": "no",
        "sftp_daily": "yes",
        "clever_customer": "no",
        "teachers_want_sync": "unknown",
    }


def test_json_answers(advisor: Advisor, tmp_path: Path) -> None:
    data = {"district": {"name": "Hill Valley", "id": "0601"}, "answers": {"sftp_daily": True, "sis_changing": "No"}}
    district = advisor.read(write(tmp_path, json.dumps(data), "district.json"))
    assert district.answers == {"sftp_daily": "yes", "sis_changing": "no"}
    assert district.id == "0601"


def test_leading_zeros_in_ids_are_kept(advisor: Advisor, tmp_path: Path) -> None:
    assert advisor.read(write(tmp_path, "district:\n  name: A\n  id: 0601620\n")).id == "0601620"


def test_unknown_question_is_an_error_with_a_suggestion(advisor: Advisor, tmp_path: Path) -> None:
    path = write(tmp_path, "district: {name: A}\nanswers:\n  mobile_populaton: yes\n")
    assert errors(advisor, path) == [
        f"{path}:3:3: unknown question 'mobile_populaton' (did you mean 'mobile_population'?) (at answers)"
    ]


def test_invalid_answer_is_an_error_at_its_position(advisor: Advisor, tmp_path: Path) -> None:
    path = write(tmp_path, "district: {name: A}\nanswers:\n  sftp_daily: yess\n  sis_changing: sometimes\n")
    assert errors(advisor, path) == [
        f"{path}:3:15: the answer to 'sftp_daily' must be yes, no or unknown, got 'yess' (did you mean 'yes'?) "
        "(at answers.sftp_daily)",
        f"{path}:4:17: the answer to 'sis_changing' must be yes, no or unknown, got 'sometimes' (at answers.sis_changing)",
    ]


def test_district_name_is_required(advisor: Advisor, tmp_path: Path) -> None:
    path = write(tmp_path, "district:\n  id: '12'\nanswers: {}\n")
    assert errors(advisor, path) == [f"{path}:2:3: district is missing the required field 'name'"]


def test_profile_values_must_have_the_kind_the_rules_need(advisor: Advisor, tmp_path: Path) -> None:
    path = write(tmp_path, "district: {name: A}\nprofile:\n  students: many\n")
    assert errors(advisor, path) == [f"{path}:3:13: students must be a number, got 'many' (at profile.students)"]


def test_empty_file_and_wrong_shape(advisor: Advisor, tmp_path: Path) -> None:
    empty = write(tmp_path, "", "empty.yaml")
    assert errors(advisor, empty) == [f"{empty}:1:1: the file is empty; expected a mapping of fields"]
    listed = write(tmp_path, "- a\n- b\n", "list.yaml")
    assert errors(advisor, listed) == [f"{listed}:1:1: the file must hold a mapping of fields, got a list"]


def test_missing_answers_are_unknown(advisor: Advisor) -> None:
    result = advisor.recommend({"district": {"name": "A"}})
    assert set(result.unanswered) == {q.id for q in advisor.rules.questions}


def test_python_api_errors_name_the_path(advisor: Advisor) -> None:
    with pytest.raises(InputError) as caught:
        advisor.recommend({"district": {"name": "A"}, "answers": {"sftp_daily": "perhaps"}})
    assert str(caught.value) == (
        "<district>: the answer to 'sftp_daily' must be yes, no or unknown, got 'perhaps' (at answers.sftp_daily)"
    )
    with pytest.raises(InputError) as caught:  # the data as a whole is "the data": it is no file
        advisor.recommend({"answers": {}})
    assert str(caught.value) == "<district>: the data is missing the required field 'district'"
    with pytest.raises(InputError) as caught:
        advisor.recommend([])  # type: ignore[arg-type]
    assert str(caught.value) == "<district>: the data must hold a mapping of fields, got a list"


def test_answers_schema_lists_every_question(advisor: Advisor) -> None:
    schema = answers_schema(advisor.rules)
    assert list(schema["properties"]["answers"]["properties"]) == [q.id for q in advisor.rules.questions]
    assert schema["properties"]["profile"]["properties"]["students"]["type"] == "number"


def test_schema_command_prints_the_answers_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--rules", str(FIXTURES / "rules")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["$id"] == "answers.schema.json"


def test_schema_command_writes_every_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--out", str(tmp_path / "schemas")]) == 0
    names = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert "answers.schema.json" in names and "factors.schema.json" in names and "condition.schema.json" in names
