"""Where the rules and templates are: the folder a product manager edits, else the shipped copy.

Looked up in order: an explicit `--rules`/`--templates` folder; `./rules` (or `./templates`) in the
current directory; the folders of the source checkout this package was imported from; the copies
packed into the wheel under `engine/_shipped/`. Example districts are looked up the same way, but
are not shipped in the wheel.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from engine.errors import InputError, SourceLocation

_CHECKOUT = Path(__file__).resolve().parent.parent


def display(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when inside it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def _find(kind: str, marker: str, explicit: Path | None) -> Path:
    if explicit is not None:
        folder = Path(explicit)
        if not folder.is_dir():
            raise InputError.at(SourceLocation(display(folder)), f"no such {kind} folder")
        return folder
    candidates = [Path.cwd() / kind, _CHECKOUT / kind, Path(str(resources.files("engine") / "_shipped" / kind))]
    for folder in candidates:
        if (folder / marker).is_file():
            return folder
    raise InputError.at(SourceLocation(kind), f"no {kind} folder found; pass --{kind} DIR")


def rules_dir(explicit: Path | None = None) -> Path:
    return _find("rules", "manifest.yaml", explicit)


def templates_dir(explicit: Path | None, marker: str) -> Path:
    """The templates folder: `explicit`, else the first candidate holding `marker` (a template file)."""
    return _find("templates", marker, explicit)


ANSWERS_FILES = ("answers.yaml", "answers.yml", "answers.json")


def examples_dir(explicit: Path | None = None) -> Path:
    """`--examples DIR`, else ./examples, else the examples of the checkout this package runs from."""
    if explicit is not None:
        if not Path(explicit).is_dir():
            raise InputError.at(SourceLocation(display(Path(explicit))), "no such examples folder")
        return Path(explicit)
    for folder in (Path.cwd() / "examples", _CHECKOUT / "examples"):
        if folder.is_dir():
            return folder
    raise InputError.at(SourceLocation("examples"), "no examples folder found; pass --examples DIR")


def example_answers(folder: Path) -> Path | None:
    """The answers file of an example district's folder, if it has one."""
    return next((folder / name for name in ANSWERS_FILES if (folder / name).is_file()), None)
