"""`rostering-advisor serve` under load: 64 concurrent clients for 30 s on loopback against
`POST /api/recommend` with varied districts, `--workers 2`; beside it, in the same run, the same
number of processes calling `Advisor.recommend` directly on the same districts.

    python benchmarks/bench_serve.py                       # 64 clients, 30 s, 2 workers
    python benchmarks/bench_serve.py --seconds 10 --clients 16 --threads 2

Prints requests/s, p50/p99 latency and errors for the server; calls/s for the direct processes
(recommend alone, and recommend with the JSON the endpoint returns); the server's share of the
direct rate; and CPU time per request of the server's workers beside the direct CPU time per call
(the floor the server cannot go below), so the HTTP layer's cost shows whatever the machine's
speed. The districts are `make_districts.py`'s (NCES size mix, answers as people type them).

The load generator is wrk (`apt-get install wrk`; C, epoll): one thread keeps 64 keep-alive
connections busy for next to no CPU (its own per request is printed), so the server's share of the
two cores is nearly all of them. A Lua script of ours, written to a temporary folder, cycles the
requests through the districts and counts every response other than 200 as an error.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_districts import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOT_QUESTIONS = {"district_id", "district_name", "students", "sis", "uses_clever", "notes"}


def districts(count: int) -> list[dict[str, Any]]:
    """Answers documents for `count` generated districts."""
    rows = generate(count)
    header = next(rows)
    out = []
    for row in rows:
        cells = dict(zip(header, row))
        profile: dict[str, Any] = {}
        students = cells["students"].replace(",", "").strip()
        if students.isdigit():  # written as people write it: "2,659"
            profile["students"] = int(students)
        if cells["sis"]:
            profile["sis"] = cells["sis"]
        if cells["uses_clever"]:
            profile["uses_clever"] = cells["uses_clever"].strip().lower() in ("yes", "y", "true", "1")
        answers = {q: cells[q] for q in header if q not in NOT_QUESTIONS and cells[q]}
        out.append({"district": {"name": cells["district_name"], "id": cells["district_id"]}, "profile": profile,
                    "answers": answers, "notes": cells["notes"]})  # fmt: skip
    return out


def _direct(args: tuple[str, list[dict[str, Any]], float, bool]) -> tuple[int, float]:
    """In a fresh process: calls of Advisor.recommend for `seconds`, and the CPU seconds they took."""
    from engine import Advisor

    rules, documents, seconds, with_json = args
    advisor = Advisor.load(rules)
    for document in documents[:50]:  # warm up, as the server is warmed up
        advisor.recommend(document)
    calls = 0
    start_cpu = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for document in documents[calls % len(documents) : calls % len(documents) + 20]:
            rec = advisor.recommend(document)
            if with_json:
                rec.to_json()  # the endpoint's document, sealed
            calls += 1
    return calls, time.process_time() - start_cpu


def direct_rate(rules: str, documents: list[dict[str, Any]], processes: int, seconds: float, with_json: bool) -> tuple[float, float]:
    """Calls per second of `processes` processes together, and CPU ms per call."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_direct, [(rules, documents[i::processes], seconds, with_json) for i in range(processes)])
    calls = sum(c for c, _ in results)
    return calls / seconds, 1e3 * sum(cpu for _, cpu in results) / calls


# wrk's Lua script: each wrk thread's requests cycle through the districts from a point of its own
# (one JSON body a line of the file given as the script's argument, made into requests once, at
# start); responses other than 200 are counted by the `response` hook; `done` prints one line for
# `_wrk_figures` to read.
LUA = r"""
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 997)
  table.insert(threads, thread)
end

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  posts = {}
  for body in io.lines(args[1]) do
    posts[#posts + 1] = wrk.format("POST", "/api/recommend", headers, body)
  end
  next_post = offset
  not_ok = 0
end

function request()
  next_post = next_post % #posts + 1
  return posts[next_post]
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local not_ok = 0
  for _, thread in ipairs(threads) do
    not_ok = not_ok + thread:get("not_ok")
  end
  local e = summary.errors
  io.write(string.format(
    "bench_serve: requests=%d duration_us=%d p50_us=%d p99_us=%d not_ok=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    not_ok, e.connect, e.read, e.write, e.timeout))
end
"""

