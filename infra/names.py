"""Physical names of every named cloud resource, unique per stack and within every provider's limit.

One place decides names, so the program, the config validation and the tests agree. The rules:

- A stack prefix `<project initials>-<stack slug>-<hash8>`: the hash is of the full, unshortened project and
  stack names, so stacks that differ only past any cut (`feature-branch-login-flow-v2` and `-v3`) still get
  different prefixes, and so different function names, log groups and service accounts. At most
  `PREFIX_MAX` (31) characters, which leaves room for the longest endpoint name (31) under the tightest
  function-name limit (Cloud Functions, 63).
- Function names `<prefix>-<endpoint>` (Lambda and Cloud Functions), log groups `/aws/lambda/<function>`,
  layers `<function>-deps`.
- GCP service account ids (6-30 characters) cannot hold a prefix and a 31-character endpoint, so they are
  `<initials>-<endpoint part>-<hash8>` with the hash over (project, stack, kind, endpoint): the build account
  and the runtime account of an endpoint named `build` hash different inputs and differ.

Limits (each with its source; `tests/infra/provider_rules.py` enforces the same ones under the mock engine):
- Lambda function name <= 64, `[A-Za-z0-9_-]+`: terraform-provider-aws internal/service/lambda/validate.go,
  `validFunctionName` (the name part of an ARN "less than or equal to 64").
- Cloud Functions (2nd gen) name <= 63, `[a-z]([-a-z0-9]*[a-z0-9])?`: the Cloud Functions API (function names
  are RFC 1035 labels; the SDK docstring, pulumi_gcp/cloudfunctionsv2/function.py line 57, defers to it). The
  Cloud Run service the function runs on takes the same name.
- Service account id 6-30, `^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$`: pulumi_gcp/serviceaccount/account.py line 32
  ("must be 6-30 characters long ... to comply with RFC1035"); magic-modules `ValidateRFC1035Name(6, 30)`.
- CloudWatch log group name <= 512, `[0-9A-Za-z_./#-]+`: validate.go `validLogGroupName`.
- Lambda layer name <= 140, `[A-Za-z0-9_-]+`: the Lambda PublishLayerVersion API (LayerName).
- Pub/Sub topic and subscription names 3-255, a letter first, then `[A-Za-z0-9-_.~+%]`, not starting with `goog`:
  the Pub/Sub API's resource names (cloud.google.com/pubsub/docs/pubsub-basics, "Resource names"; the SDK,
  pulumi_gcp/pubsub/topic.py:70 and subscription.py:122, defers to it). `refresh: pointer` endpoints get a topic
  `<prefix>-<endpoint>-refresh` and a push subscription `<prefix>-<endpoint>-refresh-push` (prefixed `s-` in the
  unlikely case that the stack prefix itself starts with `goog`).
- The GCP publisher's service account (`publisher: true`) is `<initials>-publisher-<hash8>`, hashed over its own
  kind, so an endpoint named `publisher` has another runtime account id.
- Alarms (`alarms: true`, infra/aws_alarms.py and infra/gcp_alarms.py). CloudWatch alarm names
  `<prefix>-<endpoint>-<kind>` (kinds: ALARM_KINDS) and `<prefix>-api-5xx`, 1-255 characters, unique per account and
  region: TF-AWS internal/service/cloudwatch/metric_alarm.go alarm_name StringLenBetween(1, 255) (PutMetricAlarm
  overwrites an alarm of the same name, so the prefix keeps stacks apart). No kind is a `-`-suffix of another or ends
  in `5xx`, so no two endpoints' alarm names and the API's can meet. The SNS topic `<prefix>-alarms`: 1-256
  `[A-Za-z0-9_-]` (SDK pulumi_aws/sns/topic.py, name). The CloudWatch metric namespace `serverless-models/<prefix>`
  (<= 255, no `:` `*` `$`: TF-AWS logs/validate.go validLogMetricFilterTransformationName), so two stacks' endpoints
  of one name publish to different metrics. Log metric filters (CloudWatch) and log-based metrics (Cloud Logging)
  `<prefix>-<endpoint>-out-of-range` and `<prefix>-<endpoint>-throttled`: <= 100 characters of
  `[A-Za-z0-9_.,+!*'()%/-]`, not starting with `/` (SDK pulumi_gcp/logging/metric.py, name), well within
  CloudWatch's 512 without `:` or `*` (TF-AWS logs/validate.go validLogMetricFilterName).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

LAMBDA_FUNCTION_NAME_MAX = 64
GCF_FUNCTION_NAME_MAX = 63
ENDPOINT_NAME_MAX = 31  # smodels.config.NAME_RE: [a-z][a-z0-9-]{0,30}
FUNCTION_NAME_MAX = min(LAMBDA_FUNCTION_NAME_MAX, GCF_FUNCTION_NAME_MAX)
PREFIX_MAX = FUNCTION_NAME_MAX - 1 - ENDPOINT_NAME_MAX  # 31
SERVICE_ACCOUNT_ID_MIN, SERVICE_ACCOUNT_ID_MAX = 6, 30
LOG_GROUP_NAME_MAX = 512
LAYER_NAME_MAX = 140
HASH_CHARS = 8
INITIALS_MAX = 4

SERVICE_ACCOUNT_ID_RE = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
GCF_FUNCTION_NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
LAMBDA_FUNCTION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PUBSUB_NAME_MIN, PUBSUB_NAME_MAX = 3, 255
PUBSUB_NAME_RE = re.compile(r"^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
ALARM_NAME_MAX = 255
# The per-endpoint alarm kinds (the suffix of each CloudWatch alarm name) and the API's one.
ALARM_KINDS = ("errors", "throttles", "p99-duration", "out-of-range")
API_ALARM_KIND = "5xx"
ALARM_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
LOG_METRIC_NAME_MAX = 100
LOG_METRIC_NAME_RE = re.compile(r"^[A-Za-z0-9_.,+!*'()%-][A-Za-z0-9_.,+!*'()%/-]{0,99}$")
METRIC_NAMESPACE_ROOT = "serverless-models"
LOG_METRICS = ("out-of-range", "throttled")

BUILD_KIND, RUNTIME_KIND, PUBLISHER_KIND = "build", "runtime", "publisher"


def _slug(text: str) -> str:
    """Lower-case letters, digits and single dashes, no dash at either end."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")


