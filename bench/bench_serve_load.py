"""The explorer under load (issue 24): a bounded asyncio load test on 127.0.0.1.

Starts ``evokegraph serve`` on a knowledge base in a subprocess, then runs
``--clients`` concurrent clients for ``--duration`` seconds (each requests
pages of the explorer in a fixed rotation: grid pages, image pages, concept
pages, their JSON twins) while one more client keeps a slow query running in
the Cypher box (a three-way cross join of the concepts, stopped by the
server at its time limit, then sent again). Stops by itself; prints requests
served, rate, p50/p99 latency of the page requests, errors, how the slow
queries ended, and the server's RSS at start and end, with the load average.

    python bench/bench_serve_load.py --db demo.kb --clients 32 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

CROSS_JOIN = (
    "MATCH (a:Concept), (b:Concept), (c:Concept) "
    "RETURN a.name AS x, b.name AS y, c.name AS z ORDER BY x, y, z LIMIT 5"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """RSS of the server with its child processes (the query lanes)."""
    import psutil

    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return float(total) / 2**20


def rss_parts_mb(pid: int) -> dict[str, Any]:
    """The server's own RSS and each child's (query lanes, multiprocessing's tracker)."""
    import psutil

    proc = psutil.Process(pid)
    children = []
    for p in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            children.append(round(p.memory_info().rss / 2**20, 1))
    return {"server": round(proc.memory_info().rss / 2**20, 1), "children": sorted(children)}


def cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds of the server process and of its children (the query lanes;
    user + system): the pages' cost apart from the slow query's."""
    import psutil

    proc = psutil.Process(pid)
    t = proc.cpu_times()
    own, children = t.user + t.system, 0.0
    for p in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            c = p.cpu_times()
            children += c.user + c.system
    return own, children


def machine_idle() -> tuple[float, float]:
    """Idle and total CPU time of the whole machine so far (/proc/stat; zeros elsewhere):
    is the machine out of CPU during the run, or are requests waiting on something else?"""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    return fields[3] + fields[4], sum(fields[:8])


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def get(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a fresh connection (what a browser tab's request costs)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def page_paths(base: dict[str, Any]) -> list[str]:
    """The rotation of page requests, from what the KB holds."""
    paths = []
    for i, image in enumerate(base["images"]):
        paths += [
            f"/images?page={i % base['pages'] + 1}",
            f"/image/{image}",
            f"/api/images/{image}",
        ]
    for name in base["concepts"]:
        paths += [f"/concept/{quote(name)}", f"/api/concepts/{quote(name)}"]
    paths += ["/api/images?per_page=48", "/queries"]
    return paths


def kind(path: str) -> str:
    """The page kind of a request path: images, image, api/images, concept, ..."""
    parts = path.split("?")[0].strip("/").split("/")
    return "/".join(parts[:2]) if parts[0] == "api" else parts[0]


async def client(
    host: str,
    port: int,
    paths: list[str],
    until: float,
    lat: list[float],
    errors: list[str],
    by_kind: dict[str, list[float]] | None = None,
) -> None:
    i = random.randrange(len(paths))
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        t0 = time.perf_counter()
        try:
            status, _ = await get(host, port, path, 30.0)
        except (TimeoutError, OSError) as exc:
            errors.append(f"{path}: {type(exc).__name__}")
            continue
        if status != 200:
            errors.append(f"{path}: HTTP {status}")
        else:
            took = time.perf_counter() - t0
            lat.append(took)
            if by_kind is not None:
                by_kind.setdefault(kind(path), []).append(took)


async def slow_client(host: str, port: int, until: float, outcomes: list[str]) -> None:
    path = "/api/cypher?" + urlencode({"q": CROSS_JOIN})
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            status, body = await get(host, port, path, 600.0)
            message = json.loads(body or b"{}").get("error", "")
            outcomes.append(f"HTTP {status} after {time.perf_counter() - t0:.1f} s: {message[:60]}")
        except (TimeoutError, OSError, ValueError) as exc:
            outcomes.append(f"{type(exc).__name__} after {time.perf_counter() - t0:.1f} s")


async def sample_rss(pid: int, until: float, out: list[float]) -> None:
    """The server's RSS every 10 s (is it bounded, or growing?)."""
    while time.monotonic() < until:
        await asyncio.sleep(min(10.0, max(0.0, until - time.monotonic())))
        out.append(round(rss_mb(pid), 1))


def kb_sample(db: Path, distinct: int = 40) -> dict[str, Any]:
    """``distinct`` images and concepts of the KB (the pages the clients visit)."""
    from evokegraph.graph.ladybug_store import LadybugStore

    with LadybugStore(db, read_only=True) as kb:
        images = [
            r["id"]
            for r in kb.query(
                "MATCH (i:Image) RETURN i.id AS id ORDER BY id LIMIT $n", {"n": distinct}
            )
        ]
        concepts = [
            r["n"]
            for r in kb.query(
                "MATCH (e:Element)-[:IS]->(c:Concept) RETURN DISTINCT c.name AS n "
                "ORDER BY n LIMIT $n",
                {"n": distinct},
            )
        ]
        stats = kb.stats()
    return {
        "images": images,
        "concepts": concepts,
        "pages": max(1, stats.images // 48),
        "stats": stats,
    }


def start_server(
    db: Path, port: int, timeout_s: float, launcher: Path | None = None
) -> subprocess.Popen[bytes]:
    how = [str(launcher)] if launcher else ["-m", "evokegraph.cli"]
    cmd = [sys.executable, *how, "--db", str(db), "serve"]
    cmd += ["--port", str(port), "--timeout", str(timeout_s)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                why = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"the server exited: {why}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = kb_sample(args.db, args.distinct)
    port = free_port()
    proc = start_server(args.db, port, args.timeout, args.launcher)
    try:
        paths = page_paths(base)
        for p in paths[:10]:  # warm: first page of each kind, thumbnails cached
            await get("127.0.0.1", port, p, 60.0)
        rss_start = rss_mb(proc.pid)
        parts_start = rss_parts_mb(proc.pid)
        lat: list[float] = []
        errors: list[str] = []
        slow: list[str] = []
        by_kind: dict[str, list[float]] = {}
        cpu0 = cpu_s(proc.pid)
        mine0, idle0 = os.times(), machine_idle()
        t0 = time.monotonic()
        until = t0 + args.duration
        tasks = [
            client("127.0.0.1", port, paths, until, lat, errors, by_kind)
            for _ in range(args.clients)
        ]
        if args.slow:
            tasks.append(slow_client("127.0.0.1", port, until, slow))
        rss_series: list[float] = []
        tasks.append(sample_rss(proc.pid, until, rss_series))
        await asyncio.gather(*tasks)
        wall = time.monotonic() - t0
        rss_end = rss_mb(proc.pid)
        parts_end = rss_parts_mb(proc.pid)
        cpu1 = cpu_s(proc.pid)
        cpu, lanes_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        mine1, idle1 = os.times(), machine_idle()
        client_cpu = (mine1.user + mine1.system) - (mine0.user + mine0.system)
    finally:
        proc.terminate()
        proc.wait(20)
    return {
        "kb": {k: v for k, v in base["stats"].model_dump().items() if k != "runs"},
        "clients": args.clients,
        "distinct_pages": len(page_paths(base)),
        "duration_s": round(wall, 1),
        "requests": len(lat),
        "per_s": round(len(lat) / wall, 1),
        "p50_ms": round(1000 * percentile(lat, 0.50), 1),
        "p90_ms": round(1000 * percentile(lat, 0.90), 1),
        "p99_ms": round(1000 * percentile(lat, 0.99), 1),
        "max_ms": round(1000 * max(lat, default=float("nan")), 1),
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(lat)), 1),
        "lanes_cpu_s": round(lanes_cpu, 1),
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, len(lat)), 1),
        "machine_idle_pct": round(100 * (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1]), 1),
        "by_kind_p50_p99_ms": {
            k: [round(1000 * percentile(v, 0.5), 1), round(1000 * percentile(v, 0.99), 1)]
            for k, v in sorted(by_kind.items())
        },
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "slow_queries": slow,
        "server_rss_mb": {
            "start": round(rss_start, 1),
            "start_by_process": parts_start,
            "every_10_s": rss_series,
            "end": round(rss_end, 1),
            "end_by_process": parts_end,
        },
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="the knowledge base (LadybugDB file)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds")
    ap.add_argument("--timeout", type=float, default=10.0, help="the server's query limit (s)")
    ap.add_argument(
        "--distinct",
        type=int,
        default=40,
        help="images and concepts visited (40: a rotation of 202 pages the explorer keeps after "
        "their first visit; 2000: 10,002 pages, most requests build a page afresh)",
    )
    ap.add_argument("--no-slow", dest="slow", action="store_false", help="no slow query beside")
    ap.add_argument(
        "--launcher",
        type=Path,
        help="a Python file run instead of `-m evokegraph.cli` with the same arguments "
        "(an A/B of a changed setting without editing the checkout)",
    )
    args = ap.parse_args()
    random.seed(0)
    print(f"load average before: {[round(x, 2) for x in os.getloadavg()]}", flush=True)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
