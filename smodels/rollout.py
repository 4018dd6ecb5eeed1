"""`smodels rollout status`: how each model version serving an endpoint is doing, from the function's log lines.

    smodels rollout status ENDPOINT --stack STACK [--cloud aws|gcp] [--local] [--since 1h] [--json]
                                    [--outputs-file F] [--project-dir .]

Per (model name, model version, arm) -- stable vs canary, or the old vs the new version after a publish -- the
number of requests, errors and the error rate, latency p50/p99, rows, and the mean and p05/p50/p95 of the model's
output, side by side. The figures come from the structured lines the function writes on stdout (functions/app.py):

- `prediction` lines (`model`, `model_version`, `arm`, `rows`, `latency_ms`, `output.mean`): one per answered
  request; a line without `arm` (an older function) counts as `stable`;
- `request_failed` lines: an error of the version named by its `model`/`model_version`/`arm`, or, without them
  (rejected before routing, e.g. a body that is not JSON), of the separate "unrouted" line;
- any other event (model_loaded, canary_unavailable, ...): counted, with its last message (mostly seen locally:
  the cloud queries ask for the two events above only).

Figures (deterministic for the same lines): error rate = errors / (predictions + errors); latency percentiles are
over the answered requests (`prediction` lines); the output mean is row-weighted (fsum of mean x rows / rows);
p05/p50/p95 are over the per-request `output.mean`. Percentiles are nearest-rank on the sorted values.

Where the lines come from:
- `--local`: the files a running (or stopped) `smodels serve --stack STACK` wrote, `<run dir>/logs/aws-<ep>-<i>.log`
  and `gcp-<ep>.log` (the state file's `logs`, else `<project-dir>/.build/local/<stack>/logs`);
- AWS: CloudWatch Logs of the function's log group (stack output `endpoints.aws.<ep>.log_group`, else the name
  `infra.names` gives the stack), region from the endpoint URL, credentials as for the AWS CLI;
- GCP: Cloud Logging entries of the Cloud Run service (`endpoints.gcp.<ep>.service`), with Application Default
  Credentials or `gcloud auth print-access-token` (role roles/logging.viewer).
Without --cloud, every cloud deploying ENDPOINT is read and the lines merged (the CLOUDS column says which).

Exit status: 0 with a report; 1 when no prediction/request_failed line is found or the logs cannot be read
(missing credentials, no log group, ...); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smodels import client
from smodels.local.stack import _safe_name

CLOUDS = ("aws", "gcp")
COUNTED = ("prediction", "request_failed")
ARM_ORDER = {"stable": 0, "canary": 1}
AWS_FILTER_PATTERN = '{ ($.event = "prediction") || ($.event = "request_failed") }'
LOGGING_URL = "https://logging.googleapis.com"  # SMODELS_LOGGING_URL overrides it (tests: a loopback server)
LOGGING_SCOPE = "https://www.googleapis.com/auth/logging.read"
GCP_PAGE_SIZE = 1000
HTTP_TIMEOUT_S = 60.0
_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RolloutError(Exception):
    """An expected failure; the message says what to do. `exit_code` 2 for bad arguments, else 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- parsing -------------------------------------------------------------------------------------------------


def parse_since(text: str) -> float:
    """Seconds in a duration like `30s`, `15m`, `1h`, `2d` (an argparse `type`: errors name the flag)."""
    match = _SINCE_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration like 30m, 1h or 2d, got {text!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def parse_line(text: str) -> dict[str, Any] | None:
    """Our JSON object from one log line: the object itself, or one a runtime wrapper holds in `message`.

    The wrapper's `timestamp` is kept as `_ts` (epoch seconds) when our object has none. None for anything else
    (plain text, JSON that is not an object with a string `event`).
    """
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("event"), str):
        return _with_time(obj, obj)
    inner = obj.get("message")
    if isinstance(inner, str):
        inner = parse_line(inner)
    if isinstance(inner, dict) and isinstance(inner.get("event"), str):
        return _with_time(inner, obj)
    return None


