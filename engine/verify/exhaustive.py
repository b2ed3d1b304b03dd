"""Every combination of yes/no answers, evaluated by the engine: `validate --exhaustive`, and the
enumeration `impact` shares.

With 13 questions there are 2^13 = 8,192 combinations. They are evaluated

* in a pool of worker processes (one engine per process: durable_rules' host is process-wide),
  started through a fork server so that every worker begins from a clean interpreter that has
  already imported the engine; each worker loads the rules itself from their folder and checks
  the digest against the parent's;
* in chunks of `CHUNK` answer sets per engine call (durable_rules' cost per fact grows with the
  number of sessions in one `assert_facts` call; about 64 is the sweet spot here);
* once per distinct decision logic: an enumeration is keyed by the compiled program (conditions,
  priorities, weights, effects), not by the text of the rules, and kept in a small in-process
  cache and in the disk cache (`engine.cache`), so a version that only rewords rationales, or a
  later command on the same rules (`impact` against an unchanged base, `validate --exhaustive`
  again), re-uses the outcomes instead of evaluating them again.

Outcomes travel back from the workers as `Brief`s: the fields a report needs, with the distinct
briefs sent once and each combination as a small index into them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from engine import cache
from engine.cores import usable_cores
from engine.errors import EXIT_FAILED, EXIT_OK, EngineError
from engine.processes import PoolBroken, WorkerDied, Workers, result
from engine.rules.model import Rules

CHUNK = 64  # answer sets per engine call
MIN_PARALLEL = 2_048  # fewer evaluations than this run in-process: a pool costs more than it saves
MAX_QUESTIONS = 16  # 65,536 combinations; beyond that an exhaustive check is not a quick check
MAX_UNKNOWN_SEARCH = 8  # questions an override may test for `unknown` (3^8 = 6,561 answer sets)
_CACHE_SIZE = 6
_CACHE: OrderedDict[tuple, Enumeration] = OrderedDict()


class Brief(NamedTuple):
    """The parts of an engine Outcome that exhaustive checks and impact reports compare: the
    engine's `Outline` (the same fields, in the same order), or the error of an answer set."""

    option: str
    decided_by: str
    confidence: str
    overrides: tuple[str, ...]  # in firing order; a rule firing twice shows twice
    next_steps: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]
    decision_rule: str = ""
    confidence_rule: str = ""
    decisions: int = 1  # decision rules that fired
    confidences: int = 1  # confidence rules that fired
    error: str = ""  # the engine's error for this answer set, if it failed

    def label(self) -> str:
        if self.error:
            return f"error: {self.error}"
        return f"{self.option} ({self.decided_by}, {self.confidence})"


def _failed(message: str) -> Brief:
    return Brief("", "", "", (), (), (), error=message)


# --- the combinations ---------------------------------------------------------------------------


def combination(questions: Sequence[str], index: int) -> dict[str, str]:
    """The `index`-th yes/no combination, in `itertools.product(("yes", "no"), ...)` order."""
    n = len(questions)
    return {q: "no" if (index >> (n - 1 - i)) & 1 else "yes" for i, q in enumerate(questions)}


def combinations(questions: Sequence[str]) -> Iterable[dict[str, str]]:
    for values in itertools.product(("yes", "no"), repeat=len(questions)):
        yield dict(zip(questions, values))


@dataclass(frozen=True)
class Enumeration:
    """The outcome of every yes/no combination of `questions` under one version of the rules."""

    questions: tuple[str, ...]
    outcomes: tuple[Brief, ...]  # by combination index

    def __len__(self) -> int:
        return len(self.outcomes)

    def answers(self, index: int) -> dict[str, str]:
        return combination(self.questions, index)


@dataclass(frozen=True)
class Version:
    """One version of the rules to enumerate: the model, and the folder a worker loads it from."""

    rules: Rules
    folder: Path


