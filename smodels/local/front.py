"""The local HTTP front for the AWS side: one port, the routes of every Lambda endpoint, like an HTTP API stage.

A request on one of the routes the program declares (functions.contract.routes: `GET|POST /<endpoint>`, and for a
model endpoint the OIP `/v2/models/<endpoint>[/ready|/infer]` and MLflow `/<endpoint>/invocations`) becomes an
API Gateway payload-2.0 event (`apigw.http_api_event`), is invoked on that endpoint's `LambdaFunction`, and the
proxy response goes back to the client (`apigw.proxy_response`).
Failures answer JSON like API Gateway does: 404 `{"message": "Not Found"}` for an unknown route, 413 for
a body over the 10 MB HTTP API limit, 500 for an unhandled function error, 502 when the worker crashed or
cannot start, 503 when no worker is free in time, 504 when the function timed out.

With `auth` (a `smodels.local.access.SigV4Verifier`: a private stack's `AWS_IAM` routes), every request to a route
must be SigV4-signed for the stack's key pair; a refusal is API Gateway's 403 and never reaches the function, and a
signed request carries its caller in `requestContext.authorizer.iam`. Without it (`public: true`), anyone may call.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import TextIO

from functions.contract import routes
from smodels.local import apigw
from smodels.local.access import Denial, SigV4Verifier
from smodels.local.lambda_runtime import InvokeResult, LambdaFunction
from smodels.local.serving import BackgroundServer

MAX_REQUEST_BYTES = 10 * 1024 * 1024


def result_to_http(result: InvokeResult) -> apigw.HttpResponse:
    """Map an invocation outcome to the HTTP response API Gateway would send."""
    if result.outcome == "response":
        return apigw.proxy_response(result.payload)
    if result.outcome == "error":
        return apigw.function_error_response(result.payload, result.error_type)
    message = result.payload.decode("utf-8", "replace")
    if result.outcome == "timeout":
        return apigw.json_response(504, {"message": "Service Unavailable", "local": message})
    if result.outcome == "unavailable":
        return apigw.json_response(503, {"message": "Service Unavailable", "local": message})
    # crashed / init_error: the process is gone or cannot start; the pool restarts it.
    return apigw.json_response(502, {"message": "Bad Gateway", "local": f"{result.outcome}: {message}"})


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server: FrontServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        return

    def _send(self, resp: apigw.HttpResponse, request_id: str | None = None) -> None:
        self.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        for k, v in resp.headers:
            if k.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(k, v)
        if "content-type" not in names and resp.body:
            self.send_header("Content-Type", "application/json")
        if request_id:
            self.send_header("Apigw-Requestid", request_id)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None if it is over the limit (413 already sent)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    self.close_connection = True
                    self._send(apigw.json_response(413, {"message": "Request Entity Too Large"}))
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(apigw.json_response(400, {"message": "Bad Request", "local": "invalid Content-Length"}))
            return None
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(apigw.json_response(413, {"message": "Request Entity Too Large"}))
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
        except ValueError:  # a malformed chunk size line
            self.close_connection = True
            self._send(apigw.json_response(400, {"message": "Bad Request", "local": "malformed chunked body"}))
            return
        if body is None:
            return
        # The routes the program declares (functions.contract.routes); anything else matches no route.
        name = self.server.routes.get((self.command, path.rstrip("/") or "/"))
        function = self.server.functions.get(name) if name else None
        if function is None:
            self._send(apigw.json_response(404, {"message": "Not Found"}))
            return
        caller = None
        if self.server.auth is not None:
            verdict = self.server.auth.check(self.command, path, query, list(self.headers.items()), body)
            if isinstance(verdict, Denial):
                self._send(apigw.HttpResponse(verdict.status, list(verdict.headers), verdict.body), str(uuid.uuid4()))
                if self.server.access_log is not None:
                    self.server.access_log.write(f"[aws/front] {self.command} {path} -> {verdict.status} "
                                                 f"(refused: {verdict.reason})\n")
                return
            caller = verdict
        event = apigw.http_api_event(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            route_key=f"{self.command} {path.rstrip('/') or '/'}",
            domain=f"{self.server.server_address[0]}:{self.server.server_address[1]}",
            authorizer={"iam": caller} if caller is not None else None,
        )
        request_id = event["requestContext"]["requestId"]
        started = time.perf_counter()
        result = function.invoke(json.dumps(event).encode())
        resp = result_to_http(result)
        self._send(resp, request_id)
        if self.server.access_log is not None:
            ms = (time.perf_counter() - started) * 1000
            self.server.access_log.write(
                f"[aws/front] {self.command} {path} -> {resp.status} ({result.outcome}, {ms:.1f} ms)\n"
            )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle  # noqa: N815


class FrontServer(BackgroundServer):
    """The AWS front: serves `/<endpoint>` for every function in `functions` on one port (0 = a free one); with
    `auth`, only to requests SigV4-signed for its key pair."""

    thread_name = "aws-front"

    def __init__(
        self,
        functions: Mapping[str, LambdaFunction],
        port: int = 0,
        host: str = "127.0.0.1",
        access_log: TextIO | None = None,
        auth: SigV4Verifier | None = None,
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        self.functions = dict(functions)
        # (method, path) -> endpoint, from the one route table the program deploys; `kinds`: "model" or "echo"
        # per endpoint (default model).
        self.routes = {(method, path): name for name in self.functions
                       for _, method, path in routes(name, (kinds or {}).get(name, "model"))}
        self.access_log = access_log
        self.auth = auth
        super().__init__((host, port), _FrontHandler)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8080."""
        return self.base_url