def _with_time(record: dict[str, Any], carrier: dict[str, Any]) -> dict[str, Any]:
    """`record` with `_ts` from its own or its carrier's `timestamp`/`time`, when one parses."""
    if "_ts" in record:
        return record
    for source in (record, carrier):
        for key in ("timestamp", "time"):
            ts = to_epoch(source.get(key))
            if ts is not None:
                return {**record, "_ts": ts}
    return record


def to_epoch(value: Any) -> float | None:
    """Epoch seconds from an RFC 3339 string, or epoch seconds/milliseconds; None when it is neither."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    number = _num(value)
    if number is None or number <= 0:
        return None
    return number / 1000 if number > 1e11 else number


def _num(value: Any) -> float | None:
    """`value` as a finite float; None for booleans, non-numbers, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# -- figures (pure) ------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank `p`th percentile (0 < p <= 100) of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class VersionStats:
    """What the lines say about one (model, version, arm)."""

    model: str
    version: str
    arm: str
    order: int
    predictions: int = 0
    errors: int = 0
    rows: int = 0
    errors_by: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    weighted: list[float] = field(default_factory=list)  # output.mean x rows, for the row-weighted mean
    weighted_rows: int = 0
    clouds: set[str] = field(default_factory=set)
    first_ts: float | None = None
    last_ts: float | None = None

    def add_prediction(self, record: dict[str, Any]) -> None:
        """Count one `prediction` line."""
        self.predictions += 1
        rows = _num(record.get("rows"))
        rows_i = int(rows) if rows is not None and rows >= 0 else 1
        self.rows += rows_i
        latency = _num(record.get("latency_ms"))
        if latency is not None:
            self.latencies.append(latency)
        output = record.get("output")
        mean = _num(output.get("mean")) if isinstance(output, dict) else None
        if mean is not None:
            self.means.append(mean)
            self.weighted.append(mean * rows_i)
            self.weighted_rows += rows_i

    def add_error(self, record: dict[str, Any]) -> None:
        """Count one `request_failed` line routed to this version."""
        self.errors += 1
        key = _error_key(record)
        self.errors_by[key] = self.errors_by.get(key, 0) + 1

    def seen(self, record: dict[str, Any]) -> None:
        """Note the cloud and the time of a line of this version."""
        if isinstance(record.get("_cloud"), str):
            self.clouds.add(record["_cloud"])
        ts = _num(record.get("_ts"))
        if ts is not None:
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)

    def as_dict(self) -> dict[str, Any]:
        """The JSON figures of this version."""
        lat, means = sorted(self.latencies), sorted(self.means)
        requests = self.predictions + self.errors
        return {
            "model": self.model, "version": self.version, "arm": self.arm, "clouds": sorted(self.clouds),
            "requests": requests, "predictions": self.predictions, "errors": self.errors,
            "error_rate": self.errors / requests if requests else None,
            "errors_by": dict(sorted(self.errors_by.items())), "rows": self.rows,
            "latency_ms": {"p50": percentile(lat, 50), "p99": percentile(lat, 99)},
            "output": {"mean": math.fsum(self.weighted) / self.weighted_rows if self.weighted_rows else None,
                       "p05": percentile(means, 5), "p50": percentile(means, 50), "p95": percentile(means, 95)},
            "first_seen": _iso(self.first_ts), "last_seen": _iso(self.last_ts),
        }


def _error_key(record: dict[str, Any]) -> str:
    """`503 model_unavailable` from a `request_failed` line."""
    status, error = record.get("status"), record.get("error")
    return " ".join(str(p) for p in (status, error) if p is not None) or "unknown"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


