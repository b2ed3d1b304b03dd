"""Run compiled rules in durable_rules: intake facts in, Outcomes out, with a trace of every firing.

Besides whole evaluations (`evaluate`; `outline` and `decide` keep less of each), the engine fires
single stages for what-if variants (`fire` for the parts, `conclude` for a tally; see `variants.py`).

The one adapter around durable_rules (keep the engine swappable behind it). Hygiene it enforces:

* one private `Host` per process, without the two timer threads `Host.__init__` starts (they
  would dispatch actions concurrently with us); all calls hold one lock, as the C core is not
  thread-safe;
* rulesets registered once per rules digest and reused (durable_rules never frees them);
* evaluations run `BATCH` at a time in one engine session (past ~1,024 live sessions the C core
  fails or crashes, and it clears ~0.5 MB for every session it opens), actions dispatched
  synchronously, and the session's state deleted afterwards;
* our actions run in our own loop, so an exception inside one is raised here instead of being
  swallowed into the session state; durable_rules' own refusals (a fact no rule handles, a fact
  asserted twice) become `EngineError`s naming the fact;
* identical intakes are evaluated once (a bounded memo);
* the facts an action needs come from the evaluation's own record, never from parsing the engine's
  message: a rule matches its evaluation's current fact of its type (a derived answer retracts the
  fact it replaces, cancelling that fact's pending activations).

Facts go to the engine as JSON text (`compact_json`: ~10% of an evaluation with the standard
library's encoder).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import durable_rules_engine as _core
from durable.engine import Host

from engine.compact_json import compact
from engine.errors import EngineError
from engine.evaluate.compiler import Action, Program

# Evaluations per engine session (and per assert_facts call): durable_rules clears ~8 KB per rule
# whenever it opens a session, so sharing one saves most of a small evaluation's cost.
BATCH = 16
MEMO_SIZE = 256  # whole outcomes (~10 KB each); main intakes rarely repeat (the profile is in the key)

_LOCK = threading.RLock()
_SESSIONS = itertools.count(1)


class _QuietHost(Host):
    """A Host whose rulesets we dispatch ourselves: no timer threads, no durable-side actions."""

    def _run(self) -> None:  # Host.__init__ would start two dispatching timer threads here
        return None

    def get_action(self, action_name: str):  # durable wants a callable per rule; ours run in `_drain`
        return _unused_action


def _unused_action(closure: Any) -> None:
    raise EngineError("durable_rules dispatched an action outside the advisor's own loop")


_HOST: _QuietHost | None = None
_HANDLES: dict[str, Any] = {}


class Firing(NamedTuple):
    """One rule firing: the YAML rule id, its kind, and the index of the fact it matched.

    A NamedTuple, not a dataclass, and recorded as a plain tuple while the actions run: ~20 are
    made per evaluation, and most evaluations (parts, conclusions) never show their trace.
    """

    rule: str
    kind: str
    fact: int


@dataclass(frozen=True)
class Outcome:
    """What the engine concluded for one intake."""

    answers: dict[str, str]
    derived: dict[str, str]
    votes: tuple[str, ...]
    overrides: tuple[str, ...]
    scores: dict[str, float]
    metrics: dict[str, float]
    option: str
    decided_by: str
    decision_rule: str
    confidence: str
    uncapped_confidence: str  # the level before the policy's review cap (the same when none applied)
    next_steps: tuple[str, ...]
    trace: tuple[Firing, ...]
    facts: tuple[dict[str, Any], ...]

    def fired(self) -> set[str]:
        return {f.rule for f in self.trace}


def _handle_for(program: Program) -> Any:
    global _HOST
    with _LOCK:
        if _HOST is None:
            _HOST = _QuietHost()
        if program.name not in _HANDLES:
            try:
                _HOST.register_rulesets({program.name: program.engine_definition()})
            except Exception as exc:  # the C core: "Could not create ruleset, error code: N"
                raise RulesetRefused(str(exc), _refused_rules(program)) from None
            # durable_rules keeps the C handle on its Ruleset object; we drive that handle directly.
            _HANDLES[program.name] = _HOST.get_ruleset(program.name)._handle
        return _HANDLES[program.name]


class RulesetRefused(EngineError):
    """durable_rules cannot build a compiled ruleset (a condition that expands to too many
    alternatives, say); `rules` are the YAML ids of the rules it refuses on their own, if any."""

    def __init__(self, message: str, rules: tuple[str, ...]) -> None:
        super().__init__(message)
        self.rules = rules


def _refused_rules(program: Program) -> tuple[str, ...]:
    """The YAML rules of `program` whose engine rules durable_rules refuses to build alone (each
    tried in a ruleset of its own, deleted again): where a refused ruleset's problem lies."""
    refused = []
    for name, rule in program.engine_definition().items():
        rule.pop("run", None)
        try:
            handle = _core.create_ruleset(f"{program.name}_probe", json.dumps({name: rule}, ensure_ascii=False))
        except Exception:  # the C core raises bare Exceptions with an error code
            refused.append(program.actions[name].rule if name in program.actions else name)
            continue
        _core.delete_ruleset(handle)
    return tuple(refused)


