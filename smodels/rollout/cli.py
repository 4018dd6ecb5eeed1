"""`smodels rollout status`: its arguments, gathering the lines from the sources, and printing the report."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from smodels import client
from smodels.rollout.errors import RolloutError
from smodels.rollout.render import render_json, render_table
from smodels.rollout.sources import CLOUDS, aws_log_group, gcp_service, local_log_dir, read_aws, read_gcp, read_local
from smodels.rollout.stats import summarize

# The help text of `smodels rollout` and `smodels rollout status`.
DESCRIPTION = """\
`smodels rollout status`: how each model version serving an endpoint is doing, from the function's log lines.

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

_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """Seconds in a duration like `30s`, `15m`, `1h`, `2d` (an argparse `type`: errors name the flag)."""
    match = _SINCE_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration like 30m, 1h or 2d, got {text!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


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
        print(render_json(summary, args.stack, where, args.since))
    else:
        print(render_table(summary, f"endpoint {args.endpoint}, stack {args.stack}: {summary.lines} lines from "
                                    f"{where}, since {since}"))
    return 0


def _since_text(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= _UNIT_S[unit] and seconds % _UNIT_S[unit] == 0:
            return f"{int(seconds // _UNIT_S[unit])}{unit}"
    return f"{seconds:g}s"


def add_source_arguments(p: argparse.ArgumentParser, since: float, since_default: str) -> None:
    """ENDPOINT, --stack, --cloud, --local | --outputs-file and --since: where a command reads the log lines from
    (shared by `smodels rollout status` and `smodels drift`)."""
    p.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name, e.g. pred")
    p.add_argument("--stack", required=True, help="stack name (the local stack, or the deployed Pulumi stack)")
    p.add_argument("--cloud", choices=CLOUDS, help="only this cloud's lines (default: every cloud with ENDPOINT)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true",
                       help="read the log files of `smodels serve --stack STACK` instead of the cloud's logs")
    where.add_argument("--outputs-file", metavar="F",
                       help="read the deployed stack's outputs from F (`pulumi stack output --json`)")
    p.add_argument("--since", type=parse_since, default=since, metavar="DURATION",
                   help=f"lines of the last DURATION: 30m, 1h, 2d (default {since_default})")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `smodels rollout` (with its `status` sub-command) to the CLI."""
    rollout = subparsers.add_parser("rollout", help="how each model version of an endpoint is doing (from its logs)",
                                    description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = rollout.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND", required=True)
    p = commands.add_parser(
        "status", help="requests, errors, latency and output per model version (stable vs canary, old vs new)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(p, 3600.0, "1h; with --local only lines that carry a timestamp (Lambda's JSON log "
                         "wrapper) are filtered, the others are all read")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    p.add_argument("--project-dir", type=Path, default=Path("."),
                   help="directory holding Pulumi.yaml (and .build/local for --local; default .)")
    p.set_defaults(func=cmd_status)