@dataclass
class Summary:
    """Every figure of one endpoint's lines: per version, the unrouted failures, the other events."""

    endpoint: str
    versions: dict[tuple[str, str, str], VersionStats] = field(default_factory=dict)
    unrouted: dict[str, int] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: int = 0

    @property
    def counted(self) -> int:
        """How many prediction and request_failed lines there were (routed or not)."""
        return sum(v.predictions + v.errors for v in self.versions.values()) + sum(self.unrouted.values())

    def ordered(self) -> list[VersionStats]:
        """Versions stable before canary, then in the order first seen (by time when lines carry one)."""
        return sorted(self.versions.values(), key=lambda v: (
            ARM_ORDER.get(v.arm, 2), v.arm, v.first_ts if v.first_ts is not None else math.inf, v.order))

    def as_dict(self) -> dict[str, Any]:
        """The JSON report body."""
        return {
            "endpoint": self.endpoint, "lines": self.lines,
            "versions": [v.as_dict() for v in self.ordered()],
            "unrouted": {"errors": sum(self.unrouted.values()), "errors_by": dict(sorted(self.unrouted.items()))},
            "events": {k: self.events[k] for k in sorted(self.events)},
        }


def summarize(records: Iterable[dict[str, Any]], endpoint: str) -> Summary:
    """The figures of `endpoint` from parsed log lines (dicts with `event`; other endpoints' lines are skipped).

    Readers may add `_cloud` ("aws"/"gcp") and `_ts` (epoch seconds) to a record; both are optional.
    """
    summary = Summary(endpoint)
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("event"), str):
            continue
        if "endpoint" in record and record["endpoint"] != endpoint:
            continue
        summary.lines += 1
        _count(summary, record)
    return summary


def _count(summary: Summary, record: dict[str, Any]) -> None:
    """Add one line of this endpoint to `summary`."""
    event = record["event"]
    if event not in COUNTED:
        _count_event(summary, record)
        return
    if event == "request_failed" and record.get("model") is None:
        key = _error_key(record)
        summary.unrouted[key] = summary.unrouted.get(key, 0) + 1
        return
    stats = _stats_for(summary, record)
    stats.seen(record)
    if event == "prediction":
        stats.add_prediction(record)
    else:
        stats.add_error(record)


def _stats_for(summary: Summary, record: dict[str, Any]) -> VersionStats:
    """The `VersionStats` of the line's (model, model_version, arm), created on first sight."""
    key = (_text(record.get("model")), _text(record.get("model_version")), _text(record.get("arm")) or "stable")
    stats = summary.versions.get(key)
    if stats is None:
        stats = summary.versions[key] = VersionStats(*key, order=len(summary.versions))
    return stats


def _count_event(summary: Summary, record: dict[str, Any]) -> None:
    """Count another event and keep its last message."""
    entry = summary.events.setdefault(record["event"], {"count": 0, "last": ""})
    entry["count"] += 1
    entry["last"] = event_message(record)


def event_message(record: dict[str, Any]) -> str:
    """A line's message: its `message`, `reason` or `error` field, else its other fields as compact JSON."""
    for key in ("message", "reason", "error"):
        if isinstance(record.get(key), str) and record[key]:
            return record[key]
    rest = {k: v for k, v in record.items() if k not in ("event", "endpoint") and not k.startswith("_")}
    return json.dumps(rest, separators=(",", ":"), sort_keys=True, default=str)


# -- the report ------------------------------------------------------------------------------------------------

COLUMNS = ("MODEL", "VERSION", "ARM", "CLOUDS", "REQUESTS", "ERRORS", "ERR%", "P50_MS", "P99_MS", "ROWS",
           "OUT_MEAN", "OUT_P05", "OUT_P50", "OUT_P95")
