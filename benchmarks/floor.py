"""The floor pipeline: what a batch costs when done the plainest way, to measure the engine against.

Same districts, same rules, same work per district, none of the engine's code:

* parse: `csv` and a dict of answer spellings;
* decide: the independent reference evaluator of `tests/reference.py` (plain Python over the rule
  model) for the main outcome, and for the what-if variants the engine also weighs (each answered
  question flipped; each combination of up to 8 open questions, else each one alone), memoised by
  their answers and the profile values that rules beyond derivation read;
* render: one minimal Jinja document per format (no sandbox): a heading, then one block per
  question, the blocks repeated so that the document is as long, on average, as the engine's
  (`calibrate`);
* JSON: orjson of the decision (main outcome and variant verdicts: shorter than the engine's
  document, which also lists every fact and firing);
* write: one plain file write per document.

`cpu_split` times each stage with `time.process_time` (CPU, steady on a shared machine).
"""

from __future__ import annotations

import csv
import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jinja2
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.rules.model import Rules  # noqa: E402  (the rule model: data, not the engine)
from tests.reference import Expected, evaluate  # noqa: E402

WORDS = {
    **dict.fromkeys(("yes", "y", "true", "1"), "yes"),
    **dict.fromkeys(("no", "n", "false", "0"), "no"),
    **dict.fromkeys(("unknown", "?", "don't know", "n/a"), "unknown"),
}
MAX_COMBINED = 8
TEMPLATE = """# Advice for {{ d.name }}
Recommended: {{ r.option }} ({{ r.confidence }} confidence, decided by {{ r.decided_by }})
{% for q in blocks %}
## {{ q.number }}. {{ q.text }}
Answer: {{ q.answer }}. {{ q.help }}
{% endfor %}"""


@dataclass
class FloorRow:
    name: str
    answers: dict[str, str]
    profile: dict[str, Any]


@dataclass
class FloorTimes:
    """CPU seconds per stage."""

    parse: float = 0.0
    decide: float = 0.0
    render: dict[str, float] = field(default_factory=dict)
    write: float = 0.0


def read_rows(path: Path, rules: Rules) -> Iterator[FloorRow]:
    questions = {q.id for q in rules.questions}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            answers = {k: WORDS[v.strip().casefold()] for k, v in row.items() if k in questions and v.strip()}
            profile: dict[str, Any] = {}
            if row.get("students"):
                profile["students"] = int(row["students"].replace(",", ""))
            if row.get("sis"):
                profile["sis"] = row["sis"]
            if row.get("uses_clever"):
                profile["uses_clever"] = WORDS[row["uses_clever"].strip().casefold()] == "yes"
            yield FloorRow(row.get("district_name") or row["district_id"], answers, profile)


class Floor:
    """The plain pipeline for one rule set; `blocks` per format makes its documents the engine's size."""

    def __init__(self, rules: Rules, blocks: dict[str, int] | None = None) -> None:
        self.rules = rules
        self.questions = [q.id for q in rules.questions]
        # what a variant's verdict depends on besides its answers: the profile fields read beyond
        # derivation (a variant carries final answers; derived rules read only the profile)
        self.fields = sorted(rules.profile_fields(beyond_derivation=True))
        self.memo: dict[tuple, Expected] = {}
        self.blocks = blocks or {}
        self.templates = {
            fmt: jinja2.Environment(autoescape=fmt == "html").from_string(TEMPLATE) for fmt in ("md", "html")
        }
        self.texts = [{"number": i, "text": q.text, "help": q.help} for i, q in enumerate(rules.questions, start=1)]

    def decide(self, row: FloorRow) -> dict[str, Any]:
        main = evaluate(self.rules, row.answers, row.profile)
        profile_key = tuple(repr(row.profile.get(f)) for f in self.fields)
        final = main.answers
        unknowns = [q for q in self.questions if final[q] == "unknown"]
        variants: list[dict[str, str]] = []
        if len(unknowns) <= MAX_COMBINED:
            for values in itertools.product(("yes", "no"), repeat=len(unknowns)) if unknowns else ():
                variants.append({**final, **dict(zip(unknowns, values))})
        else:
            variants += [{**final, q: value} for q in unknowns for value in ("yes", "no")]
        variants += [{**final, q: "no" if v == "yes" else "yes"} for q, v in final.items() if v != "unknown"]
        verdicts = []
        for answers in variants:
            key = (tuple(answers[q] for q in self.questions), profile_key)
            verdict = self.memo.get(key)
            if verdict is None:
                verdict = self.memo[key] = evaluate(self.rules, answers, row.profile)
            verdicts.append((verdict.option, verdict.confidence, verdict.decided_by))
        return {
            "district": {"name": row.name, "profile": row.profile},
            "option": main.option,
            "confidence": main.confidence,
            "decided_by": main.decided_by,
            "overrides": main.overrides,
            "answers": main.answers,
            "scores": main.scores,
            "variants": verdicts,
        }

    def render(self, fmt: str, decision: dict[str, Any]) -> bytes:
        if fmt == "json":
            return orjson.dumps(decision) + b"\n"
        questions = [dict(t, answer=decision["answers"][q]) for t, q in zip(self.texts, self.questions)]
        count = self.blocks.get(fmt, len(questions))
        blocks = (questions * (count // len(questions) + 1))[:count]
        text = self.templates[fmt].render(d=decision["district"], r=decision, blocks=blocks)
        return text.encode("utf-8")


def calibrate(floor: Floor, rows: list[FloorRow], sizes: dict[str, float]) -> dict[str, int]:
    """Question blocks per format that make the floor's documents `sizes` bytes long on average."""
    sample = [floor.decide(row) for row in rows[:50]]
    blocks = {}
    for fmt, target in sizes.items():
        if fmt == "json":
            continue
        floor.blocks[fmt] = 0
        empty = sum(len(floor.render(fmt, d)) for d in sample) / len(sample)
        floor.blocks[fmt] = 100
        hundred = sum(len(floor.render(fmt, d)) for d in sample) / len(sample)
        blocks[fmt] = max(0, round(100 * (target - empty) / max(hundred - empty, 1)))
    floor.memo.clear()
    return blocks


def run(floor: Floor, rows: list[FloorRow], formats: tuple[str, ...], out: Path) -> FloorTimes:
    """The whole floor pipeline on `rows` (already read: `parse_seconds` times the reading)."""
    times = FloorTimes(render={fmt: 0.0 for fmt in formats})
    out.mkdir(parents=True, exist_ok=True)
    clock = time.process_time
    for number, row in enumerate(rows):
        start = clock()
        decision = floor.decide(row)
        times.decide += clock() - start
        for fmt in formats:
            start = clock()
            data = floor.render(fmt, decision)
            middle = clock()
            with open(out / f"{number}.{fmt}", "wb") as handle:
                handle.write(data)
            times.render[fmt] += middle - start
            times.write += clock() - middle
    return times


def parse_seconds(path: Path, rules: Rules) -> tuple[list[FloorRow], float]:
    start = time.process_time()
    rows = list(read_rows(path, rules))
    return rows, time.process_time() - start
