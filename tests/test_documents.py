"""Advice documents: every reachable kind of outcome renders in both formats, reads as prose (no
raw ids), and renders byte-identically for the same inputs; the context is JSON and documented.

The outcomes come from a deterministic sample of answer sets evaluated with the tests' own rules,
one district per distinct (decided_by, confidence, option, overrides fired, unknowns) outcome, so a
template that uses a field the rules no longer produce fails here rather than in front of a district.
"""

from __future__ import annotations

import datetime
import html.parser
import json
import random
import re
from pathlib import Path

import pytest

from engine import Advisor
from engine.evaluate.answers import district_from_data
from engine.render.documents import Renderer, generation_date
from engine.errors import InputError
from engine.evaluate.advisor import MAX_COMBINED_UNKNOWNS
from engine.rules.conditions import DECIDED_BY

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # rule sets, templates and districts of the tests' own
DAY = datetime.date(2026, 11, 28)
PROFILES = [
    {},
    {"students": 18400, "sis": "PowerSchool", "uses_clever": True},
    {"students": 640, "sis": "Genesis", "uses_clever": False},
]
# Answer sets for outcomes a random sample rarely reaches (exact ties, every precondition unknown).
RARE = [
    dict(
        mobile_population="yes", over_5000_students="no", class_structure_matches="no", sis_changing="no",
        sis_supports_clever="no", sftp_daily="yes", strong_desire_for_sync="no", clever_customer="no",
        dedicated_sis_staff="no", dbm_supports_setup="yes", dbm_maintains_data="yes",
        teachers_resist_layout_change="yes", teachers_want_sync="yes",
    ),  # fmt: skip
    dict(over_5000_students="yes", sis_supports_clever="no", sftp_daily="no"),
    {},
]


@pytest.fixture(scope="module")
def advisor() -> Advisor:
    return Advisor.load(FIXTURES / "rules")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(FIXTURES / "templates")


def _outcome_key(rec) -> tuple:
    return _key(rec.outcome, len(rec.unanswered))


def _key(outcome, unknowns: int) -> tuple:
    return (outcome.decided_by, outcome.confidence, outcome.option, tuple(sorted(outcome.overrides)),
            min(unknowns, 1) + (unknowns > MAX_COMBINED_UNKNOWNS))  # fmt: skip


@pytest.fixture(scope="module")
def sample(advisor: Advisor) -> list:
    """One recommendation per distinct kind of outcome in a deterministic sample of answer sets."""
    rng = random.Random(20261128)
    questions = [q.id for q in advisor.rules.questions]
    candidates = [(answers, PROFILES[i % len(PROFILES)]) for i, answers in enumerate(RARE)]
    for i in range(600):
        unknown_share = (0.0, 0.1, 0.3, 0.7)[i % 4]
        answers = {q: "unknown" if rng.random() < unknown_share else rng.choice(("yes", "no")) for q in questions}
        candidates.append((answers, PROFILES[i % len(PROFILES)]))
    outcomes: list = [None] * len(candidates)
    for profile in PROFILES:  # one engine call per profile
        indices = [i for i, (_, p) in enumerate(candidates) if p is profile]
        for i, outcome in zip(indices, advisor.evaluate([candidates[i][0] for i in indices], profile)):
            outcomes[i] = outcome
    chosen: dict[tuple, tuple] = {}
    for (answers, profile), outcome in zip(candidates, outcomes):
        unknowns = sum(1 for v in outcome.answers.values() if v == "unknown")
        chosen.setdefault(_key(outcome, unknowns), (answers, profile))
    districts = [
        district_from_data(
            {
                "district": {"name": f"Sample District {i}"},
                "profile": profile,
                "answers": answers,
                "notes": "Sample notes.\n\nA second paragraph." if i % 2 else None,
            },
            advisor.rules,
        )
        for i, (answers, profile) in enumerate(chosen.values())
    ]
    return advisor.recommend_many(districts)