EVENT_MESSAGE_MAX = 100


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table_rows(summary: Summary) -> list[tuple[str, ...]]:
    """The table's rows (header first): one per (model, version[:12], arm)."""
    rows = [COLUMNS]
    for v in summary.ordered():
        d = v.as_dict()
        rate = d["error_rate"]
        rows.append((
            v.model or "-", v.version[:12] or "-", v.arm, ",".join(d["clouds"]) or "-", str(d["requests"]),
            str(v.errors), _fmt(None if rate is None else rate * 100, ".2f"),
            _fmt(d["latency_ms"]["p50"], ".3f"), _fmt(d["latency_ms"]["p99"], ".3f"), str(v.rows),
            *(_fmt(d["output"][k], ".4f") for k in ("mean", "p05", "p50", "p95")),
        ))
    return rows


def render_table(summary: Summary, heading: str) -> str:
    """The readable report: a heading, the aligned per-version table, unrouted failures, other events."""
    rows = table_rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    numeric = set(range(4, len(COLUMNS)))
    lines = [heading, ""]
    for row in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    unrouted = sum(summary.unrouted.values())
    detail = ", ".join(f"{k}: {n}" for k, n in sorted(summary.unrouted.items()))
    lines += ["", f"unrouted (failed before a model was chosen): {unrouted}" + (f" ({detail})" if detail else "")]
    if summary.events:
        lines += ["", "events:"]
        width = max(len(k) for k in summary.events)
        for name in sorted(summary.events):
            entry = summary.events[name]
            message = _shorten(entry["last"], EVENT_MESSAGE_MAX)
            lines.append(f"  {name.ljust(width)}  {entry['count']:>6}  last: {message}")
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- local logs --------------------------------------------------------------------------------------------------


def local_log_dir(project_dir: Path, stack: str) -> Path:
    """The local stack's log directory: the state file's `logs`, else `<run dir>/logs`."""
    run_dir = (project_dir / ".build" / "local" / _safe_name(stack)).resolve()
    try:
        state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    logs = state.get("logs") if isinstance(state, dict) else None
    return Path(logs) if isinstance(logs, str) and logs else run_dir / "logs"


def local_log_files(log_dir: Path, endpoint: str, clouds: Iterable[str]) -> list[tuple[str, Path]]:
    """(cloud, path) of every log file of `endpoint` in `log_dir` (never another endpoint's, e.g. `pred-v2`)."""
    patterns = {"aws": re.compile(rf"^aws-{re.escape(endpoint)}-\d+\.log$"),
                "gcp": re.compile(rf"^gcp-{re.escape(endpoint)}\.log$")}
    wanted = [c for c in CLOUDS if c in set(clouds)]
    try:
        names = sorted(log_dir.iterdir())
    except OSError as exc:
        raise RolloutError(f"cannot list {log_dir}: {exc.strerror or exc}") from None
    return [(c, path) for path in names for c in wanted if patterns[c].match(path.name) and path.is_file()]


def read_local(log_dir: Path, endpoint: str, clouds: Iterable[str], since_ts: float) -> Iterator[dict[str, Any]]:
    """Parsed lines of the local log files; a line with a timestamp before `since_ts` is skipped."""
    if not log_dir.is_dir():
        raise RolloutError(f"no log directory {log_dir}: start the stack with `smodels serve --stack ...` in this "
                           "--project-dir (or check --stack)")
    for cloud, path in local_log_files(log_dir, endpoint, clouds):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for text in fh:
                    record = parse_line(text)
                    if record is not None and not _before(record, since_ts):
                        yield {**record, "_cloud": cloud}
        except OSError as exc:
            raise RolloutError(f"cannot read {path}: {exc.strerror or exc}") from None


def _before(record: dict[str, Any], since_ts: float) -> bool:
    ts = _num(record.get("_ts"))
    return ts is not None and ts < since_ts


# -- AWS -------------------------------------------------------------------------------------------------------


def project_name(project_dir: Path) -> str:
    """The Pulumi project name (`name:` of Pulumi.yaml in `project_dir`)."""
    import yaml

    path = project_dir / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RolloutError(f"cannot read {path} ({exc}): pass --project-dir, the directory holding Pulumi.yaml",
                           2) from None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise RolloutError(f"{path} has no `name`", 2)
    return name


