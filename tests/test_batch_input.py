"""Reading batch inputs: CSV (BOM, Excel quoting, answer spellings), JSON Lines, folders; row errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Advisor
from engine.batch.input import BatchInput, Record, analyse_header
from engine.batch.rows import RowProblem, from_cells, profile_value, to_district
from engine.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "batch"


def read(path: Path, advisor: Advisor) -> tuple[BatchInput, list[Record]]:
    with BatchInput(path, advisor.rules) as source:
        return source, list(source.records())


def districts(path: Path, advisor: Advisor) -> list:
    source, records = read(path, advisor)
    return [to_district(r, source.layout, advisor.rules, source.name) for r in records if r.error is None]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_csv_with_or_without_byte_order_mark(tmp_path: Path, advisor: Advisor, bom: bytes) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(bom + (DATA / "basic.csv").read_bytes())
    source, records = read(path, advisor)
    assert source.layout is not None and source.layout.columns[0].name == "district_id"
    assert [r.district_id for r in records] == ["0621450", "3600001", "4800002", "1700003"]
    assert all(r.error is None for r in records)


def test_excel_quoting_commas_quotes_and_line_breaks(advisor: Advisor) -> None:
    found = districts(DATA / "basic.csv", advisor)
    assert found[0].name == "Lakeview Unified School District, CA"
    assert found[1].name == 'The "Old Mill" Central School District'
    assert found[1].notes == "Two schools, one campus"
    assert found[2].name == "Peñasco ISD"
    assert found[2].notes == "Line one\r\nline two, with a comma"
    source, records = read(DATA / "basic.csv", advisor)
    assert [r.row for r in records] == [2, 3, 4, 5]  # a cell with a line break stays in its row, as in Excel


def test_profile_columns_are_typed_by_the_rules(advisor: Advisor) -> None:
    lakeview, old_mill, penasco, harbor = districts(DATA / "basic.csv", advisor)
    assert lakeview.profile == {"students": 18400, "sis": "PowerSchool", "uses_clever": True}
    assert penasco.profile == {"students": 1250, "sis": "Ascender", "uses_clever": False}
    assert old_mill.profile == {"students": 2500, "sis": "Infinite Campus"}
    assert harbor.profile == {} and harbor.answers == {}


@pytest.mark.parametrize(
    ("cell", "answer"),
    [
        ("yes", "yes"), ("YES", "yes"), ("Y", "yes"), ("TRUE", "yes"), ("1", "yes"), (" yes ", "yes"),
        ("no", "no"), ("n", "no"), ("false", "no"), ("0", "no"), ("No", "no"),
        ("unknown", "unknown"), ("Unknown", "unknown"), ("?", "unknown"),
    ],
)
def test_answer_cell_spellings(advisor: Advisor, cell: str, answer: str) -> None:
    layout = analyse_header(["district_id", "district_name", "sis_changing"], advisor.rules, "t.csv")
    district = from_cells(2, ["1", "A", cell], layout, "t.csv")
    assert district.answers == {"sis_changing": answer}


def test_blank_answer_is_a_missing_answer(advisor: Advisor) -> None:
    layout = analyse_header(["district_id", "district_name", "sis_changing"], advisor.rules, "t.csv")
    assert from_cells(2, ["1", "A", "  "], layout, "t.csv").answers == {}


def test_header_names_are_matched_loosely(advisor: Advisor) -> None:
    layout = analyse_header([" District ID ", "District-Name", "SIS_Changing"], advisor.rules, "t.csv")
    assert [(c.name, c.kind) for c in layout.columns] == [
        ("district_id", "id"), ("district_name", "name"), ("sis_changing", "question"),
    ]


def test_bad_rows_carry_row_column_and_reason(advisor: Advisor) -> None:
    source, records = read(DATA / "bad_rows.csv", advisor)
    errors = {}
    for record in records:
        try:
            if record.error is None:
                to_district(record, source.layout, advisor.rules, source.name)
        except RowProblem as problem:
            record.error = problem.error
        errors[record.row] = str(record.error) if record.error else None
    assert errors == {
        2: None,
        3: "row 3: column 4 (mobile_population): the answer must be yes, no or unknown, got 'maybe'",
        4: "row 4: neither district_id nor district_name is given",
        5: "row 5: too few cells: 4 for 6 columns (it ends at column 4, mobile_population)",
        6: "row 6: column 7: too many cells: a value beyond the last column (6), 'surprise'",
        7: "row 7: column 3 (students): must be a number, got 'lots'",
        8: None,
    }


def test_all_problems_of_a_row_are_reported_together(advisor: Advisor) -> None:
    layout = analyse_header(["district_id", "district_name", "students", "sis_changing"], advisor.rules, "t.csv")
    with pytest.raises(RowProblem) as caught:
        from_cells(9, ["1", "A", "many", "perhaps"], layout, "t.csv")
    assert str(caught.value.error) == (
        "row 9: column 3 (students): must be a number, got 'many'; "
        "column 4 (sis_changing): the answer must be yes, no or unknown, got 'perhaps'"
    )


def test_unknown_column_fails_only_the_rows_that_fill_it(advisor: Advisor) -> None:
    source, records = read(DATA / "unknown_column.csv", advisor)
    assert [c.name for c in source.layout.unknown()] == ["sis_chaning"]
    first = to_district(records[0], source.layout, advisor.rules, source.name)
    assert first.answers == {"mobile_population": "yes"}
    with pytest.raises(RowProblem) as caught:
        to_district(records[1], source.layout, advisor.rules, source.name)
    assert str(caught.value.error) == (
        "row 3: column 3 (sis_chaning): not a question, a profile field, district_id or district_name "
        "(did you mean 'sis_changing'?)"
    )


def test_numbers_in_profile_cells() -> None:
    assert profile_value("18,400", "number") == 18400
    assert profile_value("1.84E+04", "number") == 18400
    assert profile_value("12.5", "number") == 12.5
    assert profile_value("Y", "boolean") is True
    assert profile_value("unknown", "boolean") is None
    assert profile_value("PowerSchool", "any") == "PowerSchool"
    for bad in ("1,2,3", "nan", "inf", "12 students"):
        with pytest.raises(ValueError):
            profile_value(bad, "number")


def test_invalid_utf8_fails_only_its_row(tmp_path: Path, advisor: Advisor) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"district_id,district_name\n1,Pe\xf1asco\n2,Fine\n")
    _, records = read(path, advisor)
    assert str(records[0].error) == "row 2: is not valid UTF-8 text (file line 2); save the file as CSV UTF-8"
    assert records[1].error is None and records[1].district_name == "Fine"


def test_empty_rows_are_skipped_but_counted(tmp_path: Path, advisor: Advisor) -> None:
    path = tmp_path / "d.csv"
    path.write_text("district_id,district_name\n1,A\n\n,\n2,B\n", encoding="utf-8")
    _, records = read(path, advisor)
    assert [(r.row, r.district_id) for r in records] == [(2, "1"), (5, "2")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "no header row"),
        ("bom-only.csv", b"\xef\xbb\xbf", "no header row"),
        ("blank-header.csv", b",,\n1,2,3\n", "no header row"),
        ("no-key.csv", b"students,sis\n100,Focus\n", "neither a district_id nor a district_name column"),
        ("twice.csv", b"district_id,sis_changing,SIS Changing\n", "columns 2 and 3 are both 'sis_changing'"),
        ("notes.txt", b"district_id\n1\n", "unknown input format '.txt'"),
        ("empty.jsonl", b"\n\n", "the file is empty"),
    ],
)
def test_unusable_inputs_raise_input_error(
    tmp_path: Path, advisor: Advisor, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read(path, advisor)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_input_and_empty_folder(tmp_path: Path, advisor: Advisor) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        read(tmp_path / "nope.csv", advisor)
    with pytest.raises(InputError, match="holds no answers files"):
        read(tmp_path, advisor)


def test_json_lines(advisor: Advisor) -> None:
    source, records = read(DATA / "districts.jsonl", advisor)
    assert [r.row for r in records] == [1, 3, 4, 5, 6, 7]  # line numbers; the blank line 2 is skipped
    lakeview = to_district(records[0], None, advisor.rules, source.name)
    assert lakeview.profile["students"] == 18400 and lakeview.notes == "From JSON Lines."
    small = to_district(records[1], None, advisor.rules, source.name)
    assert small.id == "100001" and small.answers == {"sis_changing": "yes", "dedicated_sis_staff": "no"}
    with pytest.raises(RowProblem) as caught:
        to_district(records[2], None, advisor.rules, source.name)
    assert str(caught.value.error) == (
        "line 4: column 74 (answers): unknown question 'sis_chaning' (did you mean 'sis_changing'?)"
    )
    assert str(records[3].error) == "line 5: column 68: invalid JSON: Expecting property name enclosed in double quotes"
    assert str(records[4].error).startswith("line 6: must be an answers document")
    assert str(records[5].error) == "line 7: neither district.id nor district.name is given"


def test_folder_of_answers_files(advisor: Advisor) -> None:
    source, records = read(DATA / "folder", advisor)
    assert [Path(r.where).name for r in records] == ["a-small.json", "b-lakeview.yaml", "c-bad.yaml"]
    names = [r.district_name for r in records]
    assert names == ["Small Town", "Lakeview Unified School District", "Bad Answer District"]
    assert to_district(records[1], None, advisor.rules, source.name).profile["sis"] == "PowerSchool"
    with pytest.raises(RowProblem) as caught:
        to_district(records[2], None, advisor.rules, source.name)
    message = str(caught.value.error)
    assert message.startswith(f"{records[2].where}:4:22: ") and "perhaps" in message


def test_json_lines_are_read_strictly_by_the_worker(tmp_path: Path, advisor: Advisor) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"district": {"name": "Dup", "id": "1"}, "answers": {"sis_changing": "yes", "sis_changing": "no"}}\n'
        '{"district": {"name": "NaN", "id": "2"}, "profile": {"students": NaN}}\n',
        encoding="utf-8",
    )
    source, records = read(path, advisor)
    errors = []
    for record in records:
        with pytest.raises(RowProblem) as caught:
            to_district(record, None, advisor.rules, source.name)
        errors.append(str(caught.value.error))
    assert errors == [
        "line 1: column 77: invalid JSON: duplicate key 'sis_changing'",
        "line 2: column 24: invalid JSON: NaN is not a number JSON allows",
    ]
