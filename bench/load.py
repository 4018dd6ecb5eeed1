"""Bounded load against the endpoints `smodels serve` runs: latency percentiles, throughput, status counts.

    venv/bin/python bench/load.py                       # the dev stack's model endpoints, levels 1, 4, 16
    venv/bin/python bench/load.py --endpoint pred --runtime native --requests 3000 --max-seconds 30
    venv/bin/python bench/load.py --url aws/pred=http://127.0.0.1:8080/pred --url gcp/pred=http://127.0.0.1:8081/

By default the stack's model endpoints are started the way `smodels serve` starts them (smodels.local's
LocalStack: packages built for this interpreter, local S3 and GCS, awslambdaric behind the payload-2.0 front,
functions-framework), on free ports of 127.0.0.1, and stopped at the end. ``--url`` loads endpoints that are
already running instead (a `smodels serve` in another terminal); loopback URLs only. Requests to a private local
stack are signed (smodels.client.sign_for_local: SigV4 with its key pair, an ID token of its issuer), so the
latencies include the fronts' signature checks; for ``--url`` the stack is found from the state file of
``--stack`` (`.build/local/<stack>/state.json`).

Each level sends a fixed number of requests AND stops at a time cap, whichever comes first; the mix is 80%
good single rows, 10% batches of 50 rows and 10% bad requests (rotating: missing feature, non-numeric value,
invalid JSON, unknown feature, wrong content type, empty batch). A bad request answered with its 4xx is
expected; anything else (a good request not 200, a bad one not 4xx, a 5xx, a connection error) is counted
as unexpected. Threads and http.client, one keep-alive connection per thread.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from smodels import client

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_stack(stack: str, endpoints: list[str], runtime: str | None, workers: int) -> Any:
    """`smodels serve --stack <stack> --port 0` for the model endpoints (all, or ``endpoints``), not yet started."""
    from smodels.config import stack_config_for
    from smodels.local import LocalStack

    cfg = stack_config_for(REPO_ROOT, stack)
    eps = tuple(dataclasses.replace(ep, runtime=runtime or ep.runtime) for ep in cfg.endpoints
                if ep.kind == "model" and (not endpoints or ep.name in endpoints))
    if not eps:
        raise SystemExit(f"bench/load.py: no model endpoint {' '.join(endpoints)} in Pulumi.{stack}.yaml")
    return LocalStack(dataclasses.replace(cfg, endpoints=eps), stack=stack, port=0, pool_size=workers,
                      run_dir=cfg.project_dir / ".build" / "local" / f"{stack}-load",
                      progress=lambda m: print(f"smodels: {m}", file=sys.stderr, flush=True))


# -- request mix -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Req:
    """One request to send and whether a 4xx is its expected answer."""

    kind: str  # "single" | "batch" | "bad:<what>"
    body: bytes
    content_type: str = "application/json"

    @property
    def bad(self) -> bool:
        return self.kind.startswith("bad")


def _row(rng: random.Random) -> dict[str, Any]:
    return {f: rng.choice(["0", "1"]) if rng.random() < 0.5 else rng.randint(0, 1) for f in FEATURES}


def make_requests(n: int, seed: int = 0, batch_rows: int = 50, mix: tuple[int, int, int] = (80, 10, 10)) -> list[Req]:
    """``n`` requests in a shuffled, reproducible 80/10/10 (single/batch/bad) mix."""
    rng = random.Random(seed)
    good, batch, _ = mix
    book = {"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}
    bad = [
        Req("bad:missing-feature", json.dumps({k: v for k, v in book.items() if k != "G10"}).encode()),
        Req("bad:non-numeric", json.dumps({**book, "G3": "abc"}).encode()),
        Req("bad:invalid-json", b'{"G1": "1",'),
        Req("bad:unknown-feature", json.dumps({**book, "G11": "0"}).encode()),
        Req("bad:content-type", json.dumps(book).encode(), "text/plain"),
        Req("bad:empty-batch", b'{"instances": []}'),
    ]
    out: list[Req] = []
    for i in range(n):
        roll = rng.randrange(100)
        if roll < good:
            out.append(Req("single", json.dumps(_row(rng)).encode()))
        elif roll < good + batch:
            rows = [[rng.randint(0, 1) for _ in FEATURES] for _ in range(batch_rows)]
            out.append(Req("batch", json.dumps({"instances": rows}).encode()))
        else:
            out.append(bad[i % len(bad)])
    return out


# -- load ------------------------------------------------------------------------------------------------

@dataclass
class LevelResult:
    """What one (target, concurrency) run measured."""

    target: str
    concurrency: int
    sent: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    stopped_by: str = "count"

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies (ms); NaN when nothing was measured."""
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        k = max(0, min(len(data) - 1, int(round(p / 100 * len(data) + 0.5)) - 1))
        return data[k]

    @property
    def throughput(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def check_loopback(url: str) -> None:
    """Refuse anything but a loopback http URL (this tool never loads a remote service)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SystemExit(f"bench/load.py: {url!r} is not a loopback http:// URL; only local endpoints are loaded")


def run_level(target: str, url: str, concurrency: int, requests: list[Req], max_seconds: float) -> LevelResult:
    """Send ``requests`` to ``url`` from ``concurrency`` threads, stopping early at ``max_seconds``."""
    check_loopback(url)
    parts = urlsplit(url)
    path = parts.path or "/"
    result = LevelResult(target, concurrency)
    lock = threading.Lock()
    next_index = [0]
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        lat: list[float] = []
        statuses: Counter = Counter()
        unexpected: Counter = Counter()
        while True:
            if time.monotonic() >= deadline:
                break
            with lock:
                i = next_index[0]
                if i >= len(requests):
                    break
                next_index[0] += 1
            req = requests[i]
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            started = time.perf_counter()
            try:
                headers = client.sign_for_local("POST", url, req.body, {"Content-Type": req.content_type})
                conn.request("POST", path, body=req.body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                statuses["conn-error"] += 1
                unexpected[f"{req.kind}: {type(exc).__name__}"] += 1
                continue
            lat.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if req.bad:
                ok = 400 <= status < 500 and b'"success":false' in data
            else:
                ok = status == 200 and b'"success":true' in data
            if not ok:
                unexpected[f"{req.kind}: {status}"] += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            result.latencies_ms.extend(lat)
            result.statuses.update(statuses)
            result.unexpected.update(unexpected)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 60)
    result.seconds = time.perf_counter() - started
    result.sent = sum(result.statuses.values())
    if result.sent < len(requests):
        result.stopped_by = "time"
    return result


def format_results(results: list[LevelResult]) -> str:
    """The results as a fixed-width table plus status and unexpected-outcome lines."""
    lines = [f"{'target':<12} {'conc':>4} {'sent':>6} {'secs':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
             f"{'p99 ms':>8} {'unexpected':>10}  statuses"]
    for r in results:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items(), key=lambda kv: str(kv[0])))
        lines.append(f"{r.target:<12} {r.concurrency:>4} {r.sent:>6} {r.seconds:>6.1f} {r.throughput:>8.1f} "
                     f"{r.percentile(50):>8.2f} {r.percentile(95):>8.2f} {r.percentile(99):>8.2f} "
                     f"{sum(r.unexpected.values()):>10}  {statuses}"
                     + ("  (stopped by time cap)" if r.stopped_by == "time" else ""))
    for r in results:
        if r.unexpected:
            lines.append(f"  unexpected at {r.target} x{r.concurrency}: {dict(r.unexpected)}")
    return "\n".join(lines)


def warm_up(url: str) -> None:
    """One good request so the model load (cold start) is not counted in the first level."""
    body = json.dumps({"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}).encode()
    headers = client.sign_for_local("POST", url, body, {"Content-Type": "application/json"})
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, start (or take) the targets, run every level, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", default=[], metavar="NAME=URL",
                        help="a loopback endpoint to load instead of starting the stack (repeatable)")
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to serve (default dev)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                        help="only these model endpoints of the stack (repeatable; default all)")
    parser.add_argument("--runtime", choices=["onnx", "native"], default=None,
                        help="model runtime of the endpoints started (default: the stack's)")
    parser.add_argument("--workers", type=int, default=2, help="Lambda worker processes per function (default 2)")
    parser.add_argument("--levels", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per level (default 2000)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time cap per level (default 20)")
    parser.add_argument("--batch-rows", type=int, default=50, help="rows per batch request (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or args.requests < 1 or args.max_seconds <= 0 or args.workers < 1:
        parser.error("levels, --requests, --max-seconds and --workers must be positive")

    with contextlib.ExitStack() as stack:
        targets: list[tuple[str, str]] = []
        for item in args.url:
            name, sep, url = item.partition("=")
            if not sep:
                parser.error(f"--url {item!r}: expected NAME=URL")
            check_loopback(url)
            targets.append((name, url))
        if targets:  # a `smodels serve --stack STACK` running elsewhere: sign for it
            with contextlib.suppress(client.ClientError):
                client.use_local_outputs(client.local_state_outputs(REPO_ROOT, args.stack))
        if not targets:
            local = stack.enter_context(local_stack(args.stack, args.endpoint, args.runtime, args.workers))
            targets = [(f"{ep.cloud}/{ep.name}", ep.url) for ep in local.endpoints]
        for _, url in targets:
            warm_up(url)
        print(f"{len(targets)} target(s); {args.requests} requests or {args.max_seconds:.0f}s per level; mix 80% "
              f"single / 10% batch of {args.batch_rows} / 10% bad; os.cpu_count()={os.cpu_count()}")
        results: list[LevelResult] = []
        requests = make_requests(args.requests, args.seed, args.batch_rows)
        for name, url in targets:
            for level in levels:
                results.append(run_level(name, url, level, requests, args.max_seconds))
        print(format_results(results))
        return 1 if any(r.unexpected for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