def _digest(*parts: str) -> str:
    """The first HASH_CHARS hex digits of sha256 over `parts` (NUL-separated, so ("a-b", "c") != ("a", "b-c"))."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:HASH_CHARS]


def _initials(project: str) -> str:
    """`serverless-models` -> `sm`: the first letter of each word of the project name, starting with a letter."""
    words = [w for w in re.split(r"[^a-z0-9]+", project.lower()) if w]
    letters = "".join(w[0] for w in words)[:INITIALS_MAX]
    return letters if letters[:1].isalpha() else ("s" + letters)[:INITIALS_MAX]


def _cut(text: str, n: int) -> str:
    return text[:n].rstrip("-") if n > 0 else ""


@dataclass(frozen=True)
class StackNames:
    """The physical names of one stack (`project`, `stack` are Pulumi's names, as given)."""

    project: str
    stack: str

    @property
    def initials(self) -> str:
        return _initials(self.project)

    @property
    def prefix(self) -> str:
        """`<initials>-<stack slug>-<hash8>`, at most PREFIX_MAX characters, unique per (project, stack)."""
        digest = _digest("prefix", self.project, self.stack)
        room = PREFIX_MAX - len(self.initials) - len(digest) - 2
        stack = _cut(_slug(self.stack), room)
        return "-".join(p for p in (self.initials, stack, digest) if p)

    def function(self, endpoint: str) -> str:
        """Lambda function and Cloud Function name of `endpoint` (the same on both clouds)."""
        return f"{self.prefix}-{endpoint}"

    def log_group(self, endpoint: str) -> str:
        """The Lambda function's log group (the name Lambda itself would use)."""
        return f"/aws/lambda/{self.function(endpoint)}"

    def layer(self, endpoint: str) -> str:
        """The Lambda layer holding the endpoint's dependencies."""
        return f"{self.function(endpoint)}-deps"

    def _account_id(self, kind: str, label: str) -> str:
        digest = _digest("account", self.project, self.stack, kind, label)
        room = SERVICE_ACCOUNT_ID_MAX - len(self.initials) - len(digest) - 2
        middle = _cut(_slug(label), room) or kind[:1]
        return f"{self.initials}-{middle}-{digest}"

    def build_account_id(self) -> str:
        """The service account the Cloud Functions builds run as (one per stack)."""
        return self._account_id(BUILD_KIND, "build")

    def runtime_account_id(self, endpoint: str) -> str:
        """The service account `endpoint`'s Cloud Function runs as."""
        return self._account_id(RUNTIME_KIND, endpoint)

    def publisher_account_id(self) -> str:
        """The GCP service account `smodels publish` writes as (`publisher: true`, one per stack)."""
        return self._account_id(PUBLISHER_KIND, "publisher")

    def _pubsub(self, endpoint: str, suffix: str) -> str:
        name = f"{self.prefix}-{endpoint}-{suffix}"
        return f"s-{name}" if name.lower().startswith("goog") else name

    def refresh_topic(self, endpoint: str) -> str:
        """The Pub/Sub topic Cloud Storage notifies when `endpoint`'s pointer is written (`refresh: pointer`)."""
        return self._pubsub(endpoint, "refresh")

    def refresh_subscription(self, endpoint: str) -> str:
        """The push subscription that delivers `endpoint`'s refresh topic to its function (`refresh: pointer`)."""
        return self._pubsub(endpoint, "refresh-push")

    def alarm(self, endpoint: str, kind: str) -> str:
        """The CloudWatch alarm on `endpoint`'s `kind` (one of ALARM_KINDS)."""
        return f"{self.prefix}-{endpoint}-{kind}"

    def api_alarm(self, kind: str = API_ALARM_KIND) -> str:
        """The CloudWatch alarm on the stack's HTTP API (its 5xx responses)."""
        return f"{self.prefix}-api-{kind}"

    def alarm_topic(self) -> str:
        """The SNS topic the alarms notify (`alertEmail`)."""
        return f"{self.prefix}-alarms"

    def metric_namespace(self) -> str:
        """The CloudWatch namespace of the stack's own metrics (from its log lines)."""
        return f"{METRIC_NAMESPACE_ROOT}/{self.prefix}"

    def log_metric(self, endpoint: str, what: str) -> str:
        """A metric from `endpoint`'s logs: the CloudWatch Logs metric filter and the Cloud Logging log-based metric
        (`what`: `out-of-range`, `throttled`)."""
        return f"{self.prefix}-{endpoint}-{what}"

    def display_name(self, what: str) -> str:
        """A service account display name (<= 100 characters) that names the stack in full."""
        return f"serverless-models {self.project}/{self.stack} {what}"[:100]


def gcp_function_url(region: str, project: str, function: str) -> str:
    """The URL a 2nd-gen Cloud Function gets (its `url` output), known before it exists:
    `https://<region>-<project>.cloudfunctions.net/<function>`."""
    return f"https://{region}-{project}.cloudfunctions.net/{function}"


def stack_names(project: str, stack: str) -> StackNames:
    """The names of stack `stack` of project `project`."""
    return StackNames(project, stack)


def name_problems(project: str, stack: str, endpoints: Iterable[str], key: str) -> list[str]:
    """Every name of the stack that would break a provider limit or collide, each naming the config key.

    `endpoints` are the endpoint names the stack deploys; `key` is the config key they come from (e.g.
    `serverless-models:endpoints`). With the scheme above the list is empty for every valid endpoint name; it is
    the check that keeps it so (and catches a hash collision, however unlikely).
    """
    names = stack_names(project, stack)
    problems: list[str] = []
    accounts: dict[str, str] = {names.build_account_id(): "the build service account"}
    publisher = names.publisher_account_id()
    if publisher in accounts or not SERVICE_ACCOUNT_ID_RE.match(publisher):
        problems.append(f"{key}: the publisher service account id {publisher!r} is invalid or already used")
    accounts[publisher] = "the publisher service account"
    functions: dict[str, str] = {}
    alarms: dict[str, str] = {names.api_alarm(): "the HTTP API"}
    for ep in endpoints:
        ek = f"{key}.{ep}"
        fn = names.function(ep)
        if not (LAMBDA_FUNCTION_NAME_RE.match(fn) and len(fn) <= LAMBDA_FUNCTION_NAME_MAX):
            problems.append(f"{ek}: Lambda function name {fn!r} breaks the limit (<= 64, [A-Za-z0-9_-])")
        if not (GCF_FUNCTION_NAME_RE.match(fn) and len(fn) <= GCF_FUNCTION_NAME_MAX):
            problems.append(f"{ek}: Cloud Functions name {fn!r} breaks the limit (<= 63, [a-z][-a-z0-9]*[a-z0-9])")
        if len(names.log_group(ep)) > LOG_GROUP_NAME_MAX or len(names.layer(ep)) > LAYER_NAME_MAX:
            problems.append(f"{ek}: log group or layer name too long")
        if fn in functions:
            problems.append(f"{ek}: function name {fn!r} is also endpoint {functions[fn]!r}'s")
        functions[fn] = ep
        sa = names.runtime_account_id(ep)
        if not SERVICE_ACCOUNT_ID_RE.match(sa):
            problems.append(f"{ek}: service account id {sa!r} breaks the limit (6-30, [a-z][-a-z0-9]*[a-z0-9])")
        if sa in accounts:
            problems.append(f"{ek}: service account id {sa!r} is already {accounts[sa]}'s")
        accounts[sa] = f"endpoint {ep!r}"
        for pubsub in (names.refresh_topic(ep), names.refresh_subscription(ep)):
            if not PUBSUB_NAME_RE.match(pubsub):
                problems.append(f"{ek}: Pub/Sub name {pubsub!r} breaks the limit (3-255, a letter first, not goog)")
        for kind in ALARM_KINDS:
            alarm = names.alarm(ep, kind)
            if len(alarm) > ALARM_NAME_MAX:
                problems.append(f"{ek}: alarm name {alarm!r} is over {ALARM_NAME_MAX} characters")
            if alarm in alarms:
                problems.append(f"{ek}: alarm name {alarm!r} is also {alarms[alarm]}'s")
            alarms[alarm] = f"endpoint {ep!r}"
        for what in LOG_METRICS:
            metric = names.log_metric(ep, what)
            if not LOG_METRIC_NAME_RE.match(metric):
                problems.append(f"{ek}: log metric name {metric!r} breaks the limit (<= 100, [A-Za-z0-9_.,+!*'()%/-])")
    return problems
