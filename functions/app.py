"""The generic model endpoint: ``GET`` metadata, ``POST`` one row (the book's flat object) or a batch.

Configured from the environment at first use (:mod:`functions.contract`), so the same code
serves any endpoint. The model itself loads on the first prediction (see :mod:`functions.model_cache`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from functions import contract, predictors
from functions.contract import MisconfiguredError, Settings
from functions.http import (
    ApiError,
    Request,
    Response,
    error_response,
    internal_error,
    json_response,
    log_event,
    method_not_allowed,
    parse_json_body,
    write_log_line,
)
from functions.model_cache import ModelCache, ModelUnavailable

# Plain decimal numbers only: float() would also take "nan", "inf", "1_000" and surrounding blanks.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_value(value: Any, field: str) -> float:
    """One feature value: a JSON number or a numeric string, finite; booleans are rejected."""
    if isinstance(value, bool):
        raise ApiError(400, "invalid_value", f"{field} must be a number, not a boolean", field)
    if isinstance(value, int):
        try:
            out = float(value)
        except OverflowError:
            raise ApiError(400, "invalid_value", f"{field} is too large", field) from None
    elif isinstance(value, float):
        out = value
    elif isinstance(value, str):
        if len(value) > 100 or not _NUMBER.fullmatch(value):
            raise ApiError(400, "invalid_value", f"{field} must be numeric, got {value[:40]!r}", field)
        out = float(value)
    else:
        raise ApiError(400, "invalid_value", f"{field} must be a number or a numeric string, "
                       f"got {type(value).__name__ if value is not None else 'null'}", field)
    if not math.isfinite(out):
        raise ApiError(400, "invalid_value", f"{field} must be finite", field)
    return out


def parse_rows(payload: Any, features: tuple[str, ...], max_rows: int,
               binary: tuple[int, ...] = ()) -> tuple[np.ndarray, bool]:
    """Turn a request body into an [N, F] float64 array; return it and whether it was a batch.

    ``binary``: positions of the features declared binary, whose values must be 0 or 1."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object: the features "
                       '({"G1": 1, ...}) or {"instances": [...]}')
    if "instances" in payload:
        extra = sorted(k for k in payload if k != "instances")
        if extra:
            raise ApiError(400, "unknown_field", f"unexpected field {extra[0]!r} beside 'instances'", extra[0])
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise ApiError(400, "invalid_request", "'instances' must be a list of rows", "instances")
        if not instances:
            raise ApiError(400, "empty_batch", "'instances' is empty; send at least one row", "instances")
        if len(instances) > max_rows:
            raise ApiError(413, "batch_too_large", f"'instances' has {len(instances)} rows; the limit is "
                           f"{max_rows}", "instances")
        rows = [_parse_row(item, features, f"instances[{i}]", binary) for i, item in enumerate(instances)]
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(features)), True
    row = _parse_row(payload, features, "", binary)
    return np.array([row], dtype=np.float64), False


_PLAIN = frozenset("0123456789.+-eE")


def _fast_floats(values: list[Any]) -> list[float] | None:
    """The hot path: every value a finite JSON number or a plain decimal string; None sends the row to the
    careful parser, which names the field. Same acceptance as ``parse_value``, without its per-value cost."""
    out: list[float] = []
    for v in values:
        t = type(v)
        if t is float or t is int:
            f = float(v) if t is int and -(2**53) <= v <= 2**53 else v if t is float else None
        elif t is str and 0 < len(v) <= 100 and _PLAIN.issuperset(v):
            try:
                f = float(v)
            except ValueError:
                return None
        else:
            return None
        if f is None or f - f != 0.0:  # None, inf or nan
            return None
        out.append(f)
    return out


_BINARY = frozenset((0, 1, "0", "1"))  # 0.0 and 1.0 hash equal to 0 and 1; booleans are refused separately


