"""The questionnaire's plan: CPU time of `Advisor.plan` for a district with no answers, and the
number of questions it asks over every yes/no answer set.

Prints, from one run (compare within the run: the machine's speed swings):
  * the floor: one main engine evaluation of the same district (the plan's own first step),
    with the engine's outcome memo emptied before each call;
  * `plan` for a district with no answers, the same way (the budget is 20 ms);
  * `plan` when the main evaluation is memoised (a coordinator going back to an earlier answer);
  * the first plan of a rules version: the engine judges every yes/no answer set once;
  * questions asked until settled, following the plan and following the guide's order.

    python benchmarks/bench_plan.py [--rules DIR] [--repeats 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Advisor  # noqa: E402
from engine.evaluate import plan as plan_module  # noqa: E402
from engine.evaluate.compiler import encode_intake  # noqa: E402
from engine.verify.questionnaire import walk  # noqa: E402

EMPTY = {"district": {"name": "Bench"}}


def per_call(function, repeats: int) -> float:
    """CPU milliseconds per call."""
    start = time.process_time()
    for _ in range(repeats):
        function()
    return (time.process_time() - start) * 1000 / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, help="rules folder (default: ./rules, else the shipped rules)")
    parser.add_argument("--repeats", type=int, default=300)
    options = parser.parse_args()

    advisor = Advisor.load(options.rules)
    district = EMPTY
    memo = advisor.engine._outcomes  # the engine's memo of whole outcomes: emptied to time a real evaluation
    intake = encode_intake(advisor.program, {}, {})

    plan_module._TABLES.clear()
    start = time.process_time()
    advisor.plan(district)
    first = (time.process_time() - start) * 1000

    def evaluation() -> None:
        memo.clear()
        advisor.engine.evaluate([intake])

    def fresh_plan() -> None:
        memo.clear()
        advisor.plan(district)

    floor = per_call(evaluation, options.repeats)
    fresh = per_call(fresh_plan, options.repeats)
    memoised = per_call(lambda: advisor.plan(district), options.repeats)
    print(f"rules {advisor.rules.version} ({len(advisor.rules.questions)} questions, digest {advisor.rules.digest[:12]})")
    print(f"floor: one main engine evaluation          {floor:8.3f} ms CPU")
    print(f"plan, no answers                           {fresh:8.3f} ms CPU  ({fresh / floor:.2f}x the floor; budget 20 ms)")
    print(f"plan, no answers, main outcome memoised    {memoised:8.3f} ms CPU")
    print(f"first plan of these rules (table built)    {first:8.1f} ms CPU")
    for order in ("plan", "guide"):
        start = time.process_time()
        result = walk(advisor, order)
        seconds = time.process_time() - start
        print(
            f"questions until settled, {order:5} order: mean {result.mean:.3f}, max {result.maximum} "
            f"over {result.total:,} answer sets ({len(result.leaves)} leaves, {seconds:.2f} s CPU)"
        )


if __name__ == "__main__":
    main()
