"""The Open Inference Protocol and MLflow routes in the mock graph: on the AWS API for model endpoints only, to the
same alias with the endpoint's authorization (nothing new public), each path with its own exact invoke
permission; the stack outputs name each endpoint's OIP base and MLflow URL on both clouds."""

from __future__ import annotations

from typing import Any

import pytest
from mockprogram import FakeBuilder, ProgramRun, base_config, run_program

from functions.contract import routes

ROUTE = "aws:apigatewayv2/route:Route"
PERMISSION = "aws:lambda/permission:Permission"
API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123api"


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, **overrides: Any) -> ProgramRun:
    return run_program(monkeypatch, base_config(**overrides), builder)


def _routes(run: ProgramRun, ep: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["routeKey"]: r.inputs for r in run.mocks.of_type(ROUTE) if r.name.startswith(f"aws-{ep}-")}


def test_model_endpoints_get_the_protocol_routes_with_their_own_auth(monkeypatch: pytest.MonkeyPatch,
                                                                     fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    pred = _routes(run, "pred")
    assert set(pred) == {f"{m} {p}" for _, m, p in routes("pred", "model")}
    assert {"GET /v2/models/pred", "GET /v2/models/pred/ready", "POST /v2/models/pred/infer",
            "POST /pred/invocations"} < set(pred)
    assert all(r["authorizationType"] == "AWS_IAM" and r["target"] == "integrations/aws-pred-integration-id"
               for r in pred.values())
    assert set(_routes(run, "echo")) == {"POST /echo", "GET /echo"}  # an echo speaks no model protocol
    perms = {r.name: r.inputs for r in run.mocks.of_type(PERMISSION) if r.name.startswith("aws-pred-")
             and r.name.endswith("-invoke")}
    assert {p["sourceArn"] for p in perms.values()} == {
        f"{API_ARN}/*/*/pred", f"{API_ARN}/*/GET/v2/models/pred", f"{API_ARN}/*/GET/v2/models/pred/ready",
        f"{API_ARN}/*/POST/v2/models/pred/infer", f"{API_ARN}/*/POST/pred/invocations"}
    assert all(p["qualifier"] == "live" and p["principal"] == "apigateway.amazonaws.com" for p in perms.values())


def test_public_opens_the_protocol_routes_as_the_books(monkeypatch: pytest.MonkeyPatch,
                                                       fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"], public=True)
    assert {r["authorizationType"] for r in _routes(run, "pred").values()} == {"NONE"}


def test_outputs_name_the_oip_base_and_the_mlflow_url(monkeypatch: pytest.MonkeyPatch,
                                                      fake_builder: FakeBuilder) -> None:
    out = _run(monkeypatch, fake_builder).outputs["endpoints"]
    aws, gcp = out["aws"]["pred"], out["gcp"]["pred"]
    assert aws["oip_base"] == "https://abc123api.execute-api.us-east-1.amazonaws.com"
    assert aws["mlflow_url"] == aws["url"] + "/invocations"
    assert gcp["oip_base"] == gcp["url"] and gcp["mlflow_url"] == gcp["url"] + "/invocations"
    assert "oip_base" not in out["aws"]["echo"] and "mlflow_url" not in out["gcp"]["echo"]
