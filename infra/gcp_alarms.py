"""Cloud Monitoring alert policies of the GCP side (`alarms: true`, the default; `alarms: false` declares none).

Composition (ComponentResources with narrow typed args, children parented to them):

- `CloudRunAlerts`  per endpoint, on the Cloud Run service its function runs on (the service takes the function's
                    name: infra/names.py), one alert policy per kind, each with one threshold condition:
                    - `5xx`: Cloud Run's own `run.googleapis.com/request_count` with response_code_class "5xx" (a
                      built-in metric: it also counts what never reaches the code, a crash or a platform timeout);
                    - `throttles`: a log-based metric `<prefix>-<endpoint>-throttled` counting the service's request
                      log entries (`run.googleapis.com/requests`) with status 429, Cloud Run's answer when no
                      instance is available (maxInstances reached); the function itself never answers 429;
                    - `p99_latency`: p99 of `run.googleapis.com/request_latencies` (ms, cold starts included),
                      merged over revisions (ALIGN_DELTA, then REDUCE_PERCENTILE_99);
                    - model endpoints, `out_of_range`: a log-based metric `<prefix>-<endpoint>-out-of-range`
                      counting the function's `prediction` lines with `out_of_range > 0` or `unseen > 0` (per
                      request, as on AWS; a line without `unseen` counts on `out_of_range`).
                    A log-based metric cannot be named in an alert policy until Cloud Monitoring knows it ("Cannot
                    find metric(s) ... it could take up to 10 minutes to become available", terraform-provider-google
                    #11102): the policies on them wait for a `pulumiverse_time.Sleep` of METRICS_PROPAGATION after
                    the metrics, which runs beside the function builds and only when the metrics are created.
- `GcpAlarms`       the endpoints' alerts and, with `alertEmail`, one email notification channel they all notify.
                    Without it the policies exist with no channel (the console's Alerting page shows incidents).

Every condition aligns one period (`alarmThresholds.periodSeconds`), fires above its threshold (COMPARISON_GT, the
only "above" comparison metric-threshold conditions take: SDK pulumi_gcp/monitoring/_inputs.py, MetricThreshold
comparison) at the first such period (duration 0s), and treats missing data as inactive (no traffic, no incident).
The filters name the service as a string, not the function's output: the metrics and their wait then start as soon
as the APIs are usable, not after the function's build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumiverse_time as time

from infra.names import StackNames
from smodels.config import AlarmThresholds

RUN_REVISION = "cloud_run_revision"
REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
REQUEST_LOG = "run.googleapis.com/requests"
USER_METRIC_PREFIX = "logging.googleapis.com/user/"
# Upstream users of log-based metrics in alert policies wait 90-120 s after creating them (the API says up to ten
# minutes); a first `up` that still meets the 404 succeeds when run again.
METRICS_PROPAGATION = "120s"
MISSING_DATA = "EVALUATION_MISSING_DATA_INACTIVE"


def service_filter(service: str) -> str:
    """The Cloud Logging / Monitoring clause selecting the Cloud Run service `service`."""
    return f'resource.type="{RUN_REVISION}" AND resource.labels.service_name="{service}"'


def out_of_range_log_filter(service: str) -> str:
    """The function's prediction lines with an out-of-range or unseen value (Cloud Logging query language)."""
    return (f'{service_filter(service)} AND jsonPayload.event="prediction" AND '
            "(jsonPayload.out_of_range>0 OR jsonPayload.unseen>0)")  # fmt: skip


def throttled_log_filter(service: str) -> str:
    """The service's request log entries Cloud Run answered 429 (no instance available)."""
    return f'{service_filter(service)} AND log_id("{REQUEST_LOG}") AND httpRequest.status=429'


@dataclass(frozen=True)
class AlertTarget:
    """One endpoint's Cloud Run service as the alerts see it."""

    endpoint: str
    kind: str  # "echo" | "model": only model endpoints write prediction lines
    service: str  # the Cloud Run service name (= the function's name)