def test_sample_reaches_every_kind_of_outcome(advisor: Advisor, sample: list) -> None:
    rules = advisor.rules
    review_flags = {o.id for o in rules.overrides if o.effect == "review"}
    missing = []
    missing += [f"decided_by={d}" for d in DECIDED_BY if not any(r.decided_by == d for r in sample)]
    missing += [f"override {o.id}" for o in rules.overrides if not any(o.id in r.outcome.overrides for r in sample)]
    levels = {c.level for c in rules.policy.confidence}
    missing += [f"confidence={lv}" for lv in sorted(levels) if not any(r.confidence == lv for r in sample)]
    missing += [f"option={o.id}" for o in rules.options if not any(r.option == o.id for r in sample)]
    for label, test in (
        ("no unknowns", lambda r: not r.unanswered),
        ("some unknowns, all combined", lambda r: r.unanswered and r.combinations is not None),
        ("too many unknowns to combine", lambda r: r.unanswered and r.combinations is None),
        ("a flip", lambda r: r.flips),
        ("an open question that could change it", lambda r: any(o.could_change for o in r.open_questions)),
        ("a review flag", lambda r: set(r.outcome.overrides) & review_flags),
    ):
        if not any(test(r) for r in sample):
            missing.append(label)
    assert not missing, f"add answer sets to RARE that reach: {', '.join(missing)}"


