"""The local Lambda Runtime API and worker pool, driven by a fake runtime client (no subprocess), plus the front.

The fake client speaks the Runtime API exactly as awslambdaric's C client does (GET .../invocation/next,
POST .../{id}/response or /error, POST .../init/error) over real HTTP to each worker's port.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smodels.local.front import FrontServer
from smodels.local.lambda_runtime import LambdaFunction, LambdaWorker

API = "/2018-06-01/runtime"


class FakeClient(threading.Thread):
    """A runtime client loop: poll next, call `handler(event, headers)`, post its outcome."""

    def __init__(self, address: str, handler: Callable[[dict, dict], tuple[str, bytes]]) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.handler = handler
        self.seen: list[tuple[dict, dict]] = []
        self.post_status: list[int] = []
        self.active = 0
        self.max_active = 0
        self.stop_flag = False

    def _conn(self) -> http.client.HTTPConnection:
        host, port = self.address.split(":")
        return http.client.HTTPConnection(host, int(port), timeout=10)

    def run(self) -> None:
        while not self.stop_flag:
            conn = self._conn()
            try:
                conn.request("GET", f"{API}/invocation/next")
                resp = conn.getresponse()
                body = resp.read()
            except OSError:
                return
            if resp.status != 200:
                return
            headers = {k.lower(): v for k, v in resp.getheaders()}
            event = json.loads(body)
            self.seen.append((event, headers))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            kind, payload = self.handler(event, headers)
            self.active -= 1
            if kind == "silent":
                continue
            rid = headers["lambda-runtime-aws-request-id"] if kind != "wrong-id" else "not-the-id"
            path = f"{API}/invocation/{rid}/{'error' if kind == 'error' else 'response'}"
            extra = {"Lambda-Runtime-Function-Error-Type": "Unhandled"} if kind == "error" else {}
            conn = self._conn()
            conn.request("POST", path, payload, {"Content-Type": "application/json", **extra})
            r = conn.getresponse()
            r.read()
            self.post_status.append(r.status)
            if kind == "wrong-id":  # a real client would now wait for its answer; stay quiet like a hung handler
                return


def _function(tmp_path: Path, pool: int = 1, timeout_s: float = 5.0) -> LambdaFunction:
    fn = LambdaFunction(name="pred", handler="functions.aws.lambda_handler", package_dir=tmp_path, env={},
                        timeout_s=timeout_s, log_dir=tmp_path / "logs", pool_size=pool)
    for w in fn.workers:  # no real process in these tests
        w.start = lambda: None  # type: ignore[method-assign]
    return fn


@pytest.fixture
def made() -> list[LambdaFunction]:
    fns: list[LambdaFunction] = []
    yield fns
    for fn in fns:
        for w in fn.workers:
            w._closed = True
            w.server.shutdown()
            w.server.server_close()


def _echo(event: dict, headers: dict) -> tuple[str, bytes]:
    return "response", json.dumps({"statusCode": 200, "body": json.dumps(event)}).encode()


def test_invocation_round_trip_and_headers(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path, timeout_s=7)
    made.append(fn)
    client = FakeClient(fn.workers[0].address, _echo)
    client.start()
    fn.wait_ready(5)
    before = time.time()
    result = fn.invoke(b'{"hello": "world"}')
    assert result.outcome == "response"
    assert json.loads(json.loads(result.payload)["body"]) == {"hello": "world"}
    event, headers = client.seen[0]
    assert headers["lambda-runtime-aws-request-id"] == result.request_id
    assert headers["lambda-runtime-invoked-function-arn"] == "arn:aws:lambda:us-east-1:000000000000:function:pred"
    deadline = int(headers["lambda-runtime-deadline-ms"]) / 1000
    assert before + 6 < deadline < time.time() + 7.5
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
    for _ in range(100):  # invoke() returns as soon as the result is in; the 202 reaches the client just after
        if client.post_status:
            break
        time.sleep(0.01)
    assert client.post_status == [202]
    client.stop_flag = True


def test_function_error_is_reported_with_its_type(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path)
    made.append(fn)
    err = json.dumps({"errorType": "ValueError", "errorMessage": "boom"}).encode()
    FakeClient(fn.workers[0].address, lambda e, h: ("error", err)).start()
    result = fn.invoke(b"{}")
    assert (result.outcome, result.error_type) == ("error", "Unhandled")
    assert json.loads(result.payload)["errorMessage"] == "boom"


def test_wrong_request_id_is_rejected_and_the_invocation_times_out(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path, timeout_s=0.25)
    made.append(fn)
    recycled: list[str] = []
    fn.workers[0].recycle = lambda reason: recycled.append(reason)  # type: ignore[method-assign]
    client = FakeClient(fn.workers[0].address, lambda e, h: ("wrong-id", b"{}"))
    client.start()
    result = fn.invoke(b"{}")
    assert client.post_status == [400]
    assert result.outcome == "timeout"
    assert b"timed out after 0.25 seconds" in result.payload
    for _ in range(500):  # the worker recycles right after the invocation gives up
        if recycled:
            break
        time.sleep(0.01)
    assert recycled == ["invocation timed out"]


def test_one_invocation_at_a_time_per_worker_and_pool_runs_in_parallel(tmp_path: Path, made: list) -> None:
    # No clock: a pool of one never has two handlers inside at once; a pool of two gets two in at the same time
    # (each handler waits at a barrier for the other; a serial pool would leave it waiting until it breaks).
    for pool in (1, 2):
        lock = threading.Lock()
        inside = [0, 0]  # now, at most
        together = threading.Barrier(2, timeout=4)

        def handler(event: dict, headers: dict, pool: int = pool, inside: list = inside, lock=lock,
                    together: threading.Barrier = together) -> tuple[str, bytes]:
            with lock:
                inside[0] += 1
                inside[1] = max(inside)
            try:
                if pool == 2:
                    together.wait()
                else:
                    time.sleep(0.02)  # room for a second handler to come in, were the pool not serial
            finally:
                with lock:
                    inside[0] -= 1
            return _echo(event, headers)

        fn = _function(tmp_path / str(pool), pool=pool)
        made.append(fn)
        clients = [FakeClient(w.address, handler) for w in fn.workers]
        for c in clients:
            c.start()
        fn.wait_ready(5)
        results: list = []

        def call(i: int, fn: LambdaFunction = fn, results: list = results) -> None:
            results.append(fn.invoke(json.dumps({"i": i}).encode()))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.outcome for r in results) == ["response"] * 4
        assert all(c.max_active <= 1 for c in clients)
        assert inside[1] == pool
        assert all(c.seen for c in clients)


def test_init_error_fails_a_waiting_invocation(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path)
    made.append(fn)
    worker: LambdaWorker = fn.workers[0]
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn.invoke(b"{}")))
    t.start()
    time.sleep(0.1)
    conn = http.client.HTTPConnection(*worker.address.split(":"))
    err = {"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module 'functions.aws'"}
    conn.request("POST", f"{API}/init/error", json.dumps(err),
                 {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    assert conn.getresponse().status == 202
    assert worker.init_error is not None
    # The client exits after posting an init error; the pool records it as the function's init failure.
    fn.init_failure = worker.init_error
    fn.init_failure.at = time.monotonic()
    t.join(5)
    assert out and out[0].outcome == "init_error"
    assert b"Unable to import module" in out[0].payload


def test_unknown_runtime_routes_are_404(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path)
    made.append(fn)
    conn = http.client.HTTPConnection(*fn.workers[0].address.split(":"))
    conn.request("GET", "/2018-06-01/runtime/invocation/whatever")
    resp = conn.getresponse()
    assert resp.status == 404 and json.loads(resp.read())["errorType"] == "NotFound"


def test_front_routes_translates_and_maps_outcomes(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path)
    made.append(fn)

    def handler(event: dict, headers: dict) -> tuple[str, bytes]:
        body = json.loads(event.get("body") or "{}")
        if body.get("fail"):
            return "error", json.dumps({"errorType": "KeyError", "errorMessage": "x"}).encode()
        reply = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
        return "response", json.dumps(reply).encode()

    FakeClient(fn.workers[0].address, handler).start()
    front = FrontServer({"pred": fn}).start()
    try:
        host, port = front.server_address[:2]

        def call(method: str, path: str, body: bytes | None = None) -> tuple[int, dict, dict]:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request(method, path, body, {"Content-Type": "application/json", "X-Custom": "v"})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read() or b"null")

        status, headers, event = call("POST", "/pred?x=1", b'{"G1": "1"}')
        assert status == 200 and headers["apigw-requestid"] == event["requestContext"]["requestId"]
        assert event["routeKey"] == "POST /pred" and event["rawQueryString"] == "x=1"
        assert event["headers"]["x-custom"] == "v" and event["body"] == '{"G1": "1"}'
        assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"

        status, _, event = call("GET", "/pred")
        assert status == 200 and event["routeKey"] == "GET /pred" and "body" not in event

        for method, path in (("POST", "/nope"), ("POST", "/pred/extra"), ("PUT", "/pred"), ("POST", "/")):
            status, _, body = call(method, path, b"{}")
            assert (status, body) == (404, {"message": "Not Found"}), (method, path)

        status, _, body = call("POST", "/pred", b'{"fail": true}')
        assert status == 500 and body["message"] == "Internal Server Error"
        assert body["local"]["errorType"] == "KeyError"
    finally:
        front.stop()


def test_front_reads_chunked_bodies_and_rejects_bad_framing(tmp_path: Path, made: list) -> None:
    fn = _function(tmp_path)
    made.append(fn)
    FakeClient(fn.workers[0].address, lambda e, h: ("response", json.dumps(
        {"statusCode": 200, "body": e.get("body", "")}).encode())).start()
    front = FrontServer({"pred": fn}).start()
    try:
        host, port = front.server_address[:2]
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("POST", "/pred", body=iter([b'{"G1": ', b'"1"}']), encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b'{"G1": "1"}')

        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /pred HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            reply = _read_all(s)
        assert reply.startswith(b"HTTP/1.1 400") and b"malformed chunked body" in reply

        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /pred HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
            reply = _read_all(s)
        assert reply.startswith(b"HTTP/1.1 413") and b"Request Entity Too Large" in reply
    finally:
        front.stop()


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (it does after a framing error)."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)
