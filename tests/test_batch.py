"""`batch` end to end through the Python API and the command: outputs, errors, re-runs, resume, safety."""

from __future__ import annotations

import argparse
import csv
import io
import re
import json
import shutil
from pathlib import Path

import pytest

from engine.batch.run import BatchConfig, BatchResult, command, run_batch
from engine.batch.report import protect
from engine.cli import main
from engine.errors import InputError
from engine.batch.manifest import MANIFEST_NAME
from engine.batch.names import SLUG_PATTERN
from engine.rules.rulebook import load_rules

from .conftest import FIXTURES, ROOT, RULES

DATA = Path(__file__).resolve().parent / "data" / "batch"
HEADER = "district_id,district_name,students,sis,mobile_population,sis_changing,dedicated_sis_staff\n"


def batch(source: Path, out: Path, **options) -> BatchResult:
    options.setdefault("formats", ("json",))
    options.setdefault("workers", 1)
    return run_batch(BatchConfig(source, out, rules=RULES, date="2026-01-05", **options))


def summary(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def interrupt(chunks_finished: int) -> None:
    raise KeyboardInterrupt


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp"))


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".json"}


def test_csv_in_one_document_per_district_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = batch(DATA / "basic.csv", out)
    assert result.exit_code == 0
    assert (result.districts, result.done, result.failed) == (4, 4, 0)
    rows = summary(out)
    assert [r["district_id"] for r in rows] == ["0621450", "3600001", "4800002", "1700003"]
    assert rows[0]["outputs"] == "0621450-lakeview-unified-school-district-ca.json"
    doc = json.loads((out / rows[0]["outputs"]).read_text(encoding="utf-8"))
    assert doc["district"]["name"] == "Lakeview Unified School District, CA"
    assert doc["answers"]["dedicated_sis_staff"]["value"] == "yes"  # written "Y"
    assert doc["answers"]["over_5000_students"] == {
        "value": "yes", "source": "derived", "rule": "enrolment_5000_or_more",
        "explanation": "Your enrollment figure is 5,000 or more.",
    }
    assert rows[0]["option"] == doc["recommendation"]["option"]
    assert rows[0]["confidence"] == doc["recommendation"]["confidence"]
    assert rows[0]["decided_by"] == doc["recommendation"]["decided_by"]
    assert rows[0]["open_questions"] == "; ".join(o["question"] for o in doc["open_questions"])
    assert leftovers(out) == []
    assert sum(result.options.values()) == 4
    assert result.summary_line().startswith("4 districts: 4 done, 0 skipped (unchanged), 0 failed; ")


