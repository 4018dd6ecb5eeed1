"""Faults end to end, through the adapters and real store servers: what a client sees, what the logs say.

Complements tests/functions/test_model_cache.py (unit level, injected loaders): here the store is a real
server that is down (connection refused) and comes back, the artifact is tampered in the bucket, the spy
sits on the framework's own deserialiser, and concurrency goes through the Lambda handler and through
functions-framework's gunicorn over HTTP.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fuzz_strategies as fuzz
import local_servers as load
import pytest
from fn_support import free_port, run_threads, stop_process

from functions import aws, store

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK = {"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}




def call(event: Any) -> tuple[int, dict[str, Any]]:
    """Invoke the model Lambda handler; return status and parsed body."""
    result = aws.lambda_handler(event, None)
    return result["statusCode"], json.loads(result["body"])


def logged(capsys: pytest.CaptureFixture[str], event: str) -> list[dict[str, Any]]:
    """The structured log lines of one event kind written since the last call."""
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("event") == event]


class S3Server:
    """moto's S3 server on a fixed port that can go down and come back (state kept in this process)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def up(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """An S3 server the function is pointed at, initially DOWN; one boto3 attempt per call (no retry wait)."""
    server = S3Server()
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION":
                 "us-east-1", "AWS_ENDPOINT_URL_S3": server.url, "AWS_MAX_ATTEMPTS": "1",
                 "AWS_RETRY_MODE": "standard"}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    store.reset_clients()
    yield server
    server.down()
    store.reset_clients()


