"""Writing results: full disks, unwritable folders and existing files end in exit 2, nothing lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path


from engine import output
from engine.cli import main

from .conftest import ROOT

EXAMPLE = str(ROOT / "examples" / "lakeview-unified" / "answers.yaml")


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

    monkeypatch.setattr(output.tempfile, "mkstemp", refused)
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
