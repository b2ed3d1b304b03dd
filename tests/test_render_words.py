"""The rendering layer knows neither the command line's words nor how files are marked as ours."""

from __future__ import annotations

import re
from pathlib import Path

from engine.files import GENERATOR_MARK, made_by_us, sealed_document

RENDER = Path(__file__).resolve().parent.parent / "engine" / "render"


def test_render_modules_name_no_command_line_option_and_no_generator_mark() -> None:
    for path in sorted(RENDER.glob("*.py")):
        code = path.read_text(encoding="utf-8")
        assert not re.search(r"""["']--[a-z]""", code), f"{path.name} names a command-line option"
        assert "GENERATOR_MARK" not in code, f"{path.name} names the generator mark"


def test_sealed_document_ends_with_the_seal_that_marks_it_ours(tmp_path: Path) -> None:
    document = sealed_document(b"# Advice\n").decode("utf-8")
    assert document.startswith("# Advice\n<!-- rostering-advisor seal:") and document.endswith(" -->\n")
    (tmp_path / "a.md").write_text(document, encoding="utf-8")
    assert made_by_us(tmp_path / "a.md")
    (tmp_path / "a.md").write_text(document.replace("Advice", "Notes"), encoding="utf-8")
    assert not made_by_us(tmp_path / "a.md")
