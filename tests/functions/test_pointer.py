"""Following a published pointer (refresh: pointer) in the function: the deployed model until a pointer exists, the
pointer's model after a TTL or at once on a trigger, and every kind of bad pointer refused (logged, the old model
serving). Also the conditional read the follower relies on (file, S3 through moto, GCS through the emulator), the
trigger shapes of both adapters, and the request_failed / arm fields of the log lines rollout status reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from functions import contract, store
from functions.app import ModelApp
from functions.contract import Pointer, PointerError, pointer_key, published_key, read_pointer
from functions.http import Request
from functions.model_cache import ModelCache
from functions.settings import MisconfiguredError, Settings, read_env

ROW = {"a": 1.0, "b": 2.0}
EP = "pred"


class Constant:
    """A model answering one constant (so the answer says which model gave it)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, batch: Any) -> list[float]:
        return [self.value] * len(batch)


class Loader:
    """Counts loads; refuses documents marked broken (a model whose bytes hash right but do not load)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes) -> Constant:
        self.calls += 1
        doc = json.loads(data)
        if doc.get("broken"):
            raise ValueError("not a model")
        return Constant(float(doc["value"]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Bucket:
    """A file:// bucket with the cloud layout: deployed models, published artifacts and the pointer."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, key: str) -> str:
        return (self.root / key).as_uri()

    def put(self, key: str, data: bytes) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return self.uri(key)

    def model(self, value: float, **extra: Any) -> tuple[bytes, str]:
        data = json.dumps({"value": value, **extra}).encode()
        return data, hashlib.sha256(data).hexdigest()

    def publish(self, value: float, name: str = "retrained", *, endpoint: str = EP, sha: str | None = None,
                fmt: str = "pure", uri: str | None = None, **extra: Any) -> str:
        """What `smodels publish` does: the artifact under its sha256 key, then the pointer."""
        data, digest = self.model(value, **extra)
        art = self.put(published_key(endpoint, digest, fmt), data)
        pointer = Pointer(uri or art, sha or digest, fmt, name, "test", "2026-12-02T00:00:00Z", {"task": "x"})
        self.put(pointer_key(EP), pointer.to_json(endpoint))
        return digest


@pytest.fixture
def bucket(tmp_path: Path) -> Bucket:
    return Bucket(tmp_path / "bucket")


def _app(bucket: Bucket, clock: Clock, loader: Loader, ttl: int = 60) -> ModelApp:
    data, sha = bucket.model(0.25)
    uri = bucket.put(f"models/deployed/{sha}.json", data)
    settings = Settings(model_uri=uri, model_sha256=sha, model_format="pure", features=("a", "b"),
                        model_name="deployed", endpoint=EP, ttl_seconds=ttl, pointer_uri=bucket.uri(pointer_key(EP)))
    return ModelApp(settings, loader=loader, clock=clock)


def _post(app: ModelApp, body: Any = ROW) -> tuple[int, dict[str, Any]]:
    resp = app.handle(Request("POST", json.dumps(body).encode(), {"content-type": "application/json"}))
    return resp.status, json.loads(resp.body_text())


def _served(app: ModelApp) -> tuple[str, float]:
    status, body = _post(app)
    assert status == 200, body
    return body["model"]["name"], body["prediction"]


def _logs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


# -- the pointer document --------------------------------------------------------------------------------------

def test_pointer_round_trip_and_layout() -> None:
    sha = "ab" * 32
    uri = f"s3://bkt/{published_key(EP, sha, 'onnx')}"
    assert published_key(EP, sha, "onnx") == f"endpoints/pred/models/{sha}.onnx"
    assert pointer_key(EP) == "endpoints/pred/live.json"
    p = Pointer(uri, sha, "onnx", "games", "scikit-learn 1.9", "t", {"task": "binary-classification"})
    assert read_pointer(p.to_json(EP), f"s3://bkt/{pointer_key(EP)}", EP) == p
    assert p.to_json(EP) == p.to_json(EP)  # the same pointer, the same bytes


