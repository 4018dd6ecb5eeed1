"""CloudWatch alarms of the AWS side (`alarms: true`, the default; `alarms: false` declares none of this).

Composition (ComponentResources with narrow typed args, children parented to them):

- `LambdaAlarms`   per endpoint, on the alias `live` (Lambda's metrics with the dimensions FunctionName and
                   Resource `<function>:live`: the version API Gateway and the refresh trigger invoke. A console test
                   of `$LATEST` pages nobody, and after a rollback, which moves the alias, the alarms follow it):
                   - `<prefix>-<endpoint>-errors`: Sum of `Errors` (unhandled exceptions, timeouts, crashes; a 4xx or
                     503 the function answers is a response, not a Lambda error: the API's 5xx alarm sees those);
                   - `<prefix>-<endpoint>-throttles`: Sum of `Throttles` (reserved or account concurrency reached);
                   - `<prefix>-<endpoint>-p99-duration`: p99 of `Duration` in ms. `evaluate_low_sample_count_
                     percentiles` is "evaluate", so a quiet private endpoint still alarms (with few requests p99 is
                     their slowest one) rather than never;
                   - model endpoints: a metric filter on the function's log group counting its `prediction` lines
                     with `out_of_range > 0` or `unseen > 0` (1 per line, so per request, in the stack's own namespace
                     with the dimension Endpoint from `$.endpoint`) and `<prefix>-<endpoint>-out-of-range` on its Sum.
                     A line from a function version without `unseen` still counts on `out_of_range` (a missing field
                     does not match, it does not fail the pattern).
- `AwsAlarms`      the whole set: the endpoints' alarms, `<prefix>-api-5xx` on the HTTP API's `5xx` (dimension ApiId:
                   every route and stage) and, with `alertEmail`, the SNS topic `<prefix>-alarms` and its email
                   subscription, which every alarm notifies on ALARM and again on OK. Without it the alarms exist with
                   no action (the console and `aws cloudwatch describe-alarms` show their state).

Every alarm compares one period (`alarmThresholds.periodSeconds`) with its threshold, GreaterThanThreshold, and
treats missing data as not breaching: no traffic is not an incident.

A metric filter rather than Embedded Metric Format: EMF would need an `_aws` block in the function's log line
(functions/app.py, on every request, for one cloud), while a filter reads today's line as it is, adds nothing to the
request path, and mirrors the log-based metric GCP needs anyway. The filter also names the endpoint in its pattern,
so a dimension value comes only from that endpoint's own lines.

The topic is not encrypted with a KMS key: CloudWatch can publish to an SSE topic only through a customer managed key
whose policy admits it (the AWS managed aws/sns key does not), and alarm notifications carry no model data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.names import API_ALARM_KIND, StackNames
from smodels.config import AlarmThresholds

LAMBDA_NAMESPACE = "AWS/Lambda"
APIGW_NAMESPACE = "AWS/ApiGateway"
# The metric the out-of-range filter publishes (in the stack's namespace, infra/names.py metric_namespace).
OUT_OF_RANGE_METRIC = "OutOfRangeOrUnseen"
OUT_OF_RANGE_FILTER = "out-of-range"


def out_of_range_pattern(endpoint: str) -> str:
    """The CloudWatch Logs filter pattern of `endpoint`'s prediction lines with an out-of-range or unseen value."""
    return (
        f'{{ ($.event = "prediction") && ($.endpoint = "{endpoint}") && '
        "(($.out_of_range > 0) || ($.unseen > 0)) }"
    )


@dataclass(frozen=True)
class AlarmTarget:
    """One endpoint's function as the alarms see it: its alias, and its log group for the metric filter."""

    endpoint: str
    kind: str  # "echo" | "model": only model endpoints write prediction lines
    function_name: pulumi.Input[str]
    alias_name: pulumi.Input[str]
    log_group_name: pulumi.Input[str]  # the log group resource's output, so the filter waits for the group


