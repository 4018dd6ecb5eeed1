"""The model cache: sha256 before deserialising, no poisoned cache, single load under concurrency, TTL reload
(file, S3 via moto, GCS via the emulator) and a failed reload that keeps the old model."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pytest
from fn_cases import BOOK
from fn_support import run_threads

from functions import predictors, store
from functions.app import ModelApp
from functions.http import Request
from functions.model_cache import ModelCache, ModelUnavailable
from functions.settings import Settings


class CountingLoader:
    """Wraps predictors.load and counts calls (optionally slow, to widen race windows)."""

    def __init__(self, fmt: str = "skops", delay: float = 0.0) -> None:
        self.fmt, self.delay, self.calls = fmt, delay, 0
        self._lock = threading.Lock()

    def __call__(self, data: bytes) -> Any:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return predictors.load(data, self.fmt)


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def post_book(app: ModelApp) -> tuple[int, dict[str, Any]]:
    resp = app.handle(Request("POST", json.dumps(BOOK).encode(), {"content-type": "application/json"}))
    return resp.status, json.loads(resp.body_text())


def make_app(uri: str, sha: str, fmt: str, loader: Any, ttl: float = 0.0, clock: Any = time.monotonic) -> ModelApp:
    settings = Settings(model_uri=uri, model_sha256=sha, model_format=fmt, features=tuple(f"G{i}" for i in
                        range(1, 11)), model_name="t", ttl_seconds=ttl)
    return ModelApp(settings, cache=ModelCache(uri, sha, loader, ttl, clock=clock, name="t"))


def model_log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The `model_*` lines logged since the last read."""
    return [x for x in log_lines(capsys) if x["event"].startswith("model_")]


def serve_old_model(app: ModelApp, capsys: pytest.CaptureFixture[str], times: int, sha: str,
                    loader: CountingLoader, calls: int) -> list[dict[str, Any]]:
    """Post BOOK `times` times, each answered 200 by the model `sha`, with `calls` loads in all; the model_ lines."""
    for _ in range(times):
        status, body = post_book(app)
        assert status == 200 and body["model"]["version"] == sha
    assert loader.calls == calls
    return model_log_lines(capsys)


def test_sha256_mismatch_refuses_without_deserialising(models, tmp_path, capsys) -> None:
    path = tmp_path / "m.skops"
    path.write_bytes(models.skops.data)
    loader = CountingLoader()
    app = make_app(path.as_uri(), "0" * 64, "skops", loader)
    status, body = post_book(app)
    assert status == 503
    assert body["error"]["code"] == "model_unavailable" and "sha256" in body["error"]["message"]
    assert loader.calls == 0
    logs = log_lines(capsys)
    failed = [x for x in logs if x["event"] == "model_load_failed"]
    assert len(failed) == 1 and failed[0]["stage"] == "sha256_mismatch"
    assert models.skops.sha256 in failed[0]["message"]


def test_failed_first_load_is_not_cached(models, tmp_path) -> None:
    path = tmp_path / "m.skops"
    loader = CountingLoader()
    app = make_app(path.as_uri(), models.skops.sha256, "skops", loader)
    status, body = post_book(app)
    assert status == 503 and "cannot read" in body["error"]["message"]
    path.write_bytes(models.skops.data)
    status, body = post_book(app)
    assert status == 200 and loader.calls == 1


def test_broken_artifact_with_matching_hash_is_503(tmp_path) -> None:
    import hashlib

    path = tmp_path / "m.onnx"
    path.write_bytes(b"not an onnx model")
    app = make_app(path.as_uri(), hashlib.sha256(b"not an onnx model").hexdigest(), "onnx",
                   CountingLoader("onnx"))
    status, body = post_book(app)
    assert status == 503 and "onnxruntime" in body["error"]["message"]


def test_concurrent_first_requests_load_once(models, tmp_path) -> None:
    path = tmp_path / "m.skops"
    path.write_bytes(models.skops.data)
    loader = CountingLoader(delay=0.2)
    app = make_app(path.as_uri(), models.skops.sha256, "skops", loader)
    barrier = threading.Barrier(16)
    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(post_book(app)[0])

    run_threads(worker, 16, timeout=30)
    assert results == [200] * 16
    assert loader.calls == 1


def test_ttl_unset_never_rechecks(models, tmp_path) -> None:
    path = tmp_path / "m.skops"
    path.write_bytes(models.skops.data)
    calls: list[str] = []

    def header(uri: str) -> str:
        calls.append(uri)
        return "x"

    clock = Clock()
    cache = ModelCache(path.as_uri(), models.skops.sha256, CountingLoader(), 0, header=header, clock=clock)
    cache.get()
    clock.now += 1e9
    cache.get()
    assert calls == []


