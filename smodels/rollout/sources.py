"""Where the log lines come from: local log files, CloudWatch Logs (AWS), Cloud Logging (GCP)."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from smodels.local_state import safe_name
from smodels.rollout.errors import RolloutError
from smodels.rollout.parse import _num, parse_line, to_epoch
from smodels.rollout.stats import COUNTED, _iso

CLOUDS = ("aws", "gcp")
AWS_FILTER_PATTERN = '{ ($.event = "prediction") || ($.event = "request_failed") }'
LOGGING_URL = "https://logging.googleapis.com"  # SMODELS_LOGGING_URL overrides it (tests: a loopback server)
LOGGING_SCOPE = "https://www.googleapis.com/auth/logging.read"
GCP_PAGE_SIZE = 1000
HTTP_TIMEOUT_S = 60.0


# -- local logs --------------------------------------------------------------------------------------------------


def local_log_dir(project_dir: Path, stack: str) -> Path:
    """The local stack's log directory: the state file's `logs`, else `<run dir>/logs`."""
    run_dir = (project_dir / ".build" / "local" / safe_name(stack)).resolve()
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
