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


# --- alarms (issue 19 part 5) ---------------------------------------------------------------------------------

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_SUB = "aws:sns/topicSubscription:TopicSubscription"
LOG_METRIC = "gcp:logging/metric:Metric"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sm-dev-0123abcd-alarms"


def _alarm(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "sm-dev-0123abcd-pred-errors", "namespace": "AWS/Lambda", "metricName": "Errors",
        "dimensions": {"FunctionName": "f", "Resource": "f:live"}, "statistic": "Sum", "period": 300.0,
        "evaluationPeriods": 1.0, "threshold": 0.0, "comparisonOperator": "GreaterThanThreshold",
        "treatMissingData": "notBreaching", "alarmActions": [TOPIC_ARN],
    }  # fmt: skip
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def _log_filter(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "sm-dev-0123abcd-pred-out-of-range", "logGroupName": "/aws/lambda/sm-dev-0123abcd-pred",
        "pattern": '{ ($.event = "prediction") && ($.out_of_range > 0) }',
        "metricTransformation": {"name": "OutOfRangeOrUnseen", "namespace": "serverless-models/sm-dev-0123abcd",
                                 "value": "1", "dimensions": {"Endpoint": "$.endpoint"}, "unit": "Count"},
    }  # fmt: skip
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def _threshold(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "filter": 'resource.type="cloud_run_revision" AND metric.type="run.googleapis.com/request_count"',
        "comparison": "COMPARISON_GT", "duration": "0s", "thresholdValue": 0.0,
        "aggregations": [{"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_SUM", "crossSeriesReducer":
                          "REDUCE_SUM", "groupByFields": ["resource.label.service_name"]}],
    }  # fmt: skip
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def _policy(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "displayName": "sm-dev-0123abcd pred: 5xx", "combiner": "OR", "severity": "ERROR",
        "conditions": [{"displayName": "pred: 5xx", "conditionThreshold": _threshold()}],
        "notificationChannels": ["projects/p/notificationChannels/123"],
        "documentation": {"mimeType": "text/markdown", "content": "see smodels rollout status"},
        "userLabels": {"stack": "sm-dev-0123abcd", "endpoint": "pred", "alarm": "5xx"},
    }  # fmt: skip
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def test_clean_alarm_resources_pass() -> None:
    assert _problems(ALARM, _alarm()) == []
    assert _problems(ALARM, _alarm(statistic=None, extendedStatistic="p99", metricName="Duration",
                                   evaluateLowSampleCountPercentiles="evaluate")) == []  # fmt: skip
    assert _problems(LOG_FILTER, _log_filter()) == []
    assert _problems(SNS_TOPIC, {"name": "sm-dev-0123abcd-alarms"}) == []
    assert _problems(SNS_SUB, {"topic": TOPIC_ARN, "protocol": "email", "endpoint": "ops@example.com"}) == []
    assert _problems(LOG_METRIC, {"name": "sm-dev-0123abcd-pred-throttled", "filter": "x",
                                  "metricDescriptor": {"metricKind": "DELTA", "valueType": "INT64", "unit": "1"}}) == []
    assert _problems(POLICY, _policy()) == []
    assert _problems(CHANNEL, {"type": "email", "labels": {"email_address": "ops@example.com"}}) == []


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"name": "x" * 256}, "StringLenBetween(1, 255)"),
        ({"comparisonOperator": "GreaterThan"}, "comparisonOperator"),
        ({"comparisonOperator": None}, "missing required input 'comparisonOperator'"),
        ({"evaluationPeriods": 0.0}, "evaluationPeriods 0.0 is outside 1..None"),
        ({"period": 90.0}, "not 10, 20, 30 or a multiple of 60"),
        ({"period": 3600.0, "evaluationPeriods": 25.0}, "at most one day"),
        ({"statistic": "P99"}, "statistic"),
        ({"statistic": None}, "exactly one of statistic or extendedStatistic"),
        ({"extendedStatistic": "p99"}, "exactly one of statistic or extendedStatistic"),
        ({"statistic": None, "extendedStatistic": "p999"}, "extended_statistic"),
        ({"evaluateLowSampleCountPercentiles": "evaluate"}, "used only with percentiles"),
        ({"namespace": "a:b"}, "must not contain colon"),
        ({"metricName": None}, "missing required input 'metricName'"),
        ({"threshold": None}, "missing required input 'threshold'"),
        ({"treatMissingData": "NotBreaching"}, "treatMissingData"),
        ({"alarmActions": [TOPIC_ARN] * 6}, "at most 5"),
        ({"okActions": ["ops@example.com"]}, "okActions[]"),
        ({"alarmDescription": "x" * 1025}, "StringLenBetween(0, 1024)"),
        ({"dimensions": {"FunctionName": ""}}, "Dimension Value (1-1024)"),
        ({"metricQueries": [{"id": "m"}]}, "conflicts with metricQueries"),
    ],
)  # fmt: skip
def test_metric_alarm_rules(over: dict[str, Any], needle: str) -> None:
    problems = _problems(ALARM, _alarm(**over))
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"name": "a:b"}, "validLogMetricFilterName"),
        ({"pattern": None}, "missing required input 'pattern'"),
        ({"pattern": "x" * 1025}, "StringUTF8LenBetween(0, 1024)"),
        ({"pattern": '{ ($.event = "prediction" }'}, "balanced parentheses"),
        ({"logGroupName": "has space"}, "validLogGroupName"),
        ({"metricTransformation": {"name": "a$b", "namespace": "n", "value": "1"}}, "TransformationName"),
        ({"metricTransformation": {"name": "m", "namespace": "n"}}, "missing required input 'value'"),
        ({"metricTransformation": {"name": "m", "namespace": "n", "value": "1", "unit": "count"}}, "unit"),
        ({"metricTransformation": {"name": "m", "namespace": "n", "value": "1", "defaultValue": 0,
                                   "dimensions": {"E": "$.endpoint"}}}, "conflicts with dimensions"),
        ({"metricTransformation": {"name": "m", "namespace": "n", "value": "1",
                                   "dimensions": {"A": "$.a", "B": "$.b", "C": "$.c", "D": "$.d"}}}, "at most 3"),
        ({"metricTransformation": {"name": "m", "namespace": "n", "value": "1", "dimensions": {"E": "pred"}}},
         "dimension values are fields"),
    ],
)  # fmt: skip
def test_log_metric_filter_rules(over: dict[str, Any], needle: str) -> None:
    problems = _problems(LOG_FILTER, _log_filter(**over))
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    ("typ", "inputs", "needle"),
    [
        (SNS_TOPIC, {"name": "has.dot"}, "sns/topic.py:75"),
        (SNS_TOPIC, {"name": "x" * 257}, "sns/topic.py:75"),
        (SNS_TOPIC, {"name": "alarms", "fifoTopic": True}, "sns/topic.py:75"),
        (SNS_SUB, {"topic": TOPIC_ARN, "protocol": "email"}, "missing required input 'endpoint'"),
        (SNS_SUB, {"topic": TOPIC_ARN, "protocol": "smtp", "endpoint": "a@b.c"}, "protocol"),
        (SNS_SUB, {"topic": "alarms", "protocol": "email", "endpoint": "a@b.c"}, "ARN of the SNS topic"),
        (SNS_SUB, {"topic": TOPIC_ARN, "protocol": "email", "endpoint": "ops"}, "email address"),
        (SNS_SUB, {"topic": TOPIC_ARN + ".fifo", "protocol": "email", "endpoint": "a@b.c"}, "FIFO topic"),
        (SNS_SUB, {"topic": TOPIC_ARN, "protocol": "https", "endpoint": "http://x"}, "URL"),
        (LOG_METRIC, {"filter": "x"}, "missing required input 'name'"),
        (LOG_METRIC, {"name": "/lead", "filter": "x"}, "logging/metric.py:63-67"),
        (LOG_METRIC, {"name": "x" * 101, "filter": "x"}, "logging/metric.py:63-67"),
        (LOG_METRIC, {"name": "a b", "filter": "x"}, "logging/metric.py:63-67"),
        (LOG_METRIC, {"name": "m", "filter": "x" * 20001}, "LogMetric.filter"),
        (LOG_METRIC, {"name": "m", "filter": "x", "metricDescriptor": {"metricKind": "DELTA"}},
         "missing required input 'valueType'"),
        (LOG_METRIC, {"name": "m", "filter": "x", "metricDescriptor": {"metricKind": "SUM", "valueType": "INT64"}},
         "metricKind"),
        (LOG_METRIC, {"name": "m", "filter": "x", "metricDescriptor": {"metricKind": "DELTA",
                                                                         "valueType": "DISTRIBUTION"}},
         "a distribution needs both"),
        (LOG_METRIC, {"name": "m", "filter": "x", "metricDescriptor": {"metricKind": "GAUGE", "valueType": "BOOL",
                                                                         "unit": "1"}}, "unit applies only"),
        (CHANNEL, {"labels": {}}, "missing required input 'type'"),
        (CHANNEL, {"type": "email", "labels": {}}, "missing required input 'email_address'"),
        (CHANNEL, {"type": "email", "labels": {"email_address": "ops"}}, "labels.email_address"),
        (CHANNEL, {"type": "email", "labels": {"email_address": "a@b.c"}, "displayName": "x" * 513}, "displayName"),
        (CHANNEL, {"type": "email", "labels": {"email_address": "a@b.c"}, "userLabels": {"Team": "x"}}, "userLabels"),
    ],
)  # fmt: skip
def test_topic_subscription_log_metric_and_channel_rules(typ: str, inputs: dict[str, Any], needle: str) -> None:
    problems = _problems(typ, inputs)
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"displayName": None}, "missing required input 'displayName'"),
        ({"displayName": "x" * 513}, "limited to 512"),
        ({"combiner": "XOR"}, "combiner"),
        ({"severity": "PAGE"}, "severity"),
        ({"conditions": []}, "one to six"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold()}] * 7}, "one to six"),
        ({"conditions": [{"conditionThreshold": _threshold()}]}, "missing required input 'displayName'"),
        ({"conditions": [{"displayName": "c"}]}, "exactly one condition type"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(comparison="COMPARISON_GE")}]},
         "COMPARISON_GT"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(duration="90s")}]},
         "multiple of a minute"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(duration=None)}]},
         "missing required input 'duration'"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(filter='resource.type="x"')}]},
         "must name a metric.type"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            filter="metric.type=" + "x" * 2048)}]}, "_inputs.py:2424"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(evaluationMissingData="NONE")}]},
         "evaluationMissingData"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            aggregations=[{"alignmentPeriod": "30s", "perSeriesAligner": "ALIGN_SUM"}])}]}, "alignmentPeriod"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            aggregations=[{"perSeriesAligner": "ALIGN_SUM"}])}]}, "needs alignmentPeriod"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            aggregations=[{"crossSeriesReducer": "REDUCE_SUM"}])}]}, "needs a perSeriesAligner"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            aggregations=[{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_P99"}])}]}, "perSeriesAligner"),
        ({"conditions": [{"displayName": "c", "conditionThreshold": _threshold(
            trigger={"count": 1, "percent": 50})}]}, "not both"),
        ({"documentation": {"mimeType": "text/plain"}}, "mimeType"),
        ({"documentation": {"content": "x" * 8193}}, "_inputs.py:3497"),
        ({"notificationChannels": ["ops@example.com"]}, "notificationChannels[]"),
        ({"userLabels": {"Stack": "x"}}, "userLabels key"),
        ({"userLabels": {"stack": "Dev"}}, "userLabels.stack"),
    ],
)  # fmt: skip
def test_alert_policy_rules(over: dict[str, Any], needle: str) -> None:
    problems = _problems(POLICY, _policy(**over))
    assert any(needle in p for p in problems), problems


