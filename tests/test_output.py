"""Writing results: full disks, unwritable folders and existing files end in exit 2, nothing lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from engine import files as output
from engine.cli import main
from engine.errors import InputError

from .conftest import FIXTURES, ROOT

EXAMPLE = str(FIXTURES / "examples" / "lakeview-unified" / "answers.yaml")


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch, capsys) -> None:
    target = tmp_path / "advice.md"
    assert main(["recommend", EXAMPLE, "--format", "md", "-o", str(target)]) == 0
    before = target.read_text(encoding="utf-8")

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    assert main(["recommend", EXAMPLE, "--format", "html", "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: cannot write: No space left on device\n"
    assert target.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advice.md"]


def test_an_unwritable_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    def refused(*_: object, **__: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(output, "_create_temporary", refused)
    target = tmp_path / "advice.md"
    assert main(["recommend", EXAMPLE, "--format", "md", "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: cannot write here: Permission denied\n"
    assert not target.exists()


def test_a_missing_folder(tmp_path: Path, capsys) -> None:
    target = tmp_path / "no" / "such" / "advice.md"
    assert main(["recommend", EXAMPLE, "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"{target}: the folder {target.parent} does not exist\n"


def test_a_folder_as_output(tmp_path: Path, capsys) -> None:
    assert main(["recommend", EXAMPLE, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{tmp_path}: is a directory; give a file name\n"


def test_a_file_we_wrote_is_recognised_in_every_format(tmp_path: Path) -> None:
    for fmt in ("json", "md", "html"):
        target = tmp_path / f"advice.{fmt}"
        assert main(["recommend", EXAMPLE, "--format", fmt, "-o", str(target)]) == 0
        assert output.made_by_us(target)
        assert main(["recommend", EXAMPLE, "--format", fmt, "-o", str(target)]) == 0


# --- OutputFolder: many files into one folder (batch mode) ----------------------------------------


def test_output_folder_writes_new_files_whole_and_leaves_nothing_else(tmp_path: Path) -> None:
    folder = output.OutputFolder(tmp_path)
    folder.write("a.md", "<!-- rostering-advisor -->\nA é\n")
    folder.write("b.json", '{"generator": "rostering-advisor"}\n')
    folder.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.json"]
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == "<!-- rostering-advisor -->\nA é\n"
    assert (tmp_path / "a.md").stat().st_mode & 0o777 == 0o644


def test_output_folder_never_replaces_a_foreign_file_and_replaces_its_own(tmp_path: Path) -> None:
    folder = output.OutputFolder(tmp_path)
    (tmp_path / "mine.md").write_text("my notes\n", encoding="utf-8")
    with pytest.raises(output.ForeignFile):
        folder.write("mine.md", output.seal("<!-- rostering-advisor -->\n" + output.SEAL_COMMENT))
    assert (tmp_path / "mine.md").read_text(encoding="utf-8") == "my notes\n"
    folder.write("ours.md", output.seal("one\n" + output.SEAL_COMMENT))
    folder.write("ours.md", output.seal("two\n" + output.SEAL_COMMENT))
    assert (tmp_path / "ours.md").read_text(encoding="utf-8").startswith("two\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.md", "ours.md"]


def test_output_folder_on_a_full_disk_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "write", full)
    with pytest.raises(InputError, match="a.md: cannot write: No space left on device"):
        output.OutputFolder(tmp_path).write("a.md", "<!-- rostering-advisor -->\n")
    assert list(tmp_path.iterdir()) == []


def test_output_folder_without_unnamed_temporary_files_writes_the_usual_way(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delattr(output.os, "O_TMPFILE")
    folder = output.OutputFolder(tmp_path)
    folder.write("a.md", "<!-- rostering-advisor -->\n")
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]


def test_output_folder_falls_back_when_linking_is_refused(tmp_path: Path, monkeypatch) -> None:
    def refused(*_: object, **__: object) -> None:
        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))  # as without /proc

    monkeypatch.setattr(output.os, "link", refused)
    folder = output.OutputFolder(tmp_path)
    folder.write("a.md", "<!-- rostering-advisor -->\n")
    folder.write("b.md", "<!-- rostering-advisor -->\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]


def test_output_folder_makes_new_files_without_a_temporary_name(tmp_path: Path, monkeypatch) -> None:
    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this system")

    def not_expected(*_: object, **__: object) -> None:
        raise AssertionError("a new file went through write_atomic")

    monkeypatch.setattr(output, "write_atomic", not_expected)
    output.OutputFolder(tmp_path).write("a.md", "<!-- rostering-advisor -->\n")
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]


def test_output_folder_falls_back_when_linking_is_not_supported(tmp_path: Path, monkeypatch) -> None:
    def unsupported(*_: object, **__: object) -> None:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(output.os, "link", unsupported)
    output.OutputFolder(tmp_path).write("a.md", "<!-- rostering-advisor -->\n")
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]
