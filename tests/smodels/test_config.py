"""Stack config validation: every problem is reported at once, each naming its full key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from smodels.config import ConfigError, load_stack_config, read_stack_file

NS = "serverless-models"
REPO = Path(__file__).resolve().parents[2]
LOGREG = REPO / "models" / "logreg"


def _copy_model(model: Path, root: Path) -> Path:
    """Copy the book's trained model dir `model` (manifest + artifact) to `root`/models/<name>; skip if untrained."""
    if not (model / "model.json").is_file():
        pytest.skip(f"models/{model.name} is not trained yet")
    shutil.copytree(model, root / "models" / model.name)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project dir with a copy of the book's logreg model (manifest + artifact)."""
    return _copy_model(LOGREG, tmp_path)


def _cfg(**keys: Any) -> dict[str, str]:
    """Flat config as Pulumi hands it over: strings, structured values as JSON."""
    base: dict[str, Any] = {f"{NS}:endpoints": {"echo": {}, "pred": {"model": "models/logreg"}}}
    base.update({(k if ":" in k else f"{NS}:{k}"): v for k, v in keys.items()})
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in base.items()}


def _problems(project: Path, **keys: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_stack_config(_cfg(**keys), project)
    assert str(err.value).startswith("invalid stack config:")
    return err.value.problems


def test_valid_config_with_defaults(project: Path) -> None:
    cfg = load_stack_config({**_cfg(), "aws:region": "us-east-1", "gcp:project": "p"}, project)
    assert cfg.clouds == ("aws", "gcp") and cfg.python_version == "3.13" and cfg.public is False
    assert cfg.lambda_runtime == "python3.13" and cfg.gcp_runtime == "python313"
    echo, pred = cfg.endpoints
    assert (echo.kind, echo.memory, echo.entry_point, echo.lambda_handler) == (
        "echo",
        128,
        "echo",
        "functions.aws.echo_handler",
    )
    assert (pred.kind, pred.runtime, pred.model, pred.entry_point) == (
        "model",
        "auto",
        project / "models/logreg",
        "pred",
    )
    assert pred.lambda_handler == "functions.aws.lambda_handler"


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13", "python3.12"])
def test_python_versions_accepted_as_strings(project: Path, version: str) -> None:
    assert load_stack_config(_cfg(pythonVersion=version), project).python_version == version[-4:]


def test_python_314_deploys_to_aws_only(project: Path) -> None:
    """Lambda lists python3.14; Cloud Functions' python314 is not confirmed: refused for GCP, naming the key."""
    assert load_stack_config(_cfg(pythonVersion="3.14", clouds=["aws"]), project).python_version == "3.14"
    (problem,) = _problems(project, pythonVersion="3.14")
    assert problem.startswith(f"{NS}:pythonVersion: '3.14' is not a confirmed Cloud Functions runtime")
    assert "['echo', 'pred']" in problem and "clouds: [aws]" in problem
    per_endpoint = {"echo": {"clouds": ["aws"]}, "pred": {"model": "models/logreg", "clouds": ["aws"]}}
    assert load_stack_config(_cfg(pythonVersion="3.14", endpoints=per_endpoint), project).python_version == "3.14"


@pytest.mark.parametrize("reserved", [1, 10, 1000])
def test_reserved_concurrency_accepted(project: Path, reserved: int) -> None:
    eps = {"pred": {"model": "models/logreg", "reservedConcurrency": reserved}}
    assert load_stack_config(_cfg(endpoints=eps), project).endpoints[0].reserved_concurrency == reserved


@pytest.mark.parametrize(
    ("reserved", "expected"),
    [
        (0, "reservedConcurrency: 0 disables the function"),
        (-1, "reservedConcurrency: -1 is outside the allowed range 1..1000"),
        (1001, "reservedConcurrency: 1001 is outside the allowed range 1..1000"),
        (True, "reservedConcurrency: expected a whole number"),
    ],
)
def test_reserved_concurrency_refused(project: Path, reserved: Any, expected: str) -> None:
    (problem,) = _problems(project, endpoints={"pred": {"model": "models/logreg", "reservedConcurrency": reserved}})
    assert problem.startswith(f"{NS}:endpoints.pred.") and expected in problem
    if reserved == 0:
        assert "account concurrency 10" in problem


def test_arm64_with_onnx_is_refused_with_the_reason(project: Path) -> None:
    onnx = {"echo": {}, "pred": {"model": "models/logreg", "runtime": "onnx"}}
    (problem,) = _problems(project, architecture="arm64", endpoints=onnx)
    assert problem.startswith(f"{NS}:architecture: arm64 with {NS}:endpoints.pred.runtime onnx: onnxruntime 1.32.0")
    assert "/sys/devices/system/cpu/possible" in problem and "x86_64" in problem
    native = {"echo": {}, "pred": {"model": "models/logreg", "runtime": "native"}}
    assert load_stack_config(_cfg(architecture="arm64", endpoints=native), project).architecture == "arm64"
    gcp_only = load_stack_config(_cfg(architecture="arm64", clouds=["gcp"], endpoints=onnx), project)
    assert gcp_only.architecture == "arm64"  # Lambda's architecture; GCP has none to choose
    # runtime auto (the default) is accepted: the packager serves it natively on arm64 Lambda (it says why)
    assert load_stack_config(_cfg(architecture="arm64"), project).endpoints[1].runtime == "auto"


def test_endpoint_names_must_make_valid_function_names(project: Path) -> None:
    for bad in ("pred-", "p" * 32, "1pred", "Pred"):
        (problem,) = _problems(project, endpoints={bad: {"kind": "echo"}})
        assert problem.startswith(f"{NS}:endpoints.{bad}: endpoint names are 1-31") and "not ending with '-'" in problem
    assert load_stack_config(_cfg(endpoints={"p" * 31: {"kind": "echo"}}), project).endpoints[0].name == "p" * 31


def test_lambda_environment_stays_small_for_wide_models_and_is_checked(project: Path, monkeypatch) -> None:
    """The input schema ships in the package (MODEL_SCHEMA names the file), so Lambda's 4 KB environment does not
    grow with the feature count; the check still names the key if the environment ever outgrows the limit."""
    import dataclasses
    from types import SimpleNamespace

    from smodels import config

    pred = load_stack_config(_cfg(), project).endpoints[1]
    assert config.lambda_env_bytes(pred) < 1024  # the book's 10 features: far below
    m = pred.manifest
    wide = SimpleNamespace(
        name=m.name, format=m.format, framework=m.framework, framework_version=m.framework_version,
        feature_names=[f"feature_{i:05d}" for i in range(5000)],
    )  # fmt: skip
    ep = dataclasses.replace(pred, name="wide", manifest=wide)
    assert config.lambda_env_bytes(ep) == config.lambda_env_bytes(dataclasses.replace(pred, name="wide"))
    assert config._platform_problems("3.13", "x86_64", ("aws", "gcp"), [ep]) == []
    monkeypatch.setattr(config, "LAMBDA_ENV_LIMIT_BYTES", config.LAMBDA_ENV_RESERVE_BYTES + 100)
    (problem,) = config._platform_problems("3.13", "x86_64", ("aws", "gcp"), [ep])
    assert problem.startswith(f"{NS}:endpoints.wide.model: the Lambda environment would be up to ")
    assert config._platform_problems("3.13", "x86_64", ("gcp",), [ep]) == []  # no 4 KB limit on GCP


def test_python_310_string_is_not_decoded_to_a_number(project: Path) -> None:
    """Pulumi passes "3.10" as text; it must not turn into 3.1 on the way (and 3.10 is unsupported anyway)."""
    (problem,) = _problems(project, pythonVersion="3.10")
    assert problem.startswith(f"{NS}:pythonVersion: '3.10' is not supported")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"pythonVersion": "3.9"}, f"{NS}:pythonVersion: '3.9' is not supported"),
        ({"pythonVersion": "3.1"}, 'quote it, "3.10"'),
        ({"clouds": ["aws", "azure"]}, f"{NS}:clouds: unknown cloud(s) ['azure']"),
        ({"clouds": []}, f"{NS}:clouds: expected a non-empty list"),
        ({"architecture": "ppc64"}, f"{NS}:architecture: expected one of ['x86_64', 'arm64']"),
        ({"public": "yes"}, f"{NS}:public: expected true or false"),
        ({"regoin": "us-east-1"}, f"{NS}:regoin: unknown key"),
        ({"invokers": ["me@example.com"]}, f"{NS}:invokers: 'me@example.com' is not an IAM member"),
        ({"throttle": {"rateLimit": 0}}, f"{NS}:throttle.rateLimit: expected a number in (0, 10000]"),
        ({"throttle": {"burst": 5}}, f"{NS}:throttle: unknown setting(s) ['burst']"),
        ({"endpoints": {"Pred!": {}}}, f"{NS}:endpoints.Pred!: endpoint names are 1-31 lower-case"),
        ({"endpoints": {"pred": {"model": "models/nope"}}}, f"{NS}:endpoints.pred.model: no model manifest at"),
        ({"endpoints": {"x": {"kind": "model"}}}, f"{NS}:endpoints.x.model: a model endpoint needs"),
        ({"endpoints": {"pred": {"model": "models/logreg", "runtime": "tf"}}}, f"{NS}:endpoints.pred.runtime"),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memroy": 1}}},
            "endpoints.pred: unknown setting(s) ['memroy']",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memory": 32769}}},
            f"{NS}:endpoints.pred.memory: 32769 MB is outside AWS Lambda's range 128..32768 MB",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memory": 64}}},
            f"{NS}:endpoints.pred.memory: 64 MB is outside Cloud Functions's range 128..32768 MB",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "timeout": 1200}}},
            f"{NS}:endpoints.pred.timeout: 1200 s is outside AWS Lambda's range 1..900 s",
        ),
        ({"endpoints": {"pred": {"model": "models/logreg", "memory": "1G"}}}, "memory: expected a whole number of MB"),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "minInstances": 5, "maxInstances": 2}}},
            "endpoints.pred.minInstances: 5 is more than maxInstances 2",
        ),
        ({"endpoints": {"pred": {"model": "models/logreg", "entryPoint": "main"}}}, "endpoints.pred.entryPoint"),
    ],
)
def test_each_problem_names_its_key(project: Path, keys: dict[str, Any], expected: str) -> None:
    problems = _problems(project, **keys)
    assert any(expected in p for p in problems), problems


