"""Reading templates: from the templates folder, or one file named on the command line.

Template names come from the program (the format's own template), from `--template` and from
`{% include %}` / `{% import %}` in templates; never from a district's answers. A name is a path
inside the folder (`..` and absolute names are refused by Jinja's `split_template_path`). Symbolic
links are refused, both for a template and for any folder on its way inside the templates folder,
so a template cannot pull in a file from elsewhere on the machine.

Compiled templates are kept in the disk cache (`engine.cache`) as Jinja's own bytecode files
(`TemplateBytecode`), so a command that renders one document need not compile the templates again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from jinja2 import BaseLoader, Environment, FileSystemBytecodeCache, TemplateNotFound
from jinja2.bccache import Bucket
from jinja2.loaders import split_template_path

from engine import cache
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


class TemplateBytecode(FileSystemBytecodeCache):
    """Jinja's bytecode cache in the disk cache's `jinja` folder, for one document environment.

    Jinja checks a cached file's header (its own version, Python's bytecode version) and the
    template's source. Besides the source, the compiled code depends on the environment: its
    format and how it compiles (code generator, extensions, options), and the markup tokens built
    into the code when it is compiled (`FoldMarkup`): all are part of the key; the engine's code is
    part of the cache folder's name (`cache.code_stamp`).
    A damaged file is a miss; a cache that cannot be written is not used.
    """

    def __init__(self, directory: Path, environment: Environment) -> None:
        super().__init__(str(directory))
        self.environment = environment

    @classmethod
    def for_environment(cls, environment: Environment) -> TemplateBytecode | None:
        """The cache for `environment`, or None when the disk cache is off."""
        directory = cache.folder("jinja")
        return None if directory is None else cls(directory, environment)

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        env = self.environment
        # what the compiled code depends on besides the source: how the environment compiles
        settings = [_name(env.code_generator_class), sorted(env.extensions), _name(env.finalize), env.autoescape]
        settings += [getattr(env, option) for option in _COMPILE_OPTIONS]
        tokens = sorted(getattr(env, "tokens", {}).items())
        return hashlib.sha256(repr((name, filename, settings, tokens)).encode("utf-8")).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged file (Jinja unpickles its checksum): compile again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


_COMPILE_OPTIONS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized",
)  # fmt: skip


def _name(thing: object) -> str:
    return f"{getattr(thing, '__module__', '')}.{getattr(thing, '__qualname__', repr(thing))}"
