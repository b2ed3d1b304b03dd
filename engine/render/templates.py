"""Reading templates: from the templates folder, or one file named on the command line.

Template names come from the program (the format's own template), from `--template` and from
`{% include %}` / `{% import %}` in templates; never from a district's answers. A name is a path
inside the folder (`..` and absolute names are refused by Jinja's `split_template_path`). Symbolic
links are refused, both for a template and for any folder on its way inside the templates folder,
so a template cannot pull in a file from elsewhere on the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from jinja2 import BaseLoader, Environment, TemplateNotFound
from jinja2.loaders import split_template_path

from engine.errors import InputError
from engine.files import read_regular
from engine.paths import display

MAX_TEMPLATE_BYTES = 1024 * 1024  # a document's templates are a few kB each


class SymlinkRefused(Exception):
    """A template, or a folder on its way, is a symbolic link."""


class TemplateFolder(BaseLoader):
    """Templates from one folder, plus files given by path (`--template ./mine.md.j2`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.files: dict[str, Path] = {}  # name -> file, for templates given by path
        self.shown: dict[str, str] = {}  # compiled file name -> name shown in messages

    def add_file(self, path: Path) -> str:
        """Make a template file outside the folder loadable; returns its template name."""
        name = display(path)
        if Path(path).is_symlink():
            raise SymlinkRefused(f"{name}: is a symbolic link; give the template file itself")
        if not Path(path).is_file():
            raise TemplateNotFound(name)
        self.files[name] = Path(path)
        return name

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.files.get(template)
        if path is None:
            path = self.folder
            for piece in split_template_path(template):
                path = path / piece
                if path.is_symlink():
                    raise SymlinkRefused(f"{display(path)}: is a symbolic link; templates must be regular files in the folder")
        if not path.is_file():
            raise TemplateNotFound(template)
        try:
            source = read_regular(path, display(path), MAX_TEMPLATE_BYTES).decode("utf-8")
        except InputError as exc:  # a FIFO, a device, too large
            raise TemplateNotFound(f"{template} ({'; '.join(d.message for d in exc.diagnostics)})") from None
        except UnicodeDecodeError as exc:
            raise TemplateNotFound(f"{template} ({exc})") from None
        filename = str(path.resolve())
        self.shown[filename] = display(path)
        return source, filename, lambda: True

    def list_templates(self) -> list[str]:
        names = [p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*.j2")]
        return sorted(names + list(self.files))
