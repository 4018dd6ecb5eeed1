"""The GCP adapter under functions-framework over real HTTP, with models read from gcp-storage-emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fn_cases import BOOK, ECHO_ERRORS, FEATURES, MODEL_ERRORS, MODEL_OK, Case, check_error
from fn_support import free_port, stop_process, wait_http

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class FF:
    """A functions-framework server for one target."""

    def __init__(self, url: str, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def post(self, body: bytes, content_type: str | None = "application/json", method: str = "POST"):
        import requests

        headers = {"Content-Type": content_type} if content_type else {}
        return requests.request(method, self.url + "/", data=body, headers=headers, timeout=30)

    def logs(self) -> list[dict]:
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.startswith("{")]


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GCP source archive's layout: main.py (one line, as the builder writes it) + the functions package."""
    d = tmp_path_factory.mktemp("gcp-src")
    (d / "main.py").write_text("from functions.gcp import echo, pred, predict  # noqa: F401\n")
    return d


@pytest.fixture(scope="module")
def bucket(gcs_host: str, models) -> str:
    """A module-wide emulator bucket holding the skops and ONNX artifacts under content-addressed keys."""
    name = f"fn-{uuid.uuid4().hex[:8]}"
    req = urllib.request.Request(f"{gcs_host}/storage/v1/b", data=json.dumps({"name": name}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()
    for art in (models.skops, models.onnx64):
        key = f"models/games-test/{art.sha256}.{art.fmt}"
        up = urllib.request.Request(f"{gcs_host}/upload/storage/v1/b/{name}/o?uploadType=media&name="
                                    f"{urllib.request.quote(key, safe='')}", data=art.data, method="POST",
                                    headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(up, timeout=10).close()
    return name


def start_ff(target: str, source: Path, env_extra: dict[str, str], tmp: Path) -> Iterator[FF]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "AWS_"))}
    env.update(env_extra, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    log = tmp / f"ff-{target}-{port}.log"
    exe = Path(sys.executable).with_name("functions-framework")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(exe), "--target", target, "--source", str(source / "main.py"), "--host",
                                 "127.0.0.1", "--port", str(port)], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                cwd=str(source))
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=60, proc=proc)
        yield FF(f"http://127.0.0.1:{port}", proc, log)
    finally:
        stop_process(proc)


def _model_env(bucket: str, gcs_host: str, art, endpoint: str) -> dict[str, str]:
    return {"MODEL_URI": f"gs://{bucket}/models/games-test/{art.sha256}.{art.fmt}", "MODEL_SHA256": art.sha256,
            "MODEL_FORMAT": art.fmt, "MODEL_NAME": "games-test", "MODEL_FEATURES": json.dumps(FEATURES),
            "ENDPOINT_NAME": endpoint, "STORAGE_EMULATOR_HOST": gcs_host}


@pytest.fixture(scope="module")
def ff_echo(source_dir, tmp_path_factory) -> Iterator[FF]:
    yield from start_ff("echo", source_dir, {}, tmp_path_factory.mktemp("ff"))


@pytest.fixture(scope="module")
def ff_pred(source_dir, bucket, gcs_host, models, tmp_path_factory) -> Iterator[FF]:
    yield from start_ff("pred", source_dir, _model_env(bucket, gcs_host, models.skops, "pred"),
                        tmp_path_factory.mktemp("ff"))


@pytest.fixture(scope="module")
def ff_predict(source_dir, bucket, gcs_host, models, tmp_path_factory) -> Iterator[FF]:
    yield from start_ff("predict", source_dir, _model_env(bucket, gcs_host, models.onnx64, "predict"),
                        tmp_path_factory.mktemp("ff"))


@pytest.mark.parametrize("server", ["ff_pred", "ff_predict"])
def test_book_request_matches_predict_proba(request, models, server: str) -> None:
    ff: FF = request.getfixturevalue(server)
    expected = models.clf.predict_proba(np.array([[1.0] + [0.0] * 9]))[0][1]
    resp = ff.post(json.dumps(BOOK).encode())
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["success"] is True
    assert abs(body["prediction"] - expected) <= 1e-9 and abs(float(body["response"]) - expected) <= 1e-9
    rows = models.X[:500]
    resp = ff.post(json.dumps({"instances": rows.tolist()}).encode())
    np.testing.assert_allclose(resp.json()["predictions"], models.clf.predict_proba(rows)[:, 1], rtol=0, atol=1e-9)
    preds = [x for x in ff.logs() if x["event"] == "prediction"]
    assert preds and preds[-1]["rows"] == 500 and preds[-1]["endpoint"] == server.removeprefix("ff_")


def test_get_metadata(ff_predict, models) -> None:
    import requests

    body = requests.get(ff_predict.url + "/", timeout=10).json()
    assert body["endpoint"] == "predict" and body["model"]["format"] == "onnx"
    assert body["model"]["version"] == models.onnx64.sha256 and body["model"]["features"] == FEATURES


@pytest.mark.parametrize("case", MODEL_ERRORS + MODEL_OK, ids=lambda c: c.id)
def test_model_cases_over_http(ff_pred, case: Case) -> None:
    resp = ff_pred.post(case.body, case.content_type, case.method)
    assert resp.headers["Content-Type"].startswith("application/json")
    if case.status == 200:
        assert resp.status_code == 200 and resp.json()["success"] is True
        return
    check_error(resp.status_code, resp.json(), case)
    if case.status == 405:
        assert resp.headers["Allow"] == "GET, POST"


def test_chunked_body_too_large(ff_pred) -> None:
    import requests

    def chunks():
        yield b'{"G1": "1"'
        for _ in range(20):
            yield b" " * 65536
        yield b"}"

    resp = requests.post(ff_pred.url + "/", data=chunks(), headers={"Content-Type": "application/json"}, timeout=30)
    check_error(resp.status_code, resp.json(), Case("chunked", b"", 413, "body_too_large"))


def test_echo_over_http(ff_echo) -> None:
    resp = ff_echo.post(b'{"msg": "hello"}')
    assert resp.status_code == 200 and resp.json() == {"response": "hello", "success": True}
    assert resp.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("case", ECHO_ERRORS, ids=lambda c: c.id)
def test_echo_errors_over_http(ff_echo, case: Case) -> None:
    resp = ff_echo.post(case.body, case.content_type, case.method)
    check_error(resp.status_code, resp.json(), case)


def test_sha256_mismatch_over_http(source_dir, bucket, gcs_host, models, tmp_path) -> None:
    env = _model_env(bucket, gcs_host, models.skops, "pred")
    env["MODEL_SHA256"] = models.onnx64.sha256
    for ff in start_ff("pred", source_dir, env, tmp_path):
        for _ in range(2):  # refused each time, never cached
            resp = ff.post(json.dumps(BOOK).encode())
            assert resp.status_code == 503 and "sha256" in resp.json()["error"]["message"]
        failures = [x for x in ff.logs() if x["event"] == "model_load_failed"]
        assert [x["stage"] for x in failures] == ["sha256_mismatch", "sha256_mismatch"]