def _check_binary(values: list[Any], binary: tuple[int, ...], field: Callable[[int], str]) -> None:
    """A binary feature takes 0 or 1 (or "0" / "1"): anything else is the client's mistake, named, rather than a
    number the model was never trained on (a 0/1 flag given 1.7e308 overflows a linear model)."""
    for j in binary:
        v = values[j]
        if type(v) is bool or not (type(v) in (int, float, str) and v in _BINARY):
            where = field(j)
            raise ApiError(400, "invalid_value", f"{where} is a binary feature: send 0 or 1 (or \"0\" / \"1\"), "
                           f"got {str(v)[:40] if not isinstance(v, str) else repr(v[:40])}", where)


def _parse_row(item: Any, features: tuple[str, ...], prefix: str, binary: tuple[int, ...] = ()) -> list[float]:
    if isinstance(item, dict):
        missing = [f for f in features if f not in item]
        if missing:
            field = f"{prefix}.{missing[0]}" if prefix else missing[0]
            raise ApiError(400, "missing_feature", f"missing feature(s) {', '.join(missing)}; expected "
                           f"{', '.join(features)}", field)
        unknown = [k for k in item if k not in features]
        if unknown:
            field = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
            raise ApiError(400, "unknown_feature", f"unknown feature {unknown[0][:60]!r}; expected "
                           f"{', '.join(features)}", field)
        values = [item[f] for f in features]
        if binary:
            _check_binary(values, binary, lambda j: f"{prefix}.{features[j]}" if prefix else features[j])
        fast = _fast_floats(values)
        if fast is not None:
            return fast
        return [parse_value(item[f], f"{prefix}.{f}" if prefix else f) for f in features]
    if isinstance(item, list) and prefix:
        if len(item) != len(features):
            raise ApiError(400, "wrong_row_length", f"{prefix} has {len(item)} values; expected "
                           f"{len(features)} ({', '.join(features)})", prefix)
        if binary:
            _check_binary(item, binary, lambda j: f"{prefix}[{j}]")
        fast = _fast_floats(item)
        if fast is not None:
            return fast
        return [parse_value(v, f"{prefix}[{j}]") for j, v in enumerate(item)]
    where = prefix or "body"
    raise ApiError(400, "invalid_request", f"{where} must be an object of features"
                   + (" or a list of values in feature order" if prefix else ""), prefix or None)


