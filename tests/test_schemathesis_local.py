"""schemathesis against the locally served endpoints, driven by the OpenAPI document smodels generates.

Targets, each a real HTTP server on 127.0.0.1 in its own process (started and stopped here):
- GCP ``pred`` and ``echo`` under functions-framework (gunicorn, as Cloud Functions runs them);
- the Lambda ``lambda_handler`` behind an API Gateway payload-2.0 front (bench/load.py ``_aws-front``).
Positive cases (valid by the schema) must get 200 with a conforming body; negative cases (schema broken in
a body, type, required property, extra property, array length...) must get a 4xx with the JSON error body;
nothing may get a 5xx. The model is the book's skops LogisticRegression from models/logreg (the float32
ONNX runtime's 500 on out-of-range values is pinned separately in tests/functions/test_hardening_fuzz.py).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from smodels.openapi import build_echo_spec, build_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
EXAMPLES = 120

pytestmark = pytest.mark.slow


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"smodels_bench_{name}", REPO_ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load = _load("load")
fuzz = _load("fuzz")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs of gcp/pred, gcp/echo and aws/pred; every process is stopped at the end."""
    env = fuzz.book_model_env("native")
    logs = tmp_path_factory.mktemp("logs")
    with load.serve_gcp(env, "pred", logs / "gcp-pred.log") as gcp_pred, \
            load.serve_gcp({}, "echo", logs / "gcp-echo.log") as gcp_echo, \
            load.serve_aws(env, "model", logs / "aws-pred.log") as aws_pred:
        yield {"gcp/pred": gcp_pred.rsplit("/", 1)[0], "gcp/echo": gcp_echo.rsplit("/", 1)[0],
               "aws/pred": aws_pred.rsplit("/", 1)[0]}


def _checks(mode: GenerationMode) -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks as oc

    common = [not_a_server_error, oc.response_schema_conformance, oc.status_code_conformance,
              oc.content_type_conformance]
    extra = oc.negative_data_rejection if mode == GenerationMode.NEGATIVE else oc.positive_data_acceptance
    return [*common, extra]


MODEL_SCHEMA = schemathesis.openapi.from_dict(build_spec(FEATURES, "pred", model_name="games-logreg"))
ECHO_SCHEMA = schemathesis.openapi.from_dict(build_echo_spec("echo"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _run(case: Any, base_url: str, mode: GenerationMode) -> None:
    response = case.call(base_url=base_url, timeout=30)
    assert response.status_code < 500, (response.status_code, response.text[:300], case.body)
    if 400 <= response.status_code < 500:
        body = response.json()
        assert body["success"] is False and body["error"]["code"] and body["error"]["message"], body
    case.validate_response(response, checks=_checks(mode))


@pytest.mark.parametrize("target", ["gcp/pred", "aws/pred"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_predict_conforms(servers: dict[str, str], target: str, mode: GenerationMode) -> None:
    base_url = servers[target]

    @SETTINGS
    @given(case=MODEL_SCHEMA["/pred"]["POST"].as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        _run(case, base_url, mode)

    check()


@pytest.mark.parametrize("target", ["gcp/pred", "aws/pred"])
def test_metadata_conforms(servers: dict[str, str], target: str) -> None:
    base_url = servers[target]

    @settings(SETTINGS, max_examples=5)
    @given(case=MODEL_SCHEMA["/pred"]["GET"].as_strategy())
    def check(case: Any) -> None:
        _run(case, base_url, GenerationMode.POSITIVE)

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_echo_conforms(servers: dict[str, str], mode: GenerationMode) -> None:
    base_url = servers["gcp/echo"]

    @settings(SETTINGS, max_examples=60)
    @given(case=ECHO_SCHEMA["/echo"]["POST"].as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        _run(case, base_url, mode)

    check()


@pytest.mark.parametrize("target", ["gcp/pred", "aws/pred"])
def test_wrong_method_is_405_with_allow(servers: dict[str, str], target: str) -> None:
    import requests

    resp = requests.delete(servers[target] + "/pred", timeout=10)
    assert resp.status_code == 405, resp.text
    assert "POST" in resp.headers.get("Allow", ""), resp.headers
    assert resp.json()["error"]["code"] == "method_not_allowed"


def test_committed_openapi_document_is_current() -> None:
    """docs/openapi.json is what `smodels openapi --model models/logreg --endpoint pred` writes today."""
    import json

    from smodels.openapi import dumps_spec, spec_for_model

    committed = REPO_ROOT / "docs" / "openapi.json"
    assert committed.is_file(), "run: smodels openapi --model models/logreg --endpoint pred --out docs/openapi.json"
    assert json.loads(committed.read_text()) == json.loads(dumps_spec(spec_for_model(REPO_ROOT / "models/logreg")))
