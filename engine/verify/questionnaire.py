"""How many questions the questionnaire asks: every yes/no answer set followed through the plan.

A district that answers each question the way one yes/no answer set says is asked `plan.next`
until the plan is settled. Answer sets that gave the same answers so far get the same plan and
the same next question, so the 2^n paths form a tree: `walk` plans each node of that tree once
(a few hundred plans for the shipped rules instead of ~19,000), and each leaf stands for the
answer sets that end there. `follow` walks one answer set on its own, the way `ask` does.
`order="guide"` asks instead the open questions in the guide's order (the rules' order), the
figure the plan is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.evaluate.advisor import Advisor
from engine.evaluate.plan import OpenQuestion, Plan

ORDERS = ("plan", "guide")


@dataclass(frozen=True)
class Leaf:
    """Where some answer sets stop: the answers asked on the way, and the settled (or final) plan."""

    asked: dict[str, str]
    plan: Plan

    @property
    def count(self) -> int:
        """The answer sets that end here: every completion of the questions not asked."""
        return sum(self.plan.reachable.values())


@dataclass(frozen=True)
class Walk:
    leaves: tuple[Leaf, ...]

    @property
    def total(self) -> int:
        return sum(leaf.count for leaf in self.leaves)

    @property
    def mean(self) -> float:
        """Questions asked per answer set, on average."""
        return sum(len(leaf.asked) * leaf.count for leaf in self.leaves) / self.total

    @property
    def maximum(self) -> int:
        return max(len(leaf.asked) for leaf in self.leaves)


def next_question(advisor: Advisor, plan: Plan, order: str) -> OpenQuestion | None:
    """The question asked after `plan`: the plan's own choice, or the first open one in the guide's order."""
    if plan.settled:
        return None
    if order == "plan":
        return plan.next
    positions = advisor.program.positions
    return min((q for q in plan.open if q.askable), key=lambda q: positions[q.id], default=None)


def walk(advisor: Advisor, order: str = "plan", profile: dict[str, Any] | None = None) -> Walk:
    """The tree of questions asked, over every yes/no completion of a district with no answers."""
    leaves: list[Leaf] = []
    todo: list[dict[str, str]] = [{}]
    while todo:
        asked = todo.pop()
        plan = advisor.plan(_district(asked, profile))
        question = next_question(advisor, plan, order)
        if question is None:
            leaves.append(Leaf(asked, plan))
        else:
            todo += [{**asked, question.id: "no"}, {**asked, question.id: "yes"}]
    return Walk(tuple(leaves))


def follow(advisor: Advisor, answers: dict[str, str], order: str = "plan", profile: dict[str, Any] | None = None) -> Leaf:
    """The questions one district answering `answers` is asked, and the plan it ends with."""
    asked: dict[str, str] = {}
    while True:
        plan = advisor.plan(_district(asked, profile))
        question = next_question(advisor, plan, order)
        if question is None:
            return Leaf(asked, plan)
        asked[question.id] = answers[question.id]


def _district(answers: dict[str, str], profile: dict[str, Any] | None) -> dict[str, Any]:
    return {"district": {"name": "walk"}, "answers": answers, "profile": profile or {}}
