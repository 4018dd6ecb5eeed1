"""The figures per (model, version, arm) from parsed log lines: counts, error rate, percentiles (pure, no I/O)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smodels.rollout.parse import _num

COUNTED = ("prediction", "request_failed")
ARM_ORDER = {"stable": 0, "canary": 1}


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