@dataclass(frozen=True)
class ConditionSpec:
    """One alert policy and its threshold condition: which time series, how a period is reduced, the threshold."""

    kind: str
    title: str
    filter: str
    aligner: str
    reducer: str
    threshold: float
    severity: str = "WARNING"


@dataclass
class CloudRunAlertsArgs:
    """One endpoint's alerts: its service, the project, the thresholds, the names and the channels to notify."""

    target: AlertTarget
    project: str
    thresholds: AlarmThresholds
    names: StackNames
    channels: Sequence[pulumi.Input[str]] = ()
    depends_on: Sequence[pulumi.Resource] = ()  # the APIs being usable


class CloudRunAlerts(pulumi.ComponentResource):
    """5xx, throttles, p99 latency and (model endpoints) out-of-range alert policies of one endpoint."""

    policies: dict[str, gcp.monitoring.AlertPolicy]

    def __init__(self, name: str, args: CloudRunAlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:CloudRunAlerts", name, None, opts)
        t, th, n = args.target, args.thresholds, args.names
        ep, svc = t.endpoint, t.service
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        log_filters = {"throttled": throttled_log_filter(svc)}
        if t.kind == "model":
            log_filters["out-of-range"] = out_of_range_log_filter(svc)
        self.log_metrics = {
            what: gcp.logging.Metric(
                f"{name}-{what}",
                name=n.log_metric(ep, what),
                project=args.project,
                description=f"serverless-models {ep}: {what.replace('-', ' ')} requests",
                filter=log_filter,
                metric_descriptor=gcp.logging.MetricMetricDescriptorArgs(
                    metric_kind="DELTA", value_type="INT64", unit="1", display_name=f"{ep} {what} requests"
                ),
                opts=after_apis,
            )
            for what, log_filter in log_filters.items()
        }
        self.metrics_ready = time.Sleep(
            f"{name}-metrics-ready",
            create_duration=METRICS_PROPAGATION,
            triggers={"metrics": ",".join(sorted(n.log_metric(ep, w) for w in log_filters))},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.log_metrics.values())),
        )

        def user_metric(what: str) -> str:
            return f'{service_filter(svc)} AND metric.type="{USER_METRIC_PREFIX}{n.log_metric(ep, what)}"'

        specs = [
            ConditionSpec("5xx", f"5xx responses above {th.http5xx}",
                          f'{service_filter(svc)} AND metric.type="{REQUEST_COUNT}" AND '
                          'metric.labels.response_code_class="5xx"',
                          "ALIGN_SUM", "REDUCE_SUM", th.http5xx, severity="ERROR"),
            ConditionSpec("throttles", f"429 responses (no instance available) above {th.throttles}",
                          user_metric("throttled"), "ALIGN_SUM", "REDUCE_SUM", th.throttles),
            ConditionSpec("p99_latency", f"p99 request latency above {th.p99_latency_ms} ms",
                          f'{service_filter(svc)} AND metric.type="{REQUEST_LATENCIES}"',
                          "ALIGN_DELTA", "REDUCE_PERCENTILE_99", th.p99_latency_ms),
        ]  # fmt: skip
        if t.kind == "model":
            specs.append(ConditionSpec("out_of_range", f"requests with out-of-range or unseen values above "
                                       f"{th.out_of_range}", user_metric("out-of-range"), "ALIGN_SUM", "REDUCE_SUM",
                                       th.out_of_range))  # fmt: skip
        waits = {"throttles", "out_of_range"}  # the kinds on a log-based metric
        self.policies = {
            spec.kind: self._policy(
                f"{name}-{spec.kind.replace('_', '-')}", spec, args,
                [*args.depends_on, self.metrics_ready] if spec.kind in waits else list(args.depends_on),
            )
            for spec in specs
        }  # fmt: skip
        self.names = pulumi.Output.all(**{kind: p.name for kind, p in self.policies.items()})
        self.register_outputs({"policies": self.names})

    def _policy(
        self, logical: str, spec: ConditionSpec, args: CloudRunAlertsArgs, depends_on: Sequence[pulumi.Resource]
    ) -> gcp.monitoring.AlertPolicy:
        """One policy with one threshold condition over one aligned period, merged across the service's revisions."""
        th, n, ep = args.thresholds, args.names, args.target.endpoint
        period = f"{th.period_seconds}s"
        return gcp.monitoring.AlertPolicy(
            logical,
            project=args.project,
            display_name=f"{n.prefix} {ep}: {spec.kind.replace('_', ' ')}",
            combiner="OR",
            severity=spec.severity,
            conditions=[
                gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=f"{ep}: {spec.title} in {period}",
                    condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                        filter=spec.filter,
                        comparison="COMPARISON_GT",
                        threshold_value=float(spec.threshold),
                        duration="0s",
                        evaluation_missing_data=MISSING_DATA,
                        aggregations=[
                            gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
                                alignment_period=period,
                                per_series_aligner=spec.aligner,
                                cross_series_reducer=spec.reducer,
                                group_by_fields=["resource.label.service_name"],
                            )
                        ],
                        trigger=gcp.monitoring.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
                    ),
                )
            ],
            documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                mime_type="text/markdown",
                subject=f"serverless-models {ep}: {spec.kind.replace('_', ' ')}",
                content=f"Endpoint `{ep}` (Cloud Run service `{args.target.service}`): {spec.title} in {period}. "
                f"`smodels rollout status {ep} --cloud gcp` shows requests, errors and latency per model version"
                + (f"; `smodels drift {ep} --cloud gcp` which inputs moved." if spec.kind == "out_of_range" else "."),
            ),
            notification_channels=list(args.channels) or None,
            user_labels={"stack": n.prefix, "endpoint": ep, "alarm": spec.kind.replace("_", "-")},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )


