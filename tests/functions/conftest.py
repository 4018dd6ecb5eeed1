"""Fixtures for functions/: small model artifacts built here, env configuration, S3 (moto) and GCS (emulator).

The artifacts are fit from the games CSV in this session (not the committed models/), so these tests do
not depend on the training helper's output.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fn_support import free_port, stop_process, wait_http

from functions.contract import ENV_VARS

REPO_ROOT = Path(__file__).resolve().parents[2]
FEATURES = [f"G{i}" for i in range(1, 11)]
BOOK_REQUEST = {"G1": "1", "G2": "0", "G3": "0", "G4": "0", "G5": "0", "G6": "0", "G7": "0", "G8": "0",
                "G9": "0", "G10": "0"}
MODEL_ENV_VARS = ENV_VARS


def games_csv_path() -> Path:
    """games-expand.csv from $SMODELS_DATA or ../shared/data beside the repo."""
    env = os.environ.get("SMODELS_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "games-expand.csv"


@dataclass(frozen=True)
class Artifact:
    """A serialised model on disk with its hash and format."""

    path: Path
    fmt: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def uri(self) -> str:
        return self.path.as_uri()


@dataclass
class Models:
    """The reference estimator, its data and artifacts in every format."""

    X: np.ndarray
    y: np.ndarray
    clf: object
    keras_model: object
    skops: Artifact
    onnx64: Artifact
    onnx32: Artifact
    keras: Artifact
    joblib: Artifact


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Fit the book's LogisticRegression (liblinear) and save it as skops, ONNX (double/float) and joblib;
    plus a tiny Keras MLP."""
    path = games_csv_path()
    if not path.is_file():
        pytest.skip(f"games data not found at {path} (set SMODELS_DATA)")
    import joblib
    import skops.io as sio
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.linear_model import LogisticRegression

    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = raw[:, :10].astype(np.float64), raw[:, 10].astype(np.int64)
    clf = LogisticRegression(solver="liblinear").fit(X, y)
    out = tmp_path_factory.mktemp("artifacts")

    def write(name: str, data: bytes, fmt: str) -> Artifact:
        p = out / name
        p.write_bytes(data)
        return Artifact(p, fmt)

    opts = {id(clf): {"zipmap": False}}
    onnx64 = convert_sklearn(clf, initial_types=[("x", DoubleTensorType([None, 10]))], options=opts)
    onnx32 = convert_sklearn(clf, initial_types=[("x", FloatTensorType([None, 10]))], options=opts)
    buf = io.BytesIO()
    joblib.dump(clf, buf)

    import keras

    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((10,)), keras.layers.Dense(8, activation="relu"),
                           keras.layers.Dense(1, activation="sigmoid")])
    kpath = out / "model.keras"
    km.save(kpath)
    return Models(
        X=X, y=y, clf=clf, keras_model=km,
        skops=write("model.skops", sio.dumps(clf), "skops"),
        onnx64=write("model64.onnx", onnx64.SerializeToString(), "onnx"),
        onnx32=write("model32.onnx", onnx32.SerializeToString(), "onnx"),
        keras=Artifact(kpath, "keras"),
        joblib=write("model.joblib", buf.getvalue(), "joblib"),
    )


def model_env(uri: str, sha256: str, fmt: str, **extra: str) -> dict[str, str]:
    """The function environment for one model endpoint."""
    env = {"MODEL_URI": uri, "MODEL_SHA256": sha256, "MODEL_FORMAT": fmt, "MODEL_NAME": "games-test",
           "MODEL_FRAMEWORK": "scikit-learn", "MODEL_FEATURES": json.dumps(FEATURES), "ENDPOINT_NAME": "pred"}
    env.update(extra)
    return env


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set the model env (replacing any previous one) and forget the process-wide app and clients."""
    from functions import app, store

    def _configure(uri: str, sha256: str, fmt: str, **extra: str) -> None:
        for name in MODEL_ENV_VARS:
            monkeypatch.delenv(name, raising=False)
        for k, v in model_env(uri, sha256, fmt, **extra).items():
            monkeypatch.setenv(k, v)
        app.reset_app()
        store.reset_clients()

    yield _configure
    app.reset_app()
    store.reset_clients()


# -- S3 through moto's server -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (a real HTTP boundary for boto3)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A boto3 S3 client against moto, with the function's env pointing at the same server and a fresh bucket."""
    import boto3

    from functions import store

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL_S3": moto_endpoint}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    store.reset_clients()
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="models")
    yield client
    for obj in client.list_objects_v2(Bucket="models").get("Contents", []):
        client.delete_object(Bucket="models", Key=obj["Key"])
    client.delete_bucket(Bucket="models")
    store.reset_clients()


# -- GCS through gcp-storage-emulator ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def gcs_host() -> Iterator[str]:
    """gcp-storage-emulator as a subprocess on 127.0.0.1 (in memory)."""
    port = free_port()
    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    proc = subprocess.Popen([str(exe), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


class GcsBucket:
    """Minimal uploads to the emulator through the JSON API (what the function reads back)."""

    def __init__(self, host: str, name: str) -> None:
        self.host, self.name = host, name

    def upload(self, key: str, data: bytes) -> None:
        from urllib.parse import quote

        url = f"{self.host}/upload/storage/v1/b/{self.name}/o?uploadType=media&name={quote(key, safe='')}"
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req, timeout=10).close()


@pytest.fixture
def gcs(gcs_host: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcsBucket]:
    """A fresh emulator bucket, with STORAGE_EMULATOR_HOST set for the function."""
    import uuid

    from functions import store

    name = f"models-{uuid.uuid4().hex[:8]}"
    req = urllib.request.Request(f"{gcs_host}/storage/v1/b", data=json.dumps({"name": name}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_host)
    store.reset_clients()
    yield GcsBucket(gcs_host, name)
    store.reset_clients()
