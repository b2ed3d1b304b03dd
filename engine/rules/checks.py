"""Checks of meaning that a JSON Schema cannot express: unique ids, references that resolve,
complete factor coverage, overrides that could never decide, engine limits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from engine.errors import Diagnostic, InputError, SourceLocation, did_you_mean
from engine.rules.conditions import ANSWERS, AnyOf, Condition, Scope, World, atoms
from engine.rules.model import Rules
from engine.rules.source import Document

SUPPORTED_FORMATS = (1,)
MAX_FACT_PROPERTIES = 250  # durable_rules refuses facts with more than 255 properties (error 302)
FIXED_FACT_PROPERTIES = 17  # sid, t, option, leader, decided_by, review, metrics ... (see compiler.py)
# One `any` of about 300 conditions stops durable_rules with error 303 when a fact is asserted, and
# a condition of about 1,000 with error 107 when the ruleset is built; measured with durable-rules
# 2.0.28. Checked before the schemas, so an outsized rule is refused at once, at its line.
MAX_ANY = 200
MAX_CONDITIONS = 500
MAX_ENGINE_RULES = 400  # durable_rules fails with error 303 at about 482 rules (jruizgit/rules#312)
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
_MAX_ENUMERATED_WORLDS = 20_000  # beyond this the check is skipped rather than slow

Locator = Callable[[str], Callable[[tuple], SourceLocation]]


def check_format(manifest: Document) -> None:
    """Refuse rules written in a rule-language format this engine does not know, before anything else."""
    data = manifest.data
    declared = data.get("format") if isinstance(data, dict) else None
    if isinstance(declared, int) and not isinstance(declared, bool) and declared not in SUPPORTED_FORMATS:
        raise InputError.at(
            manifest.locate(("format",)),
            f"rule-language format {declared} is not supported by this version of the engine "
            f"(supported: {', '.join(map(str, SUPPORTED_FORMATS))}); upgrade rostering-advisor",
        )


def check_size(doc: Document) -> list[Diagnostic]:
    """Conditions larger than the engine can build or run (`MAX_ANY`, `MAX_CONDITIONS`), each at its
    `when` or `any`."""
    problems: list[Diagnostic] = []

    def count(node: Any, path: tuple) -> int:
        if isinstance(node, dict):
            wide = node.get("any")
            if isinstance(wide, list) and len(wide) > MAX_ANY:
                problems.append(Diagnostic(doc.locate(path + ("any",), key=True), f"an 'any' of {len(wide):,} conditions; "
                                           f"the rules engine takes at most {MAX_ANY}: split the rule"))
            return 1 + sum(count(value, path + (key,)) for key, value in node.items())
        if isinstance(node, list):
            return sum(count(value, path + (i,)) for i, value in enumerate(node))
        return 0

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "when":
                    found = len(problems)
                    size = count(value, path + (key,))
                    if size > MAX_CONDITIONS and len(problems) == found:  # one problem per rule
                        problems.append(Diagnostic(doc.locate(path + (key,), key=True), f"a condition of {size:,} parts; "
                                                   f"the rules engine takes at most {MAX_CONDITIONS}: split the rule"))
                else:
                    walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + (i,))

    walk(doc.data, ())
    return problems


def check(rules: Rules, locator: Locator) -> list[Diagnostic]:
    """Every semantic problem in `rules`, in file order."""
    problems: list[Diagnostic] = []

    def report(stem: str, path: tuple, message: str) -> None:
        problems.append(Diagnostic(locator(stem)(path), message))

    def report_at(loc: SourceLocation, message: str) -> None:
        problems.append(Diagnostic(loc, message))

    content = rules.content
    option_ids = [o.id for o in rules.options]
    question_ids = [q.id for q in rules.questions]
    theme_ids = [t.id for t in rules.themes]

    # the manifest (its format was checked on loading)
    if not _SEMVER.match(rules.manifest.version):
        report("manifest", ("version",), f"version '{rules.manifest.version}' must look like 1.2.3 (semver)")

    # unique ids
    _unique(report, locator, "options", [("options", i, "id") for i in range(len(rules.options))], option_ids, "option")
    _unique(report, locator, "questions", [("themes", i, "id") for i in range(len(theme_ids))], theme_ids, "theme")
    _unique(report, locator, "questions", [("questions", i, "id") for i in range(len(question_ids))], question_ids, "question")
    factor_entries = content["factors"]["factors"]
    _unique(
        report,
        locator,
        "factors",
        [("factors", i, "question") for i in range(len(factor_entries))],
        [f["question"] for f in factor_entries],
        "factor entry for question",
    )
    for stem, key in (("overrides", "overrides"), ("derived", "derived"), ("next_steps", "next_steps")):
        entries = content[stem][key]
        _unique(report, locator, stem, [(key, i, "id") for i in range(len(entries))], [e["id"] for e in entries], "rule")

    # references
    def ref(stem: str, path: tuple, value: str, choices: list[str], noun: str) -> None:
        if value not in choices:
            report(stem, path, f"unknown {noun} '{value}'{did_you_mean(value, choices)}")

    for i, q in enumerate(content["questions"]["questions"]):
        ref("questions", ("questions", i, "theme"), q["theme"], theme_ids, "theme")
    for i, f in enumerate(factor_entries):
        ref("factors", ("factors", i, "question"), f["question"], question_ids, "question")
        for answer in ("yes", "no"):
            if answer in f:
                ref("factors", ("factors", i, answer, "favours"), f[answer]["favours"], option_ids, "option")
    for i, o in enumerate(content["overrides"]["overrides"]):
        if "recommend" in o["effect"]:
            ref("overrides", ("overrides", i, "effect", "recommend"), o["effect"]["recommend"], option_ids, "option")
    for i, d in enumerate(content["derived"]["derived"]):
        ref("derived", ("derived", i, "question"), d["question"], question_ids, "question")
    for i, n in enumerate(content["next_steps"]["next_steps"]):
        ref("next_steps", ("next_steps", i, "option"), n["option"], option_ids, "option")
    policy = content["policy"]["policy"]
    ref("policy", ("policy", "tie_break", "option"), policy["tie_break"]["option"], option_ids, "option")
    level_ids = list(policy["levels"])
    for i, c in enumerate(policy["confidence"]):
        ref("policy", ("policy", "confidence", i, "level"), c["level"], level_ids, "confidence level")
    if "at_most" in policy.get("review", {}):
        ref("policy", ("policy", "review", "at_most"), policy["review"]["at_most"], level_ids, "confidence level")

    # conditions: references, and forms allowed only in the policy
    catalogue_ids = list(rules.catalogues)
    for conditions, policy in (
        ([o.when for o in rules.overrides], False),
        ([d.when for d in rules.derived], False),
        ([n.when for n in rules.next_steps], False),
        ([c.when for c in rules.policy.confidence], True),
    ):
        scope = Scope(question_ids, catalogue_ids, policy)
        for condition in conditions:
            if condition is not None:
                problems.extend(Diagnostic(loc, message) for loc, message in condition.problems(scope))

    # every question votes for each answer, unless informational
    covered = {(f.question, f.answer) for f in rules.factors}
    for i, q in enumerate(rules.questions):
        if q.informational:
            continue
        missing = [a for a in ("yes", "no") if (q.id, a) not in covered]
        if missing:
            report(
                "questions",
                ("questions", i, "id"),
                f"question '{q.id}' has no factor rule for the answer {' or '.join(missing)} "
                "(add it to factors.yaml or mark the question informational: true)",
            )

    # derived rules target questions with the answers they may take
    for i, d in enumerate(rules.derived):
        if d.answer not in ANSWERS[:2]:
            report("derived", ("derived", i, "answer"), "a derived answer must be yes or no")

    # the confidence fallback
    levels = rules.policy.confidence
    for i, level in enumerate(levels):
        last = i == len(levels) - 1
        if last and level.when is not None:
            report("policy", ("policy", "confidence", i), "the last confidence level must have no 'when': it is the fallback")
        if not last and level.when is None:
            report(
                "policy",
                ("policy", "confidence", i),
                f"only the last confidence level may omit 'when'; the levels after '{level.level}' could never be chosen",
            )

    # overrides that can never decide
    deciding = [o for o in rules.overrides if o.effect == "recommend"]
    for index, later in enumerate(deciding):
        earlier = deciding[:index]
        if earlier and _implies(later.when, AnyOf(tuple(o.when for o in earlier))):
            names = ", ".join(f"'{o.id}'" for o in earlier)
            report_at(
                later.loc,
                f"override '{later.id}' can never decide: whenever it fires, a higher-priority override ({names}) "
                "fires too; lower its priority number or narrow the other condition",
            )

    # engine limits
    engine_rules = (  # see compiler.compile_rules: tally, tie-break and (with derived rules) admit
        len(rules.derived) + (1 if rules.derived else 0) + len(rules.factors) + 2 * len(rules.overrides)
        + len(rules.options) + 2 + len(rules.policy.confidence) + len(rules.next_steps)
        + sum(1 for c in rules.policy.confidence if c.level in rules.policy.capped_levels())
    )
    if engine_rules > MAX_ENGINE_RULES:
        report(
            "manifest",
            (),
            f"the rules compile to {engine_rules} engine rules; durable_rules fails beyond about 480, so at most "
            f"{MAX_ENGINE_RULES} are allowed (merge or remove next steps, derived answers or overrides)",
        )
    properties = 2 * len(rules.questions) + len(rules.profile_fields()) + len(rules.overrides) + FIXED_FACT_PROPERTIES
    if properties > MAX_FACT_PROPERTIES:
        report(
            "questions",
            ("questions",),
            f"the rules need {properties} properties per engine fact; the engine allows at most "
            f"{MAX_FACT_PROPERTIES} (fewer questions, profile fields or overrides)",
        )
    return sorted(problems, key=lambda d: (d.location, d.message))


def _unique(report: Callable, locator: Locator, stem: str, paths: list[tuple], ids: list[str], noun: str) -> None:
    """Each id once; a repeat names the line of the first, which is the one to keep or rename."""
    first: dict[str, tuple] = {}
    for path, value in zip(paths, ids):
        if value in first:
            line = locator(stem)(first[value]).line
            fix = "keep one entry per question" if noun.startswith("factor") else "give each its own id"
            report(stem, path, f"duplicate {noun} '{value}': the first is at line {line}; {fix}")
        first.setdefault(value, path)


def _implies(premise: Condition, conclusion: Condition) -> bool:
    """Whether `premise` implies `conclusion`, by enumerating the answers and tests they share.

    Tests of anything but answers are treated as independent true/false variables, which can only
    make the check more cautious (it may miss an implication; it never invents one).
    """
    shared = list(atoms(premise)) + list(atoms(conclusion))
    questions = sorted(set().union(*(a.questions_read() for a in shared)))
    tests = sorted({a for a in shared if not a.questions_read()}, key=repr)
    if len(ANSWERS) ** len(questions) * 2 ** len(tests) > _MAX_ENUMERATED_WORLDS:
        return False
    for answers in itertools.product(ANSWERS, repeat=len(questions)):
        given = dict(zip(questions, answers))
        for truths in itertools.product((True, False), repeat=len(tests)):
            world = World(given, dict(zip(tests, truths)))
            if premise.holds(world) and not conclusion.holds(world):
                return False
    return True
