"""Which files rostering-advisor may replace or remove: only those it wrote and nobody edited since.

A document, index.html and a schema file end with a seal (`files.seal`): the digest of the whole
file. A person's file that merely mentions "rostering-advisor", a document someone edited, or a
forged seal is not ours: `-o`, `schema --out`, batch (even with --force) and --prune leave it alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.cli import main
from engine.files import SEAL_BLANK, made_by_us, seal
from tests.conftest import FIXTURES
from tests.hostile import assert_refused, run_table, snapshot

ANSWERS = FIXTURES / "examples" / "brookhaven" / "answers.yaml"
CSV = Path(__file__).parent / "data" / "batch" / "basic.csv"
FOREIGN = "already exists and was not written by rostering-advisor"


def test_the_seal_tells_our_files_from_everyone_elses(tmp_path: Path) -> None:
    ours = tmp_path / "ours.md"
    ours.write_bytes(seal(f"text\n<!-- {SEAL_BLANK} -->\n"))
    assert made_by_us(ours)
    for name, text in {
        "mention.md": "My notes about rostering-advisor and its output.\n",
        "blank.md": f"<!-- {SEAL_BLANK} -->\n",
        "edited.md": ours.read_text().replace("text", "test"),
        "forged.md": "text\n<!-- rostering-advisor seal:" + "ab" * 32 + " -->\n",
    }.items():
        (tmp_path / name).write_text(text)
        assert not made_by_us(tmp_path / name), name


def test_files_a_person_wrote_or_edited_are_never_replaced_or_removed(tmp_path: Path, capsys) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    note = home / "note.md"
    note.write_text("# My notes\n\nThe rostering-advisor output goes here, says <!-- rostering-advisor -->.\n")
    edited = home / "edited.md"
    assert main(["recommend", str(ANSWERS), "--format", "md", "-o", str(edited)]) == 0
    edited.write_text(edited.read_text().replace("# ", "# Edited: ", 1))
    forged = home / "forged.json"
    forged.write_text('{"seal": "rostering-advisor seal:' + "0" * 64 + '"}\n')
    schemas = home / "schemas"
    schemas.mkdir()
    (schemas / "answers.schema.json").write_text('{"title": "my own schema, rostering-advisor style"}\n')
    # batch: a document a person edited, and one of a district gone from the input replaced by a person's file
    csv = home / "districts.csv"
    shutil.copy(CSV, csv)
    assert main(["batch", str(csv), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    capsys.readouterr()
    documents = sorted(out.glob("*.md"))
    documents[0].write_text(documents[0].read_text() + "\nA note by the coordinator.\n")
    lines = csv.read_text().splitlines()
    gone = [p for p in documents if p.name.startswith(lines[-1].split(",")[0])][0]
    csv.write_text("\n".join(lines[:-1]) + "\n")
    gone.write_text("A person's file that took the document's name.\n")
    table = [
        (["recommend", str(ANSWERS), "--format", "md", "-o", str(note)], f"note.md: {FOREIGN}", 2),
        (["recommend", str(ANSWERS), "--format", "md", "-o", str(edited)], f"edited.md: {FOREIGN}", 2),
        (["recommend", str(ANSWERS), "-o", str(forged)], f"forged.json: {FOREIGN}", 2),
        (["schema", "--out", str(schemas)], f"answers.schema.json: {FOREIGN}", 2),
        (["batch", str(csv), "--out", str(out), "--quiet", "--workers", "1", "--force", "--prune"], FOREIGN, 3),
    ]
    before = snapshot(home) | {str(documents[0]): documents[0].read_text(), str(gone): gone.read_text()}
    outcomes = run_table([argv for argv, _, _ in table], cwd=FIXTURES)
    for (argv, expected, code), outcome in zip(table, outcomes):
        assert_refused(outcome, expected, code)
    assert snapshot(home) | {str(documents[0]): documents[0].read_text(), str(gone): gone.read_text()} == before


def test_files_we_wrote_are_replaced_and_schema_force_replaces_a_persons(tmp_path: Path, capsys) -> None:
    target = tmp_path / "advice.html"
    for fmt in ("html", "md", "json"):
        target = tmp_path / f"advice.{fmt}"
        assert main(["recommend", str(ANSWERS), "--format", fmt, "-o", str(target)]) == 0
        assert main(["recommend", str(ANSWERS), "--format", fmt, "-o", str(target)]) == 0 and made_by_us(target)
    (tmp_path / "answers.schema.json").write_text("{}\n")
    assert main(["schema", "--out", str(tmp_path)]) == 2
    assert main(["schema", "--out", str(tmp_path), "--force"]) == 0
    assert main(["schema", "--out", str(tmp_path)]) == 0 and made_by_us(tmp_path / "answers.schema.json")
