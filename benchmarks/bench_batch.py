"""CPU time of `batch`, beside a floor pipeline measured in the same run on the same districts.

    python benchmarks/bench_batch.py                    # 13,318 districts, md + json, 2 workers
    python benchmarks/bench_batch.py --formats md,html,json
    python benchmarks/bench_batch.py --rows 2000 --formats json --profile
    python benchmarks/bench_batch.py --template summary   # the one-page summary instead of the advice

The measure is CPU time (user + system of this process and all its workers): on a shared machine
it stays steady while the wall clock swings 3x with the neighbours' load. Printed:

* CPU ms per district of the whole batch (process tree), the floor pipeline's CPU ms per district
  on the same districts (`floor.py`: the reference evaluator of tests/, a minimal Jinja document
  of the same size, orjson, one plain file write; no engine code), and their ratio (the target);
* the per-stage split, engine and floor side by side, measured in this process on a sample
  (`--split-rows`): parse, main evaluation (against the reference evaluator alone), what-if
  variants, template context, each format's render, writing;
* peak memory of the parent plus its workers (target: < 300 MB);
* wall time, districts/s and a pure-Python reference loop before and after: information only.

`--profile` also runs the worker's code in this process under cProfile. The CSV and the output go
to a temporary folder (kept with --keep; made in --folder, e.g. /dev/shm, to leave the disk out),
and so does the disk cache (engine/cache.py): the figures are those of a first run on the rules.
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

import floor  # noqa: E402
from tree_cpu import as_installed  # noqa: E402
from engine.batch.run import BatchConfig, run_batch  # noqa: E402
from engine.render.formats import FORMATS  # noqa: E402
from tests.reference import evaluate as reference_evaluate  # noqa: E402

TARGET_RATIO = {"md,json": 1.6, "md,html,json": 1.8}  # CPU per district against the floor (issue 18)
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


@dataclasses.dataclass
class Split:
    """CPU seconds per stage of the engine's pipeline, in this process."""

    parse: float = 0.0
    main: float = 0.0
    reference: float = 0.0  # the reference evaluator (tests/reference.py) on the same answers
    variants: float = 0.0
    context: float = 0.0
    render: dict[str, float] = dataclasses.field(default_factory=dict)
    write: float = 0.0


def engine_split(csv_path: Path, rules: Path, templates: Path, rows: int, formats: tuple[str, ...], out: Path) -> tuple[int, Split]:
    """The worker's stages, one at a time, on the first `rows` districts: CPU seconds each."""
    from engine.batch.input import BatchInput
    from engine.batch.rows import to_district
    from engine.evaluate.advisor import Advisor
    from engine.evaluate.compiler import encode_intake
    from engine.evaluate.runtime import MEMO_SIZE
    from engine.files import OutputFolder
    from engine.render.documents import Renderer, generation_date

    clock = time.process_time
    split = Split(render={fmt: 0.0 for fmt in formats})
    advisor = Advisor.load(rules)
    renderer = Renderer(templates)
    generated = generation_date(DATE, "--date")
    documents = [f for f in formats if f != "json"]
    compiled = {fmt: renderer.template(fmt) for fmt in documents}
    start = clock()
    with BatchInput(csv_path, advisor.rules) as source:
        records = [r for r in itertools.islice(source.records(), rows) if r.error is None]
        districts = [to_district(r, source.layout, advisor.rules, "bench") for r in records]
    split.parse = clock() - start
    start = clock()
    for district in districts:
        reference_evaluate(advisor.rules, district.answers, district.profile)
    split.reference = clock() - start
    out.mkdir(parents=True, exist_ok=True)
    folder = OutputFolder(out)
    step = min(250, MEMO_SIZE)  # chunk by chunk, as a worker does
    for low in range(0, len(districts), step):
        chunk = districts[low : low + step]
        start = clock()
        advisor.engine.evaluate([encode_intake(advisor.program, d.answers, d.profile) for d in chunk])
        middle = clock()
        recommendations = advisor.recommend_many(chunk)  # its mains are memoised now: this is the variants
        split.main += middle - start
        split.variants += clock() - middle
        for number, rec in enumerate(recommendations, start=low):
            start = clock()
            context = renderer.context(rec, generated=generated) if documents else None
            split.context += clock() - start
            for fmt in formats:
                start = clock()
                if fmt == "json":
                    data: str | bytes = rec.to_json(compact=True)  # as the batch worker writes it
                else:
                    data = renderer.render_bytes(compiled[fmt], context)  # as the batch worker renders it
                middle = clock()
                folder.write(f"{number}.{FORMATS[fmt].extension}", data)
                split.render[fmt] += middle - start
                split.write += clock() - middle
    folder.close()
    return len(districts), split


def floor_figures(csv_path: Path, rules_dir: Path, formats: tuple[str, ...], out: Path, sizes: dict[str, float], rows: int):
    """The floor pipeline on every district (CPU seconds, districts) and on the split's sample."""
    from engine.rules.rulebook import load_rules

    rules = load_rules(rules_dir)
    all_rows, parse = floor.parse_seconds(csv_path, rules)
    pipeline = floor.Floor(rules)
    pipeline.blocks = floor.calibrate(pipeline, all_rows, sizes)
    start = time.process_time()
    floor.run(pipeline, all_rows, formats, out / "all")
    total = parse + time.process_time() - start
    sample_rows = all_rows[:rows]
    sample = floor.Floor(rules, pipeline.blocks)
    times = floor.run(sample, sample_rows, formats, out / "sample")
    times.parse = parse * len(sample_rows) / len(all_rows)
    mean = {fmt: sum(len(sample.render(fmt, sample.decide(r))) for r in sample_rows[:200]) / min(200, len(sample_rows)) for fmt in formats}
    return total, len(all_rows), times, mean


