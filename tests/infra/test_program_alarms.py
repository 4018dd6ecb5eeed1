"""Issue 19 part 5: the alarms the program declares, on both clouds, under the mock engine.

Every run goes through `provider_rules` (mockprogram applies them), so each alarm, metric filter, topic,
subscription, log-based metric, alert policy and notification channel also passes the providers' documented rules.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mockprogram import FakeBuilder, ProgramRun, base_config, config_error, run_program

from infra.names import stack_names

NAMES = stack_names("serverless-models", "dev")
PREFIX = NAMES.prefix
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
TOPIC = "aws:sns/topic:Topic"
SUB = "aws:sns/topicSubscription:TopicSubscription"
LOGMETRIC = "gcp:logging/metric:Metric"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
SERVICE = "gcp:projects/service:Service"
SLEEP = "time:index/sleep:Sleep"
ALARM_TYPES = {ALARM, FILTER, TOPIC, SUB, LOGMETRIC, POLICY, CHANNEL}
EMAIL = "ops@example.com"


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, **overrides: Any) -> ProgramRun:
    return run_program(monkeypatch, base_config(**overrides), builder)


def _alarms(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in run.mocks.of_type(ALARM)}


def _policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in run.mocks.of_type(POLICY)}


# --- AWS ------------------------------------------------------------------------------------------------------


def test_aws_alarms_watch_each_alias_and_the_api(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    alarms = _alarms(run)
    expected = {f"{PREFIX}-{ep}-{kind}" for ep in ("echo", "pred") for kind in ("errors", "throttles", "p99-duration")}
    assert set(alarms) == expected | {f"{PREFIX}-pred-out-of-range", f"{PREFIX}-api-5xx"}
    for ep in ("echo", "pred"):
        fn = f"{PREFIX}-{ep}"
        alias = {"FunctionName": fn, "Resource": f"{fn}:live"}  # the alias API Gateway invokes
        for kind, metric in (("errors", "Errors"), ("throttles", "Throttles"), ("p99-duration", "Duration")):
            a = alarms[f"{fn}-{kind}"]
            assert (a["namespace"], a["metricName"], a["dimensions"]) == ("AWS/Lambda", metric, alias)
            assert (a["period"], a["evaluationPeriods"], a["comparisonOperator"]) == (300, 1, "GreaterThanThreshold")
            assert a["treatMissingData"] == "notBreaching"
            assert "alarmActions" not in a and "okActions" not in a  # no alertEmail: no action
        assert alarms[f"{fn}-errors"]["statistic"] == "Sum" and alarms[f"{fn}-errors"]["threshold"] == 0
        p99 = alarms[f"{fn}-p99-duration"]
        assert "statistic" not in p99 and p99["extendedStatistic"] == "p99" and p99["threshold"] == 5000
        assert p99["evaluateLowSampleCountPercentiles"] == "evaluate"
    api = alarms[f"{PREFIX}-api-5xx"]
    assert (api["namespace"], api["metricName"], api["dimensions"]) == ("AWS/ApiGateway", "5xx", {"ApiId": "abc123api"})
    assert not run.mocks.of_type(TOPIC) and not run.mocks.of_type(SUB)


def test_the_out_of_range_filter_feeds_its_alarm(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    """Model endpoints only (an echo writes no prediction line); the alarm watches exactly what the filter publishes."""
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    (flt,) = run.mocks.of_type(FILTER)
    f = flt.inputs
    assert f["name"] == f"{PREFIX}-pred-out-of-range" and f["logGroupName"] == f"/aws/lambda/{PREFIX}-pred"
    assert f["pattern"] == ('{ ($.event = "prediction") && ($.endpoint = "pred") && '
                            "(($.out_of_range > 0) || ($.unseen > 0)) }")  # fmt: skip
    mt = f["metricTransformation"]
    assert mt == {"name": "OutOfRangeOrUnseen", "namespace": f"serverless-models/{PREFIX}", "value": "1",
                  "dimensions": {"Endpoint": "$.endpoint"}, "unit": "Count"}  # fmt: skip
    alarm = _alarms(run)[f"{PREFIX}-pred-out-of-range"]
    assert (alarm["namespace"], alarm["metricName"]) == (mt["namespace"], mt["name"])
    assert set(alarm["dimensions"]) == set(mt["dimensions"]) and alarm["dimensions"] == {"Endpoint": "pred"}
    assert alarm["statistic"] == "Sum" and alarm["threshold"] == 10


def test_aws_outputs_name_the_alarms(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    out = run.outputs["alarms"]
    assert set(out) == {"aws"}
    aws = out["aws"]
    assert aws["topic"] is None and aws["namespace"] == f"serverless-models/{PREFIX}"
    assert aws["api"] == {"5xx": f"{PREFIX}-api-5xx"}
    assert aws["endpoints"]["pred"] == {
        "errors": f"{PREFIX}-pred-errors", "throttles": f"{PREFIX}-pred-throttles",
        "p99_duration": f"{PREFIX}-pred-p99-duration", "out_of_range": f"{PREFIX}-pred-out-of-range",
    }  # fmt: skip
    assert set(aws["endpoints"]["echo"]) == {"errors", "throttles", "p99_duration"}
    named = {n for ep in aws["endpoints"].values() for n in ep.values()} | set(aws["api"].values())
    assert named == set(_alarms(run))


# --- GCP ------------------------------------------------------------------------------------------------------


def test_gcp_enables_monitoring_and_declares_log_metrics(monkeypatch: pytest.MonkeyPatch,
                                                         fake_builder: FakeBuilder) -> None:  # fmt: skip
    run = _run(monkeypatch, fake_builder, clouds=["gcp"])
    services = {r.inputs["service"] for r in run.mocks.of_type(SERVICE)}
    assert {"monitoring.googleapis.com", "logging.googleapis.com"} <= services
    sleeps = {r.name: r.inputs for r in run.mocks.of_type(SLEEP)}
    assert "monitoring.googleapis.com" in sleeps["gcp-apis-ready"]["triggers"]["services"].split(",")
    metrics = {r.inputs["name"]: r.inputs for r in run.mocks.of_type(LOGMETRIC)}
    assert set(metrics) == {f"{PREFIX}-echo-throttled", f"{PREFIX}-pred-throttled", f"{PREFIX}-pred-out-of-range"}
    svc = f'resource.type="cloud_run_revision" AND resource.labels.service_name="{PREFIX}-pred"'
    assert metrics[f"{PREFIX}-pred-out-of-range"]["filter"] == (
        f'{svc} AND jsonPayload.event="prediction" AND (jsonPayload.out_of_range>0 OR jsonPayload.unseen>0)')
    assert metrics[f"{PREFIX}-pred-throttled"]["filter"] == (
        f'{svc} AND log_id("run.googleapis.com/requests") AND httpRequest.status=429')
    for m in metrics.values():
        assert m["project"] == "my-project"
        assert (m["metricDescriptor"]["metricKind"], m["metricDescriptor"]["valueType"]) == ("DELTA", "INT64")
    for ep in ("echo", "pred"):
        assert "gcp-apis-ready" in run.depends_on[f"{LOGMETRIC}::gcp-alarms-{ep}-throttled"]
        wait = sleeps[f"gcp-alarms-{ep}-metrics-ready"]
        assert wait["createDuration"] == "120s"
        assert set(run.depends_on[f"{SLEEP}::gcp-alarms-{ep}-metrics-ready"]) == {
            r.name for r in run.mocks.of_type(LOGMETRIC) if r.name.startswith(f"gcp-alarms-{ep}-")}


def test_gcp_alert_policies_per_endpoint(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"])
    policies = _policies(run)
    assert set(policies) == {f"gcp-alarms-{ep}-{k}" for ep in ("echo", "pred") for k in ("5xx", "throttles",
                             "p99-latency")} | {"gcp-alarms-pred-out-of-range"}  # fmt: skip
    for name, p in policies.items():
        (cond,) = p["conditions"]
        t = cond["conditionThreshold"]
        assert (t["comparison"], t["duration"]) == ("COMPARISON_GT", "0s")
        assert t["evaluationMissingData"] == "EVALUATION_MISSING_DATA_INACTIVE"
        (agg,) = t["aggregations"]
        assert agg["alignmentPeriod"] == "300s" and agg["groupByFields"] == ["resource.label.service_name"]
        assert "notificationChannels" not in p  # no alertEmail: no channel
        ep = name.split("-")[2]
        assert f'resource.labels.service_name="{NAMES.function(ep)}"' in t["filter"]
        assert p["userLabels"] == {"stack": PREFIX, "endpoint": ep, "alarm": name.split("-", 3)[3]}
        deps = set(run.depends_on[f"{POLICY}::{name}"])
        assert "gcp-apis-ready" in deps
        # Log-based metrics become usable in a policy minutes after they are created: those policies wait.
        on_log_metric = name.endswith(("-throttles", "-out-of-range"))
        assert (f"gcp-alarms-{ep}-metrics-ready" in deps) == on_log_metric
    pred = {k: policies[f"gcp-alarms-pred-{k}"]["conditions"][0]["conditionThreshold"]
            for k in ("5xx", "throttles", "p99-latency", "out-of-range")}  # fmt: skip
    assert 'metric.type="run.googleapis.com/request_count"' in pred["5xx"]["filter"]
    assert 'metric.labels.response_code_class="5xx"' in pred["5xx"]["filter"]
    assert pred["5xx"]["aggregations"][0]["perSeriesAligner"] == "ALIGN_SUM"
    assert pred["p99-latency"]["aggregations"][0] | {"alignmentPeriod": "300s"} == {
        "alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_DELTA", "crossSeriesReducer": "REDUCE_PERCENTILE_99",
        "groupByFields": ["resource.label.service_name"]}  # fmt: skip
    assert pred["p99-latency"]["thresholdValue"] == 5000 and pred["out-of-range"]["thresholdValue"] == 10
    assert f'logging.googleapis.com/user/{PREFIX}-pred-throttled"' in pred["throttles"]["filter"]
    assert f'logging.googleapis.com/user/{PREFIX}-pred-out-of-range"' in pred["out-of-range"]["filter"]
    assert not run.mocks.of_type(CHANNEL)
    out = run.outputs["alarms"]["gcp"]
    assert out["notification_channel"] is None
    assert set(out["endpoints"]["pred"]) == {"5xx", "throttles", "p99_latency", "out_of_range"}
    assert all(v.startswith("projects/my-project/alertPolicies/") for v in out["endpoints"]["pred"].values())
    assert out["log_metrics"]["pred"] == {"throttled": f"{PREFIX}-pred-throttled",
                                          "out_of_range": f"{PREFIX}-pred-out-of-range"}  # fmt: skip


# --- switches -------------------------------------------------------------------------------------------------


def test_alarms_false_removes_them_all(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    on = _run(monkeypatch, fake_builder)
    off = _run(monkeypatch, fake_builder, alarms=False)
    assert not {r.typ for r in off.mocks.resources} & ALARM_TYPES
    assert "monitoring.googleapis.com" not in {r.inputs["service"] for r in off.mocks.of_type(SERVICE)}
    assert "alarms" not in off.outputs and set(on.outputs["alarms"]) == {"aws", "gcp"}
    # What the alarms add is theirs alone: the Monitoring API, the alarm components' children, nothing else changes
    # but the API wait's trigger (the new service list).
    added = set(on.snapshot) - set(off.snapshot)
    assert set(off.snapshot) - set(on.snapshot) == set()
    assert added == {f"{SERVICE}::gcp-monitoring"} | {
        k for k in on.snapshot if k.split("::")[1].startswith(("aws-alarms", "gcp-alarms"))}
    changed = {k for k in off.snapshot if on.snapshot[k] != off.snapshot[k]}
    assert changed == {f"{SLEEP}::gcp-apis-ready"}


def test_alert_email_adds_the_topic_and_the_channel_and_every_alarm_uses_them(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, alertEmail=EMAIL)
    (topic,) = run.mocks.of_type(TOPIC)
    assert topic.inputs["name"] == f"{PREFIX}-alarms" and "kmsMasterKeyId" not in topic.inputs
    arn = f"arn:aws:sns:us-east-1:123456789012:{PREFIX}-alarms"
    (sub,) = run.mocks.of_type(SUB)
    assert sub.inputs == {"topic": arn, "protocol": "email", "endpoint": EMAIL}
    for name, a in _alarms(run).items():
        assert a["alarmActions"] == a["okActions"] == [arn], name
    (channel,) = run.mocks.of_type(CHANNEL)
    assert channel.inputs["type"] == "email" and channel.inputs["labels"] == {"email_address": EMAIL}
    assert channel.inputs["project"] == "my-project" and channel.inputs["forceDelete"] is True
    channel_name = run.outputs["alarms"]["gcp"]["notification_channel"]
    assert channel_name.startswith("projects/my-project/notificationChannels/")
    for name, p in _policies(run).items():
        assert p["notificationChannels"] == [channel_name], name
    assert "gcp-apis-ready" in run.depends_on[f"{CHANNEL}::gcp-alarms-email"]
    assert run.outputs["alarms"]["aws"]["topic"] == arn


def test_thresholds_from_config_reach_both_clouds(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    th = {"errors": 2, "throttles": 3, "http5xx": 4, "p99LatencyMs": 800, "outOfRange": 0, "periodSeconds": 60}
    run = _run(monkeypatch, fake_builder, alarmThresholds=th)
    alarms = _alarms(run)
    assert {a["period"] for a in alarms.values()} == {60}
    assert {k: alarms[f"{PREFIX}-pred-{k}"]["threshold"] for k in ("errors", "throttles", "p99-duration",
            "out-of-range")} == {"errors": 2, "throttles": 3, "p99-duration": 800, "out-of-range": 0}  # fmt: skip
    assert alarms[f"{PREFIX}-api-5xx"]["threshold"] == 4
    conds = {name: p["conditions"][0]["conditionThreshold"] for name, p in _policies(run).items()}
    assert {c["aggregations"][0]["alignmentPeriod"] for c in conds.values()} == {"60s"}
    assert {k: conds[f"gcp-alarms-pred-{k}"]["thresholdValue"] for k in ("5xx", "throttles", "p99-latency",
            "out-of-range")} == {"5xx": 4, "throttles": 3, "p99-latency": 800, "out-of-range": 0}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"alarmThresholds": {"errors": -1}}, "serverless-models:alarmThresholds.errors: -1 is outside"),
        ({"alarmThresholds": {"periodSeconds": 90}}, "serverless-models:alarmThresholds.periodSeconds: 90 is not"),
        ({"alarmThresholds": {"periodSeconds": 7200}}, "serverless-models:alarmThresholds.periodSeconds: 7200 is"),
        ({"alarmThresholds": {"p99LatencyMs": "fast"}}, "serverless-models:alarmThresholds.p99LatencyMs: expected"),
        ({"alarmThresholds": {"latency": 5}}, "serverless-models:alarmThresholds: unknown threshold(s) ['latency']"),
        ({"alarmThresholds": [1, 2]}, "serverless-models:alarmThresholds: expected a mapping"),
        ({"alertEmail": "ops at example.com"}, "serverless-models:alertEmail: expected one email address"),
        ({"alarms": "sometimes"}, "serverless-models:alarms: expected true or false"),
    ],
)
def test_bad_alarm_config_stops_the_program_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder, overrides: dict[str, Any], needle: str
) -> None:
    message = config_error(monkeypatch, fake_builder, **overrides)
    assert message.startswith("invalid stack config:") and needle in message


def test_two_stacks_share_no_alarm_metric_or_topic_name(monkeypatch: pytest.MonkeyPatch,
                                                        fake_builder: FakeBuilder) -> None:  # fmt: skip
    """PutMetricAlarm overwrites an alarm of the same name and CreateTopic returns the existing topic: every name is
    the stack's own (the metric namespace too, so `pred` of two stacks are two metrics)."""
    a, b = (run_program(monkeypatch, base_config(alertEmail=EMAIL), fake_builder, stack=s) for s in ("dev", "prod"))

    def names(run: ProgramRun) -> set[str]:
        return ({r.inputs["name"] for r in run.mocks.resources if r.typ in (ALARM, TOPIC, FILTER, LOGMETRIC)}
                | {json.dumps(r.inputs.get("metricTransformation", {}).get("namespace")) for r in
                   run.mocks.of_type(FILTER)})  # fmt: skip

    assert names(a) and not names(a) & names(b)