def test_memory_range_follows_the_endpoint_clouds(project: Path) -> None:
    ep = {"pred": {"model": "models/logreg", "memory": 16384, "timeout": 1800}}
    cfg = load_stack_config(_cfg(clouds=["gcp"], endpoints=ep), project)
    assert cfg.endpoints[0].memory == 16384
    per_endpoint = {"pred": {**ep["pred"], "clouds": ["gcp"]}}
    assert load_stack_config(_cfg(endpoints=per_endpoint), project).endpoints[0].clouds == ("gcp",)
    problems = _problems(project, clouds=["aws"], endpoints=ep)
    assert len(problems) == 1 and "timeout: 1800 s is outside AWS Lambda's range" in problems[0]


def test_lambda_memory_goes_up_to_the_providers_32768_mb(project: Path) -> None:
    """Issue 20 part 5: the provider documents memory_size 128..32,768 MB (SDK pulumi_aws/lambda_/function.py:89)."""
    top = {"pred": {"model": "models/logreg", "memory": 32768}}
    assert load_stack_config(_cfg(clouds=["aws"], endpoints=top), project).endpoints[0].memory == 32768
    problems = _problems(project, clouds=["aws", "gcp"], endpoints={"pred": {"model": "models/logreg",
                                                                             "memory": 32769}})
    assert len(problems) == 2 and {p.split("range")[0].split("outside ")[1] for p in problems} == {
        "AWS Lambda's ", "Cloud Functions's "}