@pytest.mark.parametrize(("change", "field"), [
    ({"endpoint": "other"}, "endpoint"),
    ({"uri": "s3://elsewhere/endpoints/pred/models/" + "ab" * 32 + ".onnx"}, "uri"),
    ({"uri": "s3://bkt/models/games/" + "ab" * 32 + ".onnx"}, "uri"),  # not a published artifact
    ({"uri": "s3://bkt/endpoints/other/models/" + "ab" * 32 + ".onnx"}, "uri"),  # another endpoint's
    ({"uri": "s3://bkt/endpoints/pred/models/" + "cd" * 32 + ".onnx"}, "uri"),  # another sha's
    ({"sha256": "xyz"}, "sha256"),
    ({"format": "exe"}, "format"),
    ({"name": ""}, "name"),
    ({"pointer": 2}, "pointer"),
])
def test_a_pointer_naming_anything_else_is_refused(change: dict[str, Any], field: str) -> None:
    sha = "ab" * 32
    doc = json.loads(Pointer(f"s3://bkt/{published_key(EP, sha, 'onnx')}", sha, "onnx", "games").to_json(EP))
    doc.update(change)
    with pytest.raises(PointerError, match=f"^{field}"):
        read_pointer(json.dumps(doc).encode(), f"s3://bkt/{pointer_key(EP)}", EP)


@pytest.mark.parametrize("data", [b"\xff", b"[1]", b"{not json"])
def test_a_pointer_that_is_not_a_json_object_is_refused(data: bytes) -> None:
    with pytest.raises(PointerError):
        read_pointer(data, f"s3://bkt/{pointer_key(EP)}", EP)


# -- following it --------------------------------------------------------------------------------------------

def test_serves_the_deployed_model_until_a_pointer_exists(bucket: Bucket, capsys: pytest.CaptureFixture[str]) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)
    assert _served(app) == ("deployed", 0.25)
    meta = app.metadata()
    assert meta["refresh"]["mode"] == "pointer" and meta["refresh"]["last_check"]["outcome"] == "absent"
    assert meta["model"]["version"] == meta["refresh"]["deployed"]["version"]
    bucket.publish(0.75)
    assert _served(app) == ("deployed", 0.25)  # within the TTL: not re-read yet
    clock.now += 60
    assert _served(app) == ("retrained", 0.75)
    events = [e["event"] for e in _logs(capsys)]
    assert "pointer_followed" in events
    assert app.metadata()["model"]["name"] == "retrained"


def test_first_request_loads_the_pointer_model_directly(bucket: Bucket, capsys: pytest.CaptureFixture[str]) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)
    digest = bucket.publish(0.75)
    status, body = _post(app)
    assert status == 200 and body["model"] == {"name": "retrained", "version": digest}
    loaded = [e for e in _logs(capsys) if e["event"] == "model_loaded"]
    assert [e["model"] for e in loaded] == ["retrained"] and loader.calls == 1  # the deployed one never loaded


def test_unchanged_pointer_is_one_conditional_read(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)
    bucket.publish(0.75)
    reads: list[str | None] = []
    real = store.fetch_if_changed

    def counting(uri: str, tag: str | None) -> Any:
        got = real(uri, tag)
        reads.append(None if got is None else "body")
        return got

    assert app.follower is not None
    app.follower.fetch_if_changed = counting
    _served(app)
    for _ in range(3):
        clock.now += 60
        _served(app)
    assert reads == ["body", None, None, None] and loader.calls == 1


