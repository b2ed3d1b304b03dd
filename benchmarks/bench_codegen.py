"""Does `engine/render/codegen.py` (Jinja's private code generator, subclassed) pay for itself?

Renders the example districts' advice documents, Markdown and HTML, with the sandbox's
`JoinedOutput` code generator and with Jinja's own, alternating the two in rounds so that a
swing in the machine's speed hits both alike, and prints the CPU time per document of each and
the gain. The project keeps the private code generator only if the gain is at least 25 % on
both formats (issue 13).

    python benchmarks/bench_codegen.py [--rounds 15] [--repeat 20] [--template advice]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

from jinja2.compiler import CodeGenerator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Advisor  # noqa: E402
from engine.render.codegen import JoinedOutput  # noqa: E402
from engine.render.documents import Renderer  # noqa: E402
from engine.render.formats import DOCUMENTS  # noqa: E402

DAY = datetime.date(2026, 1, 15)


def renderer(generator: type) -> Renderer:
    made = Renderer(ROOT / "templates")
    for env in made._envs.values():
        env.code_generator_class = generator
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds of each generator (default 15)")
    parser.add_argument("--repeat", type=int, default=20, help="renders of every example per round (default 20)")
    parser.add_argument("--template", default=None, help="a template name instead of each format's own")
    args = parser.parse_args()

    advisor = Advisor.load(ROOT / "rules")
    recs = [advisor.recommend(advisor.read(p)) for p in sorted((ROOT / "examples").glob("*/answers.yaml"))]
    generators = {"JoinedOutput": JoinedOutput, "Jinja's own": CodeGenerator}
    renderers = {name: renderer(generator) for name, generator in generators.items()}
    print(f"{len(recs)} example districts, {args.rounds} rounds x {args.repeat} renders each; CPU time per document")
    gains = {}
    for fmt in DOCUMENTS:
        contexts = [renderers["JoinedOutput"].context(rec, generated=DAY) for rec in recs]
        compiled = {name: r.template(fmt, args.template) for name, r in renderers.items()}
        for name, r in renderers.items():  # same text both ways, and warm
            assert [r.render_context(compiled[name], c) for c in contexts] == [
                renderers["Jinja's own"].render_context(compiled["Jinja's own"], c) for c in contexts
            ]
        samples: dict[str, list[float]] = {name: [] for name in renderers}
        for _ in range(args.rounds):
            for name, r in renderers.items():
                template = compiled[name]
                start = time.process_time()
                for _ in range(args.repeat):
                    for context in contexts:
                        r.render_context(template, context)
                samples[name].append((time.process_time() - start) / (args.repeat * len(contexts)))
        ours, stock = (statistics.median(samples[name]) for name in generators)
        gains[fmt] = 1 - ours / stock
        spread = samples["Jinja's own"]
        print(
            f"  {fmt:>4}: JoinedOutput {ours * 1e3:.3f} ms, Jinja's own {stock * 1e3:.3f} ms "
            f"(medians; Jinja's own spread {min(spread) * 1e3:.3f}-{max(spread) * 1e3:.3f} ms): gain {gains[fmt]:.1%}"
        )
    verdict = "keep" if all(g >= 0.25 for g in gains.values()) else "delete"
    print(f"gain >= 25 % on every format: {'yes' if verdict == 'keep' else 'no'} -> {verdict} codegen.py")


if __name__ == "__main__":
    main()