def test_corrupt_model_artifact_is_caught_with_the_key(project: Path) -> None:
    artifact = project / "models" / "logreg" / "model.skops"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    (problem,) = _problems(project)
    assert problem.startswith(f"{NS}:endpoints.pred.model: ") and "size_bytes" in problem


def test_missing_model_artifact_is_caught_with_the_key(project: Path) -> None:
    (project / "models" / "logreg" / "model.skops").unlink()
    (problem,) = _problems(project)
    assert problem.startswith(f"{NS}:endpoints.pred.model: ") and "file not found" in problem


def test_all_problems_reported_together(project: Path) -> None:
    problems = _problems(project, clouds=["gcp", "azure"], pythonVersion="2.7", oops=1)
    assert len(problems) == 3
    assert {p.split(":")[1] for p in problems} == {"clouds", "pythonVersion", "oops"}


def test_other_namespaces_are_ignored(project: Path) -> None:
    cfg = load_stack_config({**_cfg(), "aws:region": "x", "gcp:anything": "y"}, project)
    assert cfg.endpoints


def test_repo_stack_file_reads_and_only_lacks_untrained_models() -> None:
    raw = read_stack_file(REPO, "dev")
    assert raw[f"{NS}:pythonVersion"] == "3.13"
    try:
        cfg = load_stack_config(raw, REPO)
    except ConfigError as exc:  # a model not trained yet in this checkout; nothing else may be wrong
        assert all(".model: " in p for p in exc.problems), exc.problems
    else:
        assert {e.name for e in cfg.endpoints} == {"echo", "pred", "predict"}


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Pulumi.prod.yaml not found"):
        read_stack_file(tmp_path, "prod")


