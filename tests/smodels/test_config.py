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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project dir with a copy of the book's logreg model (manifest + artifact)."""
    if not (LOGREG / "model.json").is_file():
        pytest.skip("models/logreg is not trained yet")
    shutil.copytree(LOGREG, tmp_path / "models" / "logreg")
    return tmp_path


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
        "onnx",
        project / "models/logreg",
        "pred",
    )
    assert pred.lambda_handler == "functions.aws.lambda_handler"


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13", "3.14", "python3.12"])
def test_python_versions_accepted_as_strings(project: Path, version: str) -> None:
    assert load_stack_config(_cfg(pythonVersion=version), project).python_version == version[-4:]


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
        ({"endpoints": {"Pred!": {}}}, f"{NS}:endpoints.Pred!: endpoint names are lower-case"),
        ({"endpoints": {"pred": {"model": "models/nope"}}}, f"{NS}:endpoints.pred.model: no model manifest at"),
        ({"endpoints": {"x": {"kind": "model"}}}, f"{NS}:endpoints.x.model: a model endpoint needs"),
        ({"endpoints": {"pred": {"model": "models/logreg", "runtime": "tf"}}}, f"{NS}:endpoints.pred.runtime"),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memroy": 1}}},
            "endpoints.pred: unknown setting(s) ['memroy']",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memory": 20000}}},
            f"{NS}:endpoints.pred.memory: 20000 MB is outside AWS Lambda's range 128..10240 MB",
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
    assert len(problems) == 2 and all("AWS Lambda's range" in p for p in problems)


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
