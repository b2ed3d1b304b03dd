"""Hostile CSV inputs to `batch`: each gives a row error (exit 3) or a clear exit-2 message, never a
traceback or a hang. Ids such as ../../etc and /abs are covered by test_batch.py
(test_hostile_ids_never_escape_the_output_folder)."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import pytest

from engine.cli import main

from .conftest import RULES
from .test_batch import leftovers, summary

HEADER = "district_id,district_name,sis_changing\n"


def run(path: Path, out: Path, capsys) -> tuple[int, str, str]:
    code = main(["batch", str(path), "--out", str(out), "--format", "json", "--workers", "1", "--rules", str(RULES),
                 "--quiet"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"\x00\xff\x00\x00" * 4)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_a_cell_over_the_csv_field_limit_fails_its_row(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "d.csv", HEADER + "1,A" + "x" * 200_000 + ",yes\n2,B,no\n")
    code, out, err = run(source, tmp_path / "out", capsys)
    assert code == 3
    assert err == f"{source}: row 2: a cell is longer than 131,072 characters\n"
    assert out.startswith("2 districts: 1 done, 0 skipped (unchanged), 1 failed")


def test_a_10_mb_line_is_refused(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "d.csv", HEADER + "1,A," + "y" * 10_000_000 + "\n2,B,no\n")
    code, out, err = run(source, tmp_path / "out", capsys)
    assert code == 2 and out == ""
    assert err == f"{source}:2:1: a line longer than 1,048,576 bytes; is this really a .csv file?\n"
    assert leftovers(tmp_path / "out") == []


def test_a_10_mb_quoted_cell_over_many_lines_is_refused_not_misread(tmp_path: Path, capsys) -> None:
    cell = ("z" * 999 + "\n") * 10_000
    source = write(tmp_path / "d.csv", HEADER + f'1,A,"{cell}"\n2,B,no\n')
    code, out, err = run(source, tmp_path / "out", capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"{source}:2:1: a quoted cell longer than 131,072 characters, over file lines 2-")
    assert err.endswith("is a closing quote missing? The rest of the file cannot be read reliably\n")


def test_nul_bytes_in_a_cell_fail_the_row_with_its_column(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "d.csv", HEADER.encode() + b"1,A\x00B,yes\n2,B,no\n")
    code, _, err = run(source, tmp_path / "out", capsys)
    assert code == 3
    assert err == (f"{source}: row 2: column 2 (district_name): holds a control character (U+0000); remove it "
                   "(a NUL means binary data: save the file as CSV UTF-8)\n")


def test_random_bytes_in_a_cell_fail_the_row(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "d.csv", HEADER.encode() + b"1,\xff\xfe\x01\x80\xc3,yes\n2,B,no\n3,C,yes\n")
    code, out, err = run(source, tmp_path / "out", capsys)
    assert code == 3
    assert err == f"{source}: row 2: is not valid UTF-8 text (file line 2); save the file as CSV UTF-8\n"
    assert out.startswith("3 districts: 2 done")


def test_a_header_and_no_rows_is_an_empty_successful_run(tmp_path: Path, capsys) -> None:
    """Decided: a header alone is a valid, empty batch (exit 0), not an unusable input; summary.csv and
    index.html are written with no districts, so a pipeline's later steps find them."""
    out = tmp_path / "out"
    code, stdout, err = run(write(tmp_path / "d.csv", HEADER), out, capsys)
    assert (code, stdout, err) == (0, "0 districts: 0 done, 0 skipped (unchanged), 0 failed\n", "")
    assert summary(out) == [] and (out / "index.html").is_file()


def test_a_png_renamed_csv_is_refused(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "districts.csv", png())
    code, out, err = run(source, tmp_path / "out", capsys)
    assert (code, out) == (2, "")
    assert err == f"{source}:1:1: the header row is not valid UTF-8 text; save the file as CSV UTF-8\n"