def test_snap_start_defaults_off_and_is_accepted_from_python_312(project: Path) -> None:
    from smodels.config import ENDPOINT_DEFAULTS

    assert ENDPOINT_DEFAULTS["snapStart"] is False
    assert all(not ep.snap_start for ep in load_stack_config(_cfg(), project).endpoints)
    eps = {"echo": {}, "pred": {"model": "models/logreg", "snapStart": True}}
    for version in ("3.12", "3.13"):
        cfg = load_stack_config(_cfg(endpoints=eps, pythonVersion=version), project)
        assert [ep.snap_start for ep in cfg.endpoints] == [False, True]


def test_snap_start_is_refused_before_python_312_naming_the_key(project: Path) -> None:
    eps = {"echo": {"snapStart": True}, "pred": {"model": "models/logreg", "snapStart": True}}
    problems = _problems(project, endpoints=eps, pythonVersion="3.11")
    snap = [p for p in problems if ".snapStart:" in p]
    assert [p.split(":")[1] for p in snap] == ["endpoints.echo.snapStart", "endpoints.pred.snapStart"]
    assert all("Python 3.12 or later" in p and "published versions" in p and "'3.11'" in p for p in snap)
    # AWS only: an endpoint deployed to gcp alone is not refused for it.
    gcp_only = {"pred": {"model": "models/logreg", "snapStart": True, "clouds": ["gcp"]}}
    load_stack_config(_cfg(endpoints=gcp_only, pythonVersion="3.11"), project)


def test_snap_start_must_be_a_boolean(project: Path) -> None:
    problems = _problems(project, endpoints={"pred": {"model": "models/logreg", "snapStart": "on"}})
    assert problems == ["serverless-models:endpoints.pred.snapStart: expected true or false, got 'on'"]


# --- canary ---------------------------------------------------------------------------------------------------

KERAS = REPO / "models" / "keras"


@pytest.fixture
def canary_project(project: Path) -> Path:
    """The project with the book's Keras model beside logreg: the same input schema and task."""
    return _copy_model(KERAS, project)


def test_canary_is_loaded_and_validated_like_the_model(canary_project: Path) -> None:
    eps = {"pred": {"model": "models/logreg", "canary": {"model": "models/keras", "percent": 10}}}
    (pred,) = load_stack_config(_cfg(endpoints=eps), canary_project).endpoints
    assert pred.canary_model == canary_project / "models" / "keras"
    assert pred.canary_manifest is not None and pred.canary_manifest.name == "games-keras"
    assert pred.canary_percent == 10.0
    (plain,) = load_stack_config(_cfg(endpoints={"pred": {"model": "models/logreg"}}), canary_project).endpoints
    assert (plain.canary_model, plain.canary_manifest, plain.canary_percent) == (None, None, None)


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        ({"model": "models/keras", "percent": 101}, "endpoints.pred.canary.percent: 101 is outside (0, 100]"),
        ({"model": "models/keras", "percent": "10"}, "endpoints.pred.canary.percent: expected a number"),
        ({"model": "models/keras", "percent": True}, "endpoints.pred.canary.percent: expected a number"),
        ({"model": "models/keras"}, "endpoints.pred.canary.percent: required"),
        ({"percent": 10}, "endpoints.pred.canary.model: the path of the canary's model manifest"),
        ({"model": "models/nope", "percent": 10}, "endpoints.pred.canary.model: no model manifest"),
        ({"model": "models/keras", "percent": 10, "weight": 1}, "endpoints.pred.canary: unknown setting(s)"),
        ("models/keras", "endpoints.pred.canary: expected {model:"),
    ],
)
def test_canary_errors_name_the_key(canary_project: Path, canary: Any, expected: str) -> None:
    problems = _problems(canary_project, endpoints={"pred": {"model": "models/logreg", "canary": canary}})
    assert any(p.startswith(f"{NS}:") and expected in p for p in problems), problems