@dataclass(frozen=True)
class MetricSpec:
    """The metric one alarm watches and how it reduces a period to one number."""

    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str | None = "Sum"
    extended_statistic: str | None = None  # e.g. "p99" (then no `statistic`)


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: its physical name, what it watches, its threshold and what it tells the reader."""

    name: str
    metric: MetricSpec
    threshold: float
    description: str


def metric_alarm(
    logical: str, spec: AlarmSpec, period: int, actions: Sequence[pulumi.Input[str]], parent: pulumi.Resource
) -> aws.cloudwatch.MetricAlarm:
    """A one-period, above-threshold CloudWatch alarm that treats missing data as fine; `actions` on ALARM and OK."""
    m = spec.metric
    return aws.cloudwatch.MetricAlarm(
        logical,
        name=spec.name,
        alarm_description=spec.description,
        namespace=m.namespace,
        metric_name=m.metric,
        dimensions=dict(m.dimensions),
        statistic=m.statistic,
        extended_statistic=m.extended_statistic,
        evaluate_low_sample_count_percentiles="evaluate" if m.extended_statistic else None,
        period=period,
        evaluation_periods=1,
        threshold=float(spec.threshold),
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=list(actions) or None,
        ok_actions=list(actions) or None,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass
class LambdaAlarmsArgs:
    """One endpoint's alarms: its function, the thresholds, the stack's names and where notifications go."""

    target: AlarmTarget
    thresholds: AlarmThresholds
    names: StackNames
    actions: Sequence[pulumi.Input[str]] = ()


class LambdaAlarms(pulumi.ComponentResource):
    """Errors, throttles and p99 duration of an endpoint's alias `live`, and (model endpoints) its out-of-range
    metric filter and alarm."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: LambdaAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:LambdaAlarms", name, None, opts)
        t, th, n = args.target, args.thresholds, args.names
        ep, period = t.endpoint, th.period_seconds
        alias = {
            "FunctionName": t.function_name,
            "Resource": pulumi.Output.concat(t.function_name, ":", t.alias_name),
        }
        window = f"in {period} s"
        specs = {
            "errors": AlarmSpec(
                n.alarm(ep, "errors"), MetricSpec(LAMBDA_NAMESPACE, "Errors", alias), th.errors,
                f"{ep}: Lambda errors (exceptions, timeouts) of alias live above {th.errors} {window}",
            ),
            "throttles": AlarmSpec(
                n.alarm(ep, "throttles"), MetricSpec(LAMBDA_NAMESPACE, "Throttles", alias), th.throttles,
                f"{ep}: Lambda throttles of alias live above {th.throttles} {window} (concurrency reached)",
            ),
            "p99_duration": AlarmSpec(
                n.alarm(ep, "p99-duration"),
                MetricSpec(LAMBDA_NAMESPACE, "Duration", alias, statistic=None, extended_statistic="p99"),
                th.p99_latency_ms,
                f"{ep}: p99 Lambda duration of alias live above {th.p99_latency_ms} ms {window}",
            ),
        }  # fmt: skip
        self.metric_filter: aws.cloudwatch.LogMetricFilter | None = None
        if t.kind == "model":
            self.metric_filter = aws.cloudwatch.LogMetricFilter(
                f"{name}-{OUT_OF_RANGE_FILTER}",
                name=n.log_metric(ep, OUT_OF_RANGE_FILTER),
                log_group_name=t.log_group_name,
                pattern=out_of_range_pattern(ep),
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=OUT_OF_RANGE_METRIC,
                    namespace=n.metric_namespace(),
                    value="1",
                    dimensions={"Endpoint": "$.endpoint"},
                    unit="Count",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            specs["out_of_range"] = AlarmSpec(
                n.alarm(ep, "out-of-range"),
                MetricSpec(n.metric_namespace(), OUT_OF_RANGE_METRIC, {"Endpoint": ep}),
                th.out_of_range,
                f"{ep}: more than {th.out_of_range} prediction requests with out-of-range or unseen input values "
                f"{window} (smodels drift {ep} --cloud aws)",
            )
        self.alarms = {
            kind: metric_alarm(f"{name}-{kind.replace('_', '-')}", spec, period, args.actions, self)
            for kind, spec in specs.items()
        }
        self.names = pulumi.Output.all(**{kind: a.name for kind, a in self.alarms.items()})
        self.register_outputs({"alarms": self.names})


@dataclass
class AwsAlarmsArgs:
    """Every AWS alarm of the stack: the endpoints' functions, the HTTP API, the thresholds, the optional email."""

    thresholds: AlarmThresholds
    names: StackNames
    api_id: pulumi.Input[str]
    targets: Sequence[AlarmTarget] = field(default_factory=list)
    alert_email: str | None = None


class AwsAlarms(pulumi.ComponentResource):
    """The endpoints' `LambdaAlarms`, the HTTP API's 5xx alarm and, with `alertEmail`, the SNS topic they notify."""

    outputs: pulumi.Output[dict[str, object]]

    def __init__(self, name: str, args: AwsAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        th, n = args.thresholds, args.names
        self.topic: aws.sns.Topic | None = None
        self.subscription: aws.sns.TopicSubscription | None = None
        actions: list[pulumi.Input[str]] = []
        if args.alert_email is not None:
            self.topic = aws.sns.Topic(f"{name}-topic", name=n.alarm_topic(), opts=child)
            # SDK pulumi_aws/sns/topic_subscription.py:553: an email subscription stays pending until the recipient
            # confirms it, and Pulumi cannot delete it before that (deleting the topic does).
            self.subscription = aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.alert_email, opts=child
            )
            actions = [self.topic.arn]
        self.endpoints = {
            t.endpoint: LambdaAlarms(
                f"{name}-{t.endpoint}",
                LambdaAlarmsArgs(target=t, thresholds=th, names=n, actions=actions),
                opts=child,
            )
            for t in args.targets
        }
        self.api_5xx = metric_alarm(
            f"{name}-api-{API_ALARM_KIND}",
            AlarmSpec(
                n.api_alarm(),
                MetricSpec(APIGW_NAMESPACE, "5xx", {"ApiId": args.api_id}),
                th.http5xx,
                f"HTTP API: 5xx responses above {th.http5xx} in {th.period_seconds} s (any endpoint)",
            ),
            th.period_seconds,
            actions,
            self,
        )
        self.outputs = pulumi.Output.all(
            topic=self.topic.arn if self.topic is not None else None,
            namespace=n.metric_namespace(),
            api=pulumi.Output.all(**{API_ALARM_KIND: self.api_5xx.name}),
            endpoints=pulumi.Output.all(**{ep: a.names for ep, a in self.endpoints.items()}),
        )
        self.register_outputs({"alarms": self.outputs})