def document_sizes(out: Path, formats: tuple[str, ...]) -> dict[str, float]:
    """Mean bytes of the batch's documents, per format."""
    sizes = {}
    for fmt in formats:
        files = list(out.glob(f"*.{FORMATS[fmt].extension}"))
        sizes[fmt] = sum(f.stat().st_size for f in files) / max(len(files), 1)
    return sizes


def print_split(n_engine: int, split: Split, n_floor: int, times: "floor.FloorTimes", formats: tuple[str, ...]) -> None:
    per_e, per_f = 1e3 / max(n_engine, 1), 1e3 / max(n_floor, 1)
    render_f = sum(times.render.values())
    rows = [
        ("parse rows", split.parse, times.parse),
        ("main evaluation", split.main, split.reference),
        ("what-if variants", split.variants, None),
        ("decide (main + variants)", split.main + split.variants, times.decide),
        ("template context", split.context, None),
        *((f"render {fmt}" + (" (+ context)" if fmt != "json" else ""), split.render[fmt] + (split.context if fmt != "json" else 0) / max(1, sum(f != "json" for f in formats)), times.render[fmt]) for fmt in formats),
        ("write", split.write, times.write),
    ]
    total_e = split.parse + split.main + split.variants + split.context + sum(split.render.values()) + split.write
    total_f = times.parse + times.decide + render_f + times.write
    print(f"per-stage CPU split, in this process, {n_engine:,} districts (ms per district; floor beside it):")
    print(f"  {'stage':<28}{'engine':>9}{'floor':>9}{'ratio':>8}")
    for name, engine_s, floor_s in rows:
        if name == "main evaluation":
            floor_text = f"{floor_s * per_e:9.3f}{engine_s / floor_s:7.1f}x  (floor: the reference evaluator alone)"
        elif floor_s is None:
            floor_text = ""
        else:
            floor_text = f"{floor_s * per_f:9.3f}{engine_s * per_e / max(floor_s * per_f, 1e-9):7.1f}x"
        print(f"  {name:<28}{engine_s * per_e:9.3f}{floor_text}")
    print(f"  {'total':<28}{total_e * per_e:9.3f}{total_f * per_f:9.3f}{total_e * per_e / (total_f * per_f):7.1f}x")


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
    parser.add_argument(
        "--split-rows", type=int, default=4_000, help="districts in the per-stage split (default 4,000)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile the worker code in one process")
    args = parser.parse_args(argv)
    as_installed(ROOT)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())

    folder = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=args.folder))
    os.environ["ROSTERING_ADVISOR_CACHE"] = str(folder / "cache")  # a first run on these rules; never the user's cache
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
        self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = sampler.largest_kb / 1024
        times = result.times
        print(f"batch: {result.summary_line()}")
        print(f"input: {csv_path} ({csv_path.stat().st_size / 1e6:.1f} MB); formats {', '.join(formats)}; "
              f"{result.workers} worker process(es) on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        per = 1e3 / max(result.districts, 1)
        batch_ms = (parent_cpu + workers_cpu) * per
        floor_cpu, floor_n, floor_times, floor_sizes = floor_figures(
            csv_path, rules, formats, folder / "floor", document_sizes(out, formats), args.split_rows
        )
        floor_ms = floor_cpu * 1e3 / floor_n
        ratio = batch_ms / floor_ms
        target = TARGET_RATIO.get(",".join(formats))
        verdict = f" (target <= {target}x) {'OK' if ratio <= target else 'MISSED'}" if target and not args.template else ""
        print(
            f"CPU per district: batch {batch_ms:.3f} ms (parent {parent_cpu * per:.3f}, workers {workers_cpu * per:.3f}); "
            f"floor {floor_ms:.3f} ms; ratio {ratio:.2f}x{verdict}"
        )
        print(
            "  document bytes, batch / floor: "
            + ", ".join(f"{fmt} {document_sizes(out, (fmt,))[fmt]:,.0f} / {floor_sizes[fmt]:,.0f}" for fmt in formats)
        )
        print(f"peak memory: {peak_kb / 1024:.0f} MB parent + workers, sampled (target < {TARGET_MB}) "
              f"{'OK' if peak_kb / 1024 < TARGET_MB else 'MISSED'}; "
              f"max RSS: parent {self_mb:.0f} MB, largest worker {child_mb:.0f} MB")
        n_engine, split = engine_split(csv_path, rules, templates, args.split_rows, formats, folder / "split")
        print_split(n_engine, split, min(args.split_rows, floor_n), floor_times, formats)
        print(
            f"information only (wall clock swings with the machine's load): {elapsed:.1f} s end to end, "
            f"{result.districts / elapsed:,.0f} districts/s; reference loop {speed_before:.0f} ms before, "
            f"{speed_after:.0f} ms after (lower is a faster machine)"
        )
        work = times.parse + times.engine + times.render + times.write
        print("  wall seconds per stage (workers' figures summed over the workers): " + ", ".join(
            f"{name} {seconds:.2f}" for name, seconds in (
                ("parent read + plan", result.read_seconds), ("parent waiting", result.wait_seconds),
                ("parse", times.parse), ("engine", times.engine), ("render", times.render), ("write", times.write),
            )
        ) + (f" ({times.render / work:.0%} of worker time rendering)" if work else ""))
        start = time.perf_counter()
        again = run_batch(config)
        print(f"  re-run, nothing changed: {time.perf_counter() - start:.1f} s ({again.summary_line()})")
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
