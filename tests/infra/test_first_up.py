"""Issue 13: what the first real `pulumi up`, the second one and `pulumi destroy` would meet, under the mock engine.

Every run here goes through `provider_rules` (mockprogram applies them), so a name over a limit, a service account
id the API refuses or two resources with one name fail the test the way a real preview or up would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import provider_rules
import pulumi
import pytest
from mockprogram import FakeBuilder, ProgramRun, base_config, run_program

from infra import names

FN = "aws:lambda/function:Function"
GFN = "gcp:cloudfunctionsv2/function:Function"
SA = "gcp:serviceaccount/account:Account"
SLEEP = "time:index/sleep:Sleep"
LONG_EP = "a" * 31


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, stack: str = "dev", **overrides: Any) -> ProgramRun:
    return run_program(monkeypatch, base_config(**overrides), builder, stack=stack)


def _endpoints(*extra: str) -> dict[str, Any]:
    return {"echo": {}, "pred": {"model": "models/logreg"}, **{e: {"kind": "echo"} for e in extra}}


# --- names (items 3 and 4) -----------------------------------------------------------------------------------


def test_feature_branch_stacks_with_a_31_character_endpoint_fit_and_never_collide(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    """The issue's example: both stacks pass every provider rule, and share no account- or project-wide name."""
    runs = [
        _run(monkeypatch, fake_builder, stack=f"feature-branch-login-flow-{v}", endpoints=_endpoints(LONG_EP))
        for v in ("v2", "v3")
    ]
    for run, v in zip(runs, ("v2", "v3"), strict=True):
        n = names.stack_names("serverless-models", f"feature-branch-login-flow-{v}")
        lam = run.inputs(FN, f"aws-{LONG_EP}")
        assert lam["name"] == n.function(LONG_EP) and len(lam["name"]) <= 64
        gcf = run.inputs(GFN, f"gcp-{LONG_EP}")
        assert gcf["name"] == n.function(LONG_EP) and len(gcf["name"]) <= 63
        assert len(run.inputs(SA, f"gcp-{LONG_EP}-sa")["accountId"]) <= 30

    def shared(run: ProgramRun) -> set[tuple[str, str]]:
        return {
            k
            for k in provider_rules.physical_names(run.mocks.resources)
            if k[0] not in provider_rules.PER_RESOURCE_SCOPED
        }

    a, b = (shared(r) for r in runs)
    assert len(a) >= 10 and not a & b, sorted(a & b)