def test_canary_percent_zero_is_not_taken_for_the_number_outside(canary_project: Path) -> None:
    (problem,) = _problems(canary_project, endpoints={"pred": {"model": "models/logreg",
                                                                 "canary": {"model": "models/keras", "percent": 0}}})
    assert problem == f"{NS}:endpoints.pred.canary.percent: 0 is outside (0, 100]"


def test_canary_with_another_schema_is_refused(canary_project: Path) -> None:
    other = canary_project / "models" / "other"
    shutil.copytree(canary_project / "models" / "keras", other)
    doc = json.loads((other / "model.json").read_text())
    doc["name"] = "games-other"
    doc["features"][-1]["type"] = "numeric"  # G10: binary in the stable model
    doc["profile"] = None  # the book's profile describes G10 as binary (frequencies, no bins)
    (other / "model.json").write_text(json.dumps(doc))
    problems = _problems(canary_project, endpoints={"pred": {"model": "models/logreg",
                                                              "canary": {"model": "models/other", "percent": 5}}})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{NS}:endpoints.pred.canary.model: games-other does not take the stable model "
                                  "games-logreg's input schema and task (its features differ)")


def test_canary_on_an_echo_endpoint_is_refused(canary_project: Path) -> None:
    (problem,) = _problems(canary_project, endpoints={"echo": {"canary": {"model": "models/keras", "percent": 5}}})
    assert problem == f"{NS}:endpoints.echo.canary: only a model endpoint can have a canary"


# --- refresh: redeploy | pointer ------------------------------------------------------------------------------


def test_refresh_defaults_to_redeploy_and_takes_pointer_with_a_ttl(project: Path) -> None:
    echo, pred = load_stack_config(_cfg(), project).endpoints
    assert echo.refresh == pred.refresh == "redeploy"
    eps = {"pred": {"model": "models/logreg", "refresh": "pointer", "ttlSeconds": 60}}
    (pred,) = load_stack_config(_cfg(endpoints=eps), project).endpoints
    assert (pred.refresh, pred.ttl_seconds) == ("pointer", 60)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ({"model": "models/logreg", "refresh": "pointer"}, "pointer needs ttlSeconds > 0"),
        ({"model": "models/logreg", "refresh": "pointer", "ttlSeconds": 0}, "pointer needs ttlSeconds > 0"),
        ({"kind": "echo", "refresh": "pointer", "ttlSeconds": 60}, "only a model endpoint can follow a published"),
        ({"model": "models/logreg", "refresh": "push", "ttlSeconds": 60}, "expected one of ['redeploy', 'pointer']"),
        ({"model": "models/logreg", "refresh": True}, "expected one of ['redeploy', 'pointer']"),
    ],
)
def test_refresh_errors_name_the_key(project: Path, endpoint: dict[str, Any], expected: str) -> None:
    (problem,) = _problems(project, endpoints={"ep": endpoint})
    assert problem.startswith(f"{NS}:endpoints.ep.refresh: ") and expected in problem, problem


def test_at_most_ten_pointer_endpoints_deploy_to_gcp(project: Path) -> None:
    """Cloud Storage allows 10 notification configurations per event type on a bucket, one per pointer endpoint."""
    pointer = {"model": "models/logreg", "refresh": "pointer", "ttlSeconds": 60}
    ten = {f"ep{n}": pointer for n in range(10)}
    assert len(load_stack_config(_cfg(endpoints=ten), project).endpoints) == 10
    (problem,) = _problems(project, endpoints={**ten, "ep10": pointer})
    assert problem.startswith(f"{NS}:endpoints.ep10.refresh: at most 10 endpoints with refresh: pointer"), problem
    # On AWS only (the whole stack, or that endpoint) it is no limit of Cloud Storage's.
    load_stack_config(_cfg(endpoints={**ten, "ep10": {**pointer, "clouds": ["aws"]}}), project)
    load_stack_config(_cfg(clouds=["aws"], endpoints={**ten, "ep10": pointer}), project)


