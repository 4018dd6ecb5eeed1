"""Log lines for the `smodels rollout status` tests: the shapes functions/app.py writes, built field by field."""

from __future__ import annotations

import json
from typing import Any

OLD = "a" * 64
NEW = "b" * 64
CANARY = "c" * 64


def prediction(version: str = OLD, *, mean: float = 0.5, latency: float = 1.0, rows: int = 1,
               arm: str | None = "stable", endpoint: str = "pred", model: str = "games") -> dict[str, Any]:
    """A `prediction` line (without `arm` when `arm` is None, like an older function)."""
    line: dict[str, Any] = {"event": "prediction", "endpoint": endpoint, "model": model, "model_version": version}
    if arm is not None:
        line["arm"] = arm
    line.update({"rows": rows, "latency_ms": latency, "out_of_range": 0,
                 "output": {"mean": mean, "min": mean, "max": mean}})
    return line


def failed(version: str | None = OLD, *, status: int = 503, error: str = "model_unavailable", arm: str = "stable",
           endpoint: str = "pred", model: str = "games", latency: float = 1.2) -> dict[str, Any]:
    """A `request_failed` line; routed to `version`, or unrouted when `version` is None."""
    line: dict[str, Any] = {"event": "request_failed", "endpoint": endpoint, "status": status, "error": error,
                            "latency_ms": latency}
    if version is not None:
        line.update({"model": model, "model_version": version, "arm": arm})
    return line


def event(name: str, endpoint: str = "pred", **fields: Any) -> dict[str, Any]:
    """Any other event line."""
    return {"event": name, "endpoint": endpoint, **fields}


def dumps(line: dict[str, Any]) -> str:
    """The line as the function writes it (compact JSON)."""
    return json.dumps(line, separators=(",", ":"))


def lambda_wrapped(line: dict[str, Any], timestamp: str = "2030-01-01T00:00:00.000Z") -> str:
    """The line inside the Lambda runtime's JSON log wrapper (`message` holds our JSON as a string)."""
    return json.dumps({"timestamp": timestamp, "level": "INFO", "message": dumps(line), "requestId": "r-1"})


def mixed_lines() -> list[dict[str, Any]]:
    """An old stable version, a new stable version after a publish, and a canary, with errors of each kind.

    old (stable):    means 0.1 0.2 0.3 0.4 (rows 1 1 1 1), latencies 1 2 3 4, one 503 -> 5 requests
    new (stable):    means 0.5 0.7 (rows 2 1), latencies 10 20, arm missing on one line
    canary:          mean 0.9 (rows 3), latency 5, two 500s -> 3 requests, error rate 2/3
    unrouted:        two 400 invalid_json; other endpoints' lines and other events are mixed in
    """
    return [
        event("model_loaded", model="games", sha256=OLD),
        prediction(OLD, mean=0.1, latency=1.0),
        prediction(OLD, mean=0.2, latency=2.0),
        failed(None, status=400, error="invalid_json"),
        prediction(OLD, mean=0.3, latency=3.0),
        prediction("f" * 64, endpoint="other", mean=99.0),
        failed(OLD),
        prediction(OLD, mean=0.4, latency=4.0),
        prediction(CANARY, arm="canary", mean=0.9, latency=5.0, rows=3),
        failed(CANARY, arm="canary", status=500, error="internal"),
        failed(CANARY, arm="canary", status=500, error="internal"),
        event("canary_unavailable", reason="sha256 mismatch"),
        prediction(NEW, mean=0.5, latency=10.0, rows=2),
        prediction(NEW, arm=None, mean=0.7, latency=20.0),
        failed(None, status=400, error="invalid_json"),
        failed(None, status=400, error="invalid_json", endpoint="other"),
    ]
