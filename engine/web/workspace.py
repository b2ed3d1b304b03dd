"""What one server process works with: the rules compiled into the engine, the templates, the
example districts, and (with `--reload`) the last good version of each when a file changes.

The engine is not thread-safe and its host is process-global, so a process has exactly one
Workspace and calls it from its event loop alone; several cores mean several processes. Nothing
about a district is kept here: every request carries its own answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import AdvisorError, InputError, SourceLocation
from engine.evaluate.advisor import Advisor
from engine.evaluate.answers import District, read_district
from engine.paths import display, example_answers, examples_dir, rules_dir, templates_dir
from engine.render.documents import Renderer
from engine.render.formats import TEMPLATES_MARKER

CONFIG_VARIABLE = "ROSTERING_ADVISOR_SERVE"  # how `serve` hands its options to uvicorn's worker processes


@dataclass(frozen=True)
class ServeConfig:
    """The folders a server reads, and whether it reloads them when they change."""

    rules: str | None = None
    templates: str | None = None
    examples: str | None = None
    reload: bool = False

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        """The config `serve` put in the environment; the defaults (./rules, ...) when there is none."""
        raw = os.environ.get(CONFIG_VARIABLE)
        if not raw:
            return cls()
        try:
            options = json.loads(raw)
            return cls(**options) if _valid(options) else _refuse(raw)
        except ValueError:
            return _refuse(raw)


@dataclass(frozen=True)
class Loaded:
    """One good version of the rules and templates, ready to answer requests."""

    advisor: Advisor
    renderer: Renderer
    templates_digest: str  # of the templates' bytes: a template edit changes it, a touch does not
    loaded_at: float  # time.time() when it was loaded

    @property
    def version(self) -> str:
        return self.advisor.rules.version

    @property
    def digest(self) -> str:
        return self.advisor.rules.digest


class Workspace:
    """The rules, templates and examples of one server process."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.rules_dir = rules_dir(_path(config.rules))
        self.templates_dir = templates_dir(_path(config.templates), TEMPLATES_MARKER)
        self.examples_dir = _examples(_path(config.examples))
        self.problems: tuple[str, ...] = ()  # why the files on disk are not serving, one `file:line:col: message` each
        self._fingerprint = self._stat()
        self.current = self._load()  # an error here stops `serve` before it listens

    def refresh(self) -> Loaded:
        """The version to serve: with `reload`, the files' new content when it changed and loads
        cleanly; while it does not, the last good version, with `problems` saying why."""
        if self.config.reload:
            fingerprint = self._stat()
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                try:
                    self.current = self._load()
                    self.problems = ()
                except AdvisorError as error:
                    self.problems = _lines(error)
        return self.current

    @property
    def state(self) -> str:
        """Changes whenever what is served (rules, templates) or the problems with the files on
        disk change; the same in every worker process, so a page can poll for it."""
        parts = [self.current.digest, self.current.templates_digest, *self.problems]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def examples(self) -> list[str]:
        """The example districts' names: the only ones a request may choose."""
        if self.examples_dir is None:
            return []
        return [
            p.name
            for p in sorted(self.examples_dir.iterdir(), key=lambda p: p.name)
            if p.is_dir() and not p.name.startswith((".", "_")) and example_answers(p) is not None
        ]

    def example(self, name: str, advisor: Advisor) -> District:
        """An example district by name (a name from `examples()`, never a path)."""
        if name not in self.examples():
            raise KeyError(name)
        path = example_answers(self.examples_dir / name)  # type: ignore[operator]
        return read_district(path, advisor.rules, display(path))  # type: ignore[arg-type]

    def _load(self) -> Loaded:
        advisor = Advisor.load(self.rules_dir)
        renderer = Renderer(self.templates_dir)
        renderer.check()  # a template that does not compile is a problem now, not at the first page
        templates = hashlib.sha256()
        for path in sorted(self.templates_dir.rglob("*")):
            if path.is_file():
                templates.update(f"{path.relative_to(self.templates_dir)}\0".encode() + path.read_bytes())
        return Loaded(advisor, renderer, templates.hexdigest(), time.time())

    def _stat(self) -> dict[str, tuple[int, int]]:
        """Modification time and size of every file and folder in the rules and templates folders,
        by path: with `reload`, read at every request, so by `os.scandir` (no Path objects, no
        sorting; about 4x faster than `rglob` and `Path.stat`)."""
        out: dict[str, tuple[int, int]] = {}
        folders = [str(self.rules_dir), str(self.templates_dir)]
        while folders:
            try:
                with os.scandir(folders.pop()) as entries:
                    for entry in entries:
                        try:
                            info = entry.stat()
                        except OSError:  # removed while we looked: the next look sees the change
                            continue
                        out[entry.path] = (info.st_mtime_ns, info.st_size)
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
            except OSError:  # a folder removed while we looked, likewise
                continue
        return out


_OPTIONS = {"rules": str, "templates": str, "examples": str, "reload": bool}


def _valid(options: object) -> bool:
    return isinstance(options, dict) and all(
        key in _OPTIONS and (value is None or isinstance(value, _OPTIONS[key])) for key, value in options.items()
    )


def _refuse(raw: str) -> ServeConfig:
    raise InputError.at(
        SourceLocation(CONFIG_VARIABLE),
        f"expected a JSON object with any of {', '.join(_OPTIONS)} (folders as text, reload true/false), got {raw[:80]!r}",
    )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _examples(explicit: Path | None) -> Path | None:
    """The examples folder; without `--examples` and without one to find, the playground starts blank."""
    try:
        return examples_dir(explicit)
    except InputError:
        if explicit is not None:
            raise
        return None


def _lines(error: AdvisorError) -> tuple[str, ...]:
    return tuple(line for line in str(error).splitlines() if line.strip()) or ("error",)
