"""The questionnaire behind `rostering-advisor ask`: one question at a time, in the plan's order.

The district's name first, then the profile facts the rules read (they may answer questions by
themselves), then the plan's `next` question until the option is settled; then the coordinator
may stop or go on (`ask_all` asks every question without stopping). Each answer is saved at once
(`save`, an atomic write), so Ctrl-C or the end of the input keeps what was answered.

How questions are put and answers read is a `Prompter`'s business (`prompts.py`: a terminal with
a prompt library, or plain lines from a pipe); this module only decides what to ask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from engine.evaluate.advisor import Advisor
from engine.evaluate.answers import District, normalise_answer
from engine.evaluate.plan import OpenQuestion, plural
from engine.files import GENERATOR, SEAL_BLANK, seal
from engine.rules.conditions import ProfileTest, atoms
from engine.rules.model import Rules

Check = Callable[[str], "str | None"]  # a problem with what was typed, or None


class Prompter(Protocol):
    """Puts questions to the coordinator. Each call raises EOFError when the input has ended
    and KeyboardInterrupt on Ctrl-C."""

    def say(self, text: str) -> None: ...

    def text(self, message: str, check: Check, suggestions: Sequence[str] = ()) -> str: ...

    def answer(self, message: str) -> str:
        """yes, no or unknown ("not sure")."""
        ...

    def confirm(self, message: str) -> bool:
        """Yes unless the coordinator says no."""
        ...


@dataclass
class Interview:
    """What the coordinator said so far, and how the questionnaire ended."""

    name: str = ""
    profile: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)  # in the order asked
    ended: str = "finished"  # "finished", "stopped" (settled, and the coordinator stopped), "input ended", "interrupted"
    id: str | None = None  # kept from an answers file that is continued
    notes: str = ""

    @classmethod
    def of(cls, district: District) -> Interview:
        """An earlier answers file, to continue: its name, id, profile, answers and notes."""
        return cls(district.name, dict(district.profile), dict(district.answers), id=district.id, notes=district.notes)

    def data(self) -> dict[str, Any]:
        """The answers document (what `recommend` reads)."""
        district = {"name": self.name} if self.id is None else {"name": self.name, "id": self.id}
        data = {"district": district, "profile": dict(self.profile), "answers": dict(self.answers)}
        return data | {"notes": self.notes} if self.notes else data

    def to_yaml(self) -> str:
        """The answers file: sealed as written by the tool (`files.seal`), so a later `ask` may
        replace it, unless someone edited it since."""
        head = f"# Written by {GENERATOR} ask; `rostering-advisor recommend` reads it.\n"
        data = self.data()
        if not data["profile"]:
            del data["profile"]
        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        return seal(f"{head}{body}# {SEAL_BLANK}\n").decode("utf-8")


def interview(
    advisor: Advisor,
    prompter: Prompter,
    save: Callable[[Interview], None],
    *,
    ask_all: bool = False,
    start: Interview | None = None,
) -> Interview:
    """Put the questions; `save` gets the interview after the name, each profile value and each answer.
    From `start` (an earlier interview, continued), only the questions still open are asked."""
    done = start or Interview()
    try:
        if start is None:
            done.name = prompter.text("District name:", _required).strip()
            save(done)
            for name, (kind, suggestions) in profile_fields(advisor.rules).items():
                label = f"Profile, {name.replace('_', ' ')} ({_KINDS[kind]}; Enter to skip):"
                value = prompter.text(label, _CHECKS[kind], suggestions)
                if _READ[kind](value) is not None:
                    done.profile[name] = _READ[kind](value)
                    save(done)
        else:
            prompter.say(f"Continuing {done.name}: {plural(len(done.answers), 'answer')} given so far.")
        plan = advisor.plan(done.data())
        for derived, why in plan.derived.items():
            prompter.say(f"Answered by the profile: {advisor.rules.question(derived).text} {why}")
        prompter.say(plan.standing() + ".")
        offered = False
        while True:
            question = plan.next
            if question is None:
                left = [q for q in plan.open if q.askable]
                if not left:
                    break
                if not (ask_all or offered):
                    offered = True
                    prompter.say(f"The advice's confidence so far: {plan.confidence_label}.")
                    if prompter.confirm(f"Stop here? ({plural(len(left), 'question')} left)"):
                        done.ended = "stopped"
                        break
                question = left[0]
            _put(prompter, question, len(done.answers) + 1)
            done.answers[question.id] = prompter.answer(question.text)
            save(done)
            plan = advisor.plan(done.data())
            prompter.say(plan.standing() + ".")
    except EOFError:
        done.ended = "input ended"
    except KeyboardInterrupt:
        done.ended = "interrupted"
    return done


def _put(prompter: Prompter, question: OpenQuestion, number: int) -> None:
    """The question's help, and the guide's words for each answer, before the question itself."""
    prompter.say("")
    prompter.say(f"Question {number}: {question.about}" if question.about else f"Question {number}:")
    for answer, text in question.help.items():
        prompter.say(f"  {answer}: {text}")


def profile_fields(rules: Rules) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The profile fields the rules read: name -> (kind, the catalogue items its tests name, to suggest)."""
    suggestions: dict[str, list[str]] = {}
    conditions = [d.when for d in rules.derived] + [o.when for o in rules.overrides] + [n.when for n in rules.next_steps]
    for condition in conditions:
        for atom in atoms(condition):
            if isinstance(atom, ProfileTest) and atom.op == "in_catalogue":
                items = suggestions.setdefault(atom.field, [])
                items += [item for item in rules.catalogues[atom.value].items if item not in items]
    return {name: (kind, tuple(suggestions.get(name, ()))) for name, kind in rules.profile_fields().items()}


def _required(text: str) -> str | None:
    return None if text.strip() else "a name is needed"


def _number(text: str) -> float | int | None:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _boolean(text: str) -> bool | None:
    word = normalise_answer(text)
    return {"yes": True, "no": False}.get(word or "")


def _text(text: str) -> str | None:
    return text.strip() or None


_KINDS = {"number": "a number", "boolean": "yes or no", "text": "text", "any": "text"}
_READ: dict[str, Callable[[str], Any]] = {"number": _number, "boolean": _boolean, "text": _text, "any": _text}


def _check(kind: str) -> Check:
    """Accepts an empty line (skip) or a value of the kind."""
    read = _READ[kind]

    def check(text: str) -> str | None:
        return None if not text.strip() or read(text) is not None else f"give {_KINDS[kind]}, or press Enter to skip"

    return check


_CHECKS = {kind: _check(kind) for kind in _READ}
