"""Parsing the function's structured log lines: our JSON object (bare or in a runtime wrapper) and its time."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any


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