class _Evaluation:
    """The record of one evaluation (one intake) while its actions fire."""

    __slots__ = ("confidence", "current", "decision", "facts", "fired", "intake", "next_steps", "overrides", "trace", "votes")

    def __init__(self, first: dict[str, Any], intake: dict[str, Any] | None = None) -> None:
        self.intake = intake  # the intake to admit once the derived answers are in (see compiler.py)
        self.facts: list[dict[str, Any]] = [first]
        self.current: dict[str, int] = {first["t"]: 0}
        self.trace: list[tuple[str, str, int]] = []  # (rule, kind, fact): Firing fields
        self.fired: set[tuple[str, str, int]] = set()
        self.votes: list[Action] = []
        self.overrides: list[Action] = []
        self.decision: tuple[dict[str, Any], Action] | None = None
        self.confidence: Action | None = None
        self.next_steps: list[str] = []

    def add_fact(self, fact: dict[str, Any]) -> None:
        self.current[fact["t"]] = len(self.facts)
        self.facts.append(fact)


@dataclass(frozen=True)
class Verdict:
    """The part of an Outcome that what-if analysis needs; small enough to memoise by the thousand."""

    option: str
    confidence: str
    decided_by: str


class Outline(NamedTuple):
    """What an evaluation decided and by which rules, without its facts and trace: exhaustive
    checks and impact reports compare thousands of these, and need nothing more."""

    option: str
    decided_by: str
    confidence: str
    overrides: tuple[str, ...]  # in firing order
    next_steps: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]  # by option id
    decision_rule: str
    confidence_rule: str  # the first confidence rule that fired
    decisions: int  # decision rules that fired
    confidences: int  # confidence rules that fired


