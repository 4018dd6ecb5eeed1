"""schemathesis against the locally served endpoints, driven by the OpenAPI document smodels generates.

Targets, each a real HTTP server on 127.0.0.1 in its own process (started and stopped here):
- GCP ``pred`` and ``echo`` under functions-framework (gunicorn, as Cloud Functions runs them);
- the Lambda ``lambda_handler`` under awslambdaric behind smodels.local's payload-2.0 front (tests/local_servers.py).
Positive cases (valid by the schema) must get 200 with a conforming body; negative cases (schema broken in
a body, type, required property, extra property, array length...) must get a 4xx with the JSON error body;
nothing may get a 5xx. The model is the book's skops LogisticRegression from models/logreg (the float32
ONNX runtime's 500 on out-of-range values is pinned separately in tests/functions/test_hardening_fuzz.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzz_strategies import book_model_env
from hypothesis import HealthCheck, given, settings
from local_servers import LocalAuth, serve_aws, serve_gcp
from schemathesis import GenerationMode

from bench import load
from smodels.openapi import FLOAT32_MAX, build_echo_spec, build_spec, spec_for_model

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
EXAMPLES = 60

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs of gcp/pred, gcp/echo and aws/pred; every process is stopped at the end."""
    env = book_model_env("native")
    logs = tmp_path_factory.mktemp("logs")
    with serve_gcp(env, "pred", logs / "gcp-pred.log") as gcp_pred, \
            serve_gcp({}, "echo", logs / "gcp-echo.log") as gcp_echo, \
            serve_aws(env, "model", logs) as aws_pred:
        yield {"gcp/pred": gcp_pred.rsplit("/", 1)[0], "gcp/echo": gcp_echo.rsplit("/", 1)[0],
               "aws/pred": aws_pred.rsplit("/", 1)[0]}


@pytest.fixture(scope="module")
def localstack() -> Iterator[dict[str, str]]:
    """`smodels serve`'s own stack (built packages, emulators, awslambdaric front) for the pred endpoint.

    It builds the host packages (shared with the other local-stack tests through the build cache), so it
    may download wheels from the package index on a fresh machine, like the packager's own tests.
    """
    from smodels.config import load_stack_config, read_stack_file
    from smodels.local.stack import LocalStack

    raw = read_stack_file(REPO_ROOT, "dev")
    raw["serverless-models:endpoints"] = {"pred": (raw.get("serverless-models:endpoints") or {}).get("pred", {})}
    with LocalStack(load_stack_config(raw, REPO_ROOT), stack="dev", port=0) as stack:
        yield {f"{ep.cloud}/pred": ep.url.rsplit("/", 1)[0] for ep in stack.endpoints if ep.name == "pred"}


def _checks(mode: GenerationMode) -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks as oc

    common = [not_a_server_error, oc.response_schema_conformance, oc.status_code_conformance,
              oc.content_type_conformance]
    extra = oc.negative_data_rejection if mode == GenerationMode.NEGATIVE else oc.positive_data_acceptance
    return [*common, extra]


# Schema-breaking requests must get one of these (schemathesis' default list lacks 413, our answer to a batch
# over maxItems). Schema-valid ones must get 200, or 422 "non_finite_output": JSON Schema cannot say that
# several values near 1e308 together overflow the model's dot product (inf - inf), which the app reports so.
CONFIG = schemathesis.Config.from_dict({"checks": {
    "negative_data_rejection": {"expected-statuses": ["400", "405", "413", "415"]},
    "positive_data_acceptance": {"expected-statuses": ["200", "422"]},
}})
MODEL_SCHEMA = schemathesis.openapi.from_dict(build_spec(FEATURES, "pred", model_name="games-logreg"), config=CONFIG)
# What the stack deploys declares the manifest's feature types (G1..G10 binary), and the functions enforce them:
# the local stack is held to the document `smodels openapi` writes for it (docs/openapi.json).
STACK_SCHEMA = schemathesis.openapi.from_dict(spec_for_model(REPO_ROOT / "models" / "logreg"), config=CONFIG)
ECHO_SCHEMA = schemathesis.openapi.from_dict(build_echo_spec("echo"), config=CONFIG)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _run(case: Any, base_url: str, mode: GenerationMode, oip: bool = False) -> None:
    # Signed for the local stack (private: SigV4 / an ID token of its issuer); the bare servers take it unsigned.
    response = case.call(base_url=base_url, timeout=30, auth=LocalAuth())
    assert response.status_code < 500, (response.status_code, response.text[:300], case.body)
    if 400 <= response.status_code < 500:
        body = response.json()
        if oip:  # the Open Inference Protocol's error shape
            assert set(body) == {"error"} and body["error"], body
        else:
            assert body["success"] is False and body["error"]["code"] and body["error"]["message"], body
            if response.status_code == 422:
                assert body["error"]["code"] == "non_finite_output", body
    case.validate_response(response, checks=_checks(mode))