def test_bad_rows_are_reported_and_skipped_while_the_rest_is_done(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = batch(DATA / "bad_rows.csv", out)
    assert result.exit_code == 3
    assert (result.done, result.failed) == (2, 5)
    rows = summary(out)
    assert [(r["district_name"], bool(r["outputs"]), r["error"][:6]) for r in rows] == [
        ("Good One", True, ""),
        ("Invalid Answer", False, "row 3:"),
        ("", False, "row 4:"),
        ("Too Few Cells", False, "row 5:"),
        ("Too Many Cells", False, "row 6:"),
        ("Bad Number", False, "row 7:"),
        ("Good Two", True, ""),
    ]
    assert rows[1]["error"] == "row 3: column 4 (mobile_population): the answer must be yes, no or unknown, got 'maybe'"
    assert [str(e)[:6] for e in result.errors] == ["row 3:", "row 4:", "row 5:", "row 6:", "row 7:"]
    assert sorted(p.name for p in out.glob("*.json")) == ["0100001-good-one.json", "0100007-good-two.json"]


def test_unknown_column_and_json_lines_and_folder(tmp_path: Path) -> None:
    result = batch(DATA / "unknown_column.csv", tmp_path / "a")
    assert (result.done, result.failed) == (1, 1) and "did you mean 'sis_changing'" in str(result.errors[0])
    assert result.notices == [
        "column 3 (sis_chaning) is not a question, a profile field, district_id or district_name "
        "(did you mean 'sis_changing'?); rows with a value in it are skipped"
    ]
    result = batch(DATA / "districts.jsonl", tmp_path / "b")
    assert (result.done, result.failed, result.exit_code) == (2, 4, 3)
    assert [str(e).split(":")[0] for e in result.errors] == ["line 4", "line 5", "line 6", "line 7"]
    result = batch(DATA / "folder", tmp_path / "c")
    assert (result.done, result.failed) == (2, 1)
    assert [r["district_name"] for r in summary(tmp_path / "c")] == [
        "Small Town", "Lakeview Unified School District", "Bad Answer District",
    ]
    assert "c-bad.yaml:4:22: " in summary(tmp_path / "c")[2]["error"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.csv", "no such file or folder"),
        (lambda d: _write(d / "empty.csv", ""), "no header row"),
        (lambda d: _write(d / "districts.xlsx", "PK"), "unknown input format"),
        (lambda d: _write(d / "keyless.csv", "students,sis\n1,Focus\n"), "neither a district_id nor a district_name"),
    ],
)
def test_unusable_input_exits_2_before_writing_anything(tmp_path: Path, make, message: str, capsys) -> None:
    source = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=message):
        batch(source, out)
    assert not out.exists() or list(out.iterdir()) == []
    assert main(["batch", str(source), "--out", str(out), "--format", "json", "--rules", str(RULES), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_output_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown format 'pdf'"):
        batch(DATA / "basic.csv", tmp_path / "out", formats=("json", "pdf"))


def test_hostile_ids_never_escape_the_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    rows = [
        '../../etc,passwd,100,,yes,no,no',
        '/abs,,100,,yes,no,no',
        'CON,,100,,yes,no,no',
        '"*?[2J",Control,100,,yes,no,no',  # control characters are refused (test_hostile_batch)
        ',東京,100,,yes,no,no',
        '..,..,100,,yes,no,no',
    ]
    result = batch(write_csv(tmp_path / "hostile.csv", rows), out)
    assert (result.done, result.failed) == (6, 0)
    outputs = [r["outputs"] for r in summary(out)]
    assert outputs[:4] == ["etc-passwd.json", "abs.json", "district-con.json", "2j-control.json"]
    assert all(SLUG_PATTERN.match(name.removesuffix(".json")) for name in outputs)
    assert outputs[4].startswith("district-") and outputs[5].startswith("district-")
    assert sorted(p.name for p in out.glob("*.json")) == sorted(outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "hostile.csv"]
    assert all(p.parent == out for p in out.iterdir())


def test_slug_collision_is_reported_never_overwritten(tmp_path: Path) -> None:
    rows = ["A-1,Twin,100,,yes,no,no", "a 1,Twin,200,,no,no,no", "a_1,Twin,300,,no,no,no"]
    out = tmp_path / "out"
    result = batch(write_csv(tmp_path / "d.csv", rows), out)
    assert (result.done, result.failed, result.exit_code) == (1, 2, 3)
    assert str(result.errors[0]) == (
        "row 3: its file name 'a-1-twin' is already taken by row 2; give the districts different ids or names "
        "(nothing was overwritten)"
    )
    doc = json.loads((out / "a-1-twin.json").read_text(encoding="utf-8"))
    assert doc["district"]["id"] == "A-1"


def test_a_file_the_tool_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "0100001-good-one.json"
    mine.write_text("my own file\n", encoding="utf-8")
    result = batch(write_csv(tmp_path / "d.csv", ["0100001,Good One,100,,yes,no,no"]), out)
    assert result.exit_code == 3
    assert str(result.errors[0]) == (
        "row 2: 0100001-good-one.json already exists and was not written by rostering-advisor; "
        "move it away to write this district"
    )
    assert mine.read_text(encoding="utf-8") == "my own file\n"
    result = batch(tmp_path / "d.csv", out, force=True)  # --force redoes districts; it never overwrites users' files
    assert result.failed == 1 and mine.read_text(encoding="utf-8") == "my own file\n"


def test_foreign_summary_or_manifest_makes_the_folder_unusable(tmp_path: Path) -> None:
    for name in ("summary.csv", "index.html", MANIFEST_NAME):
        out = tmp_path / name.strip(".")
        out.mkdir()
        (out / name).write_text("a,b\n1,2\n", encoding="utf-8")
        with pytest.raises(InputError, match="was not written by rostering-advisor"):
            batch(DATA / "basic.csv", out)
        assert (out / name).read_text(encoding="utf-8") == "a,b\n1,2\n"


def test_rerun_skips_unchanged_force_redoes_and_an_edit_redoes_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = ["0100001,One,100,,yes,no,no", "0100002,Two,200,,no,no,yes", "0100003,Three,300,,no,yes,no"]
    source = write_csv(tmp_path / "d.csv", rows)
    first = batch(source, out)
    before, first_summary = mtimes(out), summary(out)
    again = batch(source, out)
    assert (again.done, again.skipped, again.exit_code) == (0, 3, 0)
    assert mtimes(out) == before
    assert summary(out) == first_summary and again.options == first.options
    forced = batch(source, out, force=True)
    assert (forced.done, forced.skipped) == (3, 0)
    rows[1] = "0100002,Two,200,,no,yes,yes"  # one answer changed
    write_csv(source, rows)
    edited = batch(source, out)
    assert (edited.done, edited.skipped) == (1, 2)
    (out / "0100003-three.json").unlink()  # a deleted document is written again
    assert (batch(source, out).done, batch(source, out).done) == (1, 0)
    assert batch(source, out, formats=("json", "json")).skipped == 3


def test_changed_rules_redo_every_district(tmp_path: Path, edited_rules) -> None:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "d.csv", ["0100001,One,100,,yes,no,no"])
    batch(source, out)
    rules = edited_rules(("factors.yaml", "weight: 3", "weight: 4"))
    result = run_batch(BatchConfig(source, out, formats=("json",), workers=1, rules=rules, date="2026-01-05"))
    assert (result.done, result.skipped) == (1, 0)


def test_a_new_compiled_form_of_the_rules_redoes_every_district(tmp_path: Path, monkeypatch) -> None:
    # JSON documents carry the engine's facts and trace, which follow the compiled form
    out = tmp_path / "out"
    source = write_csv(tmp_path / "d.csv", ["0100001,One,100,,yes,no,no", "0100002,Two,200,,no,no,no"])
    batch(source, out)
    assert batch(source, out).skipped == 2
    monkeypatch.setattr("engine.batch.run.FORMAT_TAG", "test-next")
    result = batch(source, out)
    assert (result.done, result.skipped) == (2, 0)


def test_interrupted_run_resumes_without_redoing_finished_districts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = [f"01000{n:02d},District {n},{n * 100},,yes,no,no" for n in range(1, 8)]
    source = write_csv(tmp_path / "d.csv", rows)
    with pytest.raises(KeyboardInterrupt):  # as Ctrl-C would, once the first chunk is journalled
        run_batch(BatchConfig(source, out, formats=("json",), workers=1, rules=RULES, chunk_size=3), hook=interrupt)
    assert leftovers(out) == []
    assert not (out / "summary.csv").exists()
    finished = mtimes(out)
    assert len(finished) == 3
    resumed = run_batch(BatchConfig(source, out, formats=("json",), workers=1, rules=RULES, chunk_size=3))
    assert (resumed.done, resumed.skipped, resumed.exit_code) == (4, 3, 0)
    assert {name: mtimes(out)[name] for name in finished} == finished
    assert len(summary(out)) == 7 and leftovers(out) == []
    manifest = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    assert len(manifest) == 8  # compacted: the header and one line per district


def test_an_interrupt_journals_the_districts_finished_since_the_last_flush(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("engine.batch.manifest.FLUSH_SPACING", 10**9)  # no flush after the first one
    monkeypatch.setattr("engine.batch.manifest.MAX_FLUSH_WAIT", 10**9)
    out = tmp_path / "out"
    rows = [f"01000{n:02d},District {n},{n * 100},,yes,no,no" for n in range(1, 10)]
    source = write_csv(tmp_path / "d.csv", rows)

    def after_two(chunks_finished: int) -> None:
        if chunks_finished == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(BatchConfig(source, out, formats=("json",), workers=1, rules=RULES, chunk_size=3), hook=after_two)
    assert len(manifest_lines(out)) == 1 + 6  # the header, chunk 1 (flushed at once), chunk 2 (at the interrupt)
    resumed = run_batch(BatchConfig(source, out, formats=("json",), workers=1, rules=RULES, chunk_size=3))
    assert (resumed.done, resumed.skipped, resumed.failed) == (3, 6, 0)


def test_documents_on_disk_but_not_journalled_are_redone_in_place(tmp_path: Path) -> None:
    # as after a kill between two flushes: the files are there, the manifest does not list them
    out = tmp_path / "out"
    source = write_csv(tmp_path / "d.csv", ["0100001,One,100,,yes,no,no", "0100002,Two,200,,no,no,no"])
    batch(source, out)
    manifest = out / MANIFEST_NAME
    manifest.write_text(manifest_lines(out)[0] + "\n", encoding="utf-8")
    result = batch(source, out)
    assert (result.done, result.skipped, result.failed) == (2, 0, 0)
    assert sorted(p.name for p in out.glob("*.json")) == ["0100001-one.json", "0100002-two.json"]


def manifest_lines(out: Path) -> list[str]:
    return (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()


def test_temporary_files_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    batch(DATA / "basic.csv", out)
    stale = out / ".0621450-lakeview-unified-school-district-ca.json.abcd1234.tmp"
    stale.write_text("half a docu", encoding="utf-8")
    users = out / ".my-notes.tmp"
    users.write_text("mine", encoding="utf-8")
    batch(DATA / "basic.csv", out)
    assert not stale.exists() and users.exists()


def test_summary_cells_are_protected_against_formula_injection(tmp_path: Path) -> None:
    rows = ['1,=HYPERLINK("http://x"),1,,yes,no,no', "2,+SUM(A1),1,,yes,no,no", "3,-2+3,1,,yes,no,no",
            "4,@cmd,1,,yes,no,no", "5,Plain,1,,yes,no,no"]
    out = tmp_path / "out"
    batch(write_csv(tmp_path / "d.csv", rows), out)
    assert [r["district_name"] for r in summary(out)] == [
        "'=HYPERLINK(\"http://x\")", "'+SUM(A1)", "'-2+3", "'@cmd", "Plain",
    ]
    assert [protect(c) for c in ("\tx", "\rx", "x=1", "")] == ["'\tx", "'\rx", "x=1", ""]
    assert (out / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbfdistrict_id,district_name,option,")


def test_index_links_every_document_with_counts(tmp_path: Path) -> None:
    rows = ["1,<script>alert(1)</script>,100,,yes,yes,no", "2,Two & Co,100,,no,no,no", "3,,100,,bad,no,no"]
    out = tmp_path / "out"
    result = batch(write_csv(tmp_path / "d.csv", rows), out, formats=("json",))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "Two &amp; Co" in index
    for row in summary(out):
        for name in filter(None, row["outputs"].split("; ")):
            assert f'href="{name}"' in index and (out / name).is_file()
    for option, count in result.options.items():
        label = {"sis_sync": "SIS Sync", "user_import": "User Import Tool"}[option]
        assert f"<tr><td>{label}</td><td>{count}</td></tr>" in index
    assert '<tr class="failed"><td>Failed (see summary.csv)</td><td>1</td></tr>' in index
    assert 'name="generator" content="rostering-advisor' in index


def test_index_links_are_url_quoted(tmp_path: Path) -> None:
    from engine.batch.report import write_index
    from engine.batch.manifest import Entry

    # slugs never need quoting, but the index does not rely on it
    entry = Entry("a", "1", "A", "i", "c", ("odd name#1.md",), "sis_sync", "strong", "score", ())
    write_index(tmp_path, [entry], {"sis_sync": 1}, {}, {}, 0, "1.0.0")
    assert 'href="odd%20name%231.md"' in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_two_worker_processes_give_the_same_results(tmp_path: Path) -> None:
    rows = [f"02{n:05d},District {n},{n * 37},,{'yes' if n % 2 else 'no'},{'yes' if n % 5 == 0 else 'no'},"
            f"{'yes' if n % 3 else 'unknown'}" for n in range(1, 13)]
    source = write_csv(tmp_path / "d.csv", rows)
    one = batch(source, tmp_path / "one", chunk_size=4)
    two = batch(source, tmp_path / "two", chunk_size=4, workers=2)
    assert two.workers == 2 and (two.done, two.failed) == (12, 0)
    assert summary(tmp_path / "one") == summary(tmp_path / "two")
    assert one.options == two.options
    for name in mtimes(tmp_path / "one"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert leftovers(tmp_path / "two") == []


def test_command_prints_summary_line_and_errors(tmp_path: Path) -> None:
    args = argparse.Namespace(
        input=DATA / "bad_rows.csv", out=tmp_path / "out", format="json", workers=1, force=False, prune=False, quiet=False,
        rules=RULES, templates=None, date=None,
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    assert command(args, stdout, stderr) == 3
    labels = {o.id: o.label for o in load_rules(RULES).options}  # the options' labels, not their ids
    assert stdout.getvalue() == "7 districts: 2 done, 0 skipped (unchanged), 5 failed; " + ", ".join(
        f"{labels[option]} {count}" for option, count in sorted(_counts(tmp_path / "out").items())
    ) + "\n"
    lines = stderr.getvalue().splitlines()
    assert lines[0].endswith(
        "bad_rows.csv: row 3: column 4 (mobile_population): the answer must be yes, no or unknown, got 'maybe'"
    )
    assert len(lines) == 5


def _counts(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in summary(out):
        if row["option"]:
            counts[row["option"]] = counts.get(row["option"], 0) + 1
    return counts


def test_cli_batch_exit_codes(tmp_path: Path, capsys) -> None:
    base = ["--format", "json", "--workers", "1", "--rules", str(RULES), "--quiet"]
    assert main(["batch", str(DATA / "basic.csv"), "--out", str(tmp_path / "a"), *base]) == 0
    assert main(["batch", str(DATA / "bad_rows.csv"), "--out", str(tmp_path / "b"), *base]) == 3
    assert main(["batch", str(tmp_path / "none.csv"), "--out", str(tmp_path / "c"), *base]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("4 districts: 4 done") and out[1].startswith("7 districts: 2 done")


def test_output_folder_must_not_be_the_input_folder(tmp_path: Path) -> None:
    folder = tmp_path / "answers"
    shutil.copytree(DATA / "folder", folder)
    with pytest.raises(InputError, match="must not be the input folder"):
        batch(folder, folder)


def test_interrupted_parallel_run_leaves_no_temporary_files_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = [f"03{n:05d},District {n},{n * 50},,yes,no,{'yes' if n % 2 else 'no'}" for n in range(1, 21)]
    source = write_csv(tmp_path / "d.csv", rows)
    config = BatchConfig(source, out, formats=("json",), workers=2, rules=RULES, chunk_size=2)
    with pytest.raises(KeyboardInterrupt):
        run_batch(config, hook=interrupt)
    assert leftovers(out) == []
    resumed = run_batch(config)
    assert resumed.skipped >= 2 and resumed.done + resumed.skipped == 20 and resumed.failed == 0
    assert leftovers(out) == [] and len(summary(out)) == 20


def test_markdown_and_html_documents_with_the_real_templates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    templates = tmp_path / "templates"
    shutil.copytree(FIXTURES / "templates", templates)
    result = batch(DATA / "basic.csv", out, formats=("md", "html", "json"), templates=templates)
    assert (result.done, result.failed) == (4, 0)
    row = summary(out)[0]
    stem = "0621450-lakeview-unified-school-district-ca"
    assert row["outputs"].split("; ") == [f"{stem}.md", f"{stem}.html", f"{stem}.json"]
    markdown = (out / "0621450-lakeview-unified-school-district-ca.md").read_text(encoding="utf-8")
    assert "Lakeview Unified School District, CA" in markdown and "2026-01-05" in markdown
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('.md">md</a>') == index.count('.html">html</a>') == index.count('.json">json</a>') == 4
    assert batch(DATA / "basic.csv", out, formats=("md", "html", "json"), templates=templates).skipped == 4
    assert batch(DATA / "basic.csv", out, formats=("md", "html", "json"), templates=templates, force=True).done == 4
    (templates / "advice.md.j2").write_text(
        (templates / "advice.md.j2").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )  # a template edit redoes every district
    assert batch(DATA / "basic.csv", out, formats=("md", "html", "json"), templates=templates).done == 4
    assert leftovers(out) == []


def test_another_template_for_the_documents(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    result = batch(DATA / "basic.csv", out, formats=("md", "json"), template="summary")
    assert (result.done, result.failed) == (4, 0)
    summary_text = (out / "0621450-lakeview-unified-school-district-ca.md").read_text(encoding="utf-8")
    assert "Appendix" not in summary_text and "Lakeview Unified School District, CA" in summary_text
    assert batch(DATA / "basic.csv", out, formats=("md", "json"), template="summary").skipped == 4
    mine = tmp_path / "mine.md.j2"
    mine.write_text("<!-- {{ generator }} -->\n{{ district.name }}: {{ recommendation.label }}\n", encoding="utf-8")
    assert batch(DATA / "basic.csv", out, formats=("md",), template=str(mine)).done == 4  # another template: redone
    assert ": SIS Sync\n<!-- rostering-advisor seal:" in (out / "0621450-lakeview-unified-school-district-ca.md").read_text(encoding="utf-8")
    mine.write_text(mine.read_text(encoding="utf-8") + "Edited.\n", encoding="utf-8")
    assert batch(DATA / "basic.csv", out, formats=("md",), template=str(mine)).done == 4  # its file edited: redone
    args = ["batch", str(DATA / "basic.csv"), "--out", str(tmp_path / "o2"), "--rules", str(RULES), "--quiet"]
    assert main([*args, "--format", "json", "--template", "summary"]) == 2
    assert "--template: needs --format md or html among the formats" in capsys.readouterr().err
    assert main([*args, "--format", "md,html", "--template", "summary"]) == 0  # summary.md.j2 and summary.html.j2
    assert len(list((tmp_path / "o2").glob("*.html"))) == 5  # four summaries and the index
    assert main([*args, "--format", "md,html", "--template", "nosuch"]) == 2
    assert "no template 'nosuch'" in capsys.readouterr().err


def test_progress_reporters() -> None:
    from engine.batch.progress import PlainProgress, ProgressEvent, TerminalProgress, reporter_for

    event = ProgressEvent(rows=500, done=490, skipped=0, failed=10, expected=1000, elapsed=2.0)
    assert (event.rate, event.fraction, event.seconds_left) == (250.0, 0.5, 2.0)
    terminal = io.StringIO()
    bar = TerminalProgress(terminal, interval=0)
    bar(event)
    # tqdm measures the rate and time left on its own clock
    assert re.search(r"\r 50%\|#{12} {12}\| 500 districts, [\d.]+ districts/s, \d\d:\d\d left, 10 failed$", terminal.getvalue())
    bar(ProgressEvent(1000, 990, 0, 10, 1000, 4.0, final=True))
    assert "100%|########################| 1000 districts" in terminal.getvalue() and terminal.getvalue().endswith("\n")
    plain = io.StringIO()
    reporter = PlainProgress(plain, interval=0)
    reporter(event)
    reporter(ProgressEvent(1000, 990, 0, 10, 1000, 4.0, final=True))
    assert plain.getvalue() == "batch: 500 districts (50%), 250/s, about 2s left\n"
    assert reporter_for(io.StringIO(), quiet=True) is None
    assert isinstance(reporter_for(io.StringIO(), quiet=False), PlainProgress)


def test_documents_earlier_runs_wrote_and_this_run_did_not_are_reported_then_pruned_on_request(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert batch(DATA / "basic.csv", out, formats=("md", "json")).exit_code == 0
    lakeview, old_mill, penasco, harbor = (r["outputs"].split("; ") for r in summary(out))
    # Lakeview's row now fails, the Old Mill is gone from the input, and only JSON is asked for
    lines = (DATA / "basic.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    source = tmp_path / "next.csv"
    source.write_text(lines[0] + lines[1].replace(",yes,no,Y,", ",maybe,no,Y,") + "".join(lines[3:]), encoding="utf-8")
    args = ["batch", str(source), "--out", str(out), "--format", "json", "--rules", str(RULES), "--date", "2026-01-05", "--quiet"]
    assert main(args) == 3
    stale = sorted([*lakeview, *old_mill, penasco[0], harbor[0]])
    assert all(name.endswith(".md") for name in (penasco[0], harbor[0]))
    assert all((out / name).is_file() for name in stale)  # kept: nothing is removed unasked
    err = capsys.readouterr().err
    assert f"6 documents in {out} (e.g. {stale[0]}) came from earlier runs" in err
    assert "--prune removes them" in err
    assert [r["outputs"] for r in summary(out)] == ["", penasco[1], harbor[1]]

    # a later run still knows them; a file someone put in a document's place is theirs now
    (out / old_mill[1]).write_text("my own notes\n", encoding="utf-8")
    result = batch(source, out, formats=("json",), prune=True)
    assert result.pruned == [name for name in stale if name != old_mill[1]]
    assert result.stale == []
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".md", ".json")) == sorted([old_mill[1], penasco[1], harbor[1]])
    assert (out / old_mill[1]).read_text(encoding="utf-8") == "my own notes\n"
    again = batch(source, out, formats=("json",))
    assert (again.stale, again.pruned, again.skipped) == ([], [], 2)


def test_a_run_stopped_after_narrowing_the_formats_leaves_no_document_unaccounted_for(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(DATA / "basic.csv", out, formats=("md", "json")).exit_code == 0
    documents = sorted(p.name for p in out.iterdir() if p.suffix == ".md")
    stopped = BatchConfig(DATA / "basic.csv", out, formats=("json",), workers=1, rules=RULES, date="2026-01-05", prune=True, chunk_size=2)
    with pytest.raises(KeyboardInterrupt):
        run_batch(stopped, hook=interrupt)
    assert documents == sorted(p.name for p in out.iterdir() if p.suffix == ".md")  # a stopped run removes nothing
    # the journal now holds json-only entries for the first chunk: their .md must not be forgotten
    assert batch(DATA / "basic.csv", out, formats=("json",)).stale == documents
    assert batch(DATA / "basic.csv", out, formats=("json",), prune=True).pruned == documents
    assert not any(p.suffix == ".md" for p in out.iterdir())


def test_a_document_written_for_a_row_that_then_failed_is_not_pruned_by_that_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(DATA / "basic.csv", out, formats=("md",)).exit_code == 0
    penasco = summary(out)[2]["outputs"]
    json_name = penasco.replace(".md", ".json")
    (out / json_name).write_text("{}\n", encoding="utf-8")  # someone's own file, where the JSON would go
    result = batch(DATA / "basic.csv", out, formats=("md", "json"), prune=True, force=True)
    assert (result.failed, result.pruned, result.stale) == (1, [], [])
    assert (out / penasco).is_file()  # written again by this run, and kept
    assert (out / json_name).read_text(encoding="utf-8") == "{}\n"
    # no entry names that Markdown (its district failed), but the manifest still does: once the
    # district is gone from the input, the next run knows the document is from an earlier run
    lines = (DATA / "basic.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    without = tmp_path / "without.csv"
    without.write_text("".join(line for line in lines if not line.startswith(("4800002", "line two"))), encoding="utf-8")
    again = batch(without, out, formats=("md", "json"))
    assert (again.districts, again.failed, again.stale) == (3, 0, [penasco])


def test_prune_removes_only_documents_in_the_folder_whatever_the_manifest_says(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(DATA / "basic.csv", out, formats=("json",)).exit_code == 0
    outside = tmp_path / "advice.md"
    outside.write_text("<!-- generated by rostering-advisor -->\nkept\n", encoding="utf-8")
    (out / "sub").mkdir()
    (out / "sub" / "x.md").write_text(outside.read_text(encoding="utf-8"), encoding="utf-8")
    with open(out / MANIFEST_NAME, "a", encoding="utf-8") as manifest:  # edited by hand, or by an attacker
        manifest.write(json.dumps({"stale": ["../advice.md", "sub/x.md", str(outside), ".hidden.md", 7]}) + "\n")
    result = batch(DATA / "basic.csv", out, formats=("json",), prune=True)
    assert (result.pruned, result.stale, result.skipped) == ([], [], 4)
    assert outside.is_file() and (out / "sub" / "x.md").is_file()