def test_ttl_file_reload_and_failed_reload_keeps_old(models, tmp_path, capsys) -> None:
    """A changed object is reloaded after the TTL; a bad replacement keeps the old model, logged once."""
    path = tmp_path / "m.skops"
    path.write_bytes(models.skops.data)
    clock, loader = Clock(), CountingLoader()
    app = make_app(path.as_uri(), models.skops.sha256, "skops", loader, ttl=60, clock=clock)
    assert post_book(app)[0] == 200 and loader.calls == 1
    first_tag = app.cache.loaded.version_tag

    # Same bytes rewritten (new mtime): after the TTL it reloads and the hash still matches.
    time.sleep(0.01)
    path.write_bytes(models.skops.data)
    clock.now += 30
    assert post_book(app)[0] == 200 and loader.calls == 1  # within TTL: no check
    clock.now += 31
    assert post_book(app)[0] == 200 and loader.calls == 2
    assert app.cache.loaded.version_tag != first_tag
    capsys.readouterr()

    # Tampered replacement: refused by sha256, old model keeps serving, one log line for the attempt.
    path.write_bytes(models.skops.data + b"tampered")
    clock.now += 61
    logs = serve_old_model(app, capsys, 5, models.skops.sha256, loader, 2)
    assert len(logs) == 1
    assert logs[0]["event"] == "model_reload_failed" and logs[0]["stage"] == "sha256_mismatch"
    assert logs[0]["keeping_sha256"] == models.skops.sha256

    # Object gone: the re-check fails, still serving, one line for the next attempt only.
    path.unlink()
    clock.now += 61
    for _ in range(3):
        assert post_book(app)[0] == 200
    logs = model_log_lines(capsys)
    assert [(x["event"], x["stage"]) for x in logs] == [("model_reload_failed", "recheck")]


@pytest.mark.slow
def test_ttl_reload_s3(models, s3, capsys) -> None:
    """S3 ETag: same bytes uploaded as multipart get a new ETag (reload succeeds); different bytes are refused."""
    key = "models/games-test/m.skops"
    s3.put_object(Bucket="models", Key=key, Body=models.skops.data)
    clock, loader = Clock(), CountingLoader()
    app = make_app(f"s3://models/{key}", models.skops.sha256, "skops", loader, ttl=10, clock=clock)
    assert post_book(app)[0] == 200
    etag = app.cache.loaded.version_tag

    clock.now += 11
    assert post_book(app)[0] == 200 and loader.calls == 1  # unchanged ETag: no reload

    mpu = s3.create_multipart_upload(Bucket="models", Key=key)
    part = s3.upload_part(Bucket="models", Key=key, UploadId=mpu["UploadId"], PartNumber=1, Body=models.skops.data)
    s3.complete_multipart_upload(Bucket="models", Key=key, UploadId=mpu["UploadId"],
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    clock.now += 11
    assert post_book(app)[0] == 200
    assert loader.calls == 2 and app.cache.loaded.version_tag != etag

    s3.put_object(Bucket="models", Key=key, Body=models.onnx64.data)
    capsys.readouterr()
    clock.now += 11
    logs = serve_old_model(app, capsys, 3, models.skops.sha256, loader, 2)
    assert [(x["event"], x["stage"]) for x in logs] == [("model_reload_failed", "sha256_mismatch")]


@pytest.mark.slow
def test_ttl_reload_gcs(models, gcs, capsys) -> None:
    """GCS generation: re-uploading the same bytes reloads; a tampered upload is refused and logged once."""
    key = f"models/games-test/{models.onnx64.sha256}.onnx"
    gcs.upload(key, models.onnx64.data)
    clock, loader = Clock(), CountingLoader("onnx")
    app = make_app(f"gs://{gcs.name}/{key}", models.onnx64.sha256, "onnx", loader, ttl=5, clock=clock)
    status, body = post_book(app)
    assert status == 200
    assert abs(body["prediction"] - models.clf.predict_proba(np.array([[1.0] + [0.0] * 9]))[0][1]) <= 1e-9
    gen = app.cache.loaded.version_tag
    assert gen == store.head(f"gs://{gcs.name}/{key}")

    clock.now += 6
    assert post_book(app)[0] == 200 and loader.calls == 1

    gcs.upload(key, models.onnx64.data)
    clock.now += 6
    assert post_book(app)[0] == 200 and loader.calls == 2
    assert app.cache.loaded.version_tag != gen

    gcs.upload(key, models.onnx32.data)
    capsys.readouterr()
    clock.now += 6
    for _ in range(3):
        assert post_book(app)[0] == 200
    assert loader.calls == 2
    logs = model_log_lines(capsys)
    assert [(x["event"], x["stage"]) for x in logs] == [("model_reload_failed", "sha256_mismatch")]


@pytest.mark.slow
def test_gcs_missing_object_and_bucket(models, gcs) -> None:
    with pytest.raises(store.StoreError, match="HTTP 404"):
        store.fetch(f"gs://{gcs.name}/nope")
    with pytest.raises(store.StoreError, match="HTTP 404"):
        store.head(f"gs://{gcs.name}-missing/nope")
    key = "a dir/with spaces+plus/m.skops"  # names are percent-encoded as one path segment
    gcs.upload(key, models.skops.data)
    data, gen = store.fetch(f"gs://{gcs.name}/{key}")
    assert data == models.skops.data and gen.isdigit()


def test_model_unavailable_message_names_stage() -> None:
    assert ModelUnavailable("x", "fetch").stage == "fetch"


def test_retry_seconds_waits_before_fetching_a_failed_model_again() -> None:
    from functions.model_cache import ModelCache, ModelUnavailable

    fetches: list[str] = []
    now = [100.0]

    def fetch(uri: str) -> tuple[bytes, str]:
        fetches.append(uri)
        return b"bytes", "v1"

    cache = ModelCache("file:///m", "0" * 64, lambda data: data, fetcher=fetch, clock=lambda: now[0],
                       retry_seconds=30.0)
    stages = []
    for _ in range(3):
        with pytest.raises(ModelUnavailable) as err:
            cache.get()
        stages.append(err.value.stage)
    assert stages == ["sha256_mismatch", "retry_wait", "retry_wait"] and len(fetches) == 1
    now[0] += 30.0
    with pytest.raises(ModelUnavailable):
        cache.get()
    assert len(fetches) == 2
