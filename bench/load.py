"""Bounded load against the locally served model endpoints: latency percentiles, throughput, status counts.

    venv/bin/python bench/load.py                       # starts its own servers, levels 1, 4, 16
    venv/bin/python bench/load.py --requests 3000 --max-seconds 30 --levels 1,4,16
    venv/bin/python bench/load.py --url gcp/pred=http://127.0.0.1:8081/pred --url aws/pred=http://127.0.0.1:8080/pred
    venv/bin/python bench/load.py --localstack          # the full `smodels serve` stack (packages + emulators)

Servers started by default (loopback only, stopped at the end): the GCP ``pred`` entry point under
functions-framework (gunicorn, as Cloud Functions runs it) and the Lambda ``lambda_handler`` behind a small
API Gateway (payload 2.0) front, each in its own process, both serving models/logreg with the runtime chosen
by ``--runtime`` (``onnx``: float32 ONNX converted like the packager does; ``native``: the skops file).

Each level sends a fixed number of requests AND stops at a time cap, whichever comes first; the mix is 80%
good single rows, 10% batches of 50 rows and 10% bad requests (rotating: missing feature, non-numeric value,
invalid JSON, unknown feature, wrong content type, empty batch). A bad request answered with its 4xx is
expected; anything else (a good request not 200, a bad one not 4xx, a 5xx, a connection error) is counted
as unexpected. stdlib only: threads and http.client, one keep-alive connection per thread.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# -- servers ---------------------------------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Poll ``url`` with GET until it answers any HTTP status; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process this module started (its own process group): SIGTERM, wait, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def _child_env(model_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "AWS_", "STORAGE_EMULATOR"))}
    env.update(model_env)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.setdefault("KERAS_BACKEND", "torch")
    return env


@contextlib.contextmanager
def serve_gcp(model_env: dict[str, str], target: str = "pred", log: Path | None = None) -> Iterator[str]:
    """The GCP entry point ``target`` under functions-framework on 127.0.0.1; yields its URL (``/<target>``)."""
    workdir = Path(tempfile.mkdtemp(prefix="smodels-ff-"))
    (workdir / "main.py").write_text("from functions.gcp import echo, pred, predict, serve  # noqa: F401\n")
    port = free_port()
    exe = Path(sys.executable).with_name("functions-framework")
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(exe), "--target", target, "--source", str(workdir / "main.py"), "--host",
                             "127.0.0.1", "--port", str(port)], env=_child_env(model_env), cwd=workdir,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/{target}"
    try:
        wait_until_answering(url, proc)
        yield url
    finally:
        stop_process(proc)
        if log:
            out.close()


@contextlib.contextmanager
def serve_aws(model_env: dict[str, str], handler: str = "model", log: Path | None = None) -> Iterator[str]:
    """``lambda_handler`` (or ``echo_handler``) behind a payload-2.0 HTTP front in a child process."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_aws-front", "--port", str(port),
                             "--handler", handler], env=_child_env(model_env), cwd=REPO_ROOT,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/pred"
    try:
        wait_until_answering(url, proc)
        yield url
    finally:
        stop_process(proc)
        if log:
            out.close()


def http_api_v2_event(method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event for a request: text bodies as is, anything else base64."""
    lowered = {k.lower(): v for k, v in headers.items()}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": f"ANY {path}", "rawPath": path, "rawQueryString": "", "headers": lowered,
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1"}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    if body:
        ctype = lowered.get("content-type", "").split(";")[0].strip().lower()
        textual = ctype.startswith("text/") or ctype.endswith("json")
        try:
            event["body"] = body.decode("utf-8") if textual else None
        except UnicodeDecodeError:
            event["body"] = None
        if event["body"] is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _aws_front(port: int, handler_name: str) -> None:
    """Run the Lambda handler behind an HTTP front (what API Gateway does), until terminated."""
    sys.path.insert(0, str(REPO_ROOT))
    from functions import aws

    handler = aws.echo_handler if handler_name == "echo" else aws.lambda_handler

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one segment: otherwise Nagle + delayed ACK add ~40 ms to every keep-alive reply.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            # API Gateway's own limit is 10 MB; read it all like it does, the function enforces its 1 MiB.
            body = self.rfile.read(min(length, 10 * 1024 * 1024)) if length > 0 else b""
            event = http_api_v2_event(self.command, self.path.split("?")[0], dict(self.headers.items()), body)
            try:
                result = handler(event, None)
                status, headers, data = int(result["statusCode"]), result.get("headers") or {}, result["body"]
                payload = base64.b64decode(data) if result.get("isBase64Encoded") else data.encode()
            except Exception as exc:  # what API Gateway does with a function error
                status, headers = 500, {"Content-Type": "application/json"}
                payload = json.dumps({"message": "Internal Server Error", "local": repr(exc)}).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", port), Front)
    server.daemon_threads = True
    server.serve_forever()


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
                conn.request("POST", path, body=req.body, headers={"Content-Type": req.content_type})
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
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()


def _model_env(runtime: str, workdir: Path) -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz import book_model_env  # bench/fuzz.py: same env, same ONNX conversion

    return book_model_env(runtime, workdir)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, start (or take) the targets, run every level, print the table."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_aws-front"]:
        p = argparse.ArgumentParser()
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--handler", default="model")
        a = p.parse_args(argv[1:])
        _aws_front(a.port, a.handler)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", default=[], metavar="NAME=URL",
                        help="a loopback endpoint to load instead of starting servers (repeatable)")
    parser.add_argument("--localstack", action="store_true",
                        help="start the stack's pred endpoints with smodels.local.LocalStack (packages + emulators)")
    parser.add_argument("--stack", default="dev", help="stack for --localstack (default dev)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                        help="with --localstack: only these endpoints of the stack (repeatable; default all)")
    parser.add_argument("--runtime", choices=["onnx", "native"], default="onnx",
                        help="model runtime of the servers this script starts (default onnx)")
    parser.add_argument("--levels", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per level (default 2000)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time cap per level (default 20)")
    parser.add_argument("--batch-rows", type=int, default=50, help="rows per batch request (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or args.requests < 1 or args.max_seconds <= 0:
        parser.error("levels, --requests and --max-seconds must be positive")

    with contextlib.ExitStack() as stack:
        targets: list[tuple[str, str]] = []
        for item in args.url:
            name, sep, url = item.partition("=")
            if not sep:
                parser.error(f"--url {item!r}: expected NAME=URL")
            check_loopback(url)
            targets.append((name, url))
        if args.localstack:
            from smodels.config import load_stack_config, read_stack_file
            from smodels.local.stack import LocalStack

            raw = read_stack_file(REPO_ROOT, args.stack)
            key = "serverless-models:endpoints"
            if args.endpoint and isinstance(raw.get(key), dict):
                raw[key] = {k: v for k, v in raw[key].items() if k in args.endpoint}
            cfg = load_stack_config(raw, REPO_ROOT)
            local = stack.enter_context(LocalStack(cfg, stack=args.stack, port=0,
                                                   progress=lambda m: print(m, file=sys.stderr)))
            targets += [(f"{ep.cloud}/{ep.name}", ep.url) for ep in local.endpoints if ep.kind == "model"]
        if not targets:
            env = _model_env(args.runtime, Path(tempfile.mkdtemp(prefix="smodels-load-")))
            print(f"starting local servers (runtime {args.runtime}: {env['MODEL_FORMAT']} {env['MODEL_URI']})",
                  file=sys.stderr)
            targets.append(("gcp/pred", stack.enter_context(serve_gcp(env))))
            targets.append(("aws/pred", stack.enter_context(serve_aws(env))))
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