def test_an_endpoint_named_build_has_its_own_service_account(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"], endpoints=_endpoints("build"))
    ids = [r.inputs["accountId"] for r in run.mocks.of_type(SA)]
    assert len(ids) == len(set(ids)) == 4  # build identity, echo, pred, build
    accounts = run.mocks.by_name()
    assert accounts[f"{SA}::gcp-build-sa"].inputs["accountId"] != accounts[f"{SA}::gcp-build"].inputs["accountId"]


def test_the_mock_fails_like_a_preview_on_names_over_the_limits(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    """The old scheme (`<project>-<stack>` cut to 40, then `-<endpoint>`) gave 72-character names: refused now."""

    def old_function(self: names.StackNames, endpoint: str) -> str:
        return f"{'serverless-models-feature-branch-login-'[:40]}-{endpoint}"

    monkeypatch.setattr(names.StackNames, "function", old_function)
    # First line of defence: the config validation names the key before any resource is registered.
    with pytest.raises(pulumi.RunError) as config_err:
        _run(monkeypatch, fake_builder, endpoints=_endpoints(LONG_EP))
    assert f"serverless-models:endpoints.{LONG_EP}: Lambda function name" in str(config_err.value)
    # Were that check lost, the provider rules under the mock engine still fail the run, as a real preview would.
    monkeypatch.setattr(names, "name_problems", lambda *a, **k: [])
    with pytest.raises(provider_rules.ProviderCheckFailed) as err:
        _run(monkeypatch, fake_builder, endpoints=_endpoints(LONG_EP))
    text = str(err.value)
    assert f"{FN}::aws-{LONG_EP}: name" in text and "validFunctionName" in text
    assert f"{GFN}::gcp-{LONG_EP}: name" in text


# --- waits (items 1 and 5) -----------------------------------------------------------------------------------


def test_every_gcp_function_waits_for_its_grants_and_the_apis(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"])
    sleeps = {r.name: r.inputs for r in run.mocks.of_type(SLEEP)}
    services = [r.name for r in run.mocks.of_type("gcp:projects/service:Service")]
    assert "cloudresourcemanager.googleapis.com" in {
        r.inputs["service"] for r in run.mocks.of_type("gcp:projects/service:Service")
    }
    assert sleeps["gcp-apis-ready"]["createDuration"] == "60s"
    assert set(run.depends_on[f"{SLEEP}::gcp-apis-ready"]) == set(services)
    # Everything that calls those APIs waits for them (directly or through the build identity / buckets).
    for key in (f"{SA}::gcp-build", "gcp:storage/bucket:Bucket::gcp-models", "gcp:storage/bucket:Bucket::gcp-sources"):
        assert "gcp-apis-ready" in run.depends_on[key], key
    build_grants = {
        r.name
        for r in run.mocks.resources
        if r.typ in ("gcp:projects/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember")
        and r.name.startswith("gcp-build-")
    }
    assert len(build_grants) == 4
    for ep in ("echo", "pred"):
        wait = f"gcp-{ep}-iam-ready"
        assert sleeps[wait]["createDuration"] == "120s" and "destroyDuration" not in sleeps[wait]
        waits_for = set(run.depends_on[f"{SLEEP}::{wait}"])
        assert build_grants | {f"gcp-{ep}-sa"} <= waits_for
        assert ("gcp-pred-read-models" in waits_for) == (ep == "pred")
        assert {"gcp-apis-ready", wait} <= set(run.depends_on[f"{GFN}::gcp-{ep}"])
        # A new account or role re-runs the wait; the triggers name them.
        triggers = sleeps[wait]["triggers"]
        assert triggers["runtime_account"].startswith(names.stack_names("serverless-models", "dev").initials)
        assert triggers["build_roles"].split(",") == [
            "roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin",
        ]  # fmt: skip


def test_the_waits_do_not_slow_preview(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    """The program never sleeps itself: the waits are Sleep resources, which only the engine runs, at create."""

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the program slept {seconds}s in-process")

    monkeypatch.setattr(time, "sleep", no_sleep)
    run = _run(monkeypatch, fake_builder)
    # The alarms (on by default) add one wait per endpoint for its log-based metrics (infra/gcp_alarms.py).
    assert {r.name for r in run.mocks.of_type(SLEEP)} == {
        "gcp-apis-ready", "gcp-echo-iam-ready", "gcp-pred-iam-ready",
        "gcp-alarms-echo-metrics-ready", "gcp-alarms-pred-metrics-ready",
    }  # fmt: skip
    import pulumiverse_time

    assert issubclass(pulumiverse_time.Sleep, pulumi.CustomResource)


def test_the_time_plugin_is_declared_so_up_installs_it() -> None:
    """`pulumi up` on a user's machine installs the `time` plugin from the version and URL every Sleep carries."""
    import json
    from importlib import resources

    import pulumiverse_time
    from pulumiverse_time import _utilities

    plugin = json.loads(resources.files("pulumiverse_time").joinpath("pulumi-plugin.json").read_text())
    assert plugin["resource"] is True and plugin["name"] == "time"
    assert plugin["server"] == "github://api.github.com/pulumiverse/pulumi-time"
    opts = _utilities.get_resource_opts_defaults()
    assert opts.plugin_download_url == plugin["server"] and opts.version == "0.1.1"
    assert pulumiverse_time.Sleep is not None


# --- config problems stop the program before any resource (items 3, 9, 10, 11, 16) -----------------------------


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"endpoints": {"pred-": {"kind": "echo"}}}, "serverless-models:endpoints.pred-: endpoint names are 1-31"),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "reservedConcurrency": 0}}},
            "serverless-models:endpoints.pred.reservedConcurrency: 0 disables the function",
        ),
        ({"architecture": "arm64", "endpoints": {"echo": {}, "pred": {"model": "models/logreg", "runtime": "onnx"}}},
         "serverless-models:architecture: arm64 with serverless-models:endpoints.pred"),
        ({"pythonVersion": "3.14"}, "serverless-models:pythonVersion: '3.14' is not a confirmed Cloud Functions"),
    ],
)
def test_config_problems_stop_the_program_before_any_resource(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder, overrides: dict[str, Any], needle: str
) -> None:
    recorded: list[Any] = []
    with pytest.raises(pulumi.RunError) as err:
        run = _run(monkeypatch, fake_builder, **overrides)
        recorded = run.mocks.resources
    assert str(err.value).startswith("invalid stack config:") and needle in str(err.value)
    assert recorded == []


