"""The model canary in the function: routing by request key (sticky) or by a deterministic sequence (exact share),
the answering model named in the response and the log line, a canary that fails to load never taking traffic,
GET listing both models, and the MODEL_CANARY_* contract (all or none)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from functions import contract
from functions.app import CANARY_RETRY_SECONDS, ModelApp
from functions.contract import write_env
from functions.http import Request
from functions.model_cache import ModelCache
from functions.settings import MisconfiguredError, Settings, read_env

ROW = {"a": 1.0, "b": 2.0}


class Constant:
    """A model that answers one constant for every row (so the answer says which model gave it)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, batch: Any) -> list[float]:
        return [self.value] * len(batch)


def _loader(data: bytes) -> Constant:
    return Constant(float(json.loads(data)["value"]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _artifact(tmp_path: Path, name: str, value: float) -> tuple[str, str]:
    path = tmp_path / f"{name}.json"
    path.write_bytes(json.dumps({"value": value}).encode())
    return path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest()


def _app(tmp_path: Path, percent: float, *, canary_sha: str | None = None, clock: Any = None) -> ModelApp:
    uri, sha = _artifact(tmp_path, "stable", 0.25)
    curi, csha = _artifact(tmp_path, "canary", 0.75)
    settings = Settings(model_uri=uri, model_sha256=sha, model_format="pure", features=("a", "b"),
                        model_name="stable", endpoint="pred", canary_uri=curi, canary_sha256=canary_sha or csha,
                        canary_format="pure", canary_name="new", canary_percent=percent)
    clock = clock or Clock()
    return ModelApp(settings, cache=ModelCache(uri, sha, _loader, name="stable"),
                    canary_cache=ModelCache(curi, canary_sha or csha, _loader, clock=clock, name="new",
                                            retry_seconds=CANARY_RETRY_SECONDS),
                    clock=clock)


def _post(app: ModelApp, key: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-request-key"] = key  # adapters lower-case header names
    resp = app.handle(Request("POST", json.dumps(ROW).encode(), headers))
    assert resp.status == 200, resp.body
    return json.loads(resp.body_text())


def _logs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def test_request_key_is_sticky_and_splits_by_percent(tmp_path: Path) -> None:
    app = _app(tmp_path, 30)
    first = {f"user-{i}": _post(app, f"user-{i}")["model"]["name"] for i in range(400)}
    for _ in range(3):
        assert {k: _post(app, k)["model"]["name"] for k in first} == first
    share = sum(v == "new" for v in first.values()) / len(first)
    assert 0.22 <= share <= 0.38  # a hash split: near 30%, and the same on every instance
    # The hash is a pure function of the key: another instance (a fresh app) agrees key by key.
    other = _app(tmp_path, 30)
    assert {k: _post(other, k)["model"]["name"] for k in list(first)[:50]} == {k: first[k] for k in list(first)[:50]}


def test_header_name_is_case_insensitive_at_the_request(tmp_path: Path) -> None:
    app = _app(tmp_path, 50)
    req = Request("POST", json.dumps(ROW).encode(), {"x-request-key": "k"})
    assert req.header(contract.REQUEST_KEY_HEADER) == "k"
    assert app.to_canary("k") == app.to_canary("k")


def test_without_a_key_the_share_is_exact(tmp_path: Path) -> None:
    app = _app(tmp_path, 30)
    names = [_post(app)["model"]["name"] for _ in range(1000)]
    share = names.count("new") / len(names)
    assert abs(share - 0.30) <= 0.05
    assert abs(share - 0.30) <= 0.01  # the golden-ratio sequence: within a few requests of exact
    # Any window of 100 consecutive requests is close too (no runs of one model).
    assert all(abs(names[i:i + 100].count("new") - 30) <= 3 for i in range(0, 900, 50))


def test_percent_100_sends_everything_to_the_canary(tmp_path: Path) -> None:
    app = _app(tmp_path, 100)
    assert {_post(app)["model"]["name"] for _ in range(50)} == {"new"}
    assert {_post(app, f"k{i}")["model"]["name"] for i in range(50)} == {"new"}


def test_response_and_log_line_name_the_answering_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path, 50)
    _, stable_sha = _artifact(tmp_path, "stable", 0.25)
    _, canary_sha = _artifact(tmp_path, "canary", 0.75)
    capsys.readouterr()
    bodies = [_post(app) for _ in range(20)]
    preds = [x for x in _logs(capsys) if x["event"] == "prediction"]
    assert len(preds) == 20
    for body, line in zip(bodies, preds, strict=True):
        model = body["model"]
        assert (model["name"], model["version"]) == (line["model"], line["model_version"])
        if model["name"] == "new":
            assert model["version"] == canary_sha and body["prediction"] == 0.75
            assert line["output"]["mean"] == 0.75
        else:
            assert model == {"name": "stable", "version": stable_sha} and body["prediction"] == 0.25
    assert {b["model"]["name"] for b in bodies} == {"stable", "new"}


def test_canary_with_a_wrong_sha256_never_takes_traffic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    app = _app(tmp_path, 30, canary_sha="0" * 64, clock=clock)
    capsys.readouterr()
    names = [_post(app)["model"]["name"] for _ in range(100)]
    names += [_post(app, f"k{i}")["model"]["name"] for i in range(100)]
    assert set(names) == {"stable"}  # the stable model answers 100%
    logs = _logs(capsys)
    refused = [x for x in logs if x["event"] == "canary_unavailable"]
    assert len(refused) == 1  # one attempt, one line; the next waits CANARY_RETRY_SECONDS
    assert refused[0]["stage"] == "sha256_mismatch" and "sha256" in refused[0]["reason"]
    assert refused[0]["model"] == "new" and refused[0]["serving"] == "stable"
    assert app.canary_cache is not None and app.canary_cache.loaded is None  # never deserialised
    clock.now += CANARY_RETRY_SECONDS
    assert {_post(app)["model"]["name"] for _ in range(10)} == {"stable"}
    assert len([x for x in _logs(capsys) if x["event"] == "canary_unavailable"]) == 1  # the second attempt


def test_metadata_lists_both_models_and_the_percent(tmp_path: Path) -> None:
    app = _app(tmp_path, 30)
    meta = json.loads(app.handle(Request("GET")).body_text())
    assert meta["model"]["name"] == "stable"
    canary = meta["canary"]
    assert (canary["name"], canary["percent"], canary["format"], canary["loaded"]) == ("new", 30.0, "pure", False)
    assert canary["request_key_header"] == "X-Request-Key"


def test_no_canary_means_no_canary_in_metadata(tmp_path: Path) -> None:
    uri, sha = _artifact(tmp_path, "stable", 0.25)
    settings = Settings(model_uri=uri, model_sha256=sha, model_format="pure", features=("a", "b"))
    app = ModelApp(settings, cache=ModelCache(uri, sha, _loader))
    assert app.canary_cache is None
    assert "canary" not in json.loads(app.handle(Request("GET")).body_text())
    assert {_post(app, f"k{i}")["model"]["name"] for i in range(20)} == {"model"}


# --- the contract ---------------------------------------------------------------------------------------------


def _env(**canary: Any) -> dict[str, str]:
    env = write_env("pred", uri="file:///m.json", sha256="a" * 64, fmt="pure", name="stable",
                    features=["a", "b"], **canary)
    return {k: str(v) for k, v in env.items()}


def test_read_env_reads_the_canary() -> None:
    env = _env(canary_uri="file:///c.json", canary_sha256="B" * 64, canary_fmt="onnx", canary_name="new",
               canary_percent=12.5)
    assert env[contract.MODEL_CANARY_PERCENT] == "12.5"
    s = read_env(env)
    assert (s.canary_uri, s.canary_sha256, s.canary_format, s.canary_name, s.canary_percent) == (
        "file:///c.json", "b" * 64, "onnx", "new", 12.5)
    assert s.has_canary
    assert not read_env(_env()).has_canary
    assert set(contract.CANARY_ENV_VARS) <= set(contract.ENV_VARS)


def test_read_env_wants_all_canary_variables_or_none() -> None:
    env = _env(canary_uri="file:///c.json", canary_sha256="b" * 64, canary_fmt="pure", canary_name="new",
               canary_percent=10)
    del env[contract.MODEL_CANARY_SHA256]
    with pytest.raises(MisconfiguredError, match="MODEL_CANARY_SHA256: set every MODEL_CANARY_"):
        read_env(env)


@pytest.mark.parametrize("percent", ["0", "-5", "100.5", "ten", "nan"])
def test_read_env_refuses_a_bad_percent(percent: str) -> None:
    env = _env(canary_uri="file:///c.json", canary_sha256="b" * 64, canary_fmt="pure", canary_name="new",
               canary_percent=10)
    env[contract.MODEL_CANARY_PERCENT] = percent
    with pytest.raises(MisconfiguredError, match="MODEL_CANARY_PERCENT"):
        read_env(env)
