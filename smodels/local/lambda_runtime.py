"""A local Lambda: the Runtime API that AWS's runtime interface client (awslambdaric) polls, and a worker pool.

Each Lambda function runs as `pool_size` worker processes of `python -S -m awslambdaric <handler>`, the
same client the managed python runtimes run, with `cwd` = the unpacked deployment package. Each worker
gets its own Runtime API server (one port per worker, so every request says which worker sent it):

    GET  /2018-06-01/runtime/invocation/next          blocks until an invocation is queued; 200 + headers
    POST /2018-06-01/runtime/invocation/{id}/response  202; the invocation's result
    POST /2018-06-01/runtime/invocation/{id}/error     202; an unhandled function error
    POST /2018-06-01/runtime/init/error                202; the handler failed to import / initialise

Lambda semantics kept: one invocation at a time per worker (a worker only asks for the next one after
answering), a deadline (`Lambda-Runtime-Deadline-Ms`) after which the worker is killed and replaced, a
6 MB response limit, and a crashed worker fails its in-flight invocation and is restarted.

`sys.path` is built like Lambda's: the package first, then a "runtime" directory that holds only what
the managed runtime ships (awslambdaric and boto3 with their dependencies, linked from this virtualenv),
and `-S` keeps the rest of the virtualenv out, so a dependency the package forgot fails here as on AWS.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO

from smodels.local.procs import ManagedProcess
from smodels.local.serving import STOP_POLL_SECONDS

API_PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# What the managed runtime provides outside the deployment package (/var/runtime on AWS).
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
_NEXT_RE = re.compile(rf"^{API_PREFIX}/invocation/next$")
_RESULT_RE = re.compile(rf"^{API_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
_INIT_ERROR = f"{API_PREFIX}/init/error"


class Invocation:
    """One queued or running invocation and, once finished, its outcome.

    `outcome` is one of: response (payload = the function's result), error (payload = the error object the
    client posted), crashed (the worker died), timeout, init_error (the function cannot start), unavailable.
    """

    def __init__(self, event: bytes, timeout_s: float) -> None:
        self.request_id = str(uuid.uuid4())
        self.event = event
        self.timeout_s = timeout_s
        self.created = time.monotonic()
        self.dispatched_at: float | None = None
        self.deadline_ms: int | None = None
        self.worker: LambdaWorker | None = None
        self.outcome: str | None = None
        self.payload: bytes = b""
        self.error_type: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()

    def claim(self, worker: LambdaWorker) -> bool:
        """Hand the invocation to `worker` unless it already finished (timed out or cancelled) in the queue."""
        with self._lock:
            if self.outcome is not None:
                return False
            self.worker = worker
            self.dispatched_at = time.monotonic()
            self.deadline_ms = int((time.time() + self.timeout_s) * 1000)
            return True

    def release(self) -> None:
        """Undo a claim whose /next response could not be delivered (the worker went away)."""
        with self._lock:
            self.worker = None
            self.dispatched_at = None
            self.deadline_ms = None

    def finish(self, outcome: str, payload: bytes = b"", error_type: str | None = None) -> bool:
        """Record the outcome once; later calls (a late response after a timeout) return False."""
        with self._lock:
            if self.outcome is not None:
                return False
            self.outcome, self.payload, self.error_type = outcome, payload, error_type
        self._done.set()
        return True

    def wait(self, timeout: float) -> bool:
        """True once finished."""
        return self._done.wait(timeout)


class InvocationQueue:
    """FIFO of invocations for one function; workers block on `get`."""

    def __init__(self) -> None:
        self._items: deque[Invocation] = deque()
        self._cond = threading.Condition()

    def put(self, inv: Invocation, front: bool = False) -> None:
        """Queue `inv` (at the head when re-queuing one a worker could not take)."""
        with self._cond:
            if front:
                self._items.appendleft(inv)
            else:
                self._items.append(inv)
            self._cond.notify()

    def get(self, timeout: float) -> Invocation | None:
        """The next unfinished invocation, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._items:
                    inv = self._items.popleft()
                    if inv.outcome is None:
                        return inv
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def __len__(self) -> int:
        with self._cond:
            return sum(1 for i in self._items if i.outcome is None)