def aws_log_group(info: dict[str, Any], endpoint: str, stack: str, project_dir: Path) -> str:
    """The endpoint's log group: the stack output `log_group`, else the name infra.names gives the stack."""
    if isinstance(info.get("log_group"), str) and info["log_group"]:
        return info["log_group"]
    from infra.names import stack_names

    # Pulumi names the stack `dev` inside the program, whatever `org/project/dev` the CLI was given.
    return stack_names(project_name(project_dir), stack.rsplit("/", 1)[-1]).log_group(endpoint)


def read_aws(log_group: str, region: str | None, start_ts: float, logs_client: Any = None) -> Iterator[dict[str, Any]]:
    """Parsed prediction/request_failed lines of `log_group` since `start_ts` (CloudWatch Logs, paginated)."""
    import botocore.exceptions

    try:
        logs = logs_client or _boto3_logs(region)
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=log_group, startTime=int(start_ts * 1000), filterPattern=AWS_FILTER_PATTERN)
        for page in pages:
            for event in page.get("events", []):
                record = parse_line(event.get("message") or "")
                if record is not None and record["event"] in COUNTED:
                    ts = to_epoch(event.get("timestamp"))
                    yield {**record, "_cloud": "aws", **({"_ts": ts} if ts is not None and "_ts" not in record else {})}
    except botocore.exceptions.NoCredentialsError:
        raise RolloutError("no AWS credentials: run `aws configure` or set AWS_PROFILE / AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY") from None
    except botocore.exceptions.NoRegionError:
        raise RolloutError("cannot tell the AWS region: set AWS_REGION (the endpoint URL names none)") from None
    except botocore.exceptions.ClientError as exc:
        raise RolloutError(_aws_problem(exc, log_group)) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise RolloutError(f"cannot read CloudWatch Logs: {exc}") from None


def _boto3_logs(region: str | None) -> Any:
    import boto3

    return boto3.client("logs", region_name=region) if region else boto3.client("logs")


def _aws_problem(exc: Any, log_group: str) -> str:
    """One line for a CloudWatch Logs API error."""
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    if code == "ResourceNotFoundException":
        return f"log group {log_group} not found: has the function been invoked yet (or is --stack the right one)?"
    if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
        return f"CloudWatch Logs refused ({code}: {message}): your AWS identity needs logs:FilterLogEvents"
    return f"CloudWatch Logs: {code or 'error'}: {message}"


# -- GCP -------------------------------------------------------------------------------------------------------


def gcp_service(info: dict[str, Any], endpoint: str) -> tuple[str, str]:
    """(project, Cloud Run service name) from the output `service` ("projects/<p>/locations/<r>/services/<s>")."""
    parts = str(info.get("service") or "").split("/")
    if len(parts) < 6 or parts[0] != "projects" or not parts[1] or not parts[-1]:
        raise RolloutError(f"the stack outputs have no usable endpoints.gcp.{endpoint}.service "
                           f"({info.get('service')!r}): deploy with this version of the program", 2)
    return parts[1], parts[-1]


def fetch_access_token() -> str:
    """An OAuth access token for Cloud Logging: Application Default Credentials, else `gcloud`."""
    from smodels.client import google_token

    token, problem = google_token(scopes=(LOGGING_SCOPE,))
    if token is None:
        raise RolloutError(f"no Google access token for Cloud Logging ({problem}): run `gcloud auth "
                           "application-default login` (your account needs roles/logging.viewer)")
    return token


# Replaced in tests; called with no argument, returns an access token.
access_token_fetcher: Callable[[], str] = fetch_access_token


def logging_url() -> str:
    """The Cloud Logging base URL: $SMODELS_LOGGING_URL, else LOGGING_URL."""
    return (os.environ.get("SMODELS_LOGGING_URL") or LOGGING_URL).rstrip("/")