@pytest.mark.parametrize("tamper", ["artifact", "sha", "other_endpoint", "format", "broken", "garbage"])
def test_a_tampered_pointer_or_artifact_is_refused_and_the_old_model_keeps_serving(
        bucket: Bucket, tamper: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)
    good = bucket.publish(0.75, "v2")
    assert _served(app) == ("v2", 0.75)
    if tamper == "artifact":  # the artifact's bytes replaced after publishing (the pointer unchanged but re-written)
        digest = bucket.publish(0.5, "v3")
        bucket.put(published_key(EP, digest, "pure"), json.dumps({"value": 99.0}).encode())
    elif tamper == "sha":
        bucket.publish(0.5, "v3", sha="0" * 64)
    elif tamper == "other_endpoint":
        data, digest = bucket.model(0.5)
        other = bucket.put(published_key("other", digest, "pure"), data)
        bucket.publish(0.5, "v3", uri=other)
    elif tamper == "format":
        bucket.publish(0.5, "v3", fmt="onnx")
    elif tamper == "broken":
        bucket.publish(0.5, "v3", broken=True)
    else:
        bucket.put(pointer_key(EP), b'{"pointer": 1, "uri": ')
    capsys.readouterr()
    clock.now += 60
    status, body = _post(app)
    assert status == 200 and body["model"] == {"name": "v2", "version": good}
    refused = [e for e in _logs(capsys) if e["event"] == "pointer_refused"]
    assert len(refused) == 1 and refused[0]["serving"] == good
    assert app.metadata()["refresh"]["refused"]["reason"] == refused[0]["reason"]
    calls = loader.calls
    clock.now += 60  # a refused pointer is not tried again until it changes
    _post(app)
    assert loader.calls == calls and not [e for e in _logs(capsys) if e["event"] == "pointer_refused"]
    bucket.publish(0.125, "v4")
    clock.now += 60
    assert _served(app) == ("v4", 0.125)


def test_a_refused_pointer_at_cold_start_serves_the_deployed_model(bucket: Bucket) -> None:
    app = _app(bucket, Clock(), Loader())
    bucket.publish(0.5, "v3", sha="0" * 64)
    assert _served(app) == ("deployed", 0.25)


def test_a_missing_artifact_is_retried_at_the_next_check(bucket: Bucket) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)
    digest = bucket.publish(0.75)
    artifact = bucket.root / published_key(EP, digest, "pure")
    data = artifact.read_bytes()
    artifact.unlink()
    assert _served(app) == ("deployed", 0.25)
    artifact.write_bytes(data)
    clock.now += 60
    assert _served(app) == ("retrained", 0.75)


def test_refresh_follows_at_once_and_needs_a_pointer(bucket: Bucket) -> None:
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader, ttl=3600)
    assert _served(app) == ("deployed", 0.25)
    digest = bucket.publish(0.75)
    resp = app.refresh("s3_event")
    body = json.loads(resp.body_text())
    assert resp.status == 200 and body["refresh"]["outcome"] == "followed" and body["model"]["version"] == digest
    assert _served(app) == ("retrained", 0.75)
    assert json.loads(app.refresh("s3_event").body_text())["refresh"]["outcome"] == "unchanged"
    plain = ModelApp(app.settings._replace(pointer_uri=""), loader=loader)
    resp = plain.refresh("s3_event")
    assert resp.status == 404 and json.loads(resp.body_text())["error"]["code"] == "not_found"


def test_an_unreadable_pointer_is_a_503_to_the_trigger(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(bucket, Clock(), Loader())
    _served(app)

    def down(uri: str, tag: str | None) -> Any:
        raise store.StoreError("connection refused")

    assert app.follower is not None
    app.follower.fetch_if_changed = down
    resp = app.refresh("pubsub_push")
    assert resp.status == 503 and json.loads(resp.body_text())["refresh"]["outcome"] == "unreadable"
    assert _served(app) == ("deployed", 0.25)


# -- the log lines rollout status reads ----------------------------------------------------------------------

def test_log_lines_name_the_arm_and_failures_their_model(bucket: Bucket, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(bucket, Clock(), Loader())
    _served(app)
    status, _ = _post(app, {"a": "x", "b": 1})
    assert status == 400
    lines = _logs(capsys)
    pred = next(e for e in lines if e["event"] == "prediction")
    assert pred["arm"] == "stable" and pred["model"] == "deployed"
    failed = [e for e in lines if e["event"] == "request_failed"]
    assert len(failed) == 1 and failed[0]["status"] == 400 and "model" not in failed[0]
    broken = ModelApp(app.settings._replace(pointer_uri="", model_sha256="0" * 64), loader=Loader())
    assert _post(broken)[0] == 503
    failed = [e for e in _logs(capsys) if e["event"] == "request_failed"]
    assert [(e["status"], e["error"]) for e in failed] == [(503, "model_unavailable")]


# -- the triggers, through the adapters ----------------------------------------------------------------------

S3_EVENT = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "b"}, "object": {"key": "endpoints/pred/live.json"}}}]}


