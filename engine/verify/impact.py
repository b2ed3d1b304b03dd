"""What a change to the rules does: `rostering-advisor impact`.

Two versions of the rules — the base (`--base REF`, the rules folder at a git revision, read with
`git show` into a temporary folder without touching the working tree; or `--base-dir DIR`) and
the head (`--rules`, default the working rules) — are loaded side by side in one process
(compiled rulesets are named by their digest) and compared:

* the rules themselves, field by field (`weight 2 → 3`, a condition before and after, rules added
  and removed), and whether the content `version` was bumped;
* every yes/no combination of the questions (2^13 = 8,192), evaluated by both versions through
  `engine.exhaustive` (worker processes; enumerations cached in-process by decision logic): how
  many change recommendation in each direction, confidence, and the rest of the advice. When the
  two versions' compiled decision logic is identical (a change of wording only), no answer set
  can come out differently and none is evaluated;
* every example district (its answers and profile, by both versions);
* the decision guide (`rostering-advisor guide`, Markdown, with the head's templates): a unified
  diff of what the published guide would say before and after;
* for each kind of change, a few minimal answer sets that show it. A kind of change is the first
  of option, confidence, decided_by, overrides, next steps that differs, with its before and after
  (for the lists: what stops and what starts firing). A minimal set is found by shrinking: from a
  combination that shows the change, answers are turned to `unknown`, one at a time in question
  order, while both versions still show the same kind of change; for a change of recommendation,
  also two at a time (a near tie survives dropping two opposite votes, never one). What is left is
  1-minimal: turning any remaining answer to unknown loses the change. Since unknown answers cast
  no vote, a minimal set may carry a lower confidence than full answers would. Up to five seeds,
  spread over the combinations showing the change, give up to three distinct sets.

Exit codes: 0 nothing a district would see changes; 1 an outcome changes (option, confidence, how
it was decided, overrides or next steps, for a combination or an example), or the version check
fails; 2 bad input (rules that do not load, an unknown revision).
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from engine.cores import usable_cores, worker_count
from engine.errors import EXIT_FAILED, EXIT_OK, Diagnostic, InputError, SourceLocation, github_annotation
from engine.paths import display, rules_dir
from engine.rules.conditions import AllOf, AnyOf
from engine.rules.model import Rules
from engine.rules.rulebook import RULE_FILES, content_digest, load_rules
from engine.verify.exhaustive import Brief, Version, enumerate_versions, evaluate_briefs, is_cached, is_same_logic
from engine.verify.regress import answers_file, load_districts

MAX_GUIDE_DIFF_LINES = 300  # lines of the guide's diff shown in the Markdown report
MAX_MINIMAL_SETS = 3  # minimal answer sets shown per kind of change
MAX_SEEDS = 5  # combinations shrunk per kind of change
MAX_SHRUNK_KINDS = 12  # kinds of change given minimal answer sets (the most frequent come first)
LIST_FIELDS = ("overrides", "next_steps", "reasons", "items", "means", "caveats")
# What a change of each part of the advice is called in reports (and in `rostering-advisor test`).
KIND_WORDS = {
    "option": "recommendation",
    "confidence": "confidence",
    "decided_by": "how it is decided",
    "overrides": "overrides",
    "next_steps": "next steps",
    "scores": "scores",
    "reasons": "reasons or their order",
    "error": "engine error",
}
DECIDED_WORDS = {"override": "by an override", "score": "by the score", "tie_break": "by the tie-break on equal scores"}
TEXT_FIELDS = ("rationale", "reason", "revisit_when", "explanation", "text", "label", "summary", "description", "help")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


# --- the two versions -------------------------------------------------------------------------


@dataclass(frozen=True)
class RulesVersion:
    """A loaded version of the rules, the folder it came from, and how to name it in reports."""

    rules: Rules
    folder: Path
    label: str

    def locate(self, location: Any) -> str:
        """A rule's location as the reader can find it (a base read from git names the revision)."""
        text = str(location or "")
        source = str(self.rules.source)
        if self.label != source and text.startswith(source):
            return self.label + text[len(source) :]
        return text


def load_version(folder: Path, label: str | None = None) -> RulesVersion:
    rules = load_rules(Path(folder))
    return RulesVersion(rules, Path(folder).resolve(), label or display(Path(folder)))


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60)
    except FileNotFoundError:
        raise InputError.at(SourceLocation("--base"), "git is not installed; use --base-dir DIR instead") from None