def test_a_name_problem_is_reported_as_config_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    """Should two endpoints ever get one service account id (a hash collision), preview stops naming the key."""
    monkeypatch.setattr(names.StackNames, "runtime_account_id", lambda self, ep: "sm-same-0123abcd")
    with pytest.raises(pulumi.RunError) as err:
        _run(monkeypatch, fake_builder)
    assert "serverless-models:endpoints.pred: service account id 'sm-same-0123abcd' is already endpoint 'echo''s" in (
        str(err.value)
    )


# --- Lambda code upload (items 7 and 8) ------------------------------------------------------------------------


def test_a_zip_at_50_mib_goes_through_s3_without_an_object_version(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    """50 MiB base64-encoded is the whole request limit: such a zip can no longer be sent directly."""
    from smodels.packager.types import LAMBDA_DIRECT_UPLOAD_LIMIT, LAMBDA_REQUEST_LIMIT

    assert 4 * -(-(50 * 1024 * 1024) // 3) >= LAMBDA_REQUEST_LIMIT  # 50 MiB encoded fills the request by itself
    assert 4 * -(-LAMBDA_DIRECT_UPLOAD_LIMIT // 3) + 64 * 1024 < LAMBDA_REQUEST_LIMIT  # our cut-off leaves room
    fake_builder.zipped_bytes_override[("aws", "pred")] = 50 * 1024 * 1024
    fake_builder.zipped_bytes_override[("aws", "echo")] = LAMBDA_DIRECT_UPLOAD_LIMIT
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    pred = run.inputs(FN, "aws-pred")
    assert "code" not in pred and pred["s3Key"].startswith("lambda/pred/") and "s3ObjectVersion" not in pred
    assert "code" in run.inputs(FN, "aws-echo")


def test_least_privilege_is_the_same_on_both_clouds(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    """Item 12: a runtime identity reads only its own model's prefix, on AWS (policy) and on GCP (IAM condition)."""
    import json

    run = _run(monkeypatch, fake_builder)
    aws_policy = json.loads(run.inputs("aws:iam/policy:Policy", "aws-pred")["policy"])
    (read,) = [s for s in aws_policy["Statement"] if s["Sid"] == "ReadOwnModel"]
    assert read["Resource"] == ["arn:aws:s3:::aws-models-bucket/models/games-logreg/*"]
    reader = run.inputs("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp-pred-read-models")
    assert reader["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/games-logreg/")'
    )


def test_unchanged_program_twice_is_identical_with_the_waits(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder, tmp_path: Path
) -> None:
    """The second `up` of an unchanged program: same inputs everywhere, the Sleeps included (no re-wait)."""
    a, b = _run(monkeypatch, fake_builder), _run(monkeypatch, fake_builder)
    sleeps_a = {k: v for k, v in a.snapshot.items() if k.startswith(SLEEP)}
    assert sleeps_a and sleeps_a == {k: v for k, v in b.snapshot.items() if k.startswith(SLEEP)}
