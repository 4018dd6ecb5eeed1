"""`refresh: pointer` under the mock engine: the pointer's environment, read scope and storage triggers on both clouds,
the publisher's write scope, and nothing of it (and no change at all) for stacks that do not use it.

Pulumi never writes under `endpoints/` (smodels publish does), so `pulumi up` with an unchanged config cannot move a
published pointer back.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import provider_rules as rules
import pulumi
import pytest
from mockprogram import (
    STORAGE_SERVICE_AGENT_TOKEN,
    FakeBuilder,
    ProgramRun,
    base_config,
    run_program,
    storage_service_agent,
)

from functions.contract import PROTOCOL_ROUTES
from infra import names
from infra.names import stack_names

FN = "aws:lambda/function:Function"
GFN = "gcp:cloudfunctionsv2/function:Function"
ALIAS = "aws:lambda/alias:Alias"
PERM = "aws:lambda/permission:Permission"
S3NOTE = "aws:s3/bucketNotification:BucketNotification"
TOPIC = "gcp:pubsub/topic:Topic"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUB = "gcp:pubsub/subscription:Subscription"
GCSNOTE = "gcp:storage/notification:Notification"
RUN_IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA = "gcp:serviceaccount/account:Account"
NEW_TYPES = {S3NOTE, TOPIC, TOPIC_IAM, SUB, GCSNOTE}
NAMES = stack_names("serverless-models", "dev")
PRED = {"model": "models/logreg", "memory": 512, "timeout": 30, "maxInstances": 10}


def _endpoints(**pred: Any) -> dict[str, Any]:
    return {"echo": {}, "pred": {**PRED, **pred}}


def _pointer(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, **overrides: Any) -> ProgramRun:
    overrides.setdefault("endpoints", _endpoints(ttlSeconds=60, refresh="pointer"))
    return run_program(monkeypatch, base_config(**overrides), builder)


def _statement(policy: str, sid: str) -> dict[str, Any]:
    return next(s for s in json.loads(policy)["Statement"] if s["Sid"] == sid)


# --- the function: environment and read scope -----------------------------------------------------------------


def test_pointer_environment_on_both_clouds(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder)
    aws_env = run.inputs(FN, "aws-pred")["environment"]["variables"]
    gcp_env = run.inputs(GFN, "gcp-pred")["serviceConfig"]["environmentVariables"]
    assert aws_env["MODEL_POINTER_URI"] == "s3://aws-models-bucket/endpoints/pred/live.json"
    assert gcp_env["MODEL_POINTER_URI"] == "gs://gcp-models-bucket/endpoints/pred/live.json"
    assert aws_env["MODEL_TTL_SECONDS"] == gcp_env["MODEL_TTL_SECONDS"] == "60"
    # The deployed model is still pinned: it is what the function serves until a pointer exists.
    assert aws_env["MODEL_URI"].startswith("s3://aws-models-bucket/models/games-logreg/")
    assert "MODEL_POINTER_URI" not in run.inputs(FN, "aws-echo")["environment"]["variables"]
    assert "MODEL_POINTER_URI" not in run.inputs(GFN, "gcp-echo")["serviceConfig"]["environmentVariables"]


def test_read_scope_adds_its_own_endpoint_prefix_only(monkeypatch: pytest.MonkeyPatch,
                                                      fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder)
    policy = run.inputs("aws:iam/policy:Policy", "aws-pred")["policy"]
    assert _statement(policy, "ReadOwnModel")["Resource"] == ["arn:aws:s3:::aws-models-bucket/models/games-logreg/*"]
    published = _statement(policy, "ReadOwnPublished")
    assert published["Action"] == ["s3:GetObject"]  # read-only, nothing wider
    assert published["Resource"] == ["arn:aws:s3:::aws-models-bucket/endpoints/pred/*"]
    for doc in (json.loads(r.inputs["policy"]) for r in run.mocks.of_type("aws:iam/policy:Policy")):
        assert {a for s in doc["Statement"] for a in s["Action"]} <= {
            "s3:GetObject", "logs:CreateLogStream", "logs:PutLogEvents"}  # fmt: skip
    echo = json.loads(run.inputs("aws:iam/policy:Policy", "aws-echo")["policy"])
    assert [s["Sid"] for s in echo["Statement"]] == ["WriteOwnLogs"]

    reader = run.inputs(BUCKET_IAM, "gcp-pred-read-models")
    assert reader["role"] == "roles/storage.objectViewer"
    assert reader["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/games-logreg/") || '
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/endpoints/pred/")'
    )


# --- AWS: the S3 trigger --------------------------------------------------------------------------------------


def test_aws_one_bucket_notification_invokes_the_alias(monkeypatch: pytest.MonkeyPatch,
                                                       fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder)
    [note] = run.mocks.of_type(S3NOTE)
    alias_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{NAMES.function('pred')}:live"
    assert note.inputs["bucket"] == "aws-models-bucket"
    assert note.inputs["lambdaFunctions"] == [
        {"id": "refresh-pred", "lambdaFunctionArn": alias_arn, "events": ["s3:ObjectCreated:*"],
         "filterPrefix": "endpoints/pred/", "filterSuffix": "live.json"}
    ]  # fmt: skip
    assert not note.inputs.get("topics") and not note.inputs.get("queues")

    perm = run.inputs(PERM, "aws-pred-refresh")
    assert perm == {
        "action": "lambda:InvokeFunction", "function": NAMES.function("pred"), "qualifier": "live",
        "principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::aws-models-bucket",
        "sourceAccount": "123456789012",
    }  # fmt: skip
    # S3 validates the destination when the configuration is put: the permission comes first.
    assert run.depends_on[f"{S3NOTE}::{note.name}"] == ["aws-pred-refresh"]
    # The API Gateway permission is untouched, and echo (no pointer) gets no S3 permission.
    assert run.inputs(PERM, "aws-pred-invoke")["principal"] == "apigateway.amazonaws.com"
    assert [r.name for r in run.mocks.of_type(PERM) if r.inputs["principal"] == "s3.amazonaws.com"] == [
        "aws-pred-refresh"]  # fmt: skip


def test_aws_pointer_endpoints_share_the_one_notification(monkeypatch: pytest.MonkeyPatch,
                                                          fake_builder: FakeBuilder) -> None:
    """Endpoints `a` and `ab`: one configuration each in the bucket's one notification, which S3 accepts because
    `endpoints/a/` is not a prefix of `endpoints/ab/` (the provider rules run on every program run)."""
    pointer = {**PRED, "ttlSeconds": 30, "refresh": "pointer"}
    run = _pointer(monkeypatch, fake_builder, endpoints={"a": pointer, "ab": pointer, "echo": {}})
    [note] = run.mocks.of_type(S3NOTE)
    assert [(c["id"], c["filterPrefix"], c["filterSuffix"]) for c in note.inputs["lambdaFunctions"]] == [
        ("refresh-a", "endpoints/a/", "live.json"), ("refresh-ab", "endpoints/ab/", "live.json")]  # fmt: skip
    assert sorted(run.depends_on[f"{S3NOTE}::{note.name}"]) == ["aws-a-refresh", "aws-ab-refresh"]
    assert rules.s3_notification_overlaps(note.inputs["lambdaFunctions"]) == []
    # Without the trailing "/", `a` would catch `ab`'s pointer: S3 refuses that configuration.
    loose = [{**c, "filterPrefix": c["filterPrefix"].rstrip("/")} for c in note.inputs["lambdaFunctions"]]
    assert rules.s3_notification_overlaps(loose)


# --- GCP: topic, notification, push subscription --------------------------------------------------------------


def test_gcp_storage_notification_pushes_to_refresh(monkeypatch: pytest.MonkeyPatch,
                                                    fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder)
    topic_name = NAMES.refresh_topic("pred")
    topic_id = f"projects/my-project/topics/{topic_name}"
    assert run.inputs(TOPIC, "gcp-pred-refresh") == {"name": topic_name, "project": "my-project"}

    agent = storage_service_agent("my-project")
    assert (STORAGE_SERVICE_AGENT_TOKEN, {"project": "my-project"}) in run.mocks.calls
    grant = run.inputs(TOPIC_IAM, "gcp-pred-refresh")
    assert grant == {"project": "my-project", "topic": topic_name, "role": "roles/pubsub.publisher",
                     "member": f"serviceAccount:{agent}"}  # fmt: skip

    note = run.inputs(GCSNOTE, "gcp-pred-refresh")
    assert note == {"bucket": "gcp-models-bucket", "payloadFormat": "JSON_API_V1", "topic": topic_id,
                    "eventTypes": ["OBJECT_FINALIZE"], "objectNamePrefix": "endpoints/pred/live.json"}  # fmt: skip
    # Issue 20 part 5: the notification and the push subscription wait for both grants (publish, invoke).
    assert run.depends_on[f"{GCSNOTE}::gcp-pred-refresh-notification"] == ["gcp-pred-refresh-iam-ready"]
    wait = "time:index/sleep:Sleep::gcp-pred-refresh-iam-ready"
    assert set(run.depends_on[wait]) == {"gcp-pred-refresh-storage-publishes", "gcp-pred-refresh-invoker"}

    fn = run.inputs(GFN, "gcp-pred")
    url = f"https://us-central1-my-project.cloudfunctions.net/{fn['name']}"
    runtime_sa = run.inputs(SA, "gcp-pred-sa")["accountId"] + "@my-project.iam.gserviceaccount.com"
    assert fn["serviceConfig"]["serviceAccountEmail"] == runtime_sa
    sub = run.inputs(SUB, "gcp-pred-refresh")
    assert sub == {
        "name": NAMES.refresh_subscription("pred"), "project": "my-project", "topic": topic_id,
        "ackDeadlineSeconds": 30,  # the function's timeout: the push waits as long as a request may take
        "messageRetentionDuration": "600s",  # ttlSeconds 60, raised to Pub/Sub's minimum
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
        "expirationPolicy": {"ttl": ""},  # never expires
        "pushConfig": {"pushEndpoint": f"{url}/_refresh",
                       "oidcToken": {"serviceAccountEmail": runtime_sa, "audience": url}},
    }  # fmt: skip

    invoker = run.inputs(RUN_IAM, "gcp-pred-refresh-invoker")
    assert invoker == {"project": "my-project", "location": "us-central1", "name": f"projects/my-project/locations/"
                       f"us-central1/services/{fn['name']}", "role": "roles/run.invoker",
                       "member": f"serviceAccount:{runtime_sa}"}  # fmt: skip
    assert run.depends_on[f"{SUB}::gcp-pred-refresh-push"] == ["gcp-pred-refresh-iam-ready"]
    sleep = run.inputs("time:index/sleep:Sleep", "gcp-pred-refresh-iam-ready")
    assert sleep["createDuration"] == "120s" and sleep["triggers"]["invoker"] == runtime_sa
    # Issue 20 part 4: /_refresh checks the push's token against the subscription's own audience and account.
    env = fn["serviceConfig"]["environmentVariables"]
    assert {k: env[k] for k in env if k.startswith("REFRESH_")} == {
        "REFRESH_AUDIENCE": url, "REFRESH_SERVICE_ACCOUNT": runtime_sa, "REFRESH_PLATFORM_VERIFIED": "1"}
    # Still private: the configured invokers and the endpoint's own account, nobody else.
    assert {r.inputs["member"] for r in run.mocks.of_type(RUN_IAM)} == {
        "user:me@example.com", f"serviceAccount:{runtime_sa}"}  # fmt: skip

    services = [r.inputs["service"] for r in run.mocks.of_type("gcp:projects/service:Service")]
    assert "pubsub.googleapis.com" in services
    apis = run.inputs("time:index/sleep:Sleep", "gcp-apis-ready")["triggers"]["services"]
    assert apis.split(",") == services
    for key in (f"{TOPIC}::gcp-pred-refresh-topic", "gcp:serviceaccount/account:Account::gcp-pred-sa"):
        assert "gcp-apis-ready" in run.depends_on[key]


def test_retention_and_ack_follow_ttl_and_timeout(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder, endpoints=_endpoints(ttlSeconds=3600, timeout=900, refresh="pointer"),
                   clouds=["gcp"])  # fmt: skip
    sub = run.inputs(SUB, "gcp-pred-refresh")
    assert (sub["ackDeadlineSeconds"], sub["messageRetentionDuration"]) == (600, "3600s")
    assert not any(r.typ.startswith("aws:") for r in run.mocks.resources)


# --- the publisher --------------------------------------------------------------------------------------------


def test_publisher_write_scope_on_both_clouds(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder, publisher=True)
    policy = json.loads(run.inputs("aws:iam/userPolicy:UserPolicy")["policy"])
    assert policy["Statement"] == [
        {"Sid": "PutModels", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": ["arn:aws:s3:::aws-models-bucket/models/*"]},
        {"Sid": "PublishEndpoints", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": ["arn:aws:s3:::aws-models-bucket/endpoints/pred/*"]},
        # smodels publish reads the current pointer (to report what it replaces): that object only.
        {"Sid": "ReadPointers", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::aws-models-bucket/endpoints/pred/live.json"]},
    ]  # fmt: skip
    assert run.secret_outputs >= {"publisher.access_key_id", "publisher.secret_access_key"}

    account = run.inputs(SA, "gcp-publisher")
    assert account["accountId"] == NAMES.publisher_account_id()
    email = f"{account['accountId']}@my-project.iam.gserviceaccount.com"
    writer = run.inputs(BUCKET_IAM, "gcp-publisher-write-models")
    assert writer["bucket"] == "gcp-models-bucket" and writer["member"] == f"serviceAccount:{email}"
    assert writer["role"] == "roles/storage.objectUser"  # overwriting the pointer needs delete
    assert writer["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/") || '
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/endpoints/pred/")'
    )
    assert run.outputs["publisher"]["gcp_service_account"] == email
    assert run.outputs["publisher"]["secret_access_key"] == "fake-secret-aws-publisher"
    # No grant on the project, and no key for the GCP publisher (it is impersonated).
    assert not [r for r in run.mocks.of_type("gcp:projects/iAMMember:IAMMember") if email in r.inputs["member"]]
    assert not run.mocks.of_type("gcp:serviceaccount/key:Key")


def test_publisher_without_pointer_endpoints_writes_models_only(monkeypatch: pytest.MonkeyPatch,
                                                                fake_builder: FakeBuilder) -> None:
    run = run_program(monkeypatch, base_config(publisher=True), fake_builder)
    policy = json.loads(run.inputs("aws:iam/userPolicy:UserPolicy")["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["PutModels"]
    writer = run.inputs(BUCKET_IAM, "gcp-publisher-write-models")
    assert writer["condition"]["expression"] == (
        'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/models/")')
    gcp_only = run_program(monkeypatch, base_config(publisher=True, clouds=["gcp"]), fake_builder)
    assert set(gcp_only.outputs["publisher"]) == {"gcp_service_account"}


# --- Pulumi never writes the pointer or published artifacts ---------------------------------------------------


def test_no_resource_writes_under_endpoints(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder, publisher=True)
    writers = {"aws:s3/bucketObjectv2:BucketObjectv2": "key", "gcp:storage/bucketObject:BucketObject": "name"}
    objects = [(r, r.inputs[writers[r.typ]]) for r in run.mocks.resources if r.typ in writers]
    assert objects and all(not str(key).startswith("endpoints/") for _, key in objects), objects
    # Nothing else that puts objects (S3 object v1, copies, GCS object copies) is in the program at all.
    assert not {r.typ for r in run.mocks.resources} & {
        "aws:s3/bucketObject:BucketObject", "aws:s3/objectCopy:ObjectCopy", "gcp:storage/transferJob:TransferJob"}
    # The pointer key appears only in the functions' MODEL_POINTER_URI, the GCS notification's filter and the AWS
    # publisher's read grant on it.
    pointer = "endpoints/pred/live.json"
    holders = {f"{r.typ}::{r.name}" for r in run.mocks.resources if pointer in json.dumps(r.inputs, default=str)}
    assert holders == {f"{FN}::aws-pred", f"{GFN}::gcp-pred", f"{GCSNOTE}::gcp-pred-refresh-notification",
                       "aws:iam/userPolicy:UserPolicy::aws-publisher-put-models"}  # fmt: skip


# --- stacks without pointer -----------------------------------------------------------------------------------


def _stable(value: Any) -> Any:
    """A snapshot without this machine's paths (archives by file name and sha256) or the mock's version numbers
    (which hash those paths), so a digest of it is the same on every machine and run."""
    if isinstance(value, dict):
        if set(value) == {"file", "sha256"}:
            return {"file": Path(value["file"]).name, "sha256": value["sha256"]}
        return {k: "<version>" if k == "functionVersion" else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _digest(run: ProgramRun, without_protocols: bool = False) -> str:
    snapshot = run.snapshot
    if without_protocols:
        snapshot = {k: v for k, v in snapshot.items() if not _protocol_route(k)}
    return hashlib.sha256(json.dumps(_stable(snapshot), sort_keys=True, default=str).encode()).hexdigest()


def _protocol_route(key: str) -> bool:
    """An OIP / MLflow route of a model endpoint, or its invoke permission (issue 22)."""
    typ, _, name = key.partition("::")
    return (typ == "aws:apigatewayv2/route:Route" and name.endswith(tuple(f"-{r}" for r, _, _ in PROTOCOL_ROUTES))
            or typ == PERM and name.endswith(tuple(f"-{r}-invoke" for r, _, _ in PROTOCOL_ROUTES)))


# Digests of the whole graph (types, logical names, inputs) of stacks without `refresh: pointer`, taken from the
# program as it was before the feature (commit 5aac1ff). A difference means the change touched stacks that do not use
# it; if that is intended, print `_digest(run)` and update the value, saying why in the commit.
# Issue 19 (alarms, on by default) adds resources to every stack: these stacks now say `alarms: false`, and keep the
# very digests of before, which is also the proof that `alarms: false` is the graph from before the alarms
# (tests/infra/test_program_alarms.py pins the graph with them).
# Issue 22 (the OIP and MLflow routes) adds 4 routes and 4 invoke permissions per AWS model endpoint, and changes
# nothing else: the digests are of the graph without them, the counts say how many there are with them.
BEFORE_POINTER = [
    ({"alarms": False}, 66, "8dae15bc6a8aba396e66832fda5c0c596b299ea2c3ca56eb6d06f088374539b0"),
    ({"alarms": False, "publisher": True, "clouds": ["aws"]}, 36,
     "7090ec47750e7aceac0669eab81ee97fd8a5714ff3cc1de5a6ed28c8e4328a97"),
    ({"alarms": False, "public": True,
      "endpoints": {"echo": {}, "pred": {"model": "models/logreg", "ttlSeconds": 60,
                                         "canary": {"model": "models/keras", "percent": 10}}}},
     68, "f5414464f8895834b9d884058dfab3ded660d3a2563cfa1a9eaef26f74022f6c"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "count", "digest"), BEFORE_POINTER)
def test_stacks_without_pointer_are_unchanged(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder,
                                              overrides: dict[str, Any], count: int, digest: str) -> None:
    run = run_program(monkeypatch, base_config(**overrides), fake_builder)
    assert not {r.typ for r in run.mocks.resources} & NEW_TYPES
    assert not [r for r in run.mocks.of_type(PERM) if r.inputs["principal"] == "s3.amazonaws.com"]
    assert "pubsub.googleapis.com" not in {r.inputs["service"] for r in run.mocks.of_type(
        "gcp:projects/service:Service")}  # fmt: skip
    assert STORAGE_SERVICE_AGENT_TOKEN not in {token for token, _ in run.mocks.calls}
    protocols = [k for k in run.snapshot if _protocol_route(k)]
    model_endpoints_on_aws = 1 if "aws" in json.loads(base_config(**overrides)["serverless-models:clouds"]) else 0
    assert len(protocols) == 8 * model_endpoints_on_aws
    assert (len(run.snapshot) - len(protocols), _digest(run, without_protocols=True)) == (count, digest)


def test_pointer_adds_its_resources_and_changes_only_its_endpoint(monkeypatch: pytest.MonkeyPatch,
                                                                  fake_builder: FakeBuilder) -> None:
    before = run_program(monkeypatch, base_config(endpoints=_endpoints(ttlSeconds=60)), fake_builder)
    after = _pointer(monkeypatch, fake_builder)
    added = set(after.snapshot) - set(before.snapshot)
    assert set(before.snapshot) - set(after.snapshot) == set()
    assert added == {
        f"{PERM}::aws-pred-refresh", f"{S3NOTE}::aws-models-refresh",
        "gcp:projects/service:Service::gcp-pubsub",
        f"{TOPIC}::gcp-pred-refresh-topic", f"{TOPIC_IAM}::gcp-pred-refresh-storage-publishes",
        f"{GCSNOTE}::gcp-pred-refresh-notification", f"{SUB}::gcp-pred-refresh-push",
        f"{RUN_IAM}::gcp-pred-refresh-invoker", "serverless-models:gcp:PointerRefresh::gcp-pred-refresh",
        "time:index/sleep:Sleep::gcp-pred-refresh-iam-ready",  # the grants, before the notification and the push
    }  # fmt: skip
    changed = {
        key: {k for k in set(before.snapshot[key]) | set(after.snapshot[key])
              if before.snapshot[key].get(k) != after.snapshot[key].get(k)}
        for key in set(before.snapshot) & set(after.snapshot)
        if before.snapshot[key] != after.snapshot[key]
    }  # fmt: skip
    assert changed == {
        f"{FN}::aws-pred": {"environment"},
        f"{ALIAS}::aws-pred-live": {"functionVersion"},
        "aws:iam/policy:Policy::aws-pred-policy": {"policy"},
        f"{GFN}::gcp-pred": {"serviceConfig"},
        f"{BUCKET_IAM}::gcp-pred-read-models": {"condition"},
        "time:index/sleep:Sleep::gcp-pred-iam-ready": {"triggers"},  # the widened read grant is waited for
        "time:index/sleep:Sleep::gcp-apis-ready": {"triggers"},  # and the Pub/Sub API
    }
    env_a = before.snapshot[f"{FN}::aws-pred"]["environment"]["variables"]
    env_b = after.snapshot[f"{FN}::aws-pred"]["environment"]["variables"]
    assert {k: v for k, v in env_b.items() if env_a.get(k) != v} == {
        "MODEL_POINTER_URI": "s3://aws-models-bucket/endpoints/pred/live.json"}  # fmt: skip
    # Back to redeploy: the graph is the one before, exactly.
    again = run_program(monkeypatch, base_config(endpoints=_endpoints(ttlSeconds=60)), fake_builder)
    assert again.snapshot == before.snapshot


def test_unchanged_pointer_program_is_identical(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    """A second run with the same config (an `up` after a publish) registers the same inputs: no diff."""
    first = _pointer(monkeypatch, fake_builder, publisher=True)
    second = _pointer(monkeypatch, fake_builder, publisher=True)
    assert first.snapshot == second.snapshot and first.outputs == second.outputs


# --- outputs --------------------------------------------------------------------------------------------------


def test_outputs_name_refresh_pointer_log_group_and_canary(monkeypatch: pytest.MonkeyPatch,
                                                           fake_builder: FakeBuilder) -> None:
    run = _pointer(monkeypatch, fake_builder, endpoints=_endpoints(
        ttlSeconds=60, refresh="pointer", canary={"model": "models/keras", "percent": 10}))  # fmt: skip
    aws_pred, gcp_pred = run.outputs["endpoints"]["aws"]["pred"], run.outputs["endpoints"]["gcp"]["pred"]
    assert aws_pred["refresh"] == gcp_pred["refresh"] == "pointer"
    assert aws_pred["pointer_uri"] == "s3://aws-models-bucket/endpoints/pred/live.json"
    assert gcp_pred["pointer_uri"] == "gs://gcp-models-bucket/endpoints/pred/live.json"
    assert aws_pred["log_group"] == NAMES.log_group("pred") and "log_group" not in gcp_pred
    canary_key = run.inputs("aws:s3/bucketObjectv2:BucketObjectv2", "keras")["key"]
    assert aws_pred["canary_uri"] == f"s3://aws-models-bucket/{canary_key}"
    assert gcp_pred["canary_uri"] == f"gs://gcp-models-bucket/{canary_key}"
    assert aws_pred["canary_sha256"] == gcp_pred["canary_sha256"] and aws_pred["canary_sha256"] in canary_key
    assert aws_pred["canary_percent"] == gcp_pred["canary_percent"] == 10
    # Everything that was there stays.
    assert {"url", "model_uri", "model_sha256", "function", "version", "alias", "method", "auth"} <= set(aws_pred)
    assert {"url", "model_uri", "model_sha256", "function", "update_time", "state", "service"} <= set(gcp_pred)

    echo = run.outputs["endpoints"]["aws"]["echo"]
    assert echo["refresh"] == "redeploy" and echo["log_group"] == NAMES.log_group("echo")
    assert not {"pointer_uri", "canary_uri", "canary_sha256", "canary_percent"} & set(echo)
    assert "pointer_uri" not in run.outputs["endpoints"]["gcp"]["echo"]
    assert "publisher" not in run.outputs


# --- config through the program -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoints", "needle"),
    [
        (_endpoints(refresh="pointer"), "serverless-models:endpoints.pred.refresh: pointer needs ttlSeconds > 0"),
        ({"echo": {"refresh": "pointer", "ttlSeconds": 60}},
         "serverless-models:endpoints.echo.refresh: only a model endpoint"),
        (_endpoints(refresh="push", ttlSeconds=60), "serverless-models:endpoints.pred.refresh: expected one of"),
    ],
)  # fmt: skip
def test_refresh_config_errors_stop_the_program(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder,
                                                endpoints: dict[str, Any], needle: str) -> None:
    with pytest.raises(pulumi.RunError, match="invalid stack config") as err:
        run_program(monkeypatch, base_config(endpoints=endpoints), fake_builder)
    assert needle in str(err.value)


# --- the provider rules of the new types ----------------------------------------------------------------------


def _lambda_config(prefix: str, suffix: str = "live.json", events: tuple[str, ...] = ("s3:ObjectCreated:*",),
                   fn: str = "f") -> dict[str, Any]:  # fmt: skip
    config = {"lambdaFunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{fn}:live",
              "events": list(events), "filterPrefix": prefix, "filterSuffix": suffix}  # fmt: skip
    return {k: v for k, v in config.items() if v != ""}  # "": no such filter


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (_lambda_config("endpoints/a/"), _lambda_config("endpoints/ab/"), False),
        (_lambda_config("endpoints/a"), _lambda_config("endpoints/ab"), True),
        (_lambda_config("endpoints/a/"), _lambda_config(""), True),  # no prefix: every key
        (_lambda_config("endpoints/a/"), _lambda_config("endpoints/a/", suffix=".onnx"), False),
        (_lambda_config("endpoints/a/"), _lambda_config("endpoints/a/", suffix="json"), True),
        (_lambda_config("x/"), _lambda_config("x/", events=("s3:ObjectCreated:Put",)), True),  # * covers Put
        (_lambda_config("x/"), _lambda_config("x/", events=("s3:ObjectRemoved:*",)), False),
    ],
)  # fmt: skip
def test_s3_refuses_overlapping_configurations(a: dict[str, Any], b: dict[str, Any], overlap: bool) -> None:
    problems = rules.check_resource(S3NOTE, "n", {"bucket": "b", "lambdaFunctions": [a, b]})
    assert bool(problems) == overlap, problems
    if overlap:
        assert "Configurations overlap" in problems[0]


def _res(typ: str, name: str, inputs: dict[str, Any]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(typ=typ, name=name, inputs=inputs)


def test_s3_notification_program_rules() -> None:
    note = {"bucket": "b", "lambdaFunctions": [_lambda_config("endpoints/a/")]}
    perm = {"action": "lambda:InvokeFunction", "function": "f", "qualifier": "live", "principal": "s3.amazonaws.com",
            "sourceArn": "arn:aws:s3:::b", "sourceAccount": "123456789012"}  # fmt: skip
    alias = {"functionName": "f", "name": "live", "functionVersion": "1"}
    ok = [_res(ALIAS, "alias", alias), _res(PERM, "perm", perm), _res(S3NOTE, "note", note)]
    assert rules.check_program(ok) == []
    # No permission for S3 on that alias: S3 cannot validate the destination.
    for bad_perm in ({**perm, "qualifier": None}, {**perm, "principal": "apigateway.amazonaws.com"},
                     {**perm, "sourceArn": "arn:aws:s3:::other"}):  # fmt: skip
        problems = rules.check_program([ok[0], _res(PERM, "perm", bad_perm), ok[2]])
        assert any("Unable to validate" in p for p in problems), problems
    # A second notification resource for the same bucket.
    problems = rules.check_program([*ok, _res(S3NOTE, "note2", note)])
    assert any("only one BucketNotification" in p for p in problems), problems
    assert any("sourceAccount" in p for p in rules.check_resource(PERM, "p", {**perm, "sourceAccount": "me"}))
    assert any("events[]" in p for p in rules.check_resource(
        S3NOTE, "n", {"bucket": "b", "lambdaFunctions": [_lambda_config("x/", events=("s3:ObjectCreated",))]}))


@pytest.mark.parametrize(
    ("typ", "inputs", "needle"),
    [
        (TOPIC, {"name": "ab"}, "does not match"),
        (TOPIC, {"name": "1topic"}, "does not match"),
        (TOPIC, {"name": "google-topic"}, "does not match"),
        (TOPIC, {"name": "a b c"}, "does not match"),
        (TOPIC, {"name": "t" * 256}, "does not match"),
        (SUB, {"name": "s-1", "topic": "t", "ackDeadlineSeconds": 601}, "ackDeadlineSeconds"),
        (SUB, {"name": "s-1", "topic": "t", "ackDeadlineSeconds": 5}, "ackDeadlineSeconds"),
        (SUB, {"name": "s-1"}, "missing required input 'topic'"),
        (SUB, {"name": "goog-s", "topic": "t"}, "does not match"),
        (SUB, {"name": "s-1", "topic": "t", "messageRetentionDuration": "60s"}, "messageRetentionDuration"),
        (SUB, {"name": "s-1", "topic": "t", "messageRetentionDuration": "10m"}, "not a duration"),
        (SUB, {"name": "s-1", "topic": "t", "expirationPolicy": {"ttl": "3600s"}}, "expirationPolicy.ttl"),
        (SUB, {"name": "s-1", "topic": "t", "retryPolicy": {"minimumBackoff": "700s"}}, "minimumBackoff"),
        (SUB, {"name": "s-1", "topic": "t", "retryPolicy": {"minimumBackoff": "60s", "maximumBackoff": "10s"}},
         "more than maximumBackoff"),
        (SUB, {"name": "s-1", "topic": "t", "pushConfig": {"pushEndpoint": "http://x/_refresh"}}, "HTTPS"),
        (SUB, {"name": "s-1", "topic": "t", "pushConfig": {"pushEndpoint": "https://x", "oidcToken": {}}},
         "serviceAccountEmail"),
        (TOPIC_IAM, {"topic": "t", "role": "pubsub.publisher", "member": "serviceAccount:a@b"}, "role"),
        (GCSNOTE, {"bucket": "b", "topic": "t"}, "missing required input 'payloadFormat'"),
        (GCSNOTE, {"bucket": "b", "topic": "t", "payloadFormat": "JSON"}, "payloadFormat"),
        (GCSNOTE, {"bucket": "b", "topic": "t", "payloadFormat": "NONE", "eventTypes": ["FINALIZE"]}, "eventTypes"),
    ],
)  # fmt: skip
def test_gcp_pointer_type_rules(typ: str, inputs: dict[str, Any], needle: str) -> None:
    problems = rules.check_resource(typ, "x", inputs)
    assert any(needle in p for p in problems), problems


def test_clean_gcp_pointer_types_pass() -> None:
    assert rules.check_resource(TOPIC, "x", {"name": NAMES.refresh_topic("pred")}) == []
    sub = {"name": NAMES.refresh_subscription("pred"), "topic": "projects/p/topics/t", "ackDeadlineSeconds": 30,
           "messageRetentionDuration": "600s", "expirationPolicy": {"ttl": ""},
           "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
           "pushConfig": {"pushEndpoint": "https://f/_refresh", "oidcToken": {"serviceAccountEmail": "a@b"}}}
    assert rules.check_resource(SUB, "x", sub) == []


def test_gcs_allows_ten_notifications_per_event_type() -> None:
    def note(n: int, bucket: str = "b") -> Any:
        return _res(GCSNOTE, f"n{n}", {"bucket": bucket, "topic": f"t-{n}", "payloadFormat": "JSON_API_V1",
                                       "eventTypes": ["OBJECT_FINALIZE"]})  # fmt: skip

    assert rules.check_program([note(n) for n in range(10)]) == []
    problems = rules.check_program([note(n) for n in range(11)])
    assert any("per event type" in p for p in problems), problems
    assert rules.check_program([note(n, bucket=f"b{n % 2}") for n in range(12)]) == []


# --- names ----------------------------------------------------------------------------------------------------


def test_pubsub_and_publisher_names_fit_and_are_unique() -> None:
    for project, stack in (("serverless-models", "dev"), ("p", "feature-branch-login-flow-v2" * 3),
                           ("go-on-open-gates", "x")):  # fmt: skip
        n = names.stack_names(project, stack)
        ep = "a" * 31
        for name in (n.refresh_topic(ep), n.refresh_subscription(ep), n.refresh_topic("a")):
            assert names.PUBSUB_NAME_RE.match(name) and len(name) <= names.PUBSUB_NAME_MAX, name
            assert rules.check_resource(TOPIC, "x", {"name": name}) == []
        assert n.refresh_topic(ep) != n.refresh_subscription(ep)
        assert names.SERVICE_ACCOUNT_ID_RE.match(n.publisher_account_id())
        assert n.publisher_account_id() not in {n.build_account_id(), n.runtime_account_id("publisher")}
        assert names.name_problems(project, stack, [ep, "publisher", "a"], "k") == []
    assert names.stack_names("go-on-open-gates", "x").refresh_topic("a").startswith("s-goog-")
    a, b = names.stack_names("serverless-models", "v2"), names.stack_names("serverless-models", "v3")
    assert a.refresh_topic("pred") != b.refresh_topic("pred")
    assert a.refresh_subscription("pred") != b.refresh_subscription("pred")
    assert a.publisher_account_id() != b.publisher_account_id()