class _HTMLChecker(html.parser.HTMLParser):
    """Collects tags and checks that they nest (void elements and SVG self-closing tags aside)."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "circle", "path"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def _raw_ids(rules) -> set[str]:
    """Internal names that must never appear in a document (those with an underscore: the others,
    like the level `strong`, are ordinary words)."""
    ids = {o.id for o in rules.options} | {q.id for q in rules.questions} | {o.id for o in rules.overrides}
    ids |= {d.id for d in rules.derived} | {n.id for n in rules.next_steps} | {f.id for f in rules.factors}
    ids |= {"tie_break", "decided_by", "needs_review"}
    return {i for i in ids if "_" in i or "." in i}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_outcome_renders_as_prose(fmt: str, advisor: Advisor, renderer: Renderer, sample: list) -> None:
    raw_ids = re.compile(r"(?<![\w-])(%s)(?![\w-])" % "|".join(map(re.escape, sorted(_raw_ids(advisor.rules)))))
    for rec in sample:
        text = renderer.render(rec, fmt, generated=DAY)
        context = renderer.context(rec, generated=DAY)
        where = f"{fmt} {_outcome_key(rec)}"
        assert "rostering-advisor" in text[:4096], where
        assert rec.district.name in text, where
        assert str(context["recommendation"]["label"]) in text, where
        assert str(context["recommendation"]["confidence_label"]) in text, where
        leaked = sorted(set(raw_ids.findall(text)))
        assert not leaked, f"{where}: raw ids in the document: {leaked}"
        plain = _plain(text)
        expected = [q["rationale"] for q in context["reasons"]["supporting"] + context["reasons"]["opposing"]]
        expected += [o["reason"] for o in context["overrides"]] + [s["text"] for s in context["next_steps"]]
        expected += [q["text"] for q in context["unanswered"]]
        for sentence in expected:
            assert _plain(sentence) in plain, f"{where}: missing {sentence!r}"
        if fmt == "html":
            checker = _HTMLChecker()
            checker.feed(text)
            assert not checker.errors and not checker.stack, f"{where}: {checker.errors[:3]} {checker.stack}"
            assert "script" not in checker.tags, where
            assert checker.headings[0] == 1 and all(b - a <= 1 for a, b in zip(checker.headings, checker.headings[1:]))


def _plain(text: str) -> str:
    """Text without markup, escapes and line breaks, to find a sentence in either format."""
    import html as html_module

    text = html_module.unescape(re.sub(r"<[^>]+>", "", text))
    text = re.sub(r"\\([\\`*_\[\]<>|~$(){}!#+\-=.&])", r"\1", text)
    return " ".join(text.split())


def test_same_inputs_give_byte_identical_documents(advisor: Advisor, sample: list) -> None:
    first, second = Renderer(FIXTURES / "templates"), Renderer(FIXTURES / "templates")
    for fmt in ("md", "html"):
        for rec in sample[:8]:
            assert first.render(rec, fmt, generated=DAY) == second.render(rec, fmt, generated=DAY)


def test_context_is_json_and_matches_the_recommendation(advisor: Advisor, renderer: Renderer, sample: list) -> None:
    for rec in sample:
        context = renderer.context(rec, generated=DAY)
        again = json.loads(json.dumps(context))
        assert again == json.loads(json.dumps(renderer.context(rec, generated=DAY)))
        assert again["recommendation"]["option"] == rec.option
        assert again["recommendation"]["decided_by"] == rec.decided_by
        assert again["generated"] == {"date": "2026-11-28", "text": "November 28, 2026"}
        assert [q["id"] for q in again["questions"]] == [q.id for q in advisor.rules.questions]
        assert len(again["flips"]) == len(rec.flips)
        assert [o["id"] for o in again["overrides"]] == list(rec.outcome.overrides)
        assert (again["override"] or {}).get("id") == rec.deciding_override
        weights = [q["weight"] for q in again["reasons"]["supporting"]]
        assert weights == sorted(weights, reverse=True)
        assert again["options"][0]["id"] == rec.option and again["options"][0]["recommended"]


def _documented_paths() -> set[str]:
    text = (ROOT / "docs" / "templates.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_\[\].]+)` \|", text, re.MULTILINE))


# Lists and objects of the same shape are documented once, under the first name.
SAME_SHAPE = {
    "reasons.supporting": "questions",
    "reasons.opposing": "questions",
    "unanswered": "questions",
    "alternatives": "options",
    "override": "overrides[]",
    "other_overrides": "overrides",
    "review_flags": "overrides",
    "open_questions[].if_no": "open_questions[].if_yes",
}


def _context_paths(value: object, path: str = "") -> set[str]:
    """Paths of every variable in a context: `district.name`, `questions[].text` (items of lists)."""
    paths = set()
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            paths |= {sub} | _context_paths(item, sub)
    elif isinstance(value, (list, tuple)):
        for item in value:
            paths |= _context_paths(item, path + "[]")
    return paths


def _canonical(path: str) -> str:
    for alias, canonical in SAME_SHAPE.items():
        if path.startswith(alias + ".") or path.startswith(alias + "[]"):
            return canonical + path[len(alias):]
    return path


def test_docs_describe_every_context_variable(renderer: Renderer, sample: list) -> None:
    seen: set[str] = set()
    for rec in sample:
        seen |= {_canonical(p) for p in _context_paths(renderer.context(rec, generated=DAY))}
    documented = _documented_paths()
    assert documented, "docs/templates.md lists no variables"
    undocumented = sorted(p for p in seen if p not in documented)
    assert not undocumented, f"document these in docs/templates.md: {undocumented}"
    stale = sorted(p for p in documented if p not in seen)
    assert not stale, f"docs/templates.md documents variables the context does not have: {stale}"


def test_generation_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert generation_date("2026-02-03", "--date") == datetime.date(2026, 2, 3)
    assert generation_date(None, "--date") == datetime.date.today()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795867200")
    assert generation_date(None, "--date") == datetime.date(2026, 11, 28)
    assert generation_date("2026-02-03", "--date") == datetime.date(2026, 2, 3)  # --date wins
    for bad in ("2026-13-01", "28/11/2026", "20261128", ""):
        with pytest.raises(InputError, match="^--date: "):
            generation_date(bad, "--date")
    for bad in ("yesterday", "-5", "1.5"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
            generation_date(None, "--date")


def test_unknown_format_is_an_input_error(advisor: Advisor, renderer: Renderer, sample: list) -> None:
    with pytest.raises(InputError, match="md or html"):
        renderer.render(sample[0], "pdf", generated=DAY)


def test_summary_template_by_name(renderer: Renderer, sample: list) -> None:
    for rec in sample:
        text = renderer.render(rec, "md", generated=DAY, template="summary")
        assert text.startswith("<!-- rostering-advisor")
        assert text == renderer.render(rec, "md", generated=DAY, template="summary.md.j2")
        assert f"# {rec.district.name}: " in text
        assert len(text) < 6000  # one page
