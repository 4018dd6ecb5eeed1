"""What checking signatures costs a local request: p50 / p95 before and after, side by side, in one run.

    venv/bin/python bench/local_auth.py                     # the dev stack's `pred`, 400 requests x 5 rounds a mode
    venv/bin/python bench/local_auth.py --endpoint echo --requests 1000 --rounds 3

The stack's endpoint is started once (as `smodels serve` does, private), warmed up, then each mode is measured in
turn, round after round (interleaved, so drift on the machine hits every mode alike), one keep-alive connection,
one request at a time, the book's request:

- aws, before: the API Gateway front without verification (what the local stack did until issue 20), unsigned;
- aws, after: the front verifying SigV4 for the stack's key pair, each request signed (signing not timed);
- gcp, direct: straight to functions-framework (before issue 20 the function's URL was functions-framework's);
- gcp, front: through the Cloud Run front, no check (`public: true`);
- gcp, after: through the front checking the ID token (one token, reused as clients reuse theirs).
The client's own signing cost (SigV4 per request; minting an ID token, done once an hour) is printed after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.load import local_stack  # noqa: E402 - needs the repository root on sys.path
from smodels import client  # noqa: E402

BOOK = json.dumps({"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}).encode()
ECHO = b'{"msg": "hello"}'


def measure(url: str, body: bytes, n: int, headers_for: Callable[[], dict[str, str]]) -> list[float]:
    """Latencies (ms) of `n` sequential POSTs on one keep-alive connection; `headers_for()` is called (untimed)
    before each one."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    out: list[float] = []
    try:
        for _ in range(n):
            headers = headers_for()
            t0 = time.perf_counter()
            conn.request("POST", parts.path or "/", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out.append((time.perf_counter() - t0) * 1000)
            if resp.status != 200:
                raise SystemExit(f"bench/local_auth.py: {url} answered {resp.status}: {data[:300]!r}")
    finally:
        conn.close()
    return out


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    data = sorted(values)
    return data[max(0, min(len(data) - 1, int(round(p / 100 * len(data) + 0.5)) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Start the endpoint, measure every mode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to serve (default dev)")
    parser.add_argument("--endpoint", default="pred", help="endpoint to measure (default pred; echo works too)")
    parser.add_argument("--requests", type=int, default=400, help="requests per mode per round (default 400)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    args = parser.parse_args(argv)
    if args.requests < 10 or args.rounds < 1:
        parser.error("--requests must be >= 10 and --rounds >= 1")

    if args.endpoint == "echo":
        from dataclasses import replace

        from smodels.config import stack_config_for
        from smodels.local import LocalStack

        cfg = stack_config_for(REPO_ROOT, args.stack)
        cfg = replace(cfg, endpoints=tuple(e for e in cfg.endpoints if e.name == "echo"), public=False)
        stack = LocalStack(cfg, stack=args.stack, port=0, run_dir=cfg.project_dir / ".build" / "local" /
                           f"{args.stack}-auth", progress=lambda m: print(f"smodels: {m}", file=sys.stderr))
        body = ECHO
    else:
        stack = local_stack(args.stack, [args.endpoint], None, 2)
        body = BOOK
    with stack:
        if not stack.private:
            raise SystemExit("bench/local_auth.py: the stack is public; measure a private one")
        eps = {ep.cloud: ep for ep in stack.endpoints if ep.name == args.endpoint}
        aws, gcp = eps.get("aws"), eps.get("gcp")
        access = stack.client_access
        plain = {"Content-Type": "application/json"}
        modes: list[tuple[str, str, Callable[[], None], str, Callable[[], dict[str, str]]]] = []
        if aws is not None and stack.front is not None:
            verifier = stack.front.auth

            def aws_off() -> None:
                stack.front.auth = None

            def aws_on() -> None:
                stack.front.auth = verifier

            modes += [("aws", "before: front, no check", aws_off, aws.url, lambda: dict(plain)),
                      ("aws", "after: SigV4 verified", aws_on, aws.url,
                       lambda: client.sign_local(access, "POST", aws.url, body, plain))]
        if gcp is not None:
            front = stack.gcp_fronts[args.endpoint]
            check = front.check
            token = client.local_id_token(access, gcp.url)

            def gcp_off() -> None:
                front.check = None

            def gcp_on() -> None:
                front.check = check

            modes += [("gcp", "before: functions-framework", gcp_off, stack.gcp_functions[args.endpoint].url,
                       lambda: dict(plain)),
                      ("gcp", "front, no check", gcp_off, gcp.url, lambda: dict(plain)),
                      ("gcp", "after: ID token verified", gcp_on, gcp.url,
                       lambda: {**plain, "Authorization": f"Bearer {token}"})]
        for _, _, setup, url, headers_for in modes:  # warm up every path (cold starts are not the point)
            setup()
            measure(url, body, 20, headers_for)
        results: dict[str, list[float]] = {name: [] for _, name, _, _, _ in modes}
        for _ in range(args.rounds):
            for _, name, setup, url, headers_for in modes:
                setup()
                results[name] += measure(url, body, args.requests, headers_for)
        for _, _, setup, _, _ in modes[1::2]:
            setup()  # leave the checks on

        # The client's side: what signing costs per request, and minting a token.
        sigv4_us = mint_us = float("nan")
        if aws is not None:
            t0 = time.perf_counter()
            for _ in range(200):
                client.sign_local(access, "POST", aws.url, body, plain)
            sigv4_us = (time.perf_counter() - t0) / 200 * 1e6
        if gcp is not None:
            t0 = time.perf_counter()
            for _ in range(50):
                client.mint_id_token(access, gcp.url)
            mint_us = (time.perf_counter() - t0) / 50 * 1e6

    n = args.requests * args.rounds
    print(f"endpoint {args.endpoint}, {n} requests per mode ({args.rounds} rounds interleaved), sequential, "
          "keep-alive; latency in ms")
    print(f"{'cloud':<6} {'mode':<30} {'p50':>7} {'p95':>7} {'mean':>7}")
    for cloud, name, _, _, _ in modes:
        lat = results[name]
        print(f"{cloud:<6} {name:<30} {pct(lat, 50):>7.2f} {pct(lat, 95):>7.2f} {statistics.fmean(lat):>7.2f}")
    print()
    for cloud, before, after in (("aws", "before: front, no check", "after: SigV4 verified"),
                                 ("gcp", "before: functions-framework", "after: ID token verified"),
                                 ("gcp", "front, no check", "after: ID token verified")):
        if before in results and after in results:
            b, a = pct(results[before], 50), pct(results[after], 50)
            print(f"{cloud}: p50 {b:.2f} ms ({before}) -> {a:.2f} ms ({after}): {a - b:+.2f} ms")
    print(f"client: SigV4 signing {sigv4_us:.0f} us per request; minting an ID token {mint_us:.0f} us (once an hour)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