def gcp_filter(service: str, start_ts: float) -> str:
    """The Cloud Logging filter: the service's prediction and request_failed entries since `start_ts`."""
    since = _iso(start_ts)
    return (f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" AND '
            f'(jsonPayload.event="prediction" OR jsonPayload.event="request_failed") AND timestamp>="{since}"')


def read_gcp(project: str, service: str, start_ts: float,
             token_fetcher: Callable[[], str] | None = None) -> Iterator[dict[str, Any]]:
    """Parsed prediction/request_failed entries of the Cloud Run service since `start_ts` (entries:list, paged)."""
    token = (token_fetcher or access_token_fetcher)()
    body: dict[str, Any] = {"resourceNames": [f"projects/{project}"], "filter": gcp_filter(service, start_ts),
                            "pageSize": GCP_PAGE_SIZE, "orderBy": "timestamp asc"}
    seen_tokens: set[str] = set()
    while True:
        page = _post_json(f"{logging_url()}/v2/entries:list", body, token)
        for entry in page.get("entries") or []:
            record = _entry_record(entry)
            if record is not None:
                yield record
        next_token = page.get("nextPageToken")
        if not isinstance(next_token, str) or not next_token or next_token in seen_tokens:
            return
        seen_tokens.add(next_token)
        body = {**body, "pageToken": next_token}


def _entry_record(entry: Any) -> dict[str, Any] | None:
    """Our object from a log entry's `jsonPayload` (or a `textPayload` holding it), with cloud and time."""
    if not isinstance(entry, dict):
        return None
    payload = entry.get("jsonPayload")
    if isinstance(payload, dict):
        record = parse_line(json.dumps(payload))
    else:
        record = parse_line(entry["textPayload"]) if isinstance(entry.get("textPayload"), str) else None
    if record is None or record["event"] not in COUNTED:
        return None
    ts = to_epoch(entry.get("timestamp"))
    return {**record, "_cloud": "gcp", **({"_ts": ts} if ts is not None and "_ts" not in record else {})}