class Engine:
    """Evaluates intakes against one compiled Program."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._handle = _handle_for(program)
        self._answer_names = tuple(f"a_{q}" for q in program.questions)
        # (question, its `d_` property) for the questions derived rules answer, in the questions' order
        self._derived_names = tuple((q, f"d_{q}") for q in program.questions if q in program.derivable)
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._shared_verdicts: dict[Verdict, Verdict] = {}

    def evaluate(self, intakes: Iterable[dict[str, Any]]) -> list[Outcome]:
        """Outcomes for intakes (facts without `sid`), in order; identical intakes run once."""
        keys = []
        todo: dict[str, dict[str, Any]] = {}
        results: dict[str, Outcome] = {}
        memo = self._outcomes
        for intake in intakes:
            key = self._key(intake)
            keys.append(key)
            if key in memo:
                results[key] = memo[key]
                memo.move_to_end(key)
            elif key not in todo:
                todo[key] = intake
        pending = list(todo)
        for key, evaluation in zip(pending, self._evaluations([todo[key] for key in pending])):
            results[key] = memo[key] = self._outcome(evaluation)
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
        return [results[key] for key in keys]

    def outline(self, intakes: Sequence[dict[str, Any]]) -> list[Outline]:
        """What each intake's evaluation decided (exhaustive checks, impact): an Outline, ~30% less
        work than a whole Outcome, which also gathers every fact and firing."""
        return [self._outline(s) for s in self._evaluations(intakes)]

    def decide(self, intakes: Sequence[dict[str, Any]]) -> list[Verdict]:
        """Just the verdicts (what-if variants; `variants.VariantJudge` memoises them)."""
        return [self._judge(s) for s in self._evaluations(intakes)]

    def fire(self, facts: Sequence[dict[str, Any]]) -> list[tuple[list[Action], list[Action]]]:
        """The votes and overrides each fact's evaluation fired (the parts of a what-if variant)."""
        return [(s.votes, s.overrides) for s in self._evaluations(facts)]

    def conclude(self, tallies: Sequence[dict[str, Any]]) -> list[Verdict]:
        """The verdict for each tally fact: only the decision and confidence rules run."""
        return [self._judge(s) for s in self._evaluations(tallies)]

    def _judge(self, evaluation: _Evaluation) -> Verdict:
        if evaluation.decision is None or evaluation.confidence is None:
            raise self._unfinished(evaluation)
        decision, _ = evaluation.decision
        verdict = Verdict(decision["option"], evaluation.confidence.params["level"], decision["decided_by"])
        return self._shared_verdicts.setdefault(verdict, verdict)

    def _outline(self, evaluation: _Evaluation) -> Outline:
        if evaluation.decision is None or evaluation.confidence is None:
            raise self._unfinished(evaluation)
        decision, decided = evaluation.decision
        kinds = [kind for _, kind, _ in evaluation.trace]
        program = self.program
        return Outline(
            decision["option"],
            decision["decided_by"],
            evaluation.confidence.params["level"],
            tuple(o.rule for o in evaluation.overrides),
            tuple(evaluation.next_steps),
            tuple(sorted(zip(program.options, map(decision.__getitem__, program.score_names)))),
            decided.rule,
            next(rule for rule, kind, _ in evaluation.trace if kind == "confidence"),
            kinds.count("decide"),
            kinds.count("confidence"),
        )

    def _key(self, intake: dict[str, Any]) -> str:
        """A compact memo key: one letter per answer (yes/no/unknown), then the profile values."""
        answers = "".join(intake.get(name, "?")[0] for name in self._answer_names)
        profile = [(k, v) for k, v in intake.items() if k.startswith("p_")]
        return f"{answers}{compact(profile)}" if profile else answers

    def _evaluations(self, facts: Sequence[dict[str, Any]]) -> list[_Evaluation]:
        """Evaluate each fact on its own, `BATCH` of them in one engine session."""
        out: list[_Evaluation] = []
        for start in range(0, len(facts), BATCH):
            out.extend(self._run(facts[start : start + BATCH]))
        return out

    def _run(self, intakes: Sequence[dict[str, Any]]) -> list[_Evaluation]:
        """One engine session for several evaluations: each of its facts carries `e`, the number of
        its evaluation, first (so that it can be read off every message), and no rule joins two
        facts, so the evaluations never meet. durable_rules clears ~0.5 MB whenever it opens a session."""
        sid = str(next(_SESSIONS))
        evaluations = []
        facts = []
        program = self.program
        for number, intake in enumerate(intakes):
            fact = {"e": number, **intake, "sid": sid}
            if program.derive_reads and any(fact.get(f"a_{q}") == "unknown" for q in program.derivable):
                derive = {"e": number, "t": "derive", "sid": sid, **{k: fact[k] for k in program.derive_reads if k in fact}}
                evaluation = _Evaluation(derive, fact)
            else:  # nothing left for a derived rule to answer
                evaluation = _Evaluation(fact)
            evaluations.append(evaluation)
            facts.append(evaluation.facts[0])
        with _LOCK:
            # If durable_rules refuses the batch, its session is left half-made and deleting it
            # corrupts its heap (seen: munmap_chunk abort), so it is only deleted after success.
            self._assert(_core.assert_facts, facts)
            try:
                self._drain(evaluations)
            finally:
                try:
                    _core.delete_state(self._handle, sid)
                except Exception:  # error 309: already gone
                    pass
        return evaluations

    def _assert(self, call: Any, payload: Any) -> None:
        try:
            result = call(self._handle, compact(payload))
        except Exception as exc:  # the C core raises bare Exceptions with an error code
            raise EngineError(f"the rules engine refused a fact: {exc}") from None
        code = result[0] if isinstance(result, (list, tuple)) else 0
        if code == 1:
            raise EngineError(f"no rule handles the fact {_brief(payload)}: the compiled rules are incomplete")
        if code == 2:
            raise EngineError(f"the fact {_brief(payload)} was asserted twice in one session")

    def _drain(self, evaluations: list[_Evaluation]) -> None:
        """Run queued actions until none is left: lowest `pri` first.

        Only the rule name and the evaluation number are read from each message: the name leads
        it, and the number is the first property of the matched fact.
        """
        actions = self.program.actions
        while True:
            started = _core.start_action(self._handle)
            if not started:
                return
            _, message, state_handle = started
            while message:
                engine_rule = message[2 : message.index('"', 2)]
                try:
                    self._act(actions[engine_rule], evaluations[_evaluation_number(message, engine_rule)])
                except BaseException as exc:
                    _core.abandon_action(self._handle, state_handle)
                    if isinstance(exc, (EngineError, KeyboardInterrupt, SystemExit)):
                        raise
                    raise EngineError(f"the action of rule '{engine_rule}' failed: {exc!r}") from exc
                message = _core.complete_and_start_action(self._handle, state_handle)

    def _act(self, action: Action, evaluation: _Evaluation) -> None:
        index = evaluation.current[action.matches]
        firing = (action.rule, action.kind, index)
        if firing in evaluation.fired:
            # durable_rules activates a rule once per satisfied branch of an `$or`; ours fire once per fact
            return
        evaluation.fired.add(firing)
        evaluation.trace.append(firing)
        kind = action.kind
        if kind == "vote":
            evaluation.votes.append(action)
        elif kind == "override":
            evaluation.overrides.append(action)
        elif kind == "confidence":
            evaluation.confidence = action
        elif kind == "next_step":
            evaluation.next_steps.append(action.rule)
        elif kind == "derive":
            fact = evaluation.facts[index]
            question = action.params["question"]
            updated = dict(fact, **{f"a_{question}": action.params["answer"], f"d_{question}": action.rule})
            self._assert(_core.retract_fact, fact)
            self._assert(_core.assert_fact, updated)
            evaluation.add_fact(updated)
        elif kind == "admit":
            assert evaluation.intake is not None
            intake = evaluation.intake
            for key, value in evaluation.facts[index].items():  # the derived answers, and the rules that gave them
                if key[:2] in ("a_", "d_"):
                    intake[key] = value
            evaluation.add_fact(intake)
            self._assert(_core.assert_fact, intake)
        elif kind == "tally":
            fact = evaluation.facts[index]
            program = self.program
            unanswered = sum(1 for q in program.scored_questions if fact[f"a_{q}"] == "unknown")
            tally_fact = {"e": fact["e"], "t": "tally", "sid": fact["sid"], **{k: fact[k] for k in program.carried if k in fact}}
            tally_fact.update(tally(program, evaluation.votes, evaluation.overrides, unanswered))
            evaluation.add_fact(tally_fact)
            self._assert(_core.assert_fact, tally_fact)
        elif kind == "decide":
            decision = dict(evaluation.facts[index], t="decision", option=action.params["option"], decided_by=action.params["by"])
            evaluation.decision = (decision, action)
            evaluation.add_fact(decision)
            self._assert(_core.assert_fact, decision)
        elif kind != "seen":  # pragma: no cover - the compiler emits only the kinds above
            raise EngineError(f"unknown action kind {kind!r}")

    def _unfinished(self, evaluation: _Evaluation) -> EngineError:
        return EngineError(
            f"the rules reached no {'decision' if evaluation.decision is None else 'confidence level'} "
            f"for the answers {_brief(evaluation.intake or evaluation.facts[0])}"
        )

    def _outcome(self, evaluation: _Evaluation) -> Outcome:
        if evaluation.decision is None or evaluation.confidence is None:
            raise self._unfinished(evaluation)
        decision, decided = evaluation.decision
        intake = evaluation.facts[evaluation.current["intake"]]
        program = self.program
        for fact in evaluation.facts:
            fact.pop("e", None)
            fact.pop("sid", None)
        return Outcome(
            answers=dict(zip(program.questions, map(intake.__getitem__, self._answer_names))),
            derived={q: intake[name] for q, name in self._derived_names if name in intake},
            votes=tuple(v.rule for v in evaluation.votes),
            overrides=tuple(o.rule for o in evaluation.overrides),
            scores=dict(zip(program.options, map(decision.__getitem__, program.score_names))),
            metrics={k[2:]: v for k, v in decision.items() if k[:2] == "m_"},
            option=decision["option"],
            decided_by=decision["decided_by"],
            decision_rule=decided.rule,
            confidence=evaluation.confidence.params["level"],
            uncapped_confidence=evaluation.confidence.params["uncapped"],
            next_steps=tuple(evaluation.next_steps),
            trace=tuple(map(Firing._make, evaluation.trace)),
            facts=tuple(evaluation.facts),
        )


