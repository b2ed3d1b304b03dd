"""The two ways `ask` puts its questions: a terminal, or lines from a pipe.

`TerminalPrompter` uses questionary (on prompt_toolkit): a yes / no / not sure menu with
shortcut keys, text prompts that check what is typed, suggestions from the rules' catalogues.
`LinePrompter` reads one line per prompt from a stream (no terminal: scripts and tests), writing
its prompts and messages to another stream, so that the advice alone goes to standard output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from engine.ask.interview import Check
from engine.evaluate.answers import normalise_answer

if TYPE_CHECKING:
    import questionary

_ANSWERS = (("Yes", "yes", "y"), ("No", "no", "n"), ("Not sure", "unknown", "s"))
_NOT_SURE = {"not sure", "s", "skip"}


class TerminalPrompter:
    """Questions in a terminal, through questionary; messages to `out`."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def text(self, message: str, check: Check, suggestions: Sequence[str] = ()) -> str:
        import questionary

        def validate(text: str) -> bool | str:
            return check(text) or True

        if suggestions:
            question = questionary.autocomplete(message, choices=list(suggestions), validate=validate)
        else:
            question = questionary.text(message, validate=validate)
        return _asked(question)

    def answer(self, message: str) -> str:
        import questionary

        choices = [questionary.Choice(label, value, shortcut_key=key) for label, value, key in _ANSWERS]
        return _asked(questionary.select(message, choices=choices, use_shortcuts=True))

    def confirm(self, message: str) -> bool:
        import questionary

        return bool(_asked(questionary.confirm(message, default=True)))


def _asked(question: questionary.Question) -> Any:
    """The answer; Ctrl-C raises KeyboardInterrupt, Ctrl-D EOFError (questionary's menus ignore it)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    end = KeyBindings()
    end.add("c-d", eager=True)(lambda event: event.app.exit(exception=EOFError()))
    application = question.application
    application.key_bindings = merge_key_bindings([application.key_bindings, end]) if application.key_bindings else end
    result = question.unsafe_ask()
    if result is None:
        raise EOFError
    return result


class LinePrompter:
    """One line per prompt from `lines`; prompts and messages to `out`. An empty stream is EOFError."""

    def __init__(self, lines: IO[str], out: IO[str]) -> None:
        self._lines = lines
        self._out = out

    def say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _line(self, prompt: str) -> str:
        self._out.write(prompt + " ")
        self._out.flush()
        line = self._lines.readline()
        self._out.write(line if line.endswith("\n") else line + "\n")  # the input is not echoed: show it
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def text(self, message: str, check: Check, suggestions: Sequence[str] = ()) -> str:
        while True:
            line = self._line(message)
            problem = check(line)
            if problem is None:
                return line
            self.say(f"  ({problem})")

    def answer(self, message: str) -> str:
        while True:
            line = self._line(f"{message} [yes/no/not sure]")
            value = "unknown" if line.strip().casefold() in _NOT_SURE else normalise_answer(line)
            if value is not None:
                return value
            self.say("  (answer yes, no or not sure)")

    def confirm(self, message: str) -> bool:
        while True:
            value = normalise_answer(self._line(f"{message} [Y/n]"))
            if value is not None:
                return value != "no"  # an empty line is the default, yes
            self.say("  (answer yes or no)")