def checkout_rules(ref: str, head_folder: Path, into: Path) -> tuple[Path, str]:
    """Write the rules files at git revision `ref` into `into`; returns (folder, label).

    The repository is the one holding `head_folder`, and the rules are read from the same path
    inside it, with `git show`: the working tree and the index are not touched.
    """
    where = SourceLocation("--base")
    if not ref or ref.startswith("-"):
        raise InputError.at(where, f"not a git revision: {ref!r}")
    head_folder = Path(head_folder).resolve()
    top = git(head_folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise InputError.at(
            where, f"{display(head_folder)} is not inside a git repository; compare with --base-dir DIR instead"
        )
    root = Path(top.stdout.decode().strip()).resolve()
    commit = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        raise InputError.at(where, f"unknown git revision {ref!r}")
    sha = commit.stdout.decode().strip()
    prefix = head_folder.relative_to(root).as_posix()
    label = f"{ref}:{prefix}"
    folder = into / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    for stem in RULE_FILES:
        shown = git(root, "show", f"{sha}:{prefix}/{stem}.yaml")
        if shown.returncode != 0:
            problems.append(Diagnostic(SourceLocation(f"{label}/{stem}.yaml"), f"not in revision {ref} ({sha[:10]})"))
            continue
        (folder / f"{stem}.yaml").write_bytes(shown.stdout)
    if problems:
        raise InputError(problems)
    return folder, label


def _relabel(error: InputError, folder: Path, label: str) -> InputError:
    """Diagnostics about a temporary checkout, renamed after the revision they came from."""
    prefixes = sorted({display(folder), str(folder), str(folder.resolve())}, key=len, reverse=True)
    out = []
    for d in error.diagnostics:
        name = d.location.file
        for prefix in prefixes:
            if name.startswith(prefix):
                name = label + name[len(prefix) :]
                break
        out.append(Diagnostic(SourceLocation(name, d.location.line, d.location.column), d.message, d.path))
    return InputError(out)


# --- differences between the rules -------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def text(self) -> str:
        if self.field == "scores" and isinstance(self.old, dict) and isinstance(self.new, dict):
            return ", ".join(f"{o} {_show(self.old.get(o))} → {_show(self.new.get(o))}" for o in dict.fromkeys([*self.old, *self.new]))
        if isinstance(self.old, list) and isinstance(self.new, list) and self.field in LIST_FIELDS:
            gone, came = _gone_came(self.old, self.new)
            parts = [*(f"− {x}" for x in gone), *(f"+ {x}" for x in came)] or ["reordered"]
            return f"{self.field.replace('_', ' ')} " + ", ".join(parts)
        if self.field == "when":
            return "condition " + _condition_change(self.old, self.new)
        return f"{self.field} {_show(self.old)} → {_show(self.new)}"


@dataclass(frozen=True)
class RuleChange:
    kind: str  # factors, overrides, derived, ... (the file, without .yaml; `confidence`, `levels`)
    id: str
    status: str  # added | removed | changed
    fields: tuple[FieldChange, ...]
    location: str

    def text(self) -> str:
        if self.status != "changed":
            return self.status
        return "; ".join(f.text() for f in self.fields)


def rule_entities(rules: Rules) -> dict[tuple[str, str], dict[str, Any]]:
    """Every rule and named element, by (kind, id), with its fields as written."""
    c = rules.content
    out: dict[tuple[str, str], dict[str, Any]] = {}
    manifest = c["manifest"]
    out[("manifest", "manifest")] = {k: manifest.get(k) for k in ("format", "name", "version")}
    for o in c["options"]["options"]:
        out[("options", o["id"])] = _without(o, "id")
    for t in c["questions"].get("themes", []):
        out[("themes", t["id"])] = _without(t, "id")
    for q in c["questions"]["questions"]:
        out[("questions", q["id"])] = _without(q, "id")
    for f in c["factors"]["factors"]:
        for answer in ("yes", "no"):
            if answer in f:
                out[("factors", f"{f['question']}.{answer}")] = dict(f[answer])
    for o in c["overrides"]["overrides"]:
        out[("overrides", o["id"])] = _without(o, "id")
    for name, catalogue in c["derived"].get("catalogues", {}).items():
        out[("catalogues", name)] = dict(catalogue)
    for d in c["derived"]["derived"]:
        out[("derived", d["id"])] = _without(d, "id")
    policy = c["policy"]["policy"]
    out[("policy", "tie_break")] = dict(policy["tie_break"])
    for rule, entry in zip(rules.policy.confidence, policy["confidence"]):
        out[("confidence", rule.id)] = dict(entry)
    for level, entry in policy["levels"].items():
        out[("levels", level)] = dict(entry)
    for n in c["next_steps"]["next_steps"]:
        out[("next_steps", n["id"])] = _without(n, "id")
    return out


def _without(entry: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != key}


def diff_rules(base: RulesVersion, head: RulesVersion) -> list[RuleChange]:
    """The rules added, removed or changed (field by field), in file order."""
    old, new = rule_entities(base.rules), rule_entities(head.rules)
    old_locs = base.rules.locations()
    new_locs: dict[tuple[str, str], Any] = dict(head.rules.locations())  # the version's place is text
    new_locs[("manifest", "manifest")] = _version_location(head)
    changes = []
    for key in list(new) + [k for k in old if k not in new]:
        kind, ident = key
        if key not in old:
            changes.append(RuleChange(kind, ident, "added", (), head.locate(new_locs.get(key))))
        elif key not in new:
            changes.append(RuleChange(kind, ident, "removed", (), base.locate(old_locs.get(key))))
        elif old[key] != new[key]:
            fields = tuple(
                FieldChange(name, old[key].get(name), new[key].get(name))
                for name in dict.fromkeys([*old[key], *new[key]])
                if old[key].get(name) != new[key].get(name)
            )
            changes.append(RuleChange(kind, ident, "changed", fields, head.locate(new_locs.get(key))))
    order = {kind: i for i, kind in enumerate(_KIND_ORDER)}
    return sorted(changes, key=lambda c: order.get(c.kind, len(order)))


_KIND_ORDER = (
    "manifest", "options", "themes", "questions", "factors", "overrides",
    "catalogues", "derived", "policy", "confidence", "levels", "next_steps",
)


def _gone_came(old: list[Any], new: list[Any]) -> tuple[list[Any], list[Any]]:
    """The items of `old` missing from `new`, and those of `new` missing from `old`."""
    return [x for x in old if x not in new], [x for x in new if x not in old]


def _condition_change(old: Any, new: Any) -> str:
    """A changed `when:`: the parts added to or removed from an all/any list, else before → after."""
    if old is None or new is None:
        return f"{_flow(old) if old is not None else '(none)'} → {_flow(new) if new is not None else '(none)'}"
    if isinstance(old, dict) and isinstance(new, dict) and len(old) == len(new) == 1:
        ((key, a),), ((other, b),) = old.items(), new.items()
        if key == other and key in (AllOf.key, AnyOf.key) and isinstance(a, list) and isinstance(b, list):
            gone, came = _gone_came(a, b)
            if len(gone) + len(came) < max(len(a), len(b)):
                return f"{key}: " + ", ".join([*(f"− {_flow(x)}" for x in gone), *(f"+ {_flow(x)}" for x in came)])
    return f"{_flow(old)} → {_flow(new)}"


def _show(value: Any, limit: int = 70) -> str:
    """A value as it would be written in the YAML, shortened: 2, sis_sync, {answer: q, is: yes}."""
    if value is None:
        return "(none)"
    text = _flow(value)
    if isinstance(value, str) and (" " in value or not value):
        text = '"' + (value if len(value) <= limit else value[: limit - 1] + "…") + '"'
    elif len(text) > limit * 2:
        text = text[: limit * 2 - 1] + "…"
    return text


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


# --- the version check -------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionCheck:
    base: str
    head: str
    content_changed: bool
    errors: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def meaning_digest(rules: Rules) -> str:
    """The digest of the content without the manifest's version and changelog."""
    content = dict(rules.content)
    content["manifest"] = {k: v for k, v in content["manifest"].items() if k not in ("version", "changelog")}
    return content_digest(content)


def check_version(base: RulesVersion, head: RulesVersion) -> VersionCheck:
    old, new = base.rules.version, head.rules.version
    changed = meaning_digest(base.rules) != meaning_digest(head.rules)
    errors: list[str] = []
    notes: list[str] = []
    where = _version_location(head)
    if changed and old == new:
        errors.append(f"the rules changed but the content version is still {new}: bump `version` in {where}")
    elif _semver(new) < _semver(old):
        errors.append(f"the content version went down, from {old} to {new} ({where})")
    elif changed and not any(entry.version == new for entry in head.rules.manifest.changelog):
        notes.append(f"the changelog in {where} has no entry for version {new}")
    if not changed and old != new:
        notes.append(f"the version changed ({old} → {new}) but the rules did not")
    return VersionCheck(old, new, changed, tuple(errors), tuple(notes))


@dataclass(frozen=True)
class VersionVerdict:
    """`validate --base REF`: the version check alone, and where `version:` is written."""

    errors: tuple[str, ...]
    location: Any


def check_version_against(ref: str, head_folder: Path) -> VersionVerdict:
    """The version check of `impact --base REF`, without evaluating anything: is a rule change
    since `ref` bumped? Errors are worded without the place; `location` is the manifest's line."""
    head = load_version(head_folder)
    with tempfile.TemporaryDirectory(prefix="rostering-validate-") as temporary:
        base = _base_version(ref, head_folder, Path(temporary))
    check = check_version(base, head)
    where = f" in {_version_location(head)}"
    return VersionVerdict(tuple(e.replace(where, "") for e in check.errors), _version_source(head))


def _version_source(head: RulesVersion) -> SourceLocation:
    """Where `version:` is written in the head's manifest."""
    from engine.rules.source import load_file

    return load_file(head.folder / "manifest.yaml", str(head.rules.manifest.loc.file)).locate(("version",))


def _base_version(ref: str, head_folder: Path, temporary: Path) -> RulesVersion:
    """The rules at git revision `ref`, read into `temporary`; problems named after the revision."""
    folder, label = checkout_rules(ref, head_folder, temporary)
    try:
        return load_version(folder, label)
    except InputError as error:
        raise _relabel(error, folder, label) from None


def _version_location(version: RulesVersion) -> str:
    """Where `version:` is written in the manifest (file:line:col)."""
    from engine.rules.source import load_file

    path = version.folder / "manifest.yaml"
    try:
        return version.locate(load_file(path, str(version.rules.manifest.loc.file)).locate(("version",)))
    except InputError:  # pragma: no cover - it loaded a moment ago
        return version.locate(version.rules.manifest.loc)


def _semver(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)


# --- outcomes compared ------------------------------------------------------------------------


@dataclass(frozen=True)
class MinimalSet:
    """A few answers (every other question unknown) that show a change."""

    answers: dict[str, str]
    before: dict[str, Any]  # the advice's fields, as in ExampleChange
    after: dict[str, Any]


@dataclass(frozen=True)
class Transition:
    """A kind of change and the combinations that show it.

    `field` is the first of option, confidence, decided_by, overrides, next_steps that differs:
    a confidence transition keeps the option, a decided_by transition keeps both, and so on.
    """

    field: str
    before: str
    after: str
    count: int
    minimal: tuple[MinimalSet, ...] = ()


@dataclass(frozen=True)
class CombinationSummary:
    total: int
    changed: int  # combinations with any change in what the advice shows
    transitions: tuple[Transition, ...]  # every kind of change, by field, most frequent first
    option_changed: int
    confidence_changed: int  # with or without the option
    decided_by_changed: int
    overrides_changed: int
    next_steps_changed: int
    base_options: dict[str, int]
    head_options: dict[str, int]
    evaluations: int  # engine evaluations made (versions known from earlier runs cost nothing)

    def of(self, field: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.field == field)


@dataclass(frozen=True)
class ExampleChange:
    name: str
    path: str
    before: dict[str, Any]
    after: dict[str, Any]
    fields: tuple[FieldChange, ...]
    wording: tuple[str, ...]  # rules that fired whose wording changed

    @property
    def outcome_changed(self) -> bool:
        return bool(self.fields)


@dataclass(frozen=True)
class ImpactReport:
    base: dict[str, str]  # label, version, digest
    head: dict[str, str]
    rule_changes: tuple[RuleChange, ...]
    version: VersionCheck
    combinations: CombinationSummary
    examples: tuple[ExampleChange, ...]  # the examples whose advice changes
    examples_checked: int
    seconds: float
    workers: int
    notes: tuple[str, ...] = field(default=())
    guide_diff: tuple[str, ...] | None = None  # unified diff of the decision guide; None: no guide template

    @property
    def recommendations_changed(self) -> bool:
        return self.combinations.changed > 0 or any(e.outcome_changed for e in self.examples)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.recommendations_changed or not self.version.ok else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recommendations_changed"] = self.recommendations_changed
        data["exit_code"] = self.exit_code
        data["version"]["ok"] = self.version.ok
        for change, entry in zip(self.rule_changes, data["rule_changes"]):
            entry["text"] = change.text()
        return data


def _fields(item: Brief) -> dict[str, Any]:
    if item.error:
        return {"error": item.error}
    return {
        "option": item.option,
        "confidence": item.confidence,
        "decided_by": item.decided_by,
        "overrides": list(dict.fromkeys(item.overrides)),
        "next_steps": list(item.next_steps),
    }


def compare(
    base: RulesVersion,
    head: RulesVersion,
    examples: Sequence[tuple[str, str, Any]] = (),
    *,
    workers: int | None = None,
    templates: Path | None = None,
) -> ImpactReport:
    """Compare two versions of the rules; `examples` are (name, path, District) read with the head rules,
    the decision guide rendered with the templates of `templates` (default: as `guide` finds them)."""
    from engine.evaluate.advisor import Advisor

    started = time.perf_counter()
    workers = usable_cores() if workers is None else max(1, workers)
    changes = diff_rules(base, head)
    version = check_version(base, head)
    questions = [q.id for q in head.rules.questions]
    questions += [q.id for q in base.rules.questions if q.id not in questions]
    notes = []
    if {q.id for q in base.rules.questions} != {q.id for q in head.rules.questions}:
        notes.append("the versions ask different questions: combinations cover all of them; each version ignores the others")
    evaluations = 0
    if base.rules.digest == head.rules.digest:
        before = after = None
    elif is_same_logic(base.rules, head.rules):
        before = after = None  # equal decision logic: no answer set can come out differently
        notes.append("the decision logic is identical (only wording changed), so no combination can change: none was evaluated")
    else:
        evaluations = sum(2 ** len(questions) for v in (base, head) if not is_cached(v.rules, questions))
        before, after = enumerate_versions(
            [Version(base.rules, base.folder), Version(head.rules, head.folder)], questions, workers=workers
        )
    base_advisor, head_advisor = Advisor(base.rules), Advisor(head.rules)
    summary = _summarise(before, after, questions, base_advisor, head_advisor, evaluations)
    example_changes = _compare_examples(examples, base_advisor, head_advisor, changes)
    return ImpactReport(
        base={"label": base.label, "version": base.rules.version, "digest": base.rules.digest},
        head={"label": head.label, "version": head.rules.version, "digest": head.rules.digest},
        rule_changes=tuple(changes),
        version=version,
        combinations=summary,
        examples=tuple(example_changes),
        examples_checked=len(examples),
        seconds=time.perf_counter() - started,
        workers=workers,
        notes=tuple(notes),
        guide_diff=guide_diff(base, head, templates),
    )


def guide_diff(base: RulesVersion, head: RulesVersion, templates: Path | None = None) -> tuple[str, ...] | None:
    """The unified diff of the Markdown decision guide from `base` to `head` (empty: no change), both
    rendered with the same templates and date; None when the templates folder has no guide template."""
    from engine.files import unsealed
    from engine.render.documents import Renderer, generation_date
    from engine.render.guide import GUIDE_TEMPLATE, render_guide

    renderer = Renderer(templates)
    if not any(name.startswith(f"{GUIDE_TEMPLATE}.") for name in renderer.loader.list_templates()):
        return None
    day = generation_date(None, "SOURCE_DATE_EPOCH")
    before, after = (unsealed(render_guide(renderer, v.rules, "md", generated=day)).splitlines() for v in (base, head))
    return tuple(difflib.unified_diff(before, after, f"guide {base.label}", f"guide {head.label}", n=1, lineterm=""))


FIELDS = ("option", "confidence", "decided_by", "overrides", "next_steps")


def _kind(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, str, str] | None:
    """(field, before, after) of the first field that differs, or None.

    For the lists (overrides, next steps) before/after are what stops and what starts firing,
    so that, say, every combination where one override stops firing is one kind of change.
    """
    for name in ("error", *FIELDS):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            gone, came = _gone_came(a, b)
            if not gone and not came:  # the same rules in another order
                return name, "order " + _flow(a), "order " + _flow(b)
            return name, "− " + ", ".join(gone) if gone else "", "+ " + ", ".join(came) if came else ""
        return name, _flow(a if a is not None else "none"), _flow(b if b is not None else "none")
    return None


def _summarise(
    before: Any, after: Any, questions: list[str], base_advisor: Any, head_advisor: Any, evaluations: int
) -> CombinationSummary:
    total = 2 ** len(questions)
    if before is None:  # the same rules
        return CombinationSummary(total, 0, (), 0, 0, 0, 0, 0, {}, {}, 0)
    moves: dict[tuple[str, str, str], list[int]] = {}
    counts: Counter[str] = Counter()
    base_options: Counter[str] = Counter()
    head_options: Counter[str] = Counter()
    for index, (old, new) in enumerate(zip(before.outcomes, after.outcomes)):
        base_options[old.option or "error"] += 1
        head_options[new.option or "error"] += 1
        if old == new:
            continue
        old_f, new_f = _fields(old), _fields(new)
        kind = _kind(old_f, new_f)
        if kind is None:
            continue
        moves.setdefault(kind, []).append(index)
        counts["changed"] += 1
        for name in FIELDS:
            counts[name] += old_f.get(name) != new_f.get(name)
    shrinker = _Shrinker(before.questions, base_advisor, head_advisor)
    order = {name: i for i, name in enumerate(("error", *FIELDS))}
    ranked = sorted(moves.items(), key=lambda m: (order[m[0][0]], -len(m[1]), m[0]))
    transitions = tuple(
        Transition(field, old, new, len(indices), shrinker.minimal_sets(indices, before, after) if rank < MAX_SHRUNK_KINDS else ())
        for rank, ((field, old, new), indices) in enumerate(ranked)
    )
    return CombinationSummary(
        total=total,
        changed=counts["changed"],
        transitions=transitions,
        option_changed=counts["option"],
        confidence_changed=counts["confidence"],
        decided_by_changed=counts["decided_by"],
        overrides_changed=counts["overrides"],
        next_steps_changed=counts["next_steps"],
        base_options=dict(sorted(base_options.items())),
        head_options=dict(sorted(head_options.items())),
        evaluations=evaluations,
    )


class _Shrinker:
    """Minimal answer sets: answers turned to unknown while the change persists.

    Candidates are evaluated by both versions in small batches, stopping at the first that keeps
    the change, so the result is the same as trying them one by one in question order.
    """

    BATCH = 8

    def __init__(self, questions: Sequence[str], base: Any, head: Any) -> None:
        self.questions = list(questions)
        self.base = base
        self.head = head
        self.evaluations = 0

    @staticmethod
    def _same_change(want: tuple[Brief, Brief], got: tuple[Brief, Brief]) -> bool:
        """Whether `got` shows the change `want` shows: the same kind (see `_kind`)."""
        return _kind(_fields(got[0]), _fields(got[1])) == _kind(_fields(want[0]), _fields(want[1]))

    def _first(self, candidates: list[dict[str, str]], want: tuple[Brief, Brief]) -> tuple[dict[str, str], Brief, Brief] | None:
        for low in range(0, len(candidates), self.BATCH):
            chunk = candidates[low : low + self.BATCH]
            self.evaluations += 2 * len(chunk)
            for candidate, old, new in zip(chunk, evaluate_briefs(self.base, chunk), evaluate_briefs(self.head, chunk)):
                if self._same_change(want, (old, new)):
                    return candidate, old, new
        return None

    def shrink(self, answers: dict[str, str], want: tuple[Brief, Brief], pairs: bool = False) -> tuple[dict[str, str], Brief, Brief]:
        """Turn answers to unknown while the change persists: one at a time in question order,
        then (with `pairs`) two at a time, which gets past near ties where dropping any single
        vote breaks the balance. The result is 1-minimal: no remaining answer can be dropped."""
        current, old, new = dict(answers), want[0], want[1]
        start = 0
        while True:
            known = [q for q in self.questions if current.get(q, "unknown") != "unknown"]
            singles = [{**current, q: "unknown"} for q in known[start:]]
            found = self._first(singles, want)
            if found is not None:
                dropped = next(q for q in known if found[0][q] == "unknown")
                current, old, new = found
                start = known.index(dropped)
                continue
            if not pairs:
                break
            found = self._first([{**current, a: "unknown", b: "unknown"} for a, b in itertools.combinations(known, 2)], want)
            if found is None:
                break
            current, old, new = found
            start = 0
        return current, old, new

    def minimal_sets(self, indices: list[int], before: Any, after: Any) -> tuple[MinimalSet, ...]:
        found: dict[tuple, MinimalSet] = {}
        for index in _spread(indices, MAX_SEEDS):
            want = (before.outcomes[index], after.outcomes[index])
            answers, old, new = self.shrink(before.answers(index), want, pairs=want[0].option != want[1].option)
            kept = {q: v for q, v in answers.items() if v != "unknown"}
            key = tuple(sorted(kept.items()))
            if key not in found:
                found[key] = MinimalSet(kept, _fields(old), _fields(new))
            if len(found) >= MAX_MINIMAL_SETS:
                break
        return tuple(sorted(found.values(), key=lambda m: (len(m.answers), sorted(m.answers.items()))))


def _spread(items: list[int], count: int) -> list[int]:
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return list(dict.fromkeys(items[round(i * step)] for i in range(count)))


def _compare_examples(examples: Sequence[tuple[str, str, Any]], base: Any, head: Any, changes: list[RuleChange]) -> list[ExampleChange]:
    """The example districts whose advice document changes: besides what the combinations compare,
    the scores and the order of the reasons (what `rostering-advisor test` sees in the golden
    document), and the wording of rules that fire."""
    reworded = {c.id for c in changes if c.status == "changed" and any(f.field in TEXT_FIELDS for f in c.fields)}
    out = []
    for name, path, district in examples:
        old, _ = _example_advice(base, district)
        new, head_fired = _example_advice(head, district)
        wording = tuple(sorted(reworded & head_fired))
        fields = tuple(FieldChange(k, old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k))
        if fields or wording:
            out.append(ExampleChange(name, path, old, new, fields, wording))
    return out


def _example_advice(advisor: Any, district: Any) -> tuple[dict[str, Any], set[str]]:
    """What an example's advice shows, and the rules that fired: the compared fields, the scores,
    and the reasons (factor rules that voted) heaviest first, as the document lists them."""
    (brief,) = evaluate_briefs(advisor, [district.answers], district.profile)
    advice = _fields(brief)
    if brief.error:
        return advice, set()
    outcome = advisor.evaluate([district.answers], district.profile)[0]
    weights = {f.id: f.weight for f in advisor.rules.factors}
    advice["scores"] = dict(brief.scores)
    advice["reasons"] = sorted(outcome.votes, key=lambda vote: -weights.get(vote, 0))
    return advice, set(outcome.fired())


# --- reports ----------------------------------------------------------------------------------


def _label(rules: Rules, option: str) -> str:
    return next((o.label for o in rules.options if o.id == option), option)


def _level(rules: Rules | None, level: str) -> str:
    """A confidence level in the document's words ("insufficient information"), else its id."""
    info = rules.policy.levels.get(level) if rules is not None else None
    return info.label.lower() if info is not None else level


def render_markdown(report: ImpactReport, head_rules: Rules | None = None) -> str:
    """The report as Markdown to paste into a pull request: a summary table first, then the
    details folded (`<details>`), in plain words: question texts, not ids."""
    combos = report.combinations
    questions = {q.id: q.text for q in head_rules.questions} if head_rules is not None else {}

    def option_label(option: str) -> str:
        return _label(head_rules, option) if head_rules is not None else option

    level = partial(_level, head_rules)

    def plain(field: str, value: str) -> str:
        if field == "confidence":
            return level(value)
        return option_label(value) if field == "option" else DECIDED_WORDS.get(value, value) if field == "decided_by" else value

    changed_examples = [e for e in report.examples if e.outcome_changed]
    kinds = Counter(KIND_WORDS.get(f.field, f.field) for e in changed_examples for f in e.fields)
    lines = [
        f"## Rules impact: `{report.base['label']}` {report.base['version']} → `{report.head['label']}` {report.head['version']}",
        "",
        _headline(report),
    ]
    version_ok = "❌ " + report.version.errors[0] if report.version.errors else "✅ " + (
        f"{report.version.base} → {report.version.head}" if report.version.content_changed else f"unchanged, {report.version.head}"
    )
    lines += [
        "",
        "| | |",
        "|---|---|",
        f"| version | {_cell(version_ok)} |",
        f"| rules changed | {len(report.rule_changes)} |",
        f"| example districts whose advice changes | {len(changed_examples)} of {report.examples_checked}"
        + (" (" + ", ".join(f"{kind}: {n}" for kind, n in kinds.most_common()) + ")" if kinds else "") + " |",
        f"| yes/no answer combinations whose recommendation changes | {combos.option_changed:,} of {combos.total:,} |",
        f"| … whose advice changes in any way | {combos.changed:,} of {combos.total:,} |",
        "",
        "### Version",
        "",
    ]
    for error in report.version.errors:
        lines.append(f"- ❌ **Error:** {error}")
    if report.version.ok:  # a bump without a rule change is only a note (check_version)
        if report.version.content_changed:
            lines.append(f"- ✅ Version bumped: {report.version.base} → {report.version.head}")
        elif report.version.base == report.version.head:
            lines.append(f"- ✅ Rules unchanged; version {report.version.head}")
    lines += [f"- ⚠️ {note}" for note in report.version.notes]

    reworded = len(report.examples) - len(changed_examples)
    lines += _folded(
        f"Example districts ({len(changed_examples)} of {report.examples_checked} change"
        + (f"; {reworded} only in wording" if reworded else "") + ")"
    )
    if report.examples:
        lines += ["| district | before | after | what changes |", "|---|---|---|---|"]
        for e in report.examples:
            moved = any(f.field == "option" for f in e.fields)  # then the next steps and reasons follow the new option
            what = "; ".join(
                _plain_change(f, option_label, level, questions) for f in e.fields if not (moved and f.field in ("next_steps", "reasons"))
            )
            if e.wording:
                what = (what + "; " if what else "") + "wording of " + ", ".join(f"`{w}`" for w in e.wording)
            before, after = _outcome_text(e.before, option_label, level), _outcome_text(e.after, option_label, level)
            lines.append(f"| {e.name} | {before} | {after} | {_cell(what)} |")
    elif report.examples_checked:
        lines.append("No example district's advice changes.")
    else:
        lines.append("No example districts were found.")
    lines += ["", "</details>"]

    lines += _folded(f"Rule changes ({len(report.rule_changes)})")
    if report.rule_changes:
        lines += ["| where | rule | change |", "|---|---|---|"]
        for change in report.rule_changes:
            question, _, answer = change.id.rpartition(".")
            named = change.kind == "factors" and question in questions
            rule = f"“{questions[question]}” {answer} (`{change.id}`)" if named else f"`{change.id}`"
            lines.append(f"| {_cell(change.location or change.kind)} | {_cell(rule)} | {_cell(change.text())} |")
    else:
        lines.append("None.")
    lines += ["", "</details>"]

    lines += _folded(f"All {combos.total:,} ways to answer every question yes or no")
    if combos.changed == 0:
        lines.append("No combination changes.")
    else:
        lines += ["| what changes | combinations |", "|---|---:|"]
        moves = combos.of("option")
        for t in moves:
            lines.append(f"| recommendation {option_label(t.before)} → {option_label(t.after)} | {t.count:,} |")
        if not moves:
            lines.append("| recommendation | 0 |")
        lines.append(f"| confidence level | {combos.confidence_changed:,} |")
        for t in combos.of("confidence"):
            lines.append(f"| &nbsp;&nbsp;{level(t.before)} → {level(t.after)}, same recommendation | {t.count:,} |")
        lines.append(f"| how the recommendation is decided | {combos.decided_by_changed:,} |")
        lines.append(f"| overrides that fire (review flags included) | {combos.overrides_changed:,} |")
        lines.append(f"| next steps | {combos.next_steps_changed:,} |")
        lines.append(f"| **any of these** | **{combos.changed:,}** |")
        lines += ["", "Recommendations before → after: " + ", ".join(
            f"{option_label(o)} {combos.base_options.get(o, 0):,} → {combos.head_options.get(o, 0):,}"
            for o in dict.fromkeys([*combos.base_options, *combos.head_options])
        ) + "."]
        titles = {
            "option": "Recommendation",
            "confidence": "Confidence (same recommendation)",
            "decided_by": "How it is decided (same recommendation and confidence)",
            "overrides": "Overrides that fire (same recommendation and confidence)",
            "next_steps": "Next steps (otherwise the same)",
            "error": "Engine errors",
        }
        for t in combos.transitions:
            if t.field in LIST_FIELDS:
                what = " ".join(x for x in (t.before, t.after) if x)
            else:
                what = f"{plain(t.field, t.before)} → {plain(t.field, t.after)}"
            lines += ["", f"#### {titles.get(t.field, t.field)}: {what} ({t.count:,})", ""]
            if not t.minimal:
                lines.append("(no examples of answers worked out for this less frequent kind of change)")
                continue
            lines += ["The fewest answers that show it (every other question left unknown):", ""]
            for m in t.minimal:
                answers = "; ".join(f"“{questions.get(q, q)}” {v}" for q, v in m.answers.items()) or "no answers at all"
                lines.append(
                    f"- {answers} — before: {_outcome_text(m.before, option_label, level)}; "
                    f"after: {_outcome_text(m.after, option_label, level)}"
                )
    lines += ["", "</details>"]
    lines += _folded("The decision guide")
    if report.guide_diff is None:
        lines.append("Not rendered: the templates folder has no guide template.")
    elif not report.guide_diff:
        lines.append("The published guide (`rostering-advisor guide`) does not change.")
    else:
        shown = report.guide_diff[:MAX_GUIDE_DIFF_LINES]
        lines += ["What the published guide (`rostering-advisor guide`) says differently:", "", "```diff", *shown, "```"]
        if len(report.guide_diff) > len(shown):
            lines.append(f"_…and {len(report.guide_diff) - len(shown):,} more lines of the diff._")
    lines += ["", "</details>"]
    for note in report.notes:
        lines += ["", f"_Note: {note}._"]
    lines += [
        "",
        f"<sub>Base digest {report.base['digest'][:12]}, head digest {report.head['digest'][:12]}; "
        f"{combos.evaluations:,} combination evaluations in {report.seconds:.1f} s with {report.workers} "
        f"worker{'s' if report.workers != 1 else ''}.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _headline(report: ImpactReport) -> str:
    """The report in one sentence."""
    combos = report.combinations
    if report.recommendations_changed:
        changed = sum(1 for e in report.examples if e.outcome_changed)
        return (
            f"**The advice changes** for {changed} of {report.examples_checked} example districts and "
            f"{combos.changed:,} of the {combos.total:,} ways to answer every question yes or no."
        )
    return (
        f"**No advice changes**: none of the {report.examples_checked} example districts, and none of the "
        f"{combos.total:,} ways to answer every question yes or no, gets different advice."
    )


def _plain_change(change: FieldChange, option_label: Any, level: Any, questions: dict[str, str]) -> str:
    """One change of an example's advice, its kind first, in the words of the document."""
    kind = KIND_WORDS.get(change.field, change.field)
    if change.field == "scores":
        old, new = change.old or {}, change.new or {}
        return "scores " + ", ".join(f"{option_label(o)} {_show(old.get(o))} → {_show(new.get(o))}" for o in dict.fromkeys([*old, *new]))
    if change.field == "option":
        return f"{kind} {option_label(change.old)} → {option_label(change.new)}"
    if change.field == "confidence":
        return f"{kind} {level(change.old)} → {level(change.new)}"
    if change.field == "decided_by":
        return f"decided {DECIDED_WORDS.get(change.old, change.old)} → {DECIDED_WORDS.get(change.new, change.new)}"
    if change.field == "reasons":
        gone, came = _gone_came(change.old or [], change.new or [])
        if not gone and not came:
            return "the order of the reasons"

        def reason(rule: str) -> str:
            question, _, answer = rule.rpartition(".")
            return f"“{questions.get(question, question)}” {answer}"

        return "reasons " + ", ".join([*(f"− {reason(r)}" for r in gone), *(f"+ {reason(r)}" for r in came)])
    return change.text()


def _folded(title: str) -> list[str]:
    """The start of a folded section; GitHub renders Markdown inside it after a blank line."""
    return ["", "<details>", f"<summary><b>{title}</b></summary>", ""]


def _outcome_text(fields: dict[str, Any], label: Any, level: Any) -> str:
    if "error" in fields:
        return f"error: {fields['error']}"
    return f"{label(fields['option'])}, {level(fields['confidence'])} ({DECIDED_WORDS.get(fields['decided_by'], fields['decided_by'])})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_github(report: ImpactReport, head: RulesVersion) -> str:
    """GitHub Actions annotations: the version check at the manifest's `version:` line, and each
    example district whose advice changes at its answers file; then the summary sentence."""
    lines = [github_annotation("error", e, _version_source(head)) for e in report.version.errors]
    lines += [github_annotation("warning", n, _version_source(head)) for n in report.version.notes]
    questions = {q.id: q.text for q in head.rules.questions}
    for e in report.examples:
        what = "; ".join(_plain_change(f, partial(_label, head.rules), partial(_level, head.rules), questions) for f in e.fields)
        if e.wording:
            what = (what + "; " if what else "") + "wording of " + ", ".join(e.wording)
        where = SourceLocation(display(answers_file(Path(e.path)) or Path(e.path)))
        lines.append(github_annotation("notice", f"example {e.name}: the advice changes: {what}", where))
    lines.append(_headline(report).replace("**", ""))
    return "\n".join(lines) + "\n"


def render_json(report: ImpactReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


# --- the command ------------------------------------------------------------------------------


def command(args: Any, stdout: IO[str], stderr: IO[str]) -> int:
    """`rostering-advisor impact`: exit 0 nothing changes, 1 advice changes (or no version bump), 2 bad input."""
    head_folder = rules_dir(getattr(args, "rules", None))
    head = load_version(head_folder)
    workers, capped = worker_count(getattr(args, "workers", None))  # batch's cap, and its note
    if capped:
        stderr.write(capped + "\n")
    with tempfile.TemporaryDirectory(prefix="rostering-impact-") as temporary:
        if getattr(args, "base", None):
            base = _base_version(args.base, head_folder, Path(temporary))
        else:
            base = load_version(args.base_dir)
        if base.label == head.label:
            head = RulesVersion(head.rules, head.folder, head.label + " (head)")
        examples = load_districts(getattr(args, "examples", None), head.rules)
        report = compare(base, head, examples, workers=workers, templates=getattr(args, "templates", None))
    if getattr(args, "format", "md") == "json":
        stdout.write(render_json(report))
    elif getattr(args, "format", "md") == "github":
        stdout.write(render_github(report, head))
    else:
        stdout.write(render_markdown(report, head.rules))
    return report.exit_code


__all__ = [
    "ImpactReport",
    "RulesVersion",
    "check_version",
    "check_version_against",
    "checkout_rules",
    "command",
    "compare",
    "diff_rules",
    "load_districts",
    "load_version",
    "render_json",
    "render_markdown",
]
