"""Time `batch` on a realistic CSV of every US regular school district.

    python benchmarks/bench_batch.py                    # 13,318 districts, md + json, 2 workers
    python benchmarks/bench_batch.py --rows 2000 --formats json --profile
    python benchmarks/bench_batch.py --template summary   # the one-page summary instead of the advice

Prints districts per second end to end (targets: >= 1,500/s on a 2-core machine), peak memory of the
parent plus its worker processes (target: < 300 MB), the CPU time per district (steadier than the
wall clock on a shared machine; a pure-Python reference loop timed before and after shows how fast
the machine was running), the time per stage (the parent's reading and
planning; the workers' parsing, engine, rendering and writing, summed over the workers), the cost
of one engine evaluation against the what-if variants, and the time of a re-run that skips every
unchanged district. `--profile` also runs the worker's code in this process under cProfile and
prints where the time goes. The CSV and the output go to a temporary folder (kept with --keep; made
in --folder, e.g. /dev/shm, to leave the disk out).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import itertools
import os
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the checkout's engine, whether installed or not
sys.path.insert(0, str(HERE))

from make_districts import TOTAL_DISTRICTS, write_csv  # noqa: E402

from engine.batch.run import BatchConfig, run_batch  # noqa: E402

TARGET_RATE = 1_500
TARGET_MB = 300
DATE = "2026-01-05"


class MemorySampler(threading.Thread):
    """Peak resident memory of this process plus all its descendants, and the CPU time of each
    descendant (the worker processes, and a fork server's), sampled from /proc: the workers may be
    grandchildren (forked by a fork server, which reaps them), which getrusage(RUSAGE_CHILDREN) misses."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self.largest_kb = 0  # the largest descendant
        self.ticks: dict[int, int] = {}  # descendant pid -> CPU clock ticks (user + system), last seen
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        me, *descendants = _family(os.getpid())
        sizes = [_rss_kb(pid) for pid in descendants]
        self.peak_kb = max(self.peak_kb, _rss_kb(me) + sum(sizes))
        self.largest_kb = max([self.largest_kb, *sizes])
        for pid in descendants:
            self.ticks[pid] = max(self.ticks.get(pid, 0), _cpu_ticks(pid))

    def descendants_cpu(self) -> float:
        """CPU seconds of the descendants seen, up to their last sample (a few ms per process may be missed)."""
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _family(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as handle:
                todo.extend(int(child) for child in handle.read().split())
        except OSError:
            pass
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    except (OSError, IndexError, ValueError):
        return 0


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed_run(config: BatchConfig) -> tuple[object, float, MemorySampler, tuple[float, float]]:
    """The result, seconds end to end, the sampler (memory), and CPU seconds (this process, its workers)."""
    sampler = MemorySampler()
    sampler.sample()  # a fork server left by an earlier run counts from where it is now
    already = sampler.descendants_cpu()
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run_batch(config)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    sampler.stop()
    parent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return result, elapsed, sampler, (parent, sampler.descendants_cpu() - already)


def reference_loop() -> float:
    """Milliseconds for a fixed pure-Python loop: how fast this (shared) machine runs right now."""
    start = time.perf_counter()
    total = 0
    for number in range(1_000_000):
        total += number
    return (time.perf_counter() - start) * 1e3


def engine_split(csv_path: Path, rules: Path, rows: int) -> None:
    """Per district: the main evaluation versus the what-if variants, on a sample, in this process."""
    from engine.evaluate.advisor import Advisor
    from engine.batch.input import BatchInput
    from engine.batch.rows import to_district
    from engine.evaluate.compiler import encode_intake
    from engine.evaluate.runtime import MEMO_SIZE

    advisor = Advisor.load(rules)
    with BatchInput(csv_path, advisor.rules) as source:
        records = [r for r in itertools.islice(source.records(), rows) if r.error is None]
        districts = [to_district(r, source.layout, advisor.rules, "bench") for r in records]
    mains = variants = 0.0
    step = min(250, MEMO_SIZE)  # chunk by chunk: the engine memoises only the last MEMO_SIZE mains
    for i in range(0, len(districts), step):
        chunk = districts[i : i + step]
        start = time.perf_counter()
        advisor.engine.evaluate([encode_intake(advisor.program, d.answers, d.profile) for d in chunk])
        middle = time.perf_counter()
        advisor.recommend_many(chunk)  # its mains are memoised now: this is the variants
        mains += middle - start
        variants += time.perf_counter() - middle
    n = len(districts)
    print(
        f"engine per district ({n:,} in one process): main evaluation {mains / n * 1e3:.2f} ms, "
        f"what-if variants {variants / n * 1e3:.2f} ms "
        f"(variants are {variants / (mains + variants):.0%} of engine time)"
    )


def profile_worker(config: BatchConfig, out: Path, rows: int) -> None:
    """cProfile of the worker's code path (parse, engine, render, write) in this process."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_batch(dataclasses.replace(config, out=out, workers=1, isolate=False))  # the worker's code, here
    profiler.disable()
    print(f"\ncProfile, one process, {rows:,} districts, top 25 by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TOTAL_DISTRICTS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", default="md,json")
    parser.add_argument("--template", help="render md/html with this template (e.g. summary) instead of the advice")
    parser.add_argument("--csv", type=Path, help="use this CSV instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--folder", type=Path,
        help="make the temporary folder in FOLDER (default: the system's); /dev/shm, a RAM disk, leaves the disk's "
        "speed out of the figures",
    )
    parser.add_argument("--profile", action="store_true", help="also profile the worker code in one process")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())

    folder = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=args.folder))
    try:
        csv_path = args.csv or write_csv(folder / "districts.csv", args.rows)
        out = folder / "out"
        rules, templates = folder / "rules", folder / "templates"  # a snapshot: edits elsewhere cannot interfere
        shutil.copytree(ROOT / "rules", rules)
        shutil.copytree(ROOT / "templates", templates)
        config = BatchConfig(
            csv_path, out, formats=formats, workers=args.workers, rules=rules, templates=templates, date=DATE,
            template=args.template,
        )
        speed_before = reference_loop()
        result, elapsed, sampler, (parent_cpu, workers_cpu) = timed_run(config)
        peak_kb = sampler.peak_kb
        speed_after = reference_loop()
        rate = result.districts / elapsed
        self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = sampler.largest_kb / 1024
        times = result.times
        print(f"batch: {result.summary_line()}")
        print(f"input: {csv_path} ({csv_path.stat().st_size / 1e6:.1f} MB); formats {', '.join(formats)}; "
              f"{result.workers} worker process(es) on {os.cpu_count()} cores")
        print(f"end to end: {elapsed:.1f} s, {rate:,.0f} districts/s (target >= {TARGET_RATE:,}) "
              f"{'OK' if rate >= TARGET_RATE else 'MISSED'}")
        print(f"peak memory: {peak_kb / 1024:.0f} MB parent + workers, sampled (target < {TARGET_MB}) "
              f"{'OK' if peak_kb / 1024 < TARGET_MB else 'MISSED'}; "
              f"max RSS: parent {self_mb:.0f} MB, largest worker {child_mb:.0f} MB")
        per = 1e3 / max(result.districts, 1)
        print(
            f"CPU per district: parent {parent_cpu * per:.3f} ms, workers {workers_cpu * per:.3f} ms "
            f"(user + system; {2 / ((parent_cpu + workers_cpu) * per / 1e3):,.0f} districts/s would fill two cores); "
            f"reference loop {speed_before:.0f} ms before, {speed_after:.0f} ms after (lower is a faster machine)"
        )
        work = times.parse + times.engine + times.render + times.write
        print("stages, seconds (workers' figures are summed over the workers):")
        for name, seconds in (
            ("parent: read + plan", result.read_seconds),
            ("parent: waiting for workers", result.wait_seconds),
            ("workers: parse rows", times.parse),
            ("workers: engine", times.engine),
            ("workers: render", times.render),
            ("workers: write", times.write),
        ):
            share = f"  {seconds / work:5.1%} of worker time" if name.startswith("workers") and work else ""
            print(f"  {name:<30}{seconds:8.2f}{share}")
        documents = result.done * len(formats)
        if documents:
            print(
                f"  per district: engine {times.engine / result.done * 1e3:.2f} ms; per document: render "
                f"{times.render / documents * 1e3:.2f} ms, write {times.write / documents * 1e3:.2f} ms"
            )
        start = time.perf_counter()
        again = run_batch(config)
        print(f"re-run, nothing changed: {time.perf_counter() - start:.1f} s ({again.summary_line()})")
        engine_split(csv_path, rules, min(2000, args.rows))
        if args.profile:
            profile_worker(config, folder / "profiled", args.rows)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
