"""A model canary under the mock engine: it adds the canary's model object and environment, widens the read grant
to the canary's prefix (least privilege kept), and touches nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mockprogram import FakeBuilder, ProgramRun, base_config, run_program

from infra.names import stack_names

FN = "aws:lambda/function:Function"
GFN = "gcp:cloudfunctionsv2/function:Function"
ALIAS = "aws:lambda/alias:Alias"
S3OBJ = "aws:s3/bucketObjectv2:BucketObjectv2"
GCSOBJ = "gcp:storage/bucketObject:BucketObject"
NAMES = stack_names("serverless-models", "dev")
CANARY_VARS = {"MODEL_CANARY_URI", "MODEL_CANARY_SHA256", "MODEL_CANARY_FORMAT", "MODEL_CANARY_NAME",
               "MODEL_CANARY_PERCENT"}


def _endpoints(canary: dict[str, Any] | None) -> dict[str, Any]:
    pred: dict[str, Any] = {"model": "models/logreg", "memory": 512, "timeout": 30, "maxInstances": 10}
    if canary is not None:
        pred["canary"] = canary
    return {"echo": {}, "pred": pred}


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, canary: dict[str, Any] | None) -> ProgramRun:
    return run_program(monkeypatch, base_config(endpoints=_endpoints(canary)), builder)


def _changes(a: ProgramRun, b: ProgramRun) -> tuple[set[str], set[str], dict[str, set[str]]]:
    added = set(b.snapshot) - set(a.snapshot)
    removed = set(a.snapshot) - set(b.snapshot)
    changed = {
        key: {k for k in set(a.snapshot[key]) | set(b.snapshot[key])
              if a.snapshot[key].get(k) != b.snapshot[key].get(k)}
        for key in set(a.snapshot) & set(b.snapshot)
        if a.snapshot[key] != b.snapshot[key]
    }
    return added, removed, changed


def test_canary_adds_its_object_and_environment_only(monkeypatch: pytest.MonkeyPatch,
                                                     fake_builder: FakeBuilder) -> None:
    before = _run(monkeypatch, fake_builder, None)
    after = _run(monkeypatch, fake_builder, {"model": "models/keras", "percent": 10})
    added, removed, changed = _changes(before, after)
    assert removed == set()
    assert added == {f"{S3OBJ}::aws-model-games-keras-onnx", f"{GCSOBJ}::gcp-model-games-keras-onnx"}
    assert changed == {
        f"{FN}::aws-pred": {"environment"},
        f"{ALIAS}::aws-pred-live": {"functionVersion"},  # the new environment publishes a version
        "aws:iam/policy:Policy::aws-pred-policy": {"policy"},  # the read grant widens to the canary's prefix
        f"{GFN}::gcp-pred": {"serviceConfig"},
        "gcp:storage/bucketIAMMember:BucketIAMMember::gcp-pred-read-models": {"condition"},
        "time:index/sleep:Sleep::gcp-pred-iam-ready": {"triggers"},  # the widened grant is waited for
    }

    # The environment: the canary's five variables added, nothing else changed.
    aws_a = before.snapshot[f"{FN}::aws-pred"]["environment"]["variables"]
    aws_b = after.snapshot[f"{FN}::aws-pred"]["environment"]["variables"]
    gcp_a = before.snapshot[f"{GFN}::gcp-pred"]["serviceConfig"]
    gcp_b = after.snapshot[f"{GFN}::gcp-pred"]["serviceConfig"]
    assert {k for k in gcp_a if gcp_a[k] != gcp_b[k]} == {"environmentVariables"}
    for env_a, env_b, scheme, bucket in ((aws_a, aws_b, "s3", "aws-models-bucket"),
                                         (gcp_a["environmentVariables"], gcp_b["environmentVariables"], "gs",
                                          "gcp-models-bucket")):
        assert set(env_b) - set(env_a) == CANARY_VARS
        assert {k: env_b[k] for k in env_a} == env_a
        key = after.snapshot[f"{S3OBJ}::aws-model-games-keras-onnx"]["key"]
        assert env_b["MODEL_CANARY_URI"] == f"{scheme}://{bucket}/{key}"
        assert env_b["MODEL_CANARY_SHA256"] in key and env_b["MODEL_CANARY_SHA256"] != env_b["MODEL_SHA256"]
        assert (env_b["MODEL_CANARY_FORMAT"], env_b["MODEL_CANARY_NAME"], env_b["MODEL_CANARY_PERCENT"]) == (
            "onnx", "games-keras", "10")

    # Least privilege: the stable model's prefix and the canary's, nothing wider, on both clouds.
    policy = json.loads(after.inputs("aws:iam/policy:Policy", "aws-pred")["policy"])
    reads = next(s for s in policy["Statement"] if s["Sid"] == "ReadOwnModel")
    assert reads["Resource"] == ["arn:aws:s3:::aws-models-bucket/models/games-logreg/*",
                                 "arn:aws:s3:::aws-models-bucket/models/games-keras/*"]
    echo = json.loads(after.inputs("aws:iam/policy:Policy", "aws-echo")["policy"])
    assert [s["Sid"] for s in echo["Statement"]] == ["WriteOwnLogs"]
    reader = after.inputs("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp-pred-read-models")
    assert reader["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/games-logreg/") || '
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/games-keras/")'
    )
    assert reader["role"] == "roles/storage.objectViewer"


def test_changing_the_percent_touches_the_environment_only(monkeypatch: pytest.MonkeyPatch,
                                                           fake_builder: FakeBuilder) -> None:
    ten = _run(monkeypatch, fake_builder, {"model": "models/keras", "percent": 10})
    half = _run(monkeypatch, fake_builder, {"model": "models/keras", "percent": 50})
    added, removed, changed = _changes(ten, half)
    assert (added, removed) == (set(), set())
    assert changed == {f"{FN}::aws-pred": {"environment"}, f"{ALIAS}::aws-pred-live": {"functionVersion"},
                       f"{GFN}::gcp-pred": {"serviceConfig"}}
    assert half.snapshot[f"{FN}::aws-pred"]["environment"]["variables"]["MODEL_CANARY_PERCENT"] == "50"


def test_removing_the_canary_restores_the_graph(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    plain = _run(monkeypatch, fake_builder, None)
    _run(monkeypatch, fake_builder, {"model": "models/keras", "percent": 10})
    again = _run(monkeypatch, fake_builder, None)
    assert plain.snapshot == again.snapshot
