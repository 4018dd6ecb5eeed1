"""A local Cloud Function (2nd gen): an unpacked source archive under Google's functions-framework.

One `functions-framework --target <entry point> --source main.py` process per function (a `ManagedProcess`, its own
process group) on 127.0.0.1, `cwd` = the source. PYTHONPATH puts the source first; this virtualenv's site-packages
stand in for the buildpack's `pip install -r requirements.txt`. The environment is what Cloud Run and
functions-framework set, STORAGE_EMULATOR_HOST for a local GCS, then `env` (the function environment); of ours
only PATH, HOME, LANG and LC_ALL.

`CloudRunFront` is what Cloud Run puts in front of the container: the function's URL. It forwards every request to
the functions-framework process (method, path, query, headers with `Host` kept, `Authorization` included, body) and
its answer back, over one keep-alive connection per client connection. With `check` (a private stack's
`roles/run.invoker`, `smodels.local.access.InvokerCheck`) a request without an ID token the check accepts gets
Cloud Run's 401 / 403 page and never reaches the function; one it accepts reaches it with that token's signature
replaced by `SIGNATURE_REMOVED_BY_GOOGLE`, as Cloud Run forwards a Google-signed token it verified (the header it
checked: `X-Serverless-Authorization` if present, else `Authorization`). The front mimics that on purpose: the
function's `/_refresh` (functions/idtoken.py) then takes the path it takes on a private Cloud Run service (trust the
platform's check, verify the claims), and a function that tried to verify such a signature would fail here as it
would in the cloud. A public stack's front checks nothing and forwards the token untouched; the function then
verifies the signature itself, against the local issuer's JWK set.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from functions.idtoken import SIGNATURE_REMOVED
from smodels.local.access import Denial, InvokerCheck
from smodels.local.procs import ManagedProcess, free_port, wait_for
from smodels.local.serving import BackgroundServer

MAX_REQUEST_BYTES = 32 * 1024 * 1024  # Cloud Run's HTTP/1 request limit
# Not forwarded as received (content-length is set again; the front answers Expect itself).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length", "expect"}


def _answers(url: str) -> bool:
    """True once an HTTP server answers at `url` with any status."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class CloudFunction:
    """One Cloud Function (Cloud Run service `service`) on 127.0.0.1:`port` (0 = a free port), like `LambdaFunction`."""

    def __init__(self, *, name: str, entry_point: str, source_dir: Path, service: str, project: str,
                 env: Mapping[str, str], log_dir: Path, port: int = 0, storage_emulator_host: str | None = None,
                 echo: TextIO | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}
        self.env.update({
            "PYTHONPATH": str(source_dir), "PYTHONUNBUFFERED": "1", "PORT": str(self.port),
            "K_SERVICE": service, "K_REVISION": f"{service}-00001-loc", "K_CONFIGURATION": service,
            "FUNCTION_TARGET": entry_point, "FUNCTION_SIGNATURE_TYPE": "http", "GOOGLE_CLOUD_PROJECT": project,
            "LOG_EXECUTION_ID": "true",
        })
        if storage_emulator_host is not None:
            self.env["STORAGE_EMULATOR_HOST"] = storage_emulator_host
        self.env.update(env)
        exe = Path(sys.executable).with_name("functions-framework")
        ff = [str(exe)] if exe.exists() else [sys.executable, "-m", "functions_framework"]
        argv = [*ff, "--target", entry_point, "--source", "main.py", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = ManagedProcess(f"gcp/{name}", argv, cwd=source_dir, env=self.env,
                                   log_path=log_dir / f"gcp-{name}.log", echo=echo)

    def add_env(self, extra: Mapping[str, str]) -> None:
        """More environment variables, before `start()` (what is known only once the function's front is bound)."""
        if self.proc.pid is not None:
            raise RuntimeError(f"Cloud Function {self.name}: the environment is fixed once it runs")
        self.env.update(extra)
        self.proc.env = {**(self.proc.env or {}), **extra}

    def start(self) -> CloudFunction:
        """Start the functions-framework process."""
        self.proc.start()
        return self

    def wait_ready(self, timeout: float) -> None:
        """Block until the server answers; RuntimeError with its last output if it exits or times out first."""
        wait_for(lambda: _answers(self.url), timeout=timeout, what=f"Cloud Function {self.name} (functions-framework)",
                 proc=self.proc)

    def stop(self) -> None:
        """SIGTERM its process group, wait, SIGKILL."""
        self.proc.stop()


def _page(status: int, title: str, text: str) -> Denial:
    """A Google front-end style error page (the shape of Cloud Run's own 4xx/5xx)."""
    body = (f'<html><head>\n<meta http-equiv="content-type" content="text/html;charset=utf-8">\n<title>{status} '
            f'{title}</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: {title}</h1>\n'
            f'<h2>{text}</h2>\n<h2></h2>\n</body></html>\n').encode()
    return Denial(status, (("Content-Type", "text/html; charset=UTF-8"),), body, text)


class _CloudRunHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CloudRunFront

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
        super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        return

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, denial: Denial) -> None:
        self._send(denial.status, list(denial.headers), denial.body)

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None when it was refused (answer already sent)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BYTES:
                    self.close_connection = True
                    self._refuse(_page(413, "Request Entity Too Large", "Your client issued a request that was "
                                       "too large."))
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._refuse(_page(400, "Bad Request", "Your client has issued a malformed or illegal request.")
                         if length < 0 else _page(413, "Request Entity Too Large",
                                                  "Your client issued a request that was too large."))
            return None
        return self.rfile.read(length) if length else b""

    def _checked_header(self) -> str:
        """The header Cloud Run checks the ID token of (lower-case)."""
        return "x-serverless-authorization" if self.headers.get("X-Serverless-Authorization") else "authorization"

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request on to functions-framework; one retry on a fresh connection if a kept-alive one had been
        closed by the other side in the meantime."""
        for attempt in (0, 1):
            reused = self._upstream is not None
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(self.server.backend_host, self.server.backend_port,
                                                            timeout=self.server.timeout_s)
            conn = self._upstream
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                stripped = self._checked_header() if self.server.check is not None else None
                for k, v in self.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        conn.putheader(k, strip_signature(v) if k.lower() == stripped else v)
                conn.putheader("X-Forwarded-For", self.client_address[0])
                conn.putheader("X-Forwarded-Proto", "http")
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._upstream = None
                if reused and attempt == 0:
                    continue
                raise
            except (OSError, http.client.HTTPException):
                conn.close()
                self._upstream = None
                raise
            if resp.will_close:
                conn.close()
                self._upstream = None
            return resp.status, list(resp.getheaders()), data
        raise AssertionError("unreachable")

    def _handle(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except ValueError:  # a malformed chunk size line
            self.close_connection = True
            self._refuse(_page(400, "Bad Request", "Your client has issued a malformed or illegal request."))
            return
        if body is None:
            return
        check = self.server.check
        if check is not None:
            verdict = check.check(self.path, self.headers.items())
            if isinstance(verdict, Denial):
                self._refuse(verdict)
                self._log(verdict.status, f"refused: {verdict.reason}", started)
                return
        try:
            status, headers, data = self._forward(body)
        except (OSError, http.client.HTTPException) as exc:
            denial = _page(503, "Service Unavailable", "The service you requested is not available yet. Please try "
                           "again in 30 seconds.")
            self._refuse(denial)
            self._log(503, f"functions-framework unreachable: {type(exc).__name__}: {exc}", started)
            return
        self._send(status, headers, data)
        self._log(status, "", started)

    def _log(self, status: int, note: str, started: float) -> None:
        if self.server.access_log is not None:
            ms = (time.perf_counter() - started) * 1000
            tail = f"; {note}" if note else ""
            self.server.access_log.write(f"[gcp/front {self.server.name}] {self.command} {self.path} -> {status} "
                                         f"({ms:.1f} ms{tail})\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle  # noqa: N815


def strip_signature(value: str) -> str:
    """`Bearer <header>.<payload>.<signature>` with the signature replaced as Cloud Run replaces it; anything else
    as it is."""
    scheme, _, token = value.strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return value
    return f"{scheme} {parts[0]}.{parts[1]}.{SIGNATURE_REMOVED}"


class CloudRunFront(BackgroundServer):
    """The URL of one Cloud Function: forwards to `backend_url` (its functions-framework), with `check` only the
    requests an invoker may make. Port 0 = a free one."""

    def __init__(self, name: str, backend_url: str, *, port: int = 0, host: str = "127.0.0.1",
                 check: InvokerCheck | None = None, access_log: TextIO | None = None,
                 timeout_s: float = 3600.0) -> None:
        self.name = name
        parts = urlsplit(backend_url)
        self.backend_host, self.backend_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.check = check
        self.access_log = access_log
        self.timeout_s = timeout_s
        self.thread_name = f"gcp-front-{name}"
        super().__init__((host, port), _CloudRunHandler)

    @property
    def url(self) -> str:
        """The function's URL, e.g. http://127.0.0.1:8081/."""
        return self.base_url + "/"
