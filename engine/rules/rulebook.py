"""Load a rules folder: read each YAML file, check it against its schema, build the model, check meaning.

Every problem in every file is collected before anything is raised, so one `validate` run lists
them all in file order. Rules that passed every check are kept in the disk cache (`engine.cache`),
by the bytes of their files (each read once) and the folder they are shown as, and loaded from
there next time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import cache
from engine.errors import Diagnostic, InputError
from engine.files import read_regular
from engine.paths import display, rules_dir
from engine.rules import checks
from engine.rules.conditions import parse_condition
from engine.rules.model import (
    Catalogue,
    ChangelogEntry,
    ConfidenceRule,
    Derived,
    Factor,
    Level,
    Manifest,
    NextStep,
    Option,
    Override,
    Policy,
    Question,
    ReviewPolicy,
    Rules,
    Theme,
)
from engine.rules.schema import packaged_schemas, validate
from engine.rules.source import MAX_FILE_BYTES, Document, load_bytes

RULE_FILES = ("manifest", "options", "questions", "factors", "overrides", "derived", "policy", "next_steps")


@dataclass
class _Sources:
    """The parsed documents of one rules folder, by file stem."""

    docs: dict[str, Document]

    def locator(self, stem: str):
        doc = self.docs[stem]
        return lambda path: doc.locate(tuple(path))

    def data(self, stem: str) -> dict[str, Any]:
        return self.docs[stem].data


def load_rules(folder: Path | None = None) -> Rules:
    """The rules in `folder` (or the default folder), fully checked; InputError lists every problem."""
    folder = rules_dir(folder)
    raw: dict[str, bytes | InputError] = {}  # each file's bytes, or why it cannot be read
    for stem in RULE_FILES:
        path = folder / f"{stem}.yaml"
        try:
            raw[stem] = read_regular(path, display(path), MAX_FILE_BYTES)
        except InputError as error:
            raw[stem] = error
    read = {stem: data for stem, data in raw.items() if isinstance(data, bytes)}
    entry = None
    if cache.enabled() and len(read) == len(raw):
        entry = cache.key(display(folder), *(part for stem, data in read.items() for part in (stem, data)))
        cached = cache.load("rules", entry)
        if isinstance(cached, Rules) and cached.digest == content_digest(cached.content) and cached.source == display(folder):
            return cached
    rules = _load(folder, raw)
    if entry is not None:
        cache.store("rules", entry, rules)
    return rules


def _load(folder: Path, raw: dict[str, bytes | InputError]) -> Rules:
    """The rules of a folder from its files' bytes, every problem of every file collected."""
    docs: dict[str, Document] = {}
    problems: list[Diagnostic] = []
    schemas = packaged_schemas()
    for stem in RULE_FILES:
        path = folder / f"{stem}.yaml"
        data = raw[stem]
        try:
            if isinstance(data, InputError):
                raise data
            doc = load_bytes(data, display(path), json=False)
        except InputError as error:
            problems.extend(error.diagnostics)
            continue
        if stem == "manifest":
            checks.check_format(doc)
        found = checks.check_size(doc) or validate(doc, schemas[f"{stem}.schema.json"])
        problems.extend(found)
        if not found:
            docs[stem] = doc
    if problems:
        raise InputError(problems)
    sources = _Sources(docs)
    rules = _build(sources, folder)
    problems = checks.check(rules, sources.locator)
    if problems:
        raise InputError(problems)
    return rules