def test_lambda_s3_event_triggers_a_refresh(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import app as app_module
    from functions import aws

    app = _app(bucket, Clock(), Loader(), ttl=3600)
    monkeypatch.setattr(app_module, "_app", app)
    assert aws.is_s3_event(S3_EVENT) and not aws.is_s3_event({"Records": []}) and not aws.is_s3_event(ROW)
    _served(app)
    digest = bucket.publish(0.75)
    out = aws.lambda_handler(S3_EVENT)
    assert out["statusCode"] == 200 and json.loads(out["body"])["model"]["version"] == digest
    assert aws.echo_handler(S3_EVENT)["statusCode"] == 400  # not a refresh for echo: an event it does not take


def test_gcp_pubsub_push_triggers_a_refresh(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    flask = pytest.importorskip("flask")
    from functions import app as app_module
    from functions import gcp

    app = _app(bucket, Clock(), Loader(), ttl=3600)
    monkeypatch.setattr(app_module, "_app", app)
    # The push's ID token is tests/functions/test_gcp_refresh.py's subject; here the refresh behind it.
    monkeypatch.setattr(gcp, "check_push", lambda headers: {})
    _served(app)
    digest = bucket.publish(0.75)
    flask_app = flask.Flask("t")
    envelope = {"message": {"attributes": {"objectId": "endpoints/pred/live.json"}, "data": ""},
                "subscription": "projects/p/subscriptions/s"}
    with flask_app.test_request_context(contract.REFRESH_PATH, method="POST", json=envelope):
        resp = gcp.pred(flask.request)
    assert resp.status_code == 200 and json.loads(resp.get_data())["model"]["version"] == digest
    with flask_app.test_request_context(contract.REFRESH_PATH, method="POST", json=ROW):
        resp = gcp.pred(flask.request)
    assert resp.status_code == 400 and json.loads(resp.get_data())["error"]["field"] == "message"


# -- the conditional read ------------------------------------------------------------------------------------

def test_fetch_if_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "live.json"
    with pytest.raises(store.StoreError) as err:
        store.fetch_if_changed(path.as_uri(), None)
    assert err.value.missing
    path.write_bytes(b"one")
    data, tag = store.fetch_if_changed(path.as_uri(), None) or (b"", "")
    assert data == b"one" and store.fetch_if_changed(path.as_uri(), tag) is None


@pytest.mark.slow
def test_fetch_if_changed_s3(s3: Any) -> None:
    uri = "s3://models/endpoints/pred/live.json"
    with pytest.raises(store.StoreError) as err:
        store.fetch_if_changed(uri, None)
    assert err.value.missing
    s3.put_object(Bucket="models", Key="endpoints/pred/live.json", Body=b"one")
    data, tag = store.fetch_if_changed(uri, None) or (b"", "")
    assert data == b"one" and store.fetch_if_changed(uri, tag) is None
    s3.put_object(Bucket="models", Key="endpoints/pred/live.json", Body=b"two")
    assert (store.fetch_if_changed(uri, tag) or (b"",))[0] == b"two"


@pytest.mark.slow
def test_fetch_if_changed_gcs(gcs: Any) -> None:
    uri = f"gs://{gcs.name}/endpoints/pred/live.json"
    with pytest.raises(store.StoreError) as err:
        store.fetch_if_changed(uri, None)
    assert err.value.missing
    gcs.upload("endpoints/pred/live.json", b"one")
    data, tag = store.fetch_if_changed(uri, None) or (b"", "")
    assert data == b"one" and store.fetch_if_changed(uri, tag) is None
    gcs.upload("endpoints/pred/live.json", b"two")
    assert (store.fetch_if_changed(uri, tag) or (b"",))[0] == b"two"


def test_read_env_takes_the_pointer_uri() -> None:
    env = {"MODEL_URI": "s3://b/models/m/" + "a" * 64 + ".json", "MODEL_SHA256": "a" * 64, "MODEL_FORMAT": "pure",
           "MODEL_FEATURES": '["a"]', "MODEL_POINTER_URI": "s3://b/endpoints/pred/live.json"}
    assert read_env(env).pointer_uri == "s3://b/endpoints/pred/live.json"
    with pytest.raises(MisconfiguredError, match="MODEL_POINTER_URI"):
        read_env({**env, "MODEL_POINTER_URI": "ftp://x"})


def test_multiclass_log_figures_are_the_top_probability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Over every class probability the mean is always 1/K; the line gives each row's top probability instead."""
    from functions.schema import ModelSchema

    class Three:
        def predict(self, batch: Any) -> list[list[float]]:
            return [[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]][: len(batch)]

    data = b"{}"
    path = tmp_path / "m.json"
    path.write_bytes(data)
    schema = ModelSchema.from_json({"features": [{"name": "a"}, {"name": "b"}], "task": "multiclass-classification",
                                    "classes": ["x", "y", "z"]})
    settings = Settings(model_uri=path.as_uri(), model_sha256=hashlib.sha256(data).hexdigest(), model_format="pure",
                        features=("a", "b"), schema=schema)
    app = ModelApp(settings, cache=ModelCache(settings.model_uri, settings.model_sha256, lambda _: Three(), name="m"))
    status, _ = _post(app, {"instances": [ROW, ROW]})
    assert status == 200
    line = next(e for e in _logs(capsys) if e["event"] == "prediction")
    assert line["output"] == {"mean": pytest.approx(0.6), "min": 0.5, "max": 0.7}


def test_a_denied_pointer_before_any_publish_is_absent_said_once(bucket: Bucket,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """S3 answers 403 for a missing object to a role without s3:ListBucket (the function's): no pointer yet."""
    clock, loader = Clock(), Loader()
    app = _app(bucket, clock, loader)

    def denied(uri: str, tag: str | None) -> Any:
        raise store.StoreError("cannot read s3://b/endpoints/pred/live.json: AccessDenied: ...", code="AccessDenied")

    assert app.follower is not None
    app.follower.fetch_if_changed = denied
    for _ in range(3):
        assert _served(app) == ("deployed", 0.25)
        clock.now += 60
    events = [e["event"] for e in _logs(capsys)]
    assert events.count("pointer_not_found_or_denied") == 1 and "pointer_unreadable" not in events
    assert app.metadata()["refresh"]["last_check"]["outcome"] == "absent"


def test_with_a_canary_the_pointer_moves_the_stable_model_only(bucket: Bucket) -> None:
    clock, loader = Clock(), Loader()
    data, csha = bucket.model(0.5)
    curi = bucket.put(f"models/canary/{csha}.json", data)
    base = _app(bucket, clock, loader).settings
    app = ModelApp(base._replace(canary_uri=curi, canary_sha256=csha, canary_format="pure", canary_name="canary",
                                 canary_percent=50.0), loader=loader, clock=clock)
    assert {_served(app) for _ in range(10)} == {("deployed", 0.25), ("canary", 0.5)}
    bucket.publish(0.75)
    clock.now += 60
    assert {_served(app) for _ in range(10)} == {("retrained", 0.75), ("canary", 0.5)}