@pytest.mark.parametrize("path", ["/v2/models/pred/infer", "/pred/invocations"])
@pytest.mark.parametrize("target", ["aws/pred", "gcp/pred"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_localstack_protocols_conform(localstack: dict[str, str], path: str, target: str,
                                      mode: GenerationMode) -> None:
    """OIP infer and MLflow scoring on the local stack, held to the document `smodels openapi` writes."""
    base_url = localstack[target]

    @settings(SETTINGS, max_examples=30, derandomize=True)  # the same cases on every machine and run
    @given(case=STACK_SCHEMA[path]["POST"].as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        _run(case, base_url, mode, oip=path.startswith("/v2/"))

    check()


@pytest.mark.parametrize("target", ["gcp/pred", "aws/pred"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_predict_conforms(servers: dict[str, str], target: str, mode: GenerationMode) -> None:
    base_url = servers[target]

    @SETTINGS
    @given(case=MODEL_SCHEMA["/pred"]["POST"].as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        _run(case, base_url, mode)

    check()


@pytest.mark.parametrize("target", ["aws/pred", "gcp/pred"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_localstack_predict_conforms(localstack: dict[str, str], target: str, mode: GenerationMode) -> None:
    base_url = localstack[target]

    @SETTINGS
    @given(case=STACK_SCHEMA["/pred"]["POST"].as_strategy(generation_mode=mode))
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


def test_a_wrong_schema_is_caught(servers: dict[str, str]) -> None:
    """The harness bites: a schema that allows extra properties makes valid-by-schema cases get 400s."""
    spec = build_spec(FEATURES, "pred")
    spec["components"]["schemas"]["Row"]["additionalProperties"] = True
    wrong = schemathesis.openapi.from_dict(spec, config=CONFIG)
    base_url = servers["aws/pred"]

    @settings(SETTINGS, max_examples=60, derandomize=True)
    @given(case=wrong["/pred"]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE))
    def check(case: Any) -> None:
        _run(case, base_url, GenerationMode.POSITIVE)

    with pytest.raises(BaseException, match="(?i)valid data should have been accepted|Schema-valid request"):
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


# -- the generator itself --------------------------------------------------------------------------------------

def test_spec_is_valid_openapi_and_exact() -> None:
    from openapi_spec_validator import validate

    spec = build_spec(FEATURES, "pred", max_batch_rows=7)
    validate(spec)
    schemas = spec["components"]["schemas"]
    assert schemas["Row"]["required"] == FEATURES and schemas["Row"]["additionalProperties"] is False
    assert schemas["RowValues"]["minItems"] == schemas["RowValues"]["maxItems"] == 10
    assert schemas["BatchRequest"]["properties"]["instances"]["maxItems"] == 7
    assert set(spec["paths"]["/pred"]["post"]["responses"]) == {"200", "400", "405", "413", "415", "422", "503"}
    assert "minimum" not in json.dumps(schemas["FeatureValue"])
    validate(build_echo_spec("echo"))
    value = build_spec(FEATURES, "predict", max_abs=FLOAT32_MAX)["components"]["schemas"]["FeatureValue"]
    assert value["anyOf"][0] == {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}


@pytest.mark.parametrize("kwargs, field", [
    ({"features": []}, "features"),
    ({"features": ["G1", "G1"]}, "duplicate"),
    ({"features": ["G1", ""]}, "features[1]"),
    ({"features": ["G1"], "max_batch_rows": 0}, "max_batch_rows"),
    ({"features": ["G1"], "max_batch_rows": True}, "max_batch_rows"),
    ({"features": ["G1"], "max_abs": float("inf")}, "max_abs"),
])
def test_spec_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build_spec(**kwargs)


def test_stack_spec_covers_every_endpoint(tmp_path: Path) -> None:
    """A stack with echo and two model endpoints: the book's path each (and the protocols' for models), per-endpoint
    schema names, valid document."""
    import shutil

    from openapi_spec_validator import validate

    from smodels.config import load_stack_config
    from smodels.openapi import build_stack_spec

    shutil.copytree(REPO_ROOT / "models" / "logreg", tmp_path / "m")
    cfg = load_stack_config({"serverless-models:endpoints": {"echo": {}, "pred": {"model": "m"},
                                                             "scores": {"model": "m"}}}, tmp_path)
    spec = build_stack_spec(cfg)
    validate(spec)
    protocols = [f"/v2/models/{ep}{tail}" for ep in ("pred", "scores") for tail in ("", "/ready", "/infer")]
    assert sorted(spec["paths"]) == sorted(["/echo", "/pred", "/scores", "/pred/invocations", "/scores/invocations",
                                            *protocols])  # the book's path, OIP and MLflow per model endpoint
    assert "PredRow" in spec["components"]["schemas"] and "ScoresRow" in spec["components"]["schemas"]
    assert '"#/components/schemas/Row"' not in json.dumps(spec)
    with pytest.raises(ValueError, match="not in the stack: nope"):
        build_stack_spec(cfg, ["nope"])


def test_cli_writes_the_document_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from smodels.cli import main

    out = tmp_path / "openapi.json"
    assert main(["openapi", "--model", str(REPO_ROOT / "models" / "logreg"), "--endpoint", "pred",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    assert main(["openapi", "--model", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


# -- bench/load.py against the same servers ----------------------------------------------------------------------

def test_load_bench_counts_and_stops_by_itself(servers: dict[str, str]) -> None:
    """A short level has no unexpected answers; a huge request count is cut by the time cap."""
    requests = load.make_requests(60, seed=1)
    assert sum(r.bad for r in requests) > 0 and any(r.kind == "batch" for r in requests)
    result = load.run_level("aws/pred", servers["aws/pred"] + "/pred", 4, requests, max_seconds=30)
    assert result.sent == 60 and not result.unexpected, result.unexpected
    assert result.statuses[200] == sum(not r.bad for r in requests)
    assert 0 < result.percentile(50) <= result.percentile(99)
    capped = load.run_level("gcp/pred", servers["gcp/pred"] + "/pred", 2, load.make_requests(20_000), 1.0)
    assert capped.stopped_by == "time" and 0 < capped.sent < 20_000 and capped.seconds < 10
    assert "stopped by time cap" in load.format_results([capped])
    with pytest.raises(SystemExit, match="loopback"):
        load.check_loopback("http://example.com/pred")
