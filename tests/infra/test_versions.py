"""Issue 14 item 1: published Lambda versions, the alias `live`, SnapStart, and what the outputs name per cloud.

Under the mock engine a function's `version` is a number derived from its inputs (mockprogram.content_number): a
changed environment or code gives a new one, an unchanged function the same. Real Lambda numbers versions 1, 2,
3...; what these tests pin is which resources change and that everything serving follows the alias.
"""

from __future__ import annotations

from typing import Any

import provider_rules as rules
import pytest
from mockprogram import (
    FakeBuilder,
    ProgramRun,
    Recorded,
    base_config,
    config_error,
    run_before_and_after_retrain,
    run_program,
)

from infra.names import stack_names

FN = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
PERM = "aws:lambda/permission:Permission"
INTEG = "aws:apigatewayv2/integration:Integration"
GFN = "gcp:cloudfunctionsv2/function:Function"
PREFIX = stack_names("serverless-models", "dev").prefix


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, **overrides: Any) -> ProgramRun:
    return run_program(monkeypatch, base_config(**overrides), builder)


def _version(run: ProgramRun, ep: str) -> str:
    """The version the alias `live` of endpoint `ep` points at."""
    return run.inputs(ALIAS, f"aws-{ep}-live")["functionVersion"]


def test_every_lambda_publishes_and_its_alias_live_serves_it(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    for ep in ("echo", "pred"):
        fn = run.inputs(FN, f"aws-{ep}")
        assert fn["publish"] is True
        assert "snapStart" not in fn  # off unless asked
        alias = run.inputs(ALIAS, f"aws-{ep}-live")
        assert alias["name"] == "live" and alias["functionName"] == f"{PREFIX}-{ep}"
        assert alias["functionVersion"].isdigit() and alias["functionVersion"] != "$LATEST"
        out = run.outputs["endpoints"]["aws"][ep]
        assert (out["version"], out["alias"]) == (alias["functionVersion"], "live")
    assert len(run.mocks.of_type(ALIAS)) == 2


def test_api_gateway_and_the_permission_target_the_alias(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    for ep in ("echo", "pred"):
        alias_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{PREFIX}-{ep}:live"
        integ = run.inputs(INTEG, f"aws-{ep}-integration")
        assert integ["integrationUri"] == (
            f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{alias_arn}/invocations"
        )
        perm = run.inputs(PERM, f"aws-{ep}-invoke")
        assert perm["qualifier"] == "live" and perm["function"] == f"{PREFIX}-{ep}"


def test_a_model_change_publishes_a_new_version_and_the_alias_follows(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    before, after = run_before_and_after_retrain(monkeypatch, fake_builder)
    assert _version(after, "pred") != _version(before, "pred")
    assert _version(after, "echo") == _version(before, "echo")
    assert after.outputs["endpoints"]["aws"]["pred"]["version"] == _version(after, "pred")
    # What serves follows the alias by name: the integration and the permission are untouched.
    for key in (f"{INTEG}::aws-pred-integration", f"{PERM}::aws-pred-invoke"):
        assert before.snapshot[key] == after.snapshot[key]
    # GCP: a redeploy (a new Cloud Run revision) shows as a new update_time of that function only.
    gb, ga = before.outputs["endpoints"]["gcp"], after.outputs["endpoints"]["gcp"]
    assert ga["pred"]["update_time"] != gb["pred"]["update_time"]
    assert ga["echo"]["update_time"] == gb["echo"]["update_time"]


def test_a_handler_only_change_publishes_a_new_version_too(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    before = _run(monkeypatch, fake_builder, clouds=["aws"])
    fake_builder.handler_source[("aws", "echo")] = "# aws echo handler v2\n"
    after = _run(monkeypatch, fake_builder, clouds=["aws"])
    assert _version(after, "echo") != _version(before, "echo")
    assert _version(after, "pred") == _version(before, "pred")
    assert after.inputs(FN, "aws-echo")["environment"] == before.inputs(FN, "aws-echo")["environment"]


def test_unchanged_program_keeps_the_version_and_rolling_back_restores_the_content(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    first = _run(monkeypatch, fake_builder)
    second = _run(monkeypatch, fake_builder)
    assert first.snapshot == second.snapshot and first.outputs == second.outputs
    original = fake_builder.model_bytes["games-logreg"]
    fake_builder.model_bytes["games-logreg"] = b"retrained onnx bytes"
    changed = _run(monkeypatch, fake_builder)
    fake_builder.model_bytes["games-logreg"] = original  # the previous model: `pulumi up` with the previous config
    rolled_back = _run(monkeypatch, fake_builder)
    assert _version(changed, "pred") != _version(first, "pred")
    # Same function inputs as the first run; real Lambda publishes them under a new number and the alias moves.
    assert rolled_back.snapshot[f"{FN}::aws-pred"] == first.snapshot[f"{FN}::aws-pred"]
    assert _version(rolled_back, "pred") == _version(first, "pred")


def test_gcp_outputs_name_the_deploy_not_a_null_revision(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"])
    for ep in ("echo", "pred"):
        out = run.outputs["endpoints"]["gcp"][ep]
        assert "revision" not in out
        assert out["state"] == "ACTIVE" and out["update_time"]
        assert out["service"] == f"projects/my-project/locations/us-central1/services/{PREFIX}-{ep}"


# --- SnapStart ------------------------------------------------------------------------------------------------


def test_snap_start_on_published_versions(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    eps = {"echo": {}, "pred": {"model": "models/logreg", "snapStart": True}}
    run = _run(monkeypatch, fake_builder, clouds=["aws"], endpoints=eps)
    pred = run.inputs(FN, "aws-pred")
    assert pred["snapStart"] == {"applyOn": "PublishedVersions"} and pred["publish"] is True
    assert "snapStart" not in run.inputs(FN, "aws-echo")


def test_snap_start_on_a_gcp_only_endpoint_changes_nothing_on_gcp(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    plain = _run(monkeypatch, fake_builder, clouds=["gcp"])
    eps = {"echo": {}, "pred": {"model": "models/logreg", "snapStart": True}}
    snap = _run(monkeypatch, fake_builder, clouds=["gcp"], endpoints=eps)
    assert plain.snapshot == snap.snapshot


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (
            {"pythonVersion": "3.11", "endpoints": {"pred": {"model": "models/logreg", "snapStart": True}}},
            "serverless-models:endpoints.pred.snapStart: Lambda SnapStart needs Python 3.12 or later",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "snapStart": "yes"}}},
            "serverless-models:endpoints.pred.snapStart: expected true or false",
        ),
    ],
)
def test_snap_start_config_errors_name_the_key(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder, overrides: dict[str, Any], needle: str
) -> None:
    assert needle in config_error(monkeypatch, fake_builder, **overrides)
    assert fake_builder.handler_source == {}  # stopped before building anything


# --- the provider rules for what this adds --------------------------------------------------------------------

ALIAS_OK = {"name": "live", "functionName": "sm-dev-0123abcd-pred", "functionVersion": "3"}


@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ({**ALIAS_OK, "name": "42"}, "name '42' does not match"),
        ({**ALIAS_OK, "name": "li ve"}, "name 'li ve' does not match"),
        ({**ALIAS_OK, "name": "a" * 129}, "allowed 1..128"),
        ({**ALIAS_OK, "functionVersion": "latest"}, "functionVersion 'latest' does not match"),
        ({k: v for k, v in ALIAS_OK.items() if k != "functionVersion"}, "missing required input 'functionVersion'"),
        ({**ALIAS_OK, "description": "d" * 257}, "description"),
        ({**ALIAS_OK, "routingConfig": {"additionalVersionWeights": {"4": 1.5}}}, "0.0..1.0"),
    ],
)
def test_alias_rules(inputs: dict[str, Any], needle: str) -> None:
    problems = rules.check_resource(ALIAS, "a", inputs)
    assert any(needle in p for p in problems), problems


def test_alias_rules_accept_live_and_latest() -> None:
    assert rules.check_resource(ALIAS, "a", ALIAS_OK) == []
    assert rules.check_resource(ALIAS, "a", {**ALIAS_OK, "functionVersion": "$LATEST"}) == []


def _fn(**over: Any) -> dict[str, Any]:
    base = {
        "name": "f",
        "role": "arn:aws:iam::123456789012:role/r",
        "handler": "h.h",
        "runtime": "python3.13",
        "code": object(),
        "publish": True,
        "snapStart": {"applyOn": "PublishedVersions"},
    }
    return {**base, **over}


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"runtime": "python3.11"}, "snapStart needs python3.12 or later"),
        ({"snapStart": {"applyOn": "None"}}, "snapStart.applyOn"),
        ({"ephemeralStorage": {"size": 1024}}, "ephemeralStorage.size 1024"),
        ({"publish": False}, "only published versions"),
    ],
)
def test_snap_start_rules(over: dict[str, Any], needle: str) -> None:
    assert rules.check_resource(FN, "f", _fn()) == []
    problems = rules.check_resource(FN, "f", _fn(**over))
    assert any(needle in p for p in problems), problems


def test_a_permission_qualified_by_a_missing_alias_fails_like_add_permission() -> None:
    perm = {"action": "lambda:InvokeFunction", "function": "f", "principal": "apigateway.amazonaws.com"}
    alias = Recorded(ALIAS, "a", {**ALIAS_OK, "functionName": "f"})
    ok = [alias, Recorded(PERM, "p", {**perm, "qualifier": "live"})]
    assert rules.check_program(ok) == []
    missing = [alias, Recorded(PERM, "p", {**perm, "qualifier": "canary"})]
    assert any("qualifier 'canary' names no alias" in p for p in rules.check_program(missing))
    assert rules.check_program([Recorded(PERM, "p", {**perm, "qualifier": "7"})]) == []  # a version number
    bad = rules.check_resource(PERM, "p", {**perm, "qualifier": "a b"})
    assert any("qualifier" in p for p in bad), bad