def test_alarm_program_rules() -> None:
    """Across resources: names unique in their scope, 100 filters per log group, a policy needs its log metric."""
    user = 'metric.type="logging.googleapis.com/user/m1"'
    on_m1 = [{"displayName": "c", "conditionThreshold": _threshold(filter=user)}]
    resources = [
        Res(ALARM, "a", _alarm()), Res(ALARM, "b", _alarm()),
        Res(SNS_TOPIC, "t1", {"name": "alarms"}), Res(SNS_TOPIC, "t2", {"name": "alarms"}),
        *(Res(LOG_FILTER, f"f{n}", _log_filter(name=f"f{n}")) for n in range(101)),
        Res(LOG_METRIC, "m1", {"name": "m1", "project": "p", "filter": "x"}),
        Res(POLICY, "ok", {**_policy(), "project": "p", "conditions": on_m1}),
        Res(POLICY, "other-project", {**_policy(), "project": "q", "conditions": on_m1}),
    ]  # fmt: skip
    problems = rules.check_program(resources)
    assert any(f"{ALARM}::b: physical name 'sm-dev-0123abcd-pred-errors'" in p for p in problems), problems
    assert any(f"{SNS_TOPIC}::t2: physical name 'alarms'" in p for p in problems), problems
    assert any("has 101 metric filters; at most 100" in p for p in problems), problems
    assert any(f"{POLICY}::other-project: no log-based metric 'm1' in project 'q'" in p for p in problems), problems
    assert not any(f"{POLICY}::ok:" in p for p in problems), problems
