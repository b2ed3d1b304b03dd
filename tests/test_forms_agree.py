"""Property: the YAML, JSON and CSV forms of the same answers give the same recommendation.

YAML and JSON answers files are read by `Advisor.read` (as `recommend` reads them); the CSV is a
one-row batch input read by `BatchInput` and turned into a District by `batch_rows.to_district`,
the very path `batch` uses. Answers are spelt in any of the accepted ways, in any case, or left
blank; profile facts are given or left out.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings, strategies as st

from engine import Advisor
from engine.batch.input import BatchInput
from engine.batch.rows import to_district

from .conftest import RULES

ADVISOR = Advisor.load(RULES)
QUESTIONS = [q.id for q in ADVISOR.rules.questions]
SPELLINGS = {
    "yes": ["yes", "y", "true", "on", "1"],
    "no": ["no", "n", "false", "off", "0"],
    "unknown": ["unknown", "?", "n/a", "na", "dont know", "don't know"],
}
SIS = ["PowerSchool", "Infinite Campus", "Skyward", "Genesis", "Ascender", "Aeries", "Homegrown SIS"]

spelling = st.sampled_from(sorted(SPELLINGS)).flatmap(
    lambda value: st.tuples(st.just(value), st.sampled_from(SPELLINGS[value]), st.sampled_from([str.lower, str.upper, str.title]))
).map(lambda t: t[2](t[1]))
answer = st.one_of(st.none(), spelling)  # None: blank / left out
answers = st.fixed_dictionaries({}, optional={q: answer for q in QUESTIONS})
profile = st.fixed_dictionaries(
    {},
    optional={
        "students": st.integers(min_value=0, max_value=200_000),
        "sis": st.sampled_from(SIS),
        "uses_clever": st.booleans(),
    },
)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9 .,'&()-]{0,40}[A-Za-z0-9)]", fullmatch=True)


def write_yaml(path: Path, name: str, district_id: str, profile: dict[str, Any], answers: dict[str, str | None]) -> None:
    lines = ["district:", f"  name: {json.dumps(name)}", f"  id: {json.dumps(district_id)}"]
    if profile:
        lines.append("profile:")
        for key, value in profile.items():
            shown = json.dumps(value) if isinstance(value, str) else str(value).lower()
            lines.append(f"  {key}: {shown}")
    if answers:
        lines.append("answers:")
        for key, value in answers.items():  # plain scalars where YAML allows, so `yes`, `On`, `1` are typed by YAML
            if value is None:
                lines.append(f"  {key}:")
            elif value.replace(" ", "").isalpha():  # not 1 / 0: see test_yaml_plain_1_and_0_are_answers
                lines.append(f"  {key}: {value}")
            else:
                lines.append(f"  {key}: {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_json(path: Path, name: str, district_id: str, profile: dict[str, Any], answers: dict[str, str | None]) -> None:
    document = {"district": {"name": name, "id": district_id}, "profile": profile, "answers": answers}
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def write_csv(path: Path, name: str, district_id: str, profile: dict[str, Any], answers: dict[str, str | None]) -> None:
    header = ["district_id", "district_name", *profile, *answers]
    cells: list[str] = [district_id, name]
    for value in profile.values():
        cells.append(("true" if value else "false") if isinstance(value, bool) else str(value))
    cells += ["" if value is None else value for value in answers.values()]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, cells])


def from_csv(path: Path):
    with BatchInput(path, ADVISOR.rules) as source:
        (record,) = list(source.records())
        assert record.error is None, record.error
        return to_district(record, source.layout, ADVISOR.rules, source.name)


def essence(district) -> tuple[Any, ...]:
    rec = ADVISOR.recommend(district)
    data = rec.to_dict()
    answers = {q: (a["value"], a["source"]) for q, a in data["answers"].items()}
    return (rec.option, rec.confidence, rec.decided_by), answers, data["district"]


@settings(max_examples=100, deadline=None)
@given(name=names, number=st.integers(min_value=0, max_value=9_999_999), profile=profile, answers=answers)
def test_yaml_json_and_csv_forms_agree(name: str, number: int, profile: dict[str, Any], answers: dict) -> None:
    district_id = f"{number:07d}"
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        write_yaml(base / "answers.yaml", name, district_id, profile, answers)
        write_json(base / "answers.json", name, district_id, profile, answers)
        write_csv(base / "districts.csv", name, district_id, profile, answers)
        from_yaml = essence(ADVISOR.read(base / "answers.yaml"))
        from_json = essence(ADVISOR.read(base / "answers.json"))
        from_csv_row = essence(from_csv(base / "districts.csv"))
    assert from_yaml == from_json == from_csv_row


def test_yaml_plain_1_and_0_are_answers(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("district:\n  name: A\nanswers:\n  mobile_population: 0\n  sis_changing: 1\n", encoding="utf-8")
    assert ADVISOR.read(path).answers == {"mobile_population": "no", "sis_changing": "yes"}