def test_random_binary_renamed_csv_is_refused_or_rows_fail(tmp_path: Path, capsys) -> None:
    for seed in range(5):
        source = write(tmp_path / f"r{seed}.csv", HEADER.encode() + bytes(os.urandom(5000)))
        code, _, _ = run(source, tmp_path / f"out{seed}", capsys)
        assert code in (0, 2, 3)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_refused_with_a_hint(tmp_path: Path, capsys, encoding: str) -> None:
    text = HEADER + "1,A,yes\n"
    content = text.encode(encoding)
    if encoding != "utf-16":  # Excel's "Unicode Text" writes the byte-order mark
        content = ("\ufeff" + text).encode(encoding)
    source = write(tmp_path / "d.csv", content)
    code, out, err = run(source, tmp_path / "out", capsys)
    assert (code, out) == (2, "")
    assert err == f"{source}:1:1: the header row is UTF-16 text (Excel's \"Unicode Text\"); save the file as CSV UTF-8\n"


def test_crlf_line_ends_work(tmp_path: Path, capsys) -> None:
    text = HEADER + '1,A,yes\n2,"B, with a\nline break",no\n'
    out = tmp_path / "out"
    code, stdout, _ = run(write(tmp_path / "d.csv", text.replace("\n", "\r\n")), out, capsys)
    assert code == 0 and stdout.startswith("2 districts: 2 done")
    assert [r["district_name"] for r in summary(out)] == ["A", "B, with a\r\nline break"]


def test_extremely_many_columns(tmp_path: Path, capsys) -> None:
    count = 20_000
    header = "district_id,district_name," + ",".join(f"c{n}" for n in range(count)) + ",sis_changing\n"
    blank = "," * (count - 1)
    rows = [f"{n},D{n},{blank},yes" for n in range(1, 50)] + [f"50,Filled,{blank}x,no"]
    source = write(tmp_path / "d.csv", header + "\n".join(rows) + "\n")
    started = time.perf_counter()
    code, out, err = run(source, tmp_path / "out", capsys)
    assert time.perf_counter() - started < 60
    assert code == 3 and out.startswith("50 districts: 49 done, 0 skipped (unchanged), 1 failed")
    lines = err.splitlines()
    assert lines[0] == (f"{source}: column 3 (c0) is not a question, a profile field, district_id or district_name; "
                        "rows with a value in it are skipped")
    assert lines[20] == f"{source}: ... and 19,980 more unknown columns"
    assert lines[21] == (f"{source}: row 51: column {count + 2} (c{count - 1}): not a question, a profile field, "
                         "district_id or district_name")
    assert len(lines) == 22


def test_a_header_of_a_million_blank_columns(tmp_path: Path, capsys) -> None:
    header = "district_id,district_name,sis_changing" + "," * 1_000_000 + "\n"
    rows = "".join(f"{n},D{n},yes\n" for n in range(1, 501)) + "501,D501,yes" + "," * 999_999 + "late\n"
    started = time.perf_counter()
    source = write(tmp_path / "d.csv", header + rows)
    code, out, err = run(source, tmp_path / "out", capsys)
    assert code == 3 and out.startswith("501 districts: 500 done, 0 skipped (unchanged), 1 failed")
    assert err == f"{source}: row 502: column 1000002: a value, 'late', in a column without a header\n"
    assert time.perf_counter() - started < 60


def test_a_lone_surrogate_in_a_json_line_fails_its_row(tmp_path: Path, capsys) -> None:
    lines = [
        '{"district": {"id": "1", "name": "Fine"}, "answers": {"sis_changing": "no"}}',
        '{"district": {"id": "2", "name": "Half \\ud800 a pair"}, "answers": {"sis_changing": "no"}}',
    ]
    source = write(tmp_path / "d.jsonl", "\n".join(lines) + "\n")
    code, _, err = run(source, tmp_path / "out", capsys)
    assert code == 3
    assert "line 2: column 40: a \\u escape for half of a character pair (a lone surrogate) is not text" in err
    rows = summary(tmp_path / "out")
    assert [r["district_id"] for r in rows] == ["1", "2"] and rows[1]["error"] and "\ufffd" in rows[1]["district_name"]
    assert leftovers(tmp_path / "out") == []
