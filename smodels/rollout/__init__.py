"""`smodels rollout status` from the function's log lines; re-exports the names of its parts (see cli.DESCRIPTION)."""

from __future__ import annotations

from smodels.rollout.cli import DESCRIPTION, cmd_status, collect, endpoint_outputs, parse_since, register
from smodels.rollout.errors import RolloutError
from smodels.rollout.parse import parse_line, to_epoch
from smodels.rollout.render import COLUMNS, EVENT_MESSAGE_MAX, render_json, render_table, table_rows
from smodels.rollout.sources import (
    AWS_FILTER_PATTERN,
    CLOUDS,
    GCP_PAGE_SIZE,
    HTTP_TIMEOUT_S,
    LOGGING_SCOPE,
    LOGGING_URL,
    aws_log_group,
    fetch_access_token,
    gcp_filter,
    gcp_service,
    local_log_dir,
    local_log_files,
    logging_url,
    project_name,
    read_aws,
    read_gcp,
    read_local,
)
from smodels.rollout.stats import ARM_ORDER, COUNTED, Summary, VersionStats, event_message, percentile, summarize

# Not re-exported: the hooks tests replace, `cli.now` and `sources.access_token_fetcher` (and `sources._boto3_logs`).
# Setting them here would not reach the code that calls them, so a test patching `smodels.rollout.now` fails loudly.
__all__ = [
    "ARM_ORDER", "AWS_FILTER_PATTERN", "CLOUDS", "COLUMNS", "COUNTED", "DESCRIPTION", "EVENT_MESSAGE_MAX",
    "GCP_PAGE_SIZE", "HTTP_TIMEOUT_S", "LOGGING_SCOPE", "LOGGING_URL", "RolloutError", "Summary", "VersionStats",
    "aws_log_group", "cmd_status", "collect", "endpoint_outputs", "event_message", "fetch_access_token", "gcp_filter",
    "gcp_service", "local_log_dir", "local_log_files", "logging_url", "parse_line", "parse_since", "percentile",
    "project_name", "read_aws", "read_gcp", "read_local", "register", "render_json", "render_table", "summarize",
    "table_rows", "to_epoch",
]
