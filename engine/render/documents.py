"""Advice documents: a Recommendation rendered through a Jinja template, in Markdown or HTML.

    renderer = Renderer(None)                       # ./templates, the checkout's, or the shipped copy
    text = renderer.render(rec, "html", generated=generation_date(None, "date"))
    renderer.context(rec, generated=...)            # exactly what templates see (JSON data)

One Renderer builds its two sandboxed environments once and compiles each template once, so a batch
renders thousands of documents with one. Every failure of a template (syntax, a misspelt variable,
a refused operation, a render past the time or size cap) is a `TemplateError` whose one-line
message starts with `template:line:`. The pieces: `document_context` (the context),
`template_sandbox` (what templates may do), `template_loader` (where they come from),
`render_limits` (time and size caps), `escaping` (Markdown escaping).
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from jinja2 import Template, TemplateNotFound, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError

from engine import paths
from engine.errors import InputError, SourceLocation, TemplateError
from engine.evaluate.advisor import Recommendation
from engine.files import sealed_document
from engine.paths import display
from engine.render.context import build_context
from engine.render.formats import DOCUMENTS, TEMPLATES_MARKER
from engine.render.limits import OutputTooLarge, RenderTimeout, bounded, collect
from engine.render.sandbox import DocumentSandbox, Limits
from engine.render.templates import SymlinkRefused, TemplateBytecode, TemplateFolder

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# On the document's UTF-8 bytes: space, tab and newline bytes never occur inside a multi-byte character.
_TRAILING_SPACE = re.compile(rb"[ \t]+\n")
_BLANK_LINES = re.compile(rb"\n(?:[ \t]*\n)+")


def generation_date(arg: str | None, given_as: str) -> datetime.date:
    """The date a document says it was made: `arg` (YYYY-MM-DD; `given_as` names the option it
    came from in a message), else $SOURCE_DATE_EPOCH (UTC), else today."""
    if arg is not None:
        try:
            if not _DATE.fullmatch(arg.strip()):
                raise ValueError
            return datetime.date.fromisoformat(arg.strip())
        except ValueError:
            raise InputError.at(SourceLocation(given_as), f"expected a date as YYYY-MM-DD, got {arg!r}") from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            seconds = int(epoch)
            if seconds < 0:
                raise ValueError
            return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).date()
        except (ValueError, OverflowError, OSError):
            raise InputError.at(
                SourceLocation("SOURCE_DATE_EPOCH"),
                f"expected a whole number of seconds since 1970-01-01 UTC, got {epoch!r}",
            ) from None
    return datetime.date.today()


class Renderer:
    """Renders recommendations with the templates of one folder."""

    def __init__(self, templates_dir: Path | None = None, *, limits: Limits | None = None) -> None:
        self.folder = paths.templates_dir(templates_dir, TEMPLATES_MARKER)
        self.limits = limits or Limits()
        self.loader = TemplateFolder(self.folder)
        self._envs = {fmt: DocumentSandbox(self.loader, templating, self.limits) for fmt, templating in DOCUMENTS.items()}
        for env in self._envs.values():
            env.bytecode_cache = TemplateBytecode.for_environment(env)
        self._compiled: dict[tuple[str, str], Template] = {}

    def context(self, rec: Recommendation, *, generated: datetime.date) -> dict[str, Any]:
        """The template context for `rec`: JSON data, documented in docs/templates.md."""
        return build_context(rec, generated)

    def render(
        self, rec: Recommendation, fmt: str, *, generated: datetime.date, template: str | None = None
    ) -> str:
        """The document for `rec` in `fmt` ("md" or "html"), with the format's template or `template`
        (a name in the templates folder, with or without `.j2` / `.<fmt>.j2`, or a file path)."""
        compiled = self.template(fmt, template)
        return self.render_context(compiled, build_context(rec, generated))

    def template(self, fmt: str, template: str | None = None) -> Template:
        """The compiled template for a format (and `--template` choice); compiled once per Renderer."""
        if fmt not in DOCUMENTS:
            raise InputError.at(SourceLocation("format"), f"documents are {' or '.join(DOCUMENTS)}, not {fmt!r}")
        key = (fmt, template or "")
        compiled = self._compiled.get(key)
        if compiled is None:
            env = self._envs[fmt]
            self._load_format(env)
            name = self._resolve(fmt, template)
            compiled = self._compile(env, name)
            self._compiled[key] = compiled
        return compiled

    def check(self, formats: tuple[str, ...] = tuple(DOCUMENTS)) -> None:
        """Compile every template of the folder for `formats` now (a batch calls this once, before its
        workers start): syntax errors and symbolic links surface as a TemplateError. Errors that
        depend on a district (a misspelt variable) only show when rendering."""
        for fmt in formats:
            env = self._envs[fmt]
            self._load_format(env)
            for name in self.loader.list_templates():
                self._compile(env, name)

    def render_context(self, compiled: Template, context: dict[str, Any]) -> str:
        """Render a compiled template with a context, within the limits."""
        return self.render_bytes(compiled, context).decode("utf-8")

    def render_bytes(self, compiled: Template, context: dict[str, Any]) -> bytes:
        """`render_context` as the UTF-8 bytes a file gets (batch): the document is tidied and sealed
        as bytes, so it is encoded once and never decoded back (~20 us a Markdown document)."""
        limits = self.limits
        try:
            text = collect(
                compiled.generate(context), max_output=limits.max_output, max_seconds=limits.max_seconds, max_memory=limits.max_memory
            )
        except (Exception, RenderTimeout) as exc:  # RenderTimeout is a BaseException: see render_limits
            raise self._error(exc, compiled.name) from None
        return _finish(text)

    # --- helpers ---------------------------------------------------------------------------

    def _compile(self, env: DocumentSandbox, name: str) -> Template:
        """A template compiled within the time and memory limits of a render; any failure (syntax, a
        missing include, a symbolic link, a runaway compilation) is a TemplateError."""
        try:
            with bounded(self.limits.max_seconds, self.limits.max_memory):
                return env.get_template(name)
        except (Exception, RenderTimeout) as exc:  # RenderTimeout is a BaseException: see render_limits
            raise self._error(exc, name) from None

    def _load_format(self, env: DocumentSandbox) -> None:
        """The format's file and tokens, as globals, before any template of that format compiles."""
        try:
            env.load_format()
        except (Exception, RenderTimeout) as exc:  # RenderTimeout is a BaseException: see render_limits
            raise self._error(exc, env.markup_file) from None

    def _resolve(self, fmt: str, template: str | None) -> str:
        if template is None:
            return DOCUMENTS[fmt].template
        given = template.strip()
        if "/" in given or os.sep in given:
            return self._add_file(Path(given))
        for name in (given, f"{given}.j2", f"{given}.{fmt}.j2"):
            if (self.folder / name).is_file() or (self.folder / name).is_symlink():
                return name
        if Path(given).is_file() or Path(given).is_symlink():
            return self._add_file(Path(given))
        available = ", ".join(n for n in self.loader.list_templates() if not n.startswith("_")) or "none"
        raise TemplateError(f"{display(self.folder)}: no template {given!r} (templates there: {available})")

    def _add_file(self, path: Path) -> str:
        try:
            return self.loader.add_file(path)
        except SymlinkRefused as exc:
            raise TemplateError(str(exc)) from None
        except TemplateNotFound:
            raise TemplateError(f"{display(path)}: no such template file") from None

    def _error(self, exc: BaseException, name: str | None) -> TemplateError:
        where = self._where(exc, name)
        if isinstance(exc, TemplateSyntaxError):
            shown = self.loader.shown.get(exc.filename or "", exc.name or name or "template")
            where = f"{shown}:{exc.lineno}"
            message = f"syntax error: {exc.message}"
        elif isinstance(exc, SymlinkRefused):
            message = str(exc)
            where = ""
        elif isinstance(exc, TemplateNotFound):
            message = f"no template {exc.name!r} in {display(self.folder)}"
        elif isinstance(exc, RenderTimeout):
            message = f"the render ran longer than {self.limits.max_seconds:g} s and was stopped"
        elif isinstance(exc, OutputTooLarge):
            message = f"{exc} and was stopped"
        elif isinstance(exc, UndefinedError):
            message = str(exc)
        elif isinstance(exc, SecurityError):
            message = f"not allowed in a template: {exc}"
        elif isinstance(exc, RecursionError):
            message = "nested too deeply, or templates include or call each other without end (recursion too deep)"
        elif isinstance(exc, MemoryError):
            message = f"the render ran out of memory (it may use {self.limits.max_memory:,} bytes more) and was stopped"
        else:
            message = f"{type(exc).__name__}: {exc}"
        message = " ".join(message.split())
        return TemplateError(f"{where}: {message}" if where else message)

    def _where(self, exc: BaseException, name: str | None) -> str:
        """`file:line` of the innermost template frame of the exception, else the template's file."""
        found = ""
        frames: list[tuple[FrameType, int]] = []
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            frames.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
        printing = getattr(exc, "frame", None)  # OutputTooLarge: where the template was printing
        if printing is not None:
            frames.append((printing, printing.f_lineno))
        for frame, line in frames:
            template = frame.f_globals.get("__jinja_template__")
            if template is not None and template.filename in self.loader.shown:
                found = f"{self.loader.shown[template.filename]}:{template.get_corresponding_lineno(line)}"
            elif frame.f_code.co_filename in self.loader.shown:
                found = f"{self.loader.shown[frame.f_code.co_filename]}:{line}"
        if found:
            return found
        if name is not None:
            if name in self.loader.files:
                return name
            return display(self.folder / name)
        return display(self.folder)


def _finish(text: str) -> bytes:
    """Tidy whitespace (no trailing spaces, at most one blank line in a row, one final newline) and
    seal the document (`files.sealed_document`), so that `-o` and batch may replace it later, unless
    edited. UTF-8 bytes: a document's text is mostly ASCII but for a few curly quotes, so as `str` it
    takes two bytes a character, and the scans below read half as much memory as bytes."""
    data = text.encode("utf-8")
    if b" \n" in data or (b"\t" in data and b"\t\n" in data):  # a lone "\t" is found ~10x faster than "\t\n"
        data = _TRAILING_SPACE.sub(b"\n", data)
    return sealed_document(_BLANK_LINES.sub(b"\n\n", data).strip(b"\n") + b"\n")