# --- alarms and drift (issue 19) ------------------------------------------------------------------------------


def test_alarms_default_on_with_documented_thresholds_and_no_email(project: Path) -> None:
    from smodels.config import ALARM_THRESHOLD_DEFAULTS, STACK_DEFAULTS, AlarmThresholds

    cfg = load_stack_config(_cfg(), project)
    assert STACK_DEFAULTS["alarms"] is True and cfg.alarms is True and cfg.alert_email is None
    assert ALARM_THRESHOLD_DEFAULTS == {"errors": 0, "throttles": 0, "http5xx": 0, "p99LatencyMs": 5000,
                                        "outOfRange": 10, "periodSeconds": 300}  # fmt: skip
    assert cfg.alarm_thresholds == AlarmThresholds(errors=0, throttles=0, http5xx=0, p99_latency_ms=5000,
                                                   out_of_range=10, period_seconds=300)  # fmt: skip


def test_alarm_settings_as_pulumi_hands_them_over(project: Path) -> None:
    """Strings and JSON, as `pulumi config set` writes them; unset thresholds keep their defaults."""
    keys = {"alarms": "false", "alertEmail": " ops@example.com ",
            "alarmThresholds": '{"errors": 3, "periodSeconds": 60}'}
    cfg = load_stack_config(_cfg(**keys), project)
    assert (cfg.alarms, cfg.alert_email) == (False, "ops@example.com")
    th = cfg.alarm_thresholds
    assert (th.errors, th.period_seconds, th.p99_latency_ms, th.out_of_range) == (3, 60, 5000, 10)
    assert load_stack_config(_cfg(alarmThresholds=None, alertEmail=None), project).alarm_thresholds.errors == 0


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"alarms": "yes"}, f"{NS}:alarms: expected true or false"),
        ({"alertEmail": "ops"}, f"{NS}:alertEmail: expected one email address"),
        ({"alertEmail": "a@b.c, d@e.f"}, f"{NS}:alertEmail: expected one email address"),
        ({"alertEmail": ["a@b.c"]}, f"{NS}:alertEmail: expected one email address"),
        ({"alarmThresholds": {"errors": -1}}, f"{NS}:alarmThresholds.errors: -1 is outside the allowed range"),
        ({"alarmThresholds": {"throttles": 1.5}}, f"{NS}:alarmThresholds.throttles: expected a whole number"),
        ({"alarmThresholds": {"http5xx": True}}, f"{NS}:alarmThresholds.http5xx: expected a whole number"),
        ({"alarmThresholds": {"p99LatencyMs": 0}}, f"{NS}:alarmThresholds.p99LatencyMs: 0 is outside"),
        ({"alarmThresholds": {"outOfRange": "ten"}}, f"{NS}:alarmThresholds.outOfRange: expected a whole number"),
        ({"alarmThresholds": {"periodSeconds": 30}}, f"{NS}:alarmThresholds.periodSeconds: 30 is outside"),
        ({"alarmThresholds": {"periodSeconds": 150}}, f"{NS}:alarmThresholds.periodSeconds: 150 is not a whole"),
        ({"alarmThresholds": {"p99": 100}}, f"{NS}:alarmThresholds: unknown threshold(s) ['p99']"),
        ({"alarmThresholds": "fast"}, f"{NS}:alarmThresholds: expected a mapping"),
    ],
)
def test_bad_alarm_settings_name_the_key(project: Path, keys: dict[str, Any], expected: str) -> None:
    (problem,) = _problems(project, **keys)
    assert problem.startswith(expected), problem


def test_drift_is_per_endpoint_default_on(project: Path) -> None:
    from smodels.config import ENDPOINT_DEFAULTS

    assert ENDPOINT_DEFAULTS["drift"] is True
    eps = {"echo": {}, "pred": {"model": "models/logreg", "drift": False}}
    assert [ep.drift for ep in load_stack_config(_cfg(endpoints=eps), project).endpoints] == [True, False]
    (problem,) = _problems(project, endpoints={"pred": {"model": "models/logreg", "drift": "off"}})
    assert problem.startswith(f"{NS}:endpoints.pred.drift: expected true or false"), problem
