"""The report's output: the aligned per-version table with unrouted failures and other events, or JSON."""

from __future__ import annotations

import json
from typing import Any

from smodels.rollout.stats import Summary

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


def render_json(summary: Summary, stack: str, where: str, since_seconds: float) -> str:
    """The JSON report: the stack, where the lines came from, the window, then the summary's figures."""
    report: dict[str, Any] = {"stack": stack, "source": where, "since_seconds": since_seconds, **summary.as_dict()}
    return json.dumps(report, indent=2)