class _RuntimeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server: _RuntimeServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        return

    def _reply(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not _NEXT_RE.match(self.path):
            self._reply(404, {"errorType": "NotFound", "errorMessage": f"no route {self.path}"})
            return
        worker = self.server.worker
        inv = worker.next_invocation()
        if inv is None:  # shutting down
            self._reply(503, {"errorType": "ServiceUnavailable", "errorMessage": "runtime is shutting down"})
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": worker.function.arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            "Content-Type": "application/json",
        }
        try:
            self._reply(200, inv.event, headers)
        except OSError:
            worker.undeliverable(inv)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        worker = self.server.worker
        body = self._body()
        if self.path == _INIT_ERROR:
            worker.init_failed(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
            self._reply(202, {"status": "OK"})
            return
        m = _RESULT_RE.match(self.path)
        if not m:
            self._reply(404, {"errorType": "NotFound", "errorMessage": f"no route {self.path}"})
            return
        inv = worker.current
        if inv is None or inv.request_id != m["id"]:
            self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"})
            return
        worker.current = None
        if m["kind"] == "response":
            if len(body) > MAX_RESPONSE_BYTES:
                message = f"Response payload size ({len(body)} bytes) exceeded maximum allowed ({MAX_RESPONSE_BYTES})"
                err = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
                inv.finish("error", json.dumps(err).encode(), "Function.ResponseSizeTooLarge")
                self._reply(413, err)
                return
            inv.finish("response", body)
        else:
            inv.finish("error", body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
        self._reply(202, {"status": "OK"})


class _RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, worker: LambdaWorker) -> None:
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A worker killed mid-request (timeout, crash, shutdown) resets its connection: expected, not news.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


@dataclass
class InitFailure:
    """Why the function could not start: the init error the client posted, or the exit of a worker."""

    at: float
    message: str
    error_type: str


class LambdaWorker:
    """One awslambdaric process of a function and the Runtime API it talks to."""

    def __init__(self, function: LambdaFunction, index: int) -> None:
        self.function = function
        self.index = index
        self.name = f"{function.name}#{index}"
        self.server = _RuntimeServer(self)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(STOP_POLL_SECONDS,),
                                        name=f"rapi-{self.name}", daemon=True)
        self._thread.start()
        self.proc: ManagedProcess | None = None
        self.current: Invocation | None = None
        self.ready = threading.Event()
        self.started_at = 0.0
        self.init_error: InitFailure | None = None
        self.restarts = 0
        self._fast_failures = 0
        self._lock = threading.Lock()
        self._stopping = False  # no more restarts
        self._closed = False  # the Runtime API stops handing out invocations

    def start(self) -> None:
        """Start (or restart) the worker process."""
        with self._lock:
            if self._stopping:
                return
            self.ready.clear()
            self.init_error = None
            self.started_at = time.monotonic()
            env = dict(self.function.env)
            env["AWS_LAMBDA_RUNTIME_API"] = self.address
            env["AWS_LAMBDA_LOG_STREAM_NAME"] = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
            self.proc = ManagedProcess(
                f"aws/{self.name}",
                [self.function.python, "-S", "-m", "awslambdaric", self.function.handler],
                cwd=self.function.package_dir,
                env=env,
                log_path=self.function.log_dir / f"aws-{self.function.name}-{self.index}.log",
                echo=self.function.echo,
                on_exit=self._exited,
            ).start()

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is queued for this function; None when stopping (Runtime API GET /next)."""
        if self.current is not None and self.current.outcome is None:
            self.current.finish("error", b'{"errorType":"Runtime.InvalidState","errorMessage":"asked for the next '
                                b'invocation without answering this one"}', "Runtime.InvalidState")
        self.current = None
        self._fast_failures = 0
        self.ready.set()
        while not self._closed:
            inv = self.function.queue.get(timeout=0.5)
            if inv is not None and inv.claim(self):
                self.current = inv
                return inv
        return None

    def undeliverable(self, inv: Invocation) -> None:
        """The worker hung up before taking `inv`: put it back for another worker."""
        if self.current is inv:
            self.current = None
        inv.release()
        self.function.queue.put(inv, front=True)

    def init_failed(self, body: bytes, error_type: str | None) -> None:
        """Record the init error the client posted (it exits right after)."""
        try:
            detail = json.loads(body)
            message = f"{detail.get('errorType', error_type)}: {detail.get('errorMessage', '')}"
        except (ValueError, AttributeError):
            message = body.decode("utf-8", "replace")[:2000]
        self.init_error = InitFailure(time.monotonic(), message, error_type or "Runtime.Unknown")

    def _exited(self, proc: ManagedProcess, code: int) -> None:
        """The process died on its own: fail what it was running, then restart it (with backoff if it keeps dying)."""
        inv, self.current = self.current, None
        tail = " | ".join(list(proc.tail)[-5:])
        if inv is not None:
            inv.finish("crashed", f"worker exited with code {code} while running the invocation: {tail}".encode())
        if not self.ready.is_set():
            failure = self.init_error or InitFailure(
                time.monotonic(), f"worker exited with code {code} during init: {tail}", "Runtime.ExitError"
            )
            failure.at = time.monotonic()
            self.function.init_failure = failure
            self._fast_failures += 1
        self.restarts += 1
        delay = 0.0 if self.ready.is_set() else min(5.0, 0.25 * 2 ** min(self._fast_failures, 5))
        if not self._stopping:
            t = threading.Timer(delay, self.start)
            t.daemon = True
            t.start()

    def recycle(self, reason: str) -> None:
        """Kill the process (e.g. after a timeout) and start a fresh one, as Lambda resets a timed-out sandbox."""
        if self.function.echo is not None:
            self.function.echo.write(f"[aws/{self.name}] recycling worker: {reason}\n")
        proc = self.proc
        if proc is not None:
            proc.stop(timeout=1.0)
        self.current = None
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        """Stop the process, then the Runtime API server (so the client never sees its API go away first)."""
        self._stopping = True
        if self.proc is not None:
            self.proc.stop(timeout=3.0)
        self._closed = True
        self.server.shutdown()
        self.server.server_close()


@dataclass
class InvokeResult:
    """The outcome of one invocation through the pool."""

    outcome: str
    payload: bytes
    error_type: str | None
    duration_ms: float
    request_id: str


def runtime_dir(target: Path, distributions: tuple[str, ...] = RUNTIME_DISTRIBUTIONS) -> Path:
    """Populate `target` with links to what the Lambda runtime ships (awslambdaric, boto3 and their deps).

    The top-level modules of each distribution and of its (unconditional) requirements are symlinked from
    wherever they are installed in this interpreter, and their .dist-info too (importlib.metadata reads it).
    """
    target.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    todo = list(distributions)
    while todo:
        name = re.split(r"[\s;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as exc:
            raise RuntimeError(f"the local Lambda runtime needs {name!r}: pip install it in {sys.prefix}") from exc
        for req in dist.requires or []:
            if "extra ==" not in req and "extra==" not in req:
                todo.append(req)
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops):
            src = base / top
            if top.endswith(".pth") or top == "__pycache__" or not src.exists():
                continue
            link = target / top
            if not link.exists() and not link.is_symlink():
                link.symlink_to(src)
    return target


class LambdaFunction:
    """One Lambda function: its package, environment, invocation queue and worker pool."""

    def __init__(
        self,
        *,
        name: str,
        handler: str,
        package_dir: Path,
        env: Mapping[str, str],
        timeout_s: float,
        log_dir: Path,
        pool_size: int = 2,
        python: str = sys.executable,
        echo: TextIO | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.name = name
        self.handler = handler
        self.package_dir = package_dir
        self.env = dict(env)
        self.timeout_s = timeout_s
        self.log_dir = log_dir
        self.python = python
        self.echo = echo
        self.arn = f"arn:aws:lambda:{region}:000000000000:function:{name}"
        self.queue = InvocationQueue()
        self.init_failure: InitFailure | None = None
        self.workers = [LambdaWorker(self, i) for i in range(max(1, pool_size))]

    def start(self) -> None:
        """Start every worker."""
        for w in self.workers:
            w.start()

    def wait_ready(self, timeout: float) -> None:
        """Block until every worker has polled for its first invocation; raise with the init error if one fails."""
        deadline = time.monotonic() + timeout
        for w in self.workers:
            while not w.ready.wait(0.05):
                if self.init_failure is not None:
                    raise RuntimeError(f"Lambda function {self.name} failed to start: {self.init_failure.message}")
                if time.monotonic() > deadline:
                    tail = "\n".join(f"    {line}" for line in (w.proc.tail if w.proc else []))
                    raise RuntimeError(f"Lambda function {self.name}: worker {w.index} not ready after "
                                       f"{timeout:.0f}s; last output:\n{tail}")

    def pids(self) -> list[int]:
        """Pids of the running workers."""
        return [w.proc.pid for w in self.workers if w.proc is not None and w.proc.pid is not None and w.proc.alive()]

    def invoke(self, event: bytes, queue_timeout: float = 30.0) -> InvokeResult:
        """Queue `event` (JSON bytes), wait for its outcome; enforces the timeout and worker crashes."""
        inv = Invocation(event, self.timeout_s)
        self.queue.put(inv)
        while not inv.wait(0.02):
            now = time.monotonic()
            if inv.dispatched_at is not None:
                if now > inv.dispatched_at + self.timeout_s and inv.finish(
                    "timeout", f"Task timed out after {self.timeout_s:.2f} seconds".encode()
                ):
                    worker = inv.worker
                    if worker is not None:
                        threading.Thread(target=worker.recycle, args=("invocation timed out",), daemon=True).start()
            else:
                failure = self.init_failure
                if failure is not None and failure.at > inv.created:
                    inv.finish("init_error", failure.message.encode(), failure.error_type)
                elif now - inv.created > queue_timeout:
                    inv.finish("unavailable", f"no worker took the invocation within {queue_timeout:.0f}s".encode())
        started = inv.dispatched_at or inv.created
        return InvokeResult(
            outcome=inv.outcome or "unavailable",
            payload=inv.payload,
            error_type=inv.error_type,
            duration_ms=(time.monotonic() - started) * 1000,
            request_id=inv.request_id,
        )

    def stop(self) -> None:
        """Stop every worker and fail anything still queued."""
        for w in self.workers:
            w._stopping = True
        threads = [threading.Thread(target=w.stop, daemon=True) for w in self.workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        while True:
            inv = self.queue.get(timeout=0)
            if inv is None:
                break
            inv.finish("unavailable", b"the local stack is shutting down")


def lambda_base_env(
    *,
    function_name: str,
    handler: str,
    memory_mb: int,
    region: str,
    package_dir: Path,
    runtime_path: Path,
    s3_endpoint: str | None,
    layer_path: Path | None = None,
) -> dict[str, str]:
    """The environment Lambda gives a function (fake credentials; no variable of the caller's leaks in).

    PYTHONPATH follows Lambda's sys.path order: the package (/var/task), the layer (/opt/python), then the
    runtime's own directory (/var/runtime: awslambdaric, boto3).
    """
    paths = [str(package_dir), *([str(layer_path)] if layer_path is not None else []), str(runtime_path)]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(package_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_path),
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    if s3_endpoint:
        env["AWS_ENDPOINT_URL_S3"] = s3_endpoint
    return env
