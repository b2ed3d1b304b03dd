"""Engine throughput: 10,000 generated districts through the durable_rules ruleset.

Prints, from one run (compare ratios, not absolute figures — machines here are shared):
  * the bare cost of one durable_rules round trip (assert_fact on a one-rule ruleset, one action);
  * districts/s for the main evaluation only, cold (no memo hits possible across runs);
  * districts/s for full recommendations (main + what-if variants + combinations of unknowns);
  * the same with a warm memo (a second pass over the same districts).

    python benchmarks/bench_engine.py [--districts 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from durable.engine import Host

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Advisor  # noqa: E402
from engine.evaluate.answers import District  # noqa: E402
from engine.evaluate.compiler import encode_intake  # noqa: E402

SIS = ["PowerSchool", "Infinite Campus", "Skyward", "Aeries", "Synergy", "Genesis", "Ascender", "Home-grown"]


def generate(count: int, seed: int, questions: list[str]) -> list[District]:
    """Districts with correlated answers: bigger districts lean to sync readiness; ~8% unknowns."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        students = int(rng.lognormvariate(7.3, 1.3))
        size = min(1.0, students / 20000)
        answers = {}
        for question in questions:
            roll = rng.random()
            if roll < 0.08:
                answers[question] = "unknown"
            elif question in ("over_5000_students",):
                continue  # derived from the profile
            else:
                leaning = 0.35 + 0.4 * size if question not in ("sis_changing", "teachers_resist_layout_change") else 0.2
                answers[question] = "yes" if rng.random() < leaning else "no"
        profile = {"students": students, "sis": rng.choice(SIS), "uses_clever": rng.random() < 0.3 + 0.5 * size}
        out.append(District(f"District {index}", str(index), profile, answers))
    return out


def bare_round_trip(repeats: int = 5000) -> float:
    """Seconds per assert_fact + one action on a one-rule ruleset, through durable's own Host."""

    class QuietHost(Host):
        def _run(self) -> None:
            return None

        def get_action(self, name: str):
            return lambda closure: None

    host = QuietHost()
    host.set_rulesets({"bench_one_rule": {"r": {"all": [{"m": {"t": "x"}}], "run": "r"}}})
    start = time.perf_counter()
    for index in range(repeats):
        host.assert_fact("bench_one_rule", {"sid": str(index), "t": "x"})
        host.delete_state("bench_one_rule", str(index))
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    advisor = Advisor.load()
    questions = [q.id for q in advisor.rules.questions]
    districts = generate(options.districts, options.seed, questions)
    intakes = [encode_intake(advisor.program, d.answers, d.profile) for d in districts]
    unique = len({json.dumps(i, sort_keys=True) for i in intakes})

    trip = bare_round_trip()
    print(f"bare durable_rules round trip (one rule, one action): {trip * 1e3:.3f} ms  ({1 / trip:,.0f}/s)")

    cold = Advisor(advisor.rules)
    start = time.perf_counter()
    outcomes = cold.engine.evaluate(intakes)
    main_time = time.perf_counter() - start
    firings = sum(len(o.trace) for o in outcomes) / len(outcomes)
    print(
        f"main evaluation, cold: {len(districts):,} districts ({unique:,} distinct intakes) in {main_time:.2f} s = "
        f"{len(districts) / main_time:,.0f} districts/s; {firings:.1f} firings/district = "
        f"{main_time / (firings * len(districts)) * 1e3:.4f} ms/firing"
    )

    full = Advisor(advisor.rules)
    start = time.perf_counter()
    full.recommend_many(districts)
    full_time = time.perf_counter() - start
    print(f"full recommendations (with what-if and unknown combinations), cold memo: {len(districts) / full_time:,.0f} districts/s")

    start = time.perf_counter()
    full.recommend_many(districts)
    warm_time = time.perf_counter() - start
    print(f"full recommendations, second pass (warm memo): {len(districts) / warm_time:,.0f} districts/s")
    print(f"ratio main evaluation / bare round trip: {main_time / len(districts) / trip:.1f}x")


if __name__ == "__main__":
    main()