def _post_json(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """POST `body` as JSON with a bearer token; the JSON answer, or a RolloutError saying what went wrong."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise RolloutError(_gcp_problem(exc.code, exc.read())) from None
    except (OSError, ValueError) as exc:
        raise RolloutError(f"cannot read Cloud Logging at {url}: {exc}") from None
    if not isinstance(data, dict):
        raise RolloutError(f"Cloud Logging at {url} answered something other than a JSON object")
    return data


def _gcp_problem(status: int, raw: bytes) -> str:
    """One line for a Cloud Logging HTTP error."""
    try:
        message = json.loads(raw)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = raw[:200].decode("utf-8", "replace").strip()
    if status in (401, 403):
        return (f"Cloud Logging refused ({status}: {message}): your account needs roles/logging.viewer on the "
                "project (`gcloud auth application-default login`)")
    return f"Cloud Logging answered {status}: {message}"


# -- the command -----------------------------------------------------------------------------------------------


def endpoint_outputs(outputs: dict[str, Any], endpoint: str, cloud: str | None) -> dict[str, dict[str, Any]]:
    """{cloud: endpoint outputs} of every cloud deploying `endpoint` (only `cloud`'s when given)."""
    clouds = outputs.get("endpoints") or {}
    found = {c: (clouds.get(c) or {}).get(endpoint) for c in ([cloud] if cloud else CLOUDS)}
    found = {c: info for c, info in found.items() if isinstance(info, dict)}
    if not found:
        known = sorted(f"{c}:{n}" for c, eps in clouds.items() if isinstance(eps, dict) for n in eps)
        where = f" on {cloud}" if cloud else ""
        raise RolloutError(f"no endpoint {endpoint!r}{where} in the stack outputs; deployed: "
                           f"{', '.join(known) or 'none'}", 2)
    return found


def collect(args: argparse.Namespace, start_ts: float) -> tuple[list[dict[str, Any]], str]:
    """Every parsed line the arguments point at, and where they came from (for the heading)."""
    clouds = [args.cloud] if args.cloud else list(CLOUDS)
    if args.local:
        log_dir = local_log_dir(args.project_dir, args.stack)
        return list(read_local(log_dir, args.endpoint, clouds, start_ts)), f"local logs in {log_dir}"
    try:
        outputs = client.read_outputs(args.outputs_file, args.stack, args.project_dir)
    except client.ClientError as exc:
        raise RolloutError(str(exc).replace("--outputs", "--outputs-file"), 2) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RolloutError(f"`pulumi stack output --json` did not finish ({exc}); pass --outputs-file F") from None
    records: list[dict[str, Any]] = []
    where = []
    for cloud, info in endpoint_outputs(outputs, args.endpoint, args.cloud).items():
        if cloud == "aws":
            group = aws_log_group(info, args.endpoint, args.stack, args.project_dir)
            records += read_aws(group, client.region_from_url(str(info.get("url") or "")), start_ts)
            where.append(f"CloudWatch {group}")
        else:
            project, service = gcp_service(info, args.endpoint)
            records += read_gcp(project, service, start_ts)
            where.append(f"Cloud Logging {project}/{service}")
    return records, ", ".join(where)


def now() -> float:
    """The current time in epoch seconds (replaced in tests that need a fixed clock)."""
    return time.time()


def cmd_status(args: argparse.Namespace) -> int:
    """Run `smodels rollout status`; prints the table (or JSON) and returns the exit code."""
    start_ts = now() - args.since
    try:
        records, where = collect(args, start_ts)
    except RolloutError as exc:
        print(f"smodels rollout status: {exc}", file=sys.stderr)
        return exc.exit_code
    summary = summarize(records, args.endpoint)
    since = _since_text(args.since)
    if not summary.counted:
        print(f"smodels rollout status: no prediction or request_failed line for endpoint {args.endpoint!r} in "
              f"{where} (since {since}); send it some requests, or widen --since", file=sys.stderr)
        return 1
    if args.json:
        report = {"stack": args.stack, "source": where, "since_seconds": args.since, **summary.as_dict()}
        print(json.dumps(report, indent=2))
    else:
        print(render_table(summary, f"endpoint {args.endpoint}, stack {args.stack}: {summary.lines} lines from "
                                    f"{where}, since {since}"))
    return 0


def _since_text(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= _UNIT_S[unit] and seconds % _UNIT_S[unit] == 0:
            return f"{int(seconds // _UNIT_S[unit])}{unit}"
    return f"{seconds:g}s"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `smodels rollout` (with its `status` sub-command) to the CLI."""
    rollout = subparsers.add_parser("rollout", help="how each model version of an endpoint is doing (from its logs)",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = rollout.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND", required=True)
    p = commands.add_parser(
        "status", help="requests, errors, latency and output per model version (stable vs canary, old vs new)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name, e.g. pred")
    p.add_argument("--stack", required=True, help="stack name (the local stack, or the deployed Pulumi stack)")
    p.add_argument("--cloud", choices=CLOUDS, help="only this cloud's lines (default: every cloud with ENDPOINT)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true",
                       help="read the log files of `smodels serve --stack STACK` instead of the cloud's logs")
    where.add_argument("--outputs-file", metavar="F",
                       help="read the deployed stack's outputs from F (`pulumi stack output --json`)")
    p.add_argument("--since", type=parse_since, default=3600.0, metavar="DURATION",
                   help="lines of the last DURATION: 30m, 1h, 2d (default 1h); with --local only lines that carry "
                        "a timestamp (Lambda's JSON log wrapper) are filtered, the others are all read")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    p.add_argument("--project-dir", type=Path, default=Path("."),
                   help="directory holding Pulumi.yaml (and .build/local for --local; default .)")
    p.set_defaults(func=cmd_status)