def content_digest(content: dict[str, Any]) -> str:
    """A digest of the rules' meaning: formatting and comments do not change it."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _build(src: _Sources, folder: Path) -> Rules:
    content = {stem: src.data(stem) for stem in RULE_FILES}
    return Rules(
        manifest=_manifest(src),
        options=_options(src),
        themes=tuple(
            Theme(t["id"], t["label"], src.locator("questions")(("themes", i)))
            for i, t in enumerate(src.data("questions").get("themes", []))
        ),
        questions=_questions(src),
        factors=_factors(src),
        overrides=_overrides(src),
        catalogues=_catalogues(src),
        derived=_derived(src),
        policy=_policy(src),
        next_steps=_next_steps(src),
        digest=content_digest(content),
        source=display(folder),
        content=content,
    )


def _manifest(src: _Sources) -> Manifest:
    data = src.data("manifest")
    changelog = tuple(
        ChangelogEntry(str(e["version"]), str(e.get("date", "")), tuple(e.get("changes", [])))
        for e in data.get("changelog", [])
    )
    return Manifest(data["format"], data["name"], str(data["version"]), changelog, src.locator("manifest")(()))


def _options(src: _Sources) -> tuple[Option, ...]:
    at = src.locator("options")
    return tuple(
        Option(o["id"], o["label"], o["summary"], tuple(o.get("means", [])), tuple(o.get("caveats", [])), at(("options", i)))
        for i, o in enumerate(src.data("options")["options"])
    )


def _questions(src: _Sources) -> tuple[Question, ...]:
    at = src.locator("questions")
    return tuple(
        Question(q["id"], q["text"], q.get("help", ""), q["theme"], bool(q.get("informational", False)), at(("questions", i)))
        for i, q in enumerate(src.data("questions")["questions"])
    )


def _factors(src: _Sources) -> tuple[Factor, ...]:
    at = src.locator("factors")
    out = []
    for i, entry in enumerate(src.data("factors")["factors"]):
        for answer in ("yes", "no"):
            if answer in entry:
                vote = entry[answer]
                out.append(
                    Factor(
                        f"{entry['question']}.{answer}",
                        entry["question"],
                        answer,
                        vote["favours"],
                        vote["weight"],
                        vote["rationale"],
                        at(("factors", i, answer)),
                    )
                )
    return tuple(out)


def _overrides(src: _Sources) -> tuple[Override, ...]:
    at = src.locator("overrides")
    out = []
    for i, o in enumerate(src.data("overrides")["overrides"]):
        effect = o["effect"]
        kind = "recommend" if "recommend" in effect else "review"
        out.append(
            Override(
                o["id"],
                o["priority"],
                parse_condition(o["when"], ("overrides", i, "when"), at),
                kind,
                effect.get("recommend"),
                o["reason"],
                o.get("revisit_when"),
                at(("overrides", i)),
            )
        )
    return tuple(sorted(out, key=lambda o: o.priority))


def _catalogues(src: _Sources) -> dict[str, Catalogue]:
    at = src.locator("derived")
    return {
        name: Catalogue(name, c.get("description", ""), tuple(str(item) for item in c["items"]), at(("catalogues", name)))
        for name, c in src.data("derived").get("catalogues", {}).items()
    }


def _derived(src: _Sources) -> tuple[Derived, ...]:
    at = src.locator("derived")
    out = [
        Derived(
            d["id"],
            d["question"],
            d["answer"],
            d["priority"],
            parse_condition(d["when"], ("derived", i, "when"), at),
            d["explanation"],
            at(("derived", i)),
        )
        for i, d in enumerate(src.data("derived")["derived"])
    ]
    return tuple(sorted(out, key=lambda d: d.priority))


def _policy(src: _Sources) -> Policy:
    at = src.locator("policy")
    data = src.data("policy")["policy"]
    confidence = []
    for i, c in enumerate(data["confidence"]):
        when = parse_condition(c["when"], ("policy", "confidence", i, "when"), at) if "when" in c else None
        confidence.append(ConfidenceRule(f"confidence.{c['level']}.{i + 1}", c["level"], when, at(("policy", "confidence", i))))
    levels = {k: Level(k, v["label"], v["description"]) for k, v in data["levels"].items()}
    tie = data["tie_break"]
    review = data.get("review")
    return Policy(
        tie["option"],
        tie["reason"],
        tuple(confidence),
        levels,
        at(("policy", "tie_break", "option")),
        ReviewPolicy(review.get("at_most"), review["note"].strip(), at(("policy", "review"))) if review else None,
    )


def _next_steps(src: _Sources) -> tuple[NextStep, ...]:
    at = src.locator("next_steps")
    out = [
        NextStep(
            n["id"],
            n["option"],
            n["priority"],
            parse_condition(n["when"], ("next_steps", i, "when"), at) if "when" in n else None,
            n["text"],
            at(("next_steps", i)),
        )
        for i, n in enumerate(src.data("next_steps")["next_steps"])
    ]
    return tuple(sorted(out, key=lambda n: (n.option, n.priority)))