def logic_key(rules: Rules) -> str:
    """Identifies the decision logic: equal keys give equal outcomes for every answer set."""
    from engine.evaluate.compiler import compile_rules

    program = compile_rules(rules)
    actions = {name: [a.kind, a.rule, a.params] for name, a in sorted(program.actions.items())}
    payload = [program.definition, actions, program.questions, program.profile_fields, program.options]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def enumerate_versions(
    versions: Sequence[Version], questions: Sequence[str] | None = None, *, workers: int | None = None
) -> list[Enumeration]:
    """The Enumeration of each version (over `questions`, default: the first version's questions).

    Versions with the same decision logic are evaluated once; enumerations are cached in-process.
    """
    if questions is None:
        questions = [q.id for q in versions[0].rules.questions]
    questions = tuple(questions)
    if len(questions) > MAX_QUESTIONS:
        raise EngineError(f"{len(questions)} questions are too many to enumerate (at most {MAX_QUESTIONS})")
    keys = [(logic_key(v.rules), questions) for v in versions]
    todo: dict[tuple, Version] = {}
    for key, version in zip(keys, versions):
        if not _known(key) and key not in todo:
            todo[key] = version
    if todo:
        for key, enumeration in zip(todo, _evaluate(list(todo.values()), questions, workers)):
            _remember(key, enumeration)
            cache.store("enumeration", cache.key(key[0], *key[1]), enumeration)
    for key in keys:
        _CACHE.move_to_end(key)
    return [_CACHE[key] for key in keys]


def _known(key: tuple[str, tuple[str, ...]]) -> bool:
    """Whether the enumeration of `key` is in memory, or now is, read from the disk cache."""
    if key in _CACHE:
        return True
    logic, questions = key
    found = cache.load("enumeration", cache.key(logic, *questions))
    if (
        isinstance(found, Enumeration)
        and found.questions == questions
        and len(found.outcomes) == 2 ** len(questions)
        and all(type(b) is Brief for b in set(found.outcomes))
    ):
        _remember(key, found)
        return True
    return False


def _remember(key: tuple[str, tuple[str, ...]], enumeration: Enumeration) -> None:
    _CACHE[key] = enumeration
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def is_cached(rules: Rules, questions: Sequence[str]) -> bool:
    """Whether the enumeration of `rules` over `questions` is already known (in this process or on disk)."""
    return _known((logic_key(rules), tuple(questions)))


def is_same_logic(a: Rules, b: Rules) -> bool:
    return logic_key(a) == logic_key(b)


def clear_cache() -> None:
    """Forget the enumerations cached in this process (benchmarks use this, with the disk cache
    off, to time cold runs)."""
    _CACHE.clear()


def _evaluate(versions: list[Version], questions: tuple[str, ...], workers: int | None) -> list[Enumeration]:
    total = 2 ** len(questions)
    workers = usable_cores() if workers is None else max(1, workers)
    work = total * len(versions)
    if workers == 1 or work < MIN_PARALLEL:
        parts = [_run_slices([(i, str(v.folder), v.rules.digest, questions, 0, total) for i, v in enumerate(versions)])]
    else:
        parts = _run_pool(_split(versions, questions, total, workers), workers)
    slots: list[list[Brief | None]] = [[None] * total for _ in versions]
    for part in parts:
        if isinstance(part, str):
            raise EngineError(part)
        for version_index, start, table, codes in part:
            target = slots[version_index]
            for offset, code in enumerate(array("H", codes)):
                target[start + offset] = table[code]
    out = []
    for slot in slots:
        if any(b is None for b in slot):  # pragma: no cover - a worker lost a slice
            raise EngineError("a worker returned incomplete results")
        out.append(Enumeration(questions, tuple(slot)))  # type: ignore[arg-type]
    return out