class ModelApp:
    """The model endpoint. ``handle`` never raises: every outcome is a JSON response."""

    def __init__(self, settings: Settings, loader: Callable[[bytes], Any] | None = None,
                 cache: ModelCache | None = None) -> None:
        self.settings = settings
        self._loader = loader or self._default_loader
        self._log_heads: dict[str, str] = {}
        self._binary = tuple(j for j, t in enumerate(settings.feature_types) if t == "binary")
        self.cache = cache or ModelCache(
            settings.model_uri, settings.model_sha256, self._loader, settings.ttl_seconds,
            name=settings.model_name,
        )

    def _default_loader(self, data: bytes) -> Any:
        model = predictors.load(data, self.settings.model_format)
        # Probe once so a model with a different input width fails at load (503), not per request.
        try:
            out = model.predict(np.zeros((1, len(self.settings.features))))
        except Exception as exc:
            raise predictors.PredictorError(
                f"model does not accept {len(self.settings.features)} features (MODEL_FEATURES): {exc}") from None
        if np.shape(out) != (1,):
            raise predictors.PredictorError(f"model returned shape {np.shape(out)} for one row; expected (1,)")
        return model

    def metadata(self) -> dict[str, Any]:
        """What ``GET`` returns: enough to check which model an endpoint serves."""
        s = self.settings
        loaded = self.cache.loaded
        return {
            "success": True,
            "endpoint": s.endpoint,
            "model": {"name": s.model_name, "version": s.model_sha256, "framework": s.framework,
                      "format": s.model_format, "features": list(s.features), "loaded": loaded is not None},
            "runtime": {"python": platform.python_version(), "implementation": platform.python_implementation()},
            "limits": {"max_batch_rows": s.max_batch_rows, "max_body_bytes": s.max_body_bytes},
        }

    def handle(self, request: Request) -> Response:
        """Serve one request."""
        try:
            method = request.method.upper()
            if method == "GET":
                return json_response(self.metadata())
            if method != "POST":
                raise method_not_allowed(request.method, "GET, POST")
            return self._predict(request)
        except ApiError as err:
            return err.to_response()
        except Exception:
            return internal_error(self.settings.endpoint)

    def _predict(self, request: Request) -> Response:
        started = time.perf_counter()
        s = self.settings
        payload = parse_json_body(request, s.max_body_bytes)
        rows, batch = parse_rows(payload, s.features, s.max_batch_rows, self._binary)
        try:
            loaded = self.cache.get()
        except ModelUnavailable as exc:
            return error_response(503, "model_unavailable", str(exc))
        self._check_range(rows, getattr(loaded.model, "input_limit", None), batch)
        out = np.asarray(loaded.model.predict(rows), dtype=np.float64).reshape(-1)
        if out.shape[0] != rows.shape[0]:
            raise RuntimeError(f"model returned {out.shape[0]} values for {rows.shape[0]} rows")
        preds = out.tolist()
        total = sum(preds)
        if total - total != 0.0:  # some output is inf or nan (cheaper than a numpy pass for one row)
            nonfinite = np.flatnonzero(~np.isfinite(out))
            # Finite but extreme inputs can overflow inside a float32 model (inf - inf): the input's fault,
            # reported as such rather than as a NaN prediction or a 500.
            i = int(nonfinite[0])
            where = f"instances[{i}]" if batch else None
            raise ApiError(422, "non_finite_output", f"the model's output for {where or 'this row'} is not finite; "
                           "the input values are too extreme for it", where)
        model_info = {"name": s.model_name, "version": loaded.sha256}
        self._log_prediction(loaded.sha256, preds, total, started)
        if batch:
            return json_response({"success": True, "predictions": preds, "model": model_info})
        return json_response({"success": True, "response": str(preds[0]), "prediction": preds[0],
                              "model": model_info})

    def _log_prediction(self, version: str, preds: list[float], total: float, started: float) -> None:
        """The drift log line, the same JSON ``log_event`` writes; its constant head is encoded once per model
        version, since this runs on every prediction (all the numbers here are finite floats and ints)."""
        head = self._log_heads.get(version)
        if head is None:
            s = self.settings
            head = json.dumps({"event": "prediction", "endpoint": s.endpoint, "model": s.model_name,
                               "model_version": version}, separators=(",", ":"))[:-1]
            self._log_heads = {version: head}
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        write_log_line(f'{head},"rows":{len(preds)},"latency_ms":{latency_ms!r},"output":{{"mean":'
                       f'{total / len(preds)!r},"min":{min(preds)!r},"max":{max(preds)!r}}}}}')

    def _check_range(self, rows: np.ndarray, limit: float | None, batch: bool) -> None:
        """Values a float32 model input cannot hold would become inf in the cast: a client error, not a 500."""
        if limit is None:
            return
        bad = np.argwhere(np.abs(rows) > limit)
        if bad.size:
            i, j = (int(x) for x in bad[0])
            name = self.settings.features[j]
            field = f"instances[{i}].{name}" if batch else name
            raise ApiError(400, "invalid_value", f"{field} is outside the range this model's float32 input holds "
                           f"(|x| <= {limit:.4g})", field)


_app: ModelApp | None = None
_app_lock = threading.Lock()


def get_app() -> ModelApp:
    """The process-wide app, built from the environment on first use; raises MisconfiguredError if misconfigured."""
    global _app
    if _app is not None:
        return _app
    with _app_lock:
        if _app is None:
            _app = ModelApp(contract.read_env(os.environ))
        return _app


def reset_app() -> None:
    """Forget the process-wide app (tests change the environment between cases)."""
    global _app
    with _app_lock:
        _app = None


def handle(request: Request) -> Response:
    """Serve ``request`` with the process-wide app; a misconfigured environment is a logged JSON 503."""
    try:
        app = get_app()
    except MisconfiguredError as exc:
        log_event("config_error", message=str(exc))
        return error_response(503, "misconfigured", f"the function is misconfigured: {exc}")
    return app.handle(request)
