"""Where a problem is, what it is, and how the command line reports it.

A leaf module: it imports nothing from the package, so every stage can raise these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_FAILED = 1  # the run worked and found a failure (tests, changed recommendations)
EXIT_USER_ERROR = 2  # bad input: the user can fix it
EXIT_PARTIAL = 3  # batch: some rows failed, the others were processed

# Characters that change how text shows rather than being text: C0 controls but tab, line feed and
# carriage return, DEL, C1 controls (ESC sequences, BEL, NUL...) and the bidirectional overrides
# and isolates. District text holding one is refused where it is read (`control_character`), and
# nothing is printed to a terminal without them neutralised (`printable`).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def control_character(text: str) -> str | None:
    """A description of the first control character in `text` (`U+001B`), or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"a control character (U+{ord(found.group()):04X})"


def printable(text: str) -> str:
    """`text` with control characters written as escapes, safe to print on a terminal."""
    return _CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


@dataclass(frozen=True, order=True)
class SourceLocation:
    """A 1-based position in a file; `line` 0 means "the file as a whole"."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


def github_annotation(level: str, message: str, location: SourceLocation | None = None) -> str:
    """A GitHub Actions workflow command (`::error file=F,line=L,col=C::message`): the problem
    shows on the pull request, at its line. `level` is error, warning or notice."""
    where = ""
    if location is not None and location.file:
        parts = [f"file={location.file}"] + [f"{k}={v}" for k, v in (("line", location.line), ("col", location.column)) if v > 0]
        where = " " + ",".join(parts)
    return f"::{level}{where}::" + message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True)
class Diagnostic:
    """One problem a user can fix, with where it is and, optionally, the path in the document."""

    location: SourceLocation
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return f"{self.location}: {self.message}{where}"


class AdvisorError(Exception):
    """Base of every error the package raises on purpose; never shown with a traceback."""

    exit_code = EXIT_USER_ERROR


@dataclass
class InputError(AdvisorError):
    """Bad input from the user: one or more diagnostics, reported together in file order."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.diagnostics = sorted(self.diagnostics, key=lambda d: d.location)
        super().__init__(self.summary())

    @classmethod
    def at(cls, location: SourceLocation, message: str, path: str = "") -> InputError:
        return cls([Diagnostic(location, message, path)])

    def summary(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.summary()


class EngineError(AdvisorError):
    """The rules engine misbehaved (an action failed, a fact was refused): a bug, not bad input."""

    exit_code = 1


class TemplateError(AdvisorError):
    """A template could not be rendered; the message names the template and line."""


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """A ' (did you mean 'x'?)' hint for a near-miss, or ''."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
