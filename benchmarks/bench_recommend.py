"""CPU time of `recommend FILE --format md`, beside the import floor measured in the same run.

    python benchmarks/bench_recommend.py [--repeat 9] [--file examples/lakeview-unified/answers.yaml]

The import floor is `python -c "import yaml, jinja2, jsonschema, durable.lang"`: the libraries the
command cannot do without, started in a fresh interpreter. Each run is a new process; its CPU time
(user + system) is read from `getrusage(RUSAGE_CHILDREN)`. The command runs with a warm disk cache
(engine/cache.py: filled by one run first), with a cold one (an empty cache folder each time) and
with the cache off (`ROSTERING_ADVISOR_NO_CACHE=1`); the runs are interleaved, so a change in the
machine's load touches every kind alike. Medians and minimums are printed; the target is the
warm median against the floor's median (issue 18: at most 1.4x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from tree_cpu import as_installed, cpu_ms as tree_cpu_ms  # noqa: E402

TARGET = 1.4
FLOOR = [sys.executable, "-c", "import yaml, jinja2, jsonschema, durable.lang"]


def cpu_ms(command: list[str], env: dict[str, str]) -> float:
    """CPU milliseconds of one run of `command`, which must succeed."""
    milliseconds, code = tree_cpu_ms(command, env, ROOT)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {code}")
    return milliseconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--file", type=Path, default=ROOT / "examples" / "lakeview-unified" / "answers.yaml")
    args = parser.parse_args()
    as_installed(ROOT)
    command = [
        sys.executable, "-m", "engine", "recommend", str(args.file), "--format", "md", "--date", "2026-01-05",
        "--rules", str(ROOT / "rules"), "--templates", str(ROOT / "templates"),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as temporary:
        warm_dir, cold_dir = Path(temporary) / "warm", Path(temporary) / "cold"
        base = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERING_ADVISOR_")}
        envs = {
            "warm": dict(base, ROSTERING_ADVISOR_CACHE=str(warm_dir)),
            "cold": dict(base, ROSTERING_ADVISOR_CACHE=str(cold_dir)),
            "no cache": dict(base, ROSTERING_ADVISOR_NO_CACHE="1"),
            "floor": base,
        }
        cpu_ms(command, envs["warm"])  # fills the warm cache (and compiles any stale .pyc)
        cpu_ms(FLOOR, base)
        runs: dict[str, list[float]] = {name: [] for name in envs}
        for _ in range(args.repeat):
            shutil.rmtree(cold_dir, ignore_errors=True)
            for name, env in envs.items():
                runs[name].append(cpu_ms(FLOOR if name == "floor" else command, env))
    floor = statistics.median(runs["floor"])
    print(f"load average {os.getloadavg()[0]:.1f}; {args.repeat} runs each, CPU ms (user + system), median / min:")
    for name, values in runs.items():
        ratio = statistics.median(values) / floor
        print(f"  {name:<9}{statistics.median(values):7.0f} /{min(values):5.0f}   {ratio:4.2f}x the import floor")
    warm = statistics.median(runs["warm"]) / floor
    print(f"recommend --format md, warm cache: {warm:.2f}x the import floor (target <= {TARGET}x) {'OK' if warm <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