@dataclass
class GcpAlarmsArgs:
    """Every GCP alert of the stack: the endpoints' services, the thresholds, the optional email."""

    project: str
    thresholds: AlarmThresholds
    names: StackNames
    targets: Sequence[AlertTarget] = field(default_factory=list)
    alert_email: str | None = None
    depends_on: Sequence[pulumi.Resource] = ()  # the APIs (monitoring, logging) being usable


class GcpAlarms(pulumi.ComponentResource):
    """The endpoints' `CloudRunAlerts` and, with `alertEmail`, the email notification channel they notify."""

    outputs: pulumi.Output[dict[str, object]]

    def __init__(self, name: str, args: GcpAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:Alarms", name, None, opts)
        n = args.names
        self.channel: gcp.monitoring.NotificationChannel | None = None
        channels: list[pulumi.Input[str]] = []
        if args.alert_email is not None:
            self.channel = gcp.monitoring.NotificationChannel(
                f"{name}-email",
                project=args.project,
                type="email",
                display_name=n.display_name("alarms"),
                labels={"email_address": args.alert_email},
                # SDK pulumi_gcp/monitoring/notification_channel.py force_delete: removing `alertEmail` deletes the
                # channel even while a policy (being updated in the same run) still names it.
                force_delete=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            channels = [self.channel.name]
        self.endpoints = {
            t.endpoint: CloudRunAlerts(
                f"{name}-{t.endpoint}",
                CloudRunAlertsArgs(target=t, project=args.project, thresholds=args.thresholds, names=n,
                                   channels=channels, depends_on=args.depends_on),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for t in args.targets
        }  # fmt: skip
        self.outputs = pulumi.Output.all(
            notification_channel=self.channel.name if self.channel is not None else None,
            endpoints=pulumi.Output.all(**{ep: a.names for ep, a in self.endpoints.items()}),
            log_metrics={ep: {w.replace("-", "_"): m.name for w, m in a.log_metrics.items()}
                         for ep, a in self.endpoints.items()},
        )  # fmt: skip
        self.register_outputs({"alarms": self.outputs})
