"""One record of a finished district: `Entry`, done or failed, from the worker to the manifest and summary."""

from __future__ import annotations

import csv
from pathlib import Path

from engine.batch.input import Record, RowError
from engine.batch.manifest import Entry
from engine.batch.report import SUMMARY_COLUMNS, SummaryWriter

RECORD = Record(7, "0621450", "=Lakeview", payload=None, digest="d1")


def test_a_failed_entry_keeps_the_district_and_the_files_it_wrote() -> None:
    error = RowError.single(7, "disk full")
    entry = Entry.failed(RECORD, "0621450-lakeview", error, ("0621450-lakeview.md",))
    assert (entry.district_id, entry.district_name, entry.input, entry.error) == ("0621450", "=Lakeview", "d1", error)
    assert entry.outputs == ("0621450-lakeview.md",) and entry.option == ""


def test_the_journal_line_has_no_error_field_and_reads_back() -> None:
    entry = Entry("a", "1", "A", "i", "c", ("a.md",), "sis_sync", "strong", "score", ("q",))
    line = entry.to_json()
    assert '"error"' not in line
    assert Entry.from_json(line) == entry


def test_summary_rows_of_done_and_failed_districts(tmp_path: Path) -> None:
    writer = SummaryWriter(tmp_path)
    writer.write(Entry("a", "1", "A", "i", "c", ("a.md", "a.json"), "sis_sync", "strong", "score", ("q1", "q2")))
    writer.write(Entry.failed(RECORD, "b", RowError.single(7, "disk full", column=3, field="sis"), ("b.md",)))
    writer.commit()
    with open(tmp_path / "summary.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(SUMMARY_COLUMNS)
    assert rows[1] == ["1", "A", "sis_sync", "strong", "score", "q1; q2", "a.md; a.json", ""]
    # a failed district lists no documents, and its name is defused for spreadsheets
    assert rows[2] == ["0621450", "'=Lakeview", "", "", "", "", "", "row 7: column 3 (sis): disk full"]