class DeserialiserSpy:
    """Counts calls to the frameworks' own deserialisers (skops.io.loads, onnxruntime.InferenceSession)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import onnxruntime
        import skops.io

        self.calls: list[str] = []
        real_loads, real_session = skops.io.loads, onnxruntime.InferenceSession

        def loads(*a: Any, **k: Any) -> Any:
            self.calls.append("skops.io.loads")
            return real_loads(*a, **k)

        def session(*a: Any, **k: Any) -> Any:
            self.calls.append("onnxruntime.InferenceSession")
            return real_session(*a, **k)

        monkeypatch.setattr(skops.io, "loads", loads)
        monkeypatch.setattr(onnxruntime, "InferenceSession", session)


# -- store unreachable at cold start, then back ----------------------------------------------------------------

@pytest.mark.slow
def test_s3_down_at_cold_start_is_503_then_recovers_without_restart(models, configure, s3_server, capsys) -> None:
    key = f"models/games-test/{models.skops.sha256}.skops"
    configure(f"s3://models/{key}", models.skops.sha256, "skops")
    for _ in range(2):
        status, body = call(dict(BOOK))
        assert status == 503, body
        assert body["error"]["code"] == "model_unavailable"
        assert f"s3://models/{key}" in body["error"]["message"] and "cannot read" in body["error"]["message"]
    failures = logged(capsys, "model_load_failed")
    assert [f["stage"] for f in failures] == ["fetch", "fetch"]  # one line per attempt, each attempt retried
    s3_server.up()
    client = s3_server.client()
    client.create_bucket(Bucket="models")
    client.put_object(Bucket="models", Key=key, Body=models.skops.data)
    status, body = call(dict(BOOK))  # same process, same app object: no restart
    assert status == 200, body
    assert body["model"]["version"] == models.skops.sha256
    assert len(logged(capsys, "model_loaded")) == 1


@pytest.mark.slow
def test_gcs_down_at_cold_start_is_503_then_recovers_via_gcp_adapter(models, configure, monkeypatch) -> None:
    import subprocess
    import urllib.request

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    key = f"models/games-test/{models.skops.sha256}.skops"
    configure(f"gs://models-up/{key}", models.skops.sha256, "skops")
    client = fuzz.gcp_client("pred")
    resp = client.post("/pred", json=BOOK)
    assert resp.status_code == 503, resp.get_data()
    assert resp.get_json()["error"]["code"] == "model_unavailable"
    assert f"gs://models-up/{key}" in resp.get_json()["error"]["message"]

    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    proc = subprocess.Popen([str(exe), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        load.wait_until_answering(f"{host}/", proc)
        req = urllib.request.Request(f"{host}/storage/v1/b", data=json.dumps({"name": "models-up"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).close()
        from urllib.parse import quote

        up = urllib.request.Request(f"{host}/upload/storage/v1/b/models-up/o?uploadType=media&name="
                                    f"{quote(key, safe='')}", data=models.skops.data, method="POST",
                                    headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(up, timeout=10).close()
        resp = client.post("/pred", json=BOOK)
        assert resp.status_code == 200, resp.get_data()
        assert resp.get_json()["model"]["version"] == models.skops.sha256
    finally:
        stop_process(proc)


# -- tampered artifact: refused before any deserialiser runs ---------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["skops", "onnx32"])
def test_tampered_artifact_is_refused_and_never_deserialised(models, configure, s3_server, monkeypatch, capsys,
                                                             fmt: str) -> None:
    art = getattr(models, fmt)
    s3_server.up()
    client = s3_server.client()
    client.create_bucket(Bucket="models")
    key = f"models/games-test/{art.sha256}.{art.fmt}"
    tampered = bytearray(art.data)
    tampered[len(tampered) // 2] ^= 0x01  # one bit: same size, same format, different bytes
    client.put_object(Bucket="models", Key=key, Body=bytes(tampered))
    configure(f"s3://models/{key}", art.sha256, art.fmt)
    spy = DeserialiserSpy(monkeypatch)
    for _ in range(3):
        status, body = call(dict(BOOK))
        assert status == 503, body
        assert body["error"]["code"] == "model_unavailable"
        assert "integrity" in body["error"]["message"] and art.sha256 in body["error"]["message"]
    assert spy.calls == []
    failures = logged(capsys, "model_load_failed")
    assert [f["stage"] for f in failures] == ["sha256_mismatch"] * 3
    # The genuine bytes under the same key: served, and now the deserialiser runs exactly once.
    client.put_object(Bucket="models", Key=key, Body=art.data)
    assert call(dict(BOOK))[0] == 200
    assert len(spy.calls) == 1


# -- TTL reload: a bad new object or an unreachable store never replaces the model being served ---------------

@pytest.mark.slow
def test_ttl_reload_failures_keep_old_model_and_log_once_per_attempt(models, configure, s3_server, capsys) -> None:
    ttl = 2
    s3_server.up()
    client = s3_server.client()
    client.create_bucket(Bucket="models")
    key = "models/games-test/current.skops"
    client.put_object(Bucket="models", Key=key, Body=models.skops.data)
    configure(f"s3://models/{key}", models.skops.sha256, "skops", MODEL_TTL_SECONDS=str(ttl))
    status, body = call(dict(BOOK))
    assert status == 200
    first = body["prediction"]
    assert len(logged(capsys, "model_loaded")) == 1

    # The TTL runs on a clock the test moves (no sleeping, no window a slow machine could outlast).
    from functions import app as app_module

    clock = [time.monotonic()]
    app_module.get_app().cache.clock = lambda: clock[0]

    def next_window() -> None:
        clock[0] += ttl

    def burst(n: int = 25) -> None:
        """n requests inside one TTL window."""
        for _ in range(n):
            status, body = call(dict(BOOK))
            assert status == 200, body
            assert body["prediction"] == first and body["model"]["version"] == models.skops.sha256

    # 1. The object is replaced by corrupt bytes (new ETag): one failed reload per TTL window.
    client.put_object(Bucket="models", Key=key, Body=b"corrupt" + models.skops.data[7:])
    next_window()
    burst()
    failed = logged(capsys, "model_reload_failed")
    assert len(failed) == 1, failed
    assert failed[0]["stage"] == "sha256_mismatch" and failed[0]["keeping_sha256"] == models.skops.sha256
    next_window()
    burst()
    assert len(logged(capsys, "model_reload_failed")) == 1  # the next window: one more attempt, one more line

    # 2. The store goes away entirely: the re-check fails, the old model keeps serving.
    s3_server.down()
    store.reset_clients()
    next_window()
    burst()
    failed = logged(capsys, "model_reload_failed")
    assert len(failed) == 1 and failed[0]["stage"] == "recheck", failed
    assert not logged(capsys, "model_loaded")


# -- concurrent first requests: one load ---------------------------------------------------------------------

@pytest.mark.slow
def test_concurrent_first_requests_through_lambda_handler_load_once(models, configure, monkeypatch, capsys) -> None:
    configure(models.onnx32.uri, models.onnx32.sha256, "onnx")
    spy = DeserialiserSpy(monkeypatch)
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def worker() -> None:
        barrier.wait()
        statuses.append(call(dict(BOOK))[0])

    run_threads(worker, 16, timeout=60)
    assert statuses == [200] * 16
    assert spy.calls == ["onnxruntime.InferenceSession"]
    assert len(logged(capsys, "model_loaded")) == 1


@pytest.mark.slow
def test_concurrent_first_requests_over_http_to_functions_framework_load_once(models, tmp_path) -> None:
    """16 simultaneous first requests to gunicorn (8 threads): one model_loaded line in the server's log."""
    import urllib.request

    env = {"MODEL_URI": models.skops.uri, "MODEL_SHA256": models.skops.sha256, "MODEL_FORMAT": "skops",
           "MODEL_NAME": "games-test", "MODEL_FEATURES": json.dumps([f"G{i}" for i in range(1, 11)]),
           "ENDPOINT_NAME": "pred", "THREADS": "8"}
    log = tmp_path / "ff.log"
    with load.serve_gcp(env, "pred", log) as url:
        barrier = threading.Barrier(16)
        statuses: list[int] = []

        def worker() -> None:
            req = urllib.request.Request(url, data=json.dumps(BOOK).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            barrier.wait()
            with urllib.request.urlopen(req, timeout=60) as resp:
                statuses.append(resp.status)

        run_threads(worker, 16, timeout=60)
    assert statuses == [200] * 16
    events = [json.loads(x)["event"] for x in log.read_text().splitlines() if x.startswith("{")]
    assert events.count("model_loaded") == 1, events
    assert events.count("prediction") == 16
