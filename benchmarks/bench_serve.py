"""`rostering-advisor serve` under load: 64 concurrent clients for 30 s on loopback against
`POST /api/recommend` with varied districts, `--workers 2`; beside it, in the same run, the same
number of processes calling `Advisor.recommend` directly on the same districts.

    python benchmarks/bench_serve.py                       # 64 clients, 30 s, 2 workers
    python benchmarks/bench_serve.py --seconds 10 --clients 16

Prints requests/s, p50/p99 latency and errors for the server; calls/s for the direct processes
(recommend alone, and recommend with the JSON the endpoint returns); the server's share of the
direct rate; and CPU time per request of the server's workers beside the direct CPU time per call
(the floor the server cannot go below), so the HTTP layer's cost shows whatever the machine's
speed. The districts are `make_districts.py`'s (NCES size mix, answers as people type them).

The clients are one asyncio process of our own on the same machine (a minimal keep-alive
HTTP/1.1 client: a fuller one would take more of the two cores from the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
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
    from engine.compact_json import indented

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
                indented(rec.to_dict())
            calls += 1
    return calls, time.process_time() - start_cpu


def direct_rate(rules: str, documents: list[dict[str, Any]], processes: int, seconds: float, with_json: bool) -> tuple[float, float]:
    """Calls per second of `processes` processes together, and CPU ms per call."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_direct, [(rules, documents[i::processes], seconds, with_json) for i in range(processes)])
    calls = sum(c for c, _ in results)
    return calls / seconds, 1e3 * sum(cpu for _, cpu in results) / calls


async def _client(port: int, bodies: list[bytes], offset: int, deadline: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            request = (
                b"POST /api/recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )  # fmt: skip
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode())
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _load(port: int, bodies: list[bytes], clients: int, seconds: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(_client(port, bodies, k * 37, deadline, latencies, errors) for k in range(clients)))
    return latencies, errors


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
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients send requests (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--districts", type=int, default=2000, help="varied districts the requests cycle through")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--direct-seconds", type=float, default=10.0, help="how long the direct processes call recommend")
    args = parser.parse_args(argv)

    documents = districts(args.districts)
    bodies = [json.dumps(d, ensure_ascii=False).encode("utf-8") for d in documents]
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
        asyncio.run(_load(port, bodies, args.clients, 3.0))  # warm up: imports, memos, connections
        workers = _children(server.pid)
        cpu_before = _cpu_seconds(workers)
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        latencies, errors = asyncio.run(_load(port, bodies, args.clients, args.seconds))
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = _cpu_seconds(workers) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=20)
    client_cpu = client_after.ru_utime + client_after.ru_stime - client_before.ru_utime - client_before.ru_stime

    direct, direct_cpu = direct_rate(args.rules, documents, args.workers, args.direct_seconds, with_json=False)
    direct_json, direct_json_cpu = direct_rate(args.rules, documents, args.workers, args.direct_seconds, with_json=True)

    served = len(latencies)
    rate = served / args.seconds
    quantiles = statistics.quantiles(latencies, n=100) if served > 1 else [float("nan")] * 99
    print(f"serve --workers {args.workers}: {args.clients} clients for {args.seconds:g} s on loopback, {len(bodies):,} varied districts")
    print(f"  requests/s        {rate:8.0f}   ({served:,} requests)")
    print(f"  latency p50       {quantiles[49] * 1e3:8.1f} ms")
    print(f"  latency p99       {quantiles[98] * 1e3:8.1f} ms   (target <= 100 ms)")
    print(f"  errors            {len(errors):8d}" + (f"   first: {errors[0]}" if errors else "") + "   (target 0)")
    print(f"  server CPU        {1e3 * server_cpu / max(served, 1):8.2f} ms per request (its {args.workers} workers)")
    print(f"  client CPU        {1e3 * client_cpu / max(served, 1):8.2f} ms per request (the load generator, same cores)")
    print(f"direct, {args.workers} processes calling Advisor.recommend, {args.direct_seconds:g} s each:")
    print(f"  recommend         {direct:8.0f} calls/s   CPU {direct_cpu:.2f} ms per call (the floor)")
    print(f"  recommend + JSON  {direct_json:8.0f} calls/s   CPU {direct_json_cpu:.2f} ms per call (the endpoint's work without HTTP)")
    print(f"server / direct     {100 * rate / direct:8.0f} %   (target >= 70 %); / direct with JSON {100 * rate / direct_json:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
