"""The provider-validation layer itself (tests/infra/provider_rules.py): each rule refuses what a provider refuses.

These feed single registrations in the wire form `Mocks.new_resource` receives; the program tests apply the same
rules to everything `__main__.py` registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import provider_rules as rules
import pytest

ROLE = "arn:aws:iam::123456789012:role/r"


@dataclass
class Res:
    typ: str
    name: str
    inputs: dict[str, Any]


def _fn(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "sm-dev-0123abcd-pred",
        "role": ROLE,
        "handler": "functions.aws.lambda_handler",
        "runtime": "python3.13",
        "architectures": ["x86_64"],
        "memorySize": 512,
        "timeout": 30,
        "code": object(),
        "environment": {"variables": {"ENDPOINT_NAME": "pred"}},
        "loggingConfig": {"logFormat": "JSON", "logGroup": "/aws/lambda/sm-dev-0123abcd-pred"},
    }
    base.update(over)
    return base


def _problems(typ: str, inputs: dict[str, Any], name: str = "r") -> list[str]:
    return rules.check_resource(typ, name, inputs)


FN = "aws:lambda/function:Function"


def test_a_clean_lambda_passes() -> None:
    assert _problems(FN, _fn()) == []


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"name": "x" * 65}, "validFunctionName"),
        ({"name": "has.dot"}, "validFunctionName"),
        ({"role": None}, "missing required input 'role'"),
        ({"role": "not-an-arn"}, "an IAM role ARN"),
        ({"runtime": "python3.9"}, "Runtime"),
        ({"memorySize": 64}, "memorySize 64 is outside 128..32768"),
        ({"timeout": 901}, "timeout 901 is outside 1..900"),
        ({"reservedConcurrentExecutions": -2}, "reservedConcurrentExecutions"),
        ({"architectures": ["x86_64", "arm64"]}, "exactly one"),
        ({"architectures": ["aarch64"]}, "architectures[]"),
        ({"loggingConfig": {"logFormat": "json"}}, "logFormat"),
        ({"environment": {"variables": {"AWS_REGION": "x"}}}, "reserved by Lambda"),
        ({"environment": {"variables": {"1BAD": "x"}}}, "environment key"),
        ({"environment": {"variables": {"MODEL_FEATURES": "x" * 4100}}}, "Lambda allows 4096"),
        ({"code": None}, "exactly one of code or s3Bucket"),
        ({"s3Bucket": "b", "s3Key": "k"}, "exactly one of code or s3Bucket"),
    ],
)
def test_lambda_rules(over: dict[str, Any], needle: str) -> None:
    problems = _problems(FN, _fn(**over))
    assert any(needle in p for p in problems), problems


def test_lambda_autoname_counts_the_engine_suffix() -> None:
    inputs = _fn()
    del inputs["name"]
    assert _problems(FN, inputs, name="a" * 56) == []
    assert any("autonamed name" in p for p in _problems(FN, inputs, name="a" * 57))


def test_direct_upload_zip_must_fit_the_request(tmp_path: Path) -> None:
    class Archive:
        def __init__(self, path: Path) -> None:
            self.path = str(path)

    big = tmp_path / "big.zip"
    with big.open("wb") as f:  # sparse: no real disk use
        f.truncate(50 * 1024 * 1024)
    assert any("too large for a direct upload" in p for p in _problems(FN, _fn(code=Archive(big))))
    ok = tmp_path / "ok.zip"
    with ok.open("wb") as f:
        f.truncate(49 * 1024 * 1024)
    assert _problems(FN, _fn(code=Archive(ok))) == []


@pytest.mark.parametrize(
    ("typ", "inputs", "needle"),
    [
        ("aws:cloudwatch/logGroup:LogGroup", {"name": "/aws/lambda/x", "retentionInDays": 10}, "retentionInDays"),
        ("aws:cloudwatch/logGroup:LogGroup", {"name": "/aws/lambda/x y"}, "validLogGroupName"),
        ("aws:iam/role:Role", {"name": "r" * 65, "assumeRolePolicy": "{}"}, "allowed 1..64"),
        ("aws:iam/role:Role", {"name": "r"}, "missing required input 'assumeRolePolicy'"),
        ("aws:iam/policy:Policy", {"name": "p", "policy": "{not json"}, "not JSON"),
        ("aws:s3/bucket:Bucket", {"bucket": "Upper"}, "bucket 'Upper'"),
        ("aws:s3/bucketVersioning:BucketVersioning", {"bucket": "b", "versioningConfiguration": {"status": "On"}},
         "versioningConfiguration.status"),
        ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", {"bucket": "b", "rule": {"objectOwnership": "Me"}},
         "rule.objectOwnership"),
        ("aws:lambda/layerVersion:LayerVersion", {"layerName": "l" * 141, "code": object()}, "layerName"),
        ("aws:lambda/permission:Permission", {"action": "invoke", "function": "f", "principal": "p"},
         "validPermissionAction"),
        ("aws:apigatewayv2/api:Api", {"protocolType": "REST"}, "protocolType"),
        ("aws:apigatewayv2/integration:Integration",
         {"apiId": "a", "integrationType": "AWS_PROXY", "integrationMethod": "POST", "timeoutMilliseconds": 60000},
         "timeoutMilliseconds"),
        ("aws:apigatewayv2/route:Route", {"apiId": "a", "routeKey": "POST pred"}, "routeKey"),
        ("aws:apigatewayv2/route:Route", {"apiId": "a", "routeKey": "GET /x", "authorizationType": "IAM"},
         "authorizationType"),
        ("aws:apigatewayv2/stage:Stage", {"apiId": "a"}, "missing required input 'name'"),
        ("gcp:serviceaccount/account:Account", {"accountId": "serverless-models-feature-branch-build"}, "accountId"),
        ("gcp:serviceaccount/account:Account", {"accountId": "abc"}, "accountId"),
        ("gcp:serviceaccount/account:Account", {"accountId": "1abcdef"}, "accountId"),
        ("gcp:serviceaccount/account:Account", {"accountId": "abcdef-"}, "accountId"),
        ("gcp:cloudfunctionsv2/function:Function",
         {"name": "f" * 64, "location": "l", "buildConfig": {"runtime": "python313", "entryPoint": "e"}}, "name"),
        ("gcp:cloudfunctionsv2/function:Function", {"name": "f"}, "missing required input 'location'"),
        ("gcp:cloudfunctionsv2/function:Function",
         {"name": "f", "location": "l", "buildConfig": {"runtime": "python313", "entryPoint": "e"},
          "serviceConfig": {"ingressSettings": "ALL", "availableMemory": "512MB"}}, "ingressSettings"),
        ("gcp:cloudfunctionsv2/function:Function",
         {"name": "f", "location": "l", "buildConfig": {"runtime": "python313", "entryPoint": "e"},
          "serviceConfig": {"environmentVariables": {"PORT": "1"}}}, "reserved"),
        ("gcp:projects/iAMMember:IAMMember", {"project": "p", "role": "logWriter", "member": "user:a@b"}, "role"),
        ("gcp:projects/iAMMember:IAMMember", {"project": "p", "role": "roles/x", "member": "me@example.com"}, "member"),
        ("gcp:projects/iAMMember:IAMMember",
         {"project": "p", "role": "roles/x", "member": "user:a@b", "condition": {"expression": "true"}}, "title"),
        ("gcp:storage/bucket:Bucket", {"name": "b"}, "missing required input 'location'"),
        ("gcp:storage/bucket:Bucket", {"name": "google-models", "location": "us"}, "google"),
        ("gcp:storage/bucket:Bucket", {"location": "us", "publicAccessPrevention": "on"}, "publicAccessPrevention"),
        ("gcp:storage/bucketObject:BucketObject", {"bucket": "b", "name": "n"}, "source or content"),
        ("gcp:projects/service:Service", {"service": "cloudfunctions"}, "service"),
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", {"role": "roles/run.invoker", "member": "allUsers"},
         "missing required input 'name'"),
        ("time:index/sleep:Sleep", {"createDuration": "60"}, "createDuration"),
        ("time:index/sleep:Sleep", {}, "waits for nothing"),
    ],
)  # fmt: skip
def test_type_rules(typ: str, inputs: dict[str, Any], needle: str) -> None:
    problems = _problems(typ, inputs)
    assert any(needle in p for p in problems), problems


def test_unknown_types_must_get_rules_and_components_are_skipped() -> None:
    assert _problems("aws:sqs/queue:Queue", {})[0].endswith("add them to tests/infra/provider_rules.py")
    assert _problems("serverless-models:aws:Stack", {}) == []


def test_program_level_collisions() -> None:
    sa = {"accountId": "sm-build-01234567", "project": "p"}
    resources = [
        Res("gcp:serviceaccount/account:Account", "build", dict(sa)),
        Res("gcp:serviceaccount/account:Account", "ep-build", dict(sa)),
        Res(FN, "a", _fn()),
        Res(FN, "a", _fn(name="other")),
        Res("gcp:serviceaccount/account:Account", "other-project", {**sa, "project": "q"}),
    ]
    problems = rules.check_program(resources)
    assert any("physical name 'p/sm-build-01234567' is also build's" in p for p in problems), problems
    assert any("duplicate URN" in p for p in problems), problems
    assert not any("other-project" in p for p in problems)  # another project is another namespace
    with pytest.raises(rules.ProviderCheckFailed, match="provider validation failed"):
        rules.assert_valid(resources)


def test_policy_documents_must_be_iam_json() -> None:
    good = json.dumps({"Version": "2012-10-17", "Statement": []})
    assert _problems("aws:iam/policy:Policy", {"policy": good}) == []
    assert _problems("aws:iam/policy:Policy", {"policy": json.dumps({"Statement": []})})