def _split(versions: list[Version], questions: tuple[str, ...], total: int, workers: int) -> list[list[tuple]]:
    """Contiguous, equal shares of the (version, combination) work, so few workers load both versions."""
    work = total * len(versions)
    share = -(-work // workers)
    jobs = []
    for start in range(0, work, share):
        stop = min(work, start + share)
        job = []
        for index, version in enumerate(versions):
            low, high = max(start, index * total), min(stop, (index + 1) * total)
            if low < high:
                job.append((index, str(version.folder), version.rules.digest, questions, low - index * total, high - index * total))
        jobs.append(job)
    return jobs


def _run_pool(jobs: list[list[tuple]], workers: int) -> list[Any]:
    """Run the jobs in worker processes (`engine.processes`); here, a job whose worker died, or
    every job when the workers cannot start (a script that calls this API must keep its top-level
    code under `if __name__ == "__main__":`, as with any use of multiprocessing)."""
    pool = Workers(min(workers, len(jobs)), preload=("engine.verify.exhaustive", "engine.evaluate.advisor"))
    try:
        futures = [pool.submit(_run_slices_safely, job) for job in jobs]
        parts = []
        for job, future in zip(jobs, futures):
            try:
                parts.append(result(future))
            except WorkerDied:
                parts.append(_run_slices_safely(job))
        return parts
    except PoolBroken:
        return [_run_slices(job) for job in jobs]
    finally:
        pool.terminate()


# --- in the worker ------------------------------------------------------------------------------

_ADVISORS: dict[tuple[str, str], Any] = {}


def _advisor_for(folder: str, digest: str) -> Any:
    from engine.evaluate.advisor import Advisor

    key = (folder, digest)
    if key not in _ADVISORS:
        advisor = Advisor.load(Path(folder))
        if advisor.rules.digest != digest:
            raise EngineError(f"the rules in {folder} changed while they were being evaluated")
        _ADVISORS[key] = advisor
    return _ADVISORS[key]


def _run_slices_safely(job: list[tuple]) -> Any:
    try:
        return _run_slices(job)
    except BaseException as exc:  # exceptions do not always pickle; send the message instead
        return f"a worker failed: {type(exc).__name__}: {exc}"


def _run_slices(job: list[tuple]) -> list[tuple[int, int, list[Brief], bytes]]:
    out = []
    for version_index, folder, digest, questions, start, stop in job:
        advisor = _advisor_for(folder, digest)
        table: dict[Brief, int] = {}
        codes = array("H")
        for low in range(start, stop, CHUNK):
            for item in evaluate_briefs(advisor, [combination(questions, i) for i in range(low, min(stop, low + CHUNK))]):
                codes.append(table.setdefault(item, len(table)))
        out.append((version_index, start, list(table), codes.tobytes()))
    return out


def evaluate_briefs(advisor: Any, answer_sets: Sequence[dict[str, str]], profile: dict[str, Any] | None = None) -> list[Brief]:
    """Briefs for answer sets, in chunks; an answer set the engine fails on gets an error Brief."""
    out: list[Brief] = []
    for low in range(0, len(answer_sets), CHUNK):
        chunk = answer_sets[low : low + CHUNK]
        try:
            out.extend(Brief(*o) for o in advisor.outline(chunk, profile))
        except EngineError:
            for answers in chunk:  # find which answer sets fail
                try:
                    out.append(Brief(*advisor.outline([answers], profile)[0]))
                except EngineError as error:
                    out.append(_failed(str(error)))
    return out


# --- validate --exhaustive ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExhaustiveReport:
    rules_name: str
    version: str
    digest: str
    questions: int
    combinations: int
    options: dict[str, int]
    decided_by: dict[str, int]
    confidence: dict[str, int]
    ties: int  # exact ties, resolved by the tie-break
    override_counts: dict[str, int]  # combinations in which each override fires
    unknown_only: dict[str, dict[str, str]]  # overrides that fire only with unknown answers: a witness
    never_fired: dict[str, list[str]]  # by kind: rules that fire for no combination (information)
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    seconds: float
    workers: int

    @property
    def ok(self) -> bool:
        return not self.problems


def check_exhaustive(rules: Rules, folder: Path | None = None, *, workers: int | None = None) -> ExhaustiveReport:
    """Evaluate every yes/no combination of the rules' questions and check the outcomes.

    Failures: an answer set the engine cannot decide, more or fewer than one decision or
    confidence level, a tie decided by score, an override that fires for no answer set. An
    override whose condition needs an `unknown` answer cannot fire on yes/no answers; it passes
    when some answers with `unknown` for the questions it tests make it fire (searched here).
    """
    started = time.perf_counter()
    folder = Path(folder if folder is not None else rules.source).resolve()
    workers = usable_cores() if workers is None else max(1, workers)
    (enumeration,) = enumerate_versions([Version(rules, folder)], workers=workers)
    return analyse(rules, enumeration, seconds=time.perf_counter() - started, workers=workers)


def analyse(rules: Rules, enumeration: Enumeration, *, seconds: float = 0.0, workers: int = 1) -> ExhaustiveReport:
    """The checks of `check_exhaustive` on an enumeration of `rules`."""
    started = time.perf_counter()
    problems: list[str] = []
    warnings: list[str] = []
    options: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    confidence: Counter[str] = Counter()
    override_counts: Counter[str] = Counter({o.id: 0 for o in rules.overrides})
    fired: set[str] = set()
    ties = 0
    shown = 0
    repeated = 0

    def problem(index: int, message: str) -> None:
        nonlocal shown
        if shown < 20:
            problems.append(f"{_answers_text(enumeration.answers(index))}: {message}")
        shown += 1

    for index, item in enumerate(enumeration.outcomes):
        if item.error:
            problem(index, f"the engine reached no recommendation ({item.error})")
            continue
        options[item.option] += 1
        decided[item.decided_by] += 1
        confidence[item.confidence] += 1
        fired.update(item.overrides)
        fired.update(item.next_steps)
        fired.add(item.confidence_rule)
        for override_id in set(item.overrides):
            override_counts[override_id] += 1
        if len(set(item.overrides)) < len(item.overrides) or len(set(item.next_steps)) < len(item.next_steps):
            repeated += 1
        if item.decisions != 1:
            problem(index, f"{item.decisions} decision rules fired instead of exactly one")
        if item.confidences != 1:
            problem(index, f"{item.confidences} confidence levels were chosen instead of exactly one")
        scores = dict(item.scores)
        if item.decided_by == "tie_break":
            ties += 1
        elif item.decided_by == "score" and len(set(scores.values())) < len(scores):
            problem(index, f"a tie ({_scores_text(scores)}) was decided by score, not by the tie-break")
    if shown > 20:
        problems.append(f"... and {shown - 20} more combinations with problems")
    if repeated:
        warnings.append(f"in {repeated:,} combinations an override or next step fired more than once")

    unknown_only: dict[str, dict[str, str]] = {}
    for override in rules.overrides:
        if override_counts[override.id]:
            continue
        witness, note = _search_unknowns(rules, override.id)
        if witness is not None:
            unknown_only[override.id] = witness
            if note:
                warnings.append(note)
        elif override.when.profile_read():
            warnings.append(
                f"override '{override.id}' ({override.loc}) fires for no combination of answers; it tests profile "
                "fields, which this check does not vary"
            )
        else:
            problems.append(
                f"override '{override.id}' ({override.loc}) never fires: no combination of answers satisfies its condition"
            )

    never = {
        "next steps": [n.id for n in rules.next_steps if n.id not in fired],
        "confidence levels": [c.id for c in rules.policy.confidence if c.id not in fired],
        "derived answers": [d.id for d in rules.derived],  # need unknown answers and a profile
    }
    return ExhaustiveReport(
        rules_name=rules.manifest.name,
        version=rules.version,
        digest=rules.digest,
        questions=len(enumeration.questions),
        combinations=len(enumeration),
        options=dict(sorted(options.items())),
        decided_by=dict(sorted(decided.items())),
        confidence=dict(sorted(confidence.items())),
        ties=ties,
        override_counts=dict(override_counts),
        unknown_only=unknown_only,
        never_fired={k: v for k, v in never.items() if v},
        problems=tuple(problems),
        warnings=tuple(warnings),
        seconds=seconds + time.perf_counter() - started,
        workers=workers,
    )


def _search_unknowns(rules: Rules, override_id: str) -> tuple[dict[str, str] | None, str]:
    """Answers (with `unknown` allowed for the questions the override tests) that make it fire."""
    override = next(o for o in rules.overrides if o.id == override_id)
    tested = sorted(override.when.questions_read())
    if not tested or len(tested) > MAX_UNKNOWN_SEARCH:
        return None, ""
    others = {q.id: "yes" for q in rules.questions if q.id not in tested}
    answer_sets = [{**others, **dict(zip(tested, values))} for values in itertools.product(("yes", "no", "unknown"), repeat=len(tested))]
    from engine.evaluate.advisor import Advisor

    advisor = Advisor(rules)
    for answers, item in zip(answer_sets, evaluate_briefs(advisor, answer_sets)):
        if override_id in item.overrides:
            witness = {q: answers[q] for q in tested}
            count = item.overrides.count(override_id)
            note = (
                f"override '{override_id}' fired {count} times for one answer set ({_answers_text(witness)}); "
                "a rule should fire at most once per evaluation"
                if count > 1
                else ""
            )
            return witness, note
    return None, ""


def _answers_text(answers: dict[str, str]) -> str:
    return ", ".join(f"{q}={v}" for q, v in answers.items())


def _scores_text(scores: dict[str, float]) -> str:
    return " vs ".join(f"{o} {s:g}" for o, s in scores.items())


def _counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"


def render_text(report: ExhaustiveReport) -> str:
    lines = [
        f"{report.rules_name} {report.version} (digest {report.digest[:12]}): {report.combinations:,} combinations "
        f"of yes/no answers to {report.questions} questions, evaluated in {report.seconds:.1f} s "
        f"({report.workers} worker{'s' if report.workers != 1 else ''})",
        f"  recommendations: {_counts(report.options)}",
        f"  decided by:      {_counts(report.decided_by)}",
        f"  confidence:      {_counts(report.confidence)}",
        f"  exact ties:      {report.ties:,} (all resolved by the tie-break)" if report.ties else "  exact ties:      none",
        "  overrides:",
    ]
    for override, count in report.override_counts.items():
        if override in report.unknown_only:
            witness = _answers_text({q: v for q, v in report.unknown_only[override].items()})
            lines.append(f"    {override}: fires only with unknown answers, e.g. {witness}")
        else:
            lines.append(f"    {override}: {count:,} combinations")
    for kind, ids in report.never_fired.items():
        reason = " (they apply to unknown answers and need a profile)" if kind == "derived answers" else ""
        lines.append(f"  {kind} that fire for no combination{reason}: {', '.join(ids)}")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    for problem in report.problems:
        lines.append(f"problem: {problem}")
    if report.ok:
        lines.append(
            "ok: every combination yields exactly one recommendation with a confidence level, no tie is left "
            "unresolved, and every override fires"
        )
    else:
        lines.append(f"failed: {len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}")
    return "\n".join(lines) + "\n"


def command(rules: Rules, stdout: IO[str], stderr: IO[str]) -> int:
    """`rostering-advisor validate --exhaustive`: exit 0 when every check passes, else 1."""
    report = check_exhaustive(rules)
    stdout.write(render_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


__all__ = [
    "Brief",
    "Enumeration",
    "ExhaustiveReport",
    "Version",
    "analyse",
    "check_exhaustive",
    "combination",
    "combinations",
    "command",
    "enumerate_versions",
    "evaluate_briefs",
]