def tally(program: Program, votes: Sequence[Action], overrides: Sequence[Action], unanswered: int) -> dict[str, Any]:
    """The tally's properties: scores and metrics from the votes cast, flags for the fired
    overrides that recommend, `review` when a review flag fired. Sums are exact (`fsum`), so the order of the votes never matters."""
    options = program.options
    weights: dict[str, list[float]] = {option: [] for option in options}
    for vote in votes:
        params = vote.params
        weights[params["option"]].append(params["weight"])
    scores = [math.fsum(weights[option]) for option in options]
    ranked = sorted(scores, reverse=True)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)
    total = math.fsum(scores)
    out: dict[str, Any] = dict(zip(program.score_names, scores))
    out["leader"] = "tie" if margin == 0 else options[scores.index(ranked[0])]  # the first option with the top score
    out["m_margin"] = margin
    out["m_margin_share"] = round(margin / total, 6) if total else 0.0
    out["m_total_weight"] = total
    out["m_answered"] = len(program.scored_questions) - unanswered
    out["m_unanswered"] = unanswered
    for override in overrides:
        if override.params["effect"] == "recommend":
            out[f"o_{override.rule}"] = 1
        else:
            out["review"] = 1
    return out


_FACT_HEAD = '":{"m":{"e":'  # after the rule name: the matched fact and its first property, `e`


def _evaluation_number(message: str, engine_rule: str) -> int:
    """The `e` of the fact a message carries, without parsing the message when it has the usual shape."""
    start = 2 + len(engine_rule)
    if message.startswith(_FACT_HEAD, start):
        start += len(_FACT_HEAD)
        return int(message[start : message.index(",", start)])
    return json.loads(message)[engine_rule]["m"]["e"]


def _brief(payload: Any) -> str:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."