WRK_MISSING = (
    "bench_serve.py: the load generator wrk is not installed; install it (Debian/Ubuntu: "
    "apt-get install wrk; macOS: brew install wrk) and run again"
)


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests answered, over how long, latency quantiles, and what went wrong."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]  # not_ok (a status other than 200), connect, read, write, timeout

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _wrk_figures(output: str) -> Load:
    """The figures of the line the Lua script's `done` prints."""
    line = next(line for line in output.splitlines() if line.startswith("bench_serve: "))
    fields = {key: int(value) for key, value in (pair.split("=") for pair in line.split()[1:])}
    errors = {key: fields[key] for key in ("not_ok", "connect", "read", "write", "timeout")}
    return Load(fields["requests"], fields["duration_us"] / 1e6, fields["p50_us"] / 1e3, fields["p99_us"] / 1e3, errors)


def _wrk(wrk: str, script: Path, bodies: Path, port: int, threads: int, clients: int, seconds: int) -> Load:
    """One wrk run against the server; raises with wrk's own message when it fails."""
    command = [wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script)]
    done = subprocess.run([*command, f"http://127.0.0.1:{port}", "--", str(bodies)], capture_output=True, text=True)
    if done.returncode != 0 or "bench_serve: " not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return _wrk_figures(done.stdout)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of processes so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        out += [int(c) for c in children]
    return out + [grand for child in out for grand in _children(child)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="whole seconds the clients send requests (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--districts", type=int, default=2000, help="varied districts the requests cycle through")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--direct-seconds", type=float, default=10.0, help="how long the direct processes call recommend")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds: wrk runs for whole seconds, at least 1")

    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2

    documents = districts(args.districts)
    with tempfile.TemporaryDirectory(prefix="bench_serve-") as folder:
        script, bodies = Path(folder, "recommend.lua"), Path(folder, "bodies.jsonl")
        script.write_text(LUA)
        lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents)  # one a line: JSON escapes newlines
        bodies.write_text(lines, encoding="utf-8")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "engine", "serve", "--rules", args.rules, "--port", str(port), "--workers", str(args.workers)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1.0)  # every worker up
            _wrk(wrk, script, bodies, port, args.threads, args.clients, 3.0)  # warm up: imports, memos, connections
            workers = _children(server.pid)
            cpu_before = _cpu_seconds(workers)
            client_before = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk's, once it is reaped
            load = _wrk(wrk, script, bodies, port, args.threads, args.clients, args.seconds)
            client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            server_cpu = _cpu_seconds(workers) - cpu_before
        finally:
            server.terminate()
            server.wait(timeout=20)
    client_cpu = client_after.ru_utime + client_after.ru_stime - client_before.ru_utime - client_before.ru_stime

    direct, direct_cpu = direct_rate(args.rules, documents, args.workers, args.direct_seconds, with_json=False)
    direct_json, direct_json_cpu = direct_rate(args.rules, documents, args.workers, args.direct_seconds, with_json=True)

    served = max(load.requests, 1)
    errors = sum(load.errors.values())
    kinds = ", ".join(f"{count} {kind}" for kind, count in load.errors.items() if count)
    print(
        f"serve --workers {args.workers}: {args.clients} connections for {load.seconds:.3g} s on loopback (wrk -t{args.threads}), "
        f"{len(documents):,} varied districts"
    )
    print(f"  requests/s        {load.rate:8.0f}   ({load.requests:,} requests)")
    print(f"  latency p50       {load.p50_ms:8.1f} ms")
    print(f"  latency p99       {load.p99_ms:8.1f} ms   (target <= 100 ms)")
    print(f"  errors            {errors:8d}" + (f"   ({kinds}; not_ok: a status other than 200)" if errors else "") + "   (target 0)")
    print(f"  server CPU        {1e3 * server_cpu / served:8.3f} ms per request (its {args.workers} workers)")
    print(f"  client CPU        {1e3 * client_cpu / served:8.3f} ms per request (wrk, on the same cores)")
    print(f"direct, {args.workers} processes calling Advisor.recommend, {args.direct_seconds:g} s each:")
    print(f"  recommend         {direct:8.0f} calls/s   CPU {direct_cpu:.3f} ms per call (the floor)")
    print(f"  recommend + JSON  {direct_json:8.0f} calls/s   CPU {direct_json_cpu:.3f} ms per call (the endpoint's work without HTTP)")
    share, share_json = 100 * load.rate / direct, 100 * load.rate / direct_json
    print(f"server / direct     {share:8.0f} %   (target >= 70 %); / direct with JSON {share_json:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
