"""A model endpoint's environment read and validated inside the function (`read_env` -> `Settings`): the
variables the contract names, with the input schema, its drift profile and store URIs checked as the function will
use them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from functions import store
from functions.contract import (
    CANARY_ENV_VARS,
    DEFAULT_MAX_BATCH_ROWS,
    DEFAULT_MAX_BODY_BYTES,
    ENDPOINT_NAME,
    FEATURE_TYPES,
    FORMATS,
    MAX_BATCH_ROWS,
    MAX_BODY_BYTES,
    MODEL_CANARY_FORMAT,
    MODEL_CANARY_NAME,
    MODEL_CANARY_PERCENT,
    MODEL_CANARY_SHA256,
    MODEL_CANARY_URI,
    MODEL_FEATURE_TYPES,
    MODEL_FEATURES,
    MODEL_FORMAT,
    MODEL_FRAMEWORK,
    MODEL_NAME,
    MODEL_POINTER_URI,
    MODEL_SCHEMA,
    MODEL_SHA256,
    MODEL_TTL_SECONDS,
    MODEL_URI,
    SCHEMA_DRIFT_KEY,
    SHA256_RE,
    canary_percent_problem,
    ttl_problem,
)
from functions.drift import DriftError, DriftProfile
from functions.schema import ModelSchema, SchemaError


class MisconfiguredError(Exception):
    """The function's environment is incomplete or invalid; the message names the variable."""


class Settings(NamedTuple):
    """A model endpoint's environment, validated."""

    model_uri: str
    model_sha256: str
    model_format: str
    features: tuple[str, ...]
    feature_types: tuple[str, ...] = ()  # parallel to features; empty: all numeric
    model_name: str = "model"
    framework: str = ""
    endpoint: str = "pred"
    ttl_seconds: int = 0
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    schema: ModelSchema | None = None  # from MODEL_SCHEMA; None: built from features / feature_types
    # The canary (MODEL_CANARY_*): "" / 0.0 when the endpoint has none.
    canary_uri: str = ""
    canary_sha256: str = ""
    canary_format: str = ""
    canary_name: str = ""
    canary_percent: float = 0.0
    pointer_uri: str = ""  # MODEL_POINTER_URI: "" unless the endpoint follows a published pointer
    drift: DriftProfile | None = None  # the schema document's drift profile: None counts no drift

    @property
    def has_canary(self) -> bool:
        """True when a canary model is configured."""
        return bool(self.canary_sha256) and self.canary_percent > 0

    def model_schema(self) -> ModelSchema:
        """The input schema and task the endpoint serves."""
        if self.schema is not None:
            return self.schema
        return ModelSchema.simple(self.features, self.feature_types)


def read_env(environ: Mapping[str, str]) -> Settings:
    """Read and validate a model endpoint's variables; raise MisconfiguredError listing every problem."""
    problems: list[str] = []

    def need(name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            problems.append(f"{name} is required")
        return value

    def whole(name: str, default: int, low: int) -> int:
        raw = environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name}={raw!r} is not a whole number")
            return default
        if value < low:
            problems.append(f"{name}={raw!r} must be >= {low}")
            return default
        return value

    uri = need(MODEL_URI)
    if uri:
        try:
            store.parse_uri(uri)
        except store.StoreError as exc:
            problems.append(str(exc))
    sha = need(MODEL_SHA256).lower()
    if sha and not SHA256_RE.match(sha):
        problems.append(f"{MODEL_SHA256} must be 64 hex digits")
    fmt = need(MODEL_FORMAT).lower()
    if fmt and fmt not in FORMATS:
        problems.append(f"{MODEL_FORMAT}={fmt!r} must be one of {', '.join(FORMATS)}")
    features: tuple[str, ...] = ()
    schema, drift = _read_schema(environ.get(MODEL_SCHEMA, "").strip(), problems)
    raw_features = environ.get(MODEL_FEATURES, "").strip()
    if schema is not None:
        features = schema.names
        if raw_features:
            problems.append(f"{MODEL_FEATURES}: set {MODEL_SCHEMA} or {MODEL_FEATURES}, not both")
    elif not raw_features and not environ.get(MODEL_SCHEMA, "").strip():  # (an unreadable one is said above)
        problems.append(f"{MODEL_SCHEMA} (or {MODEL_FEATURES}) is required")
    if raw_features:
        try:
            parsed = json.loads(raw_features)
        except ValueError:
            parsed = None
        if (not isinstance(parsed, list) or not parsed or not all(isinstance(f, str) and f for f in parsed)
                or len(set(parsed)) != len(parsed)):
            problems.append(f"{MODEL_FEATURES} must be a JSON list of distinct non-empty names")
        else:
            features = tuple(parsed)
    types: tuple[str, ...] = ()
    raw_types = environ.get(MODEL_FEATURE_TYPES, "").strip()
    if raw_types:
        try:
            parsed = json.loads(raw_types)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or len(parsed) != len(features) or not all(t in FEATURE_TYPES for t in parsed):
            problems.append(f"{MODEL_FEATURE_TYPES} must be a JSON list of {', '.join(FEATURE_TYPES)}, one per "
                            f"feature of {MODEL_FEATURES}")
        else:
            types = tuple(parsed)
    ttl = whole(MODEL_TTL_SECONDS, 0, 0)
    problem = ttl_problem(ttl)
    if problem:
        problems.append(f"{MODEL_TTL_SECONDS}: {problem}")
    max_rows = whole(MAX_BATCH_ROWS, DEFAULT_MAX_BATCH_ROWS, 1)
    max_body = whole(MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, 1)
    canary = _read_canary(environ, problems)
    pointer = environ.get(MODEL_POINTER_URI, "").strip()
    if pointer:
        try:
            store.parse_uri(pointer)
        except store.StoreError as exc:
            problems.append(f"{MODEL_POINTER_URI}: {exc}")
    if problems:
        raise MisconfiguredError("; ".join(problems))
    return Settings(
        model_uri=uri, model_sha256=sha, model_format=fmt, features=features, feature_types=types, schema=schema,
        model_name=environ.get(MODEL_NAME, "").strip() or "model",
        framework=environ.get(MODEL_FRAMEWORK, "").strip(),
        endpoint=environ.get(ENDPOINT_NAME, "").strip() or "pred",
        ttl_seconds=ttl, max_batch_rows=max_rows, max_body_bytes=max_body, pointer_uri=pointer, drift=drift,
        **canary,
    )


def _read_canary(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The MODEL_CANARY_* variables: all five or none."""
    raw = {name: environ.get(name, "").strip() for name in CANARY_ENV_VARS}
    given = [name for name, value in raw.items() if value]
    if not given:
        return {}
    missing = [name for name in CANARY_ENV_VARS if name not in given]
    if missing:
        problems.append(f"{', '.join(missing)}: set every MODEL_CANARY_* variable or none (have {', '.join(given)})")
        return {}
    before = len(problems)
    uri = raw[MODEL_CANARY_URI]
    try:
        store.parse_uri(uri)
    except store.StoreError as exc:
        problems.append(f"{MODEL_CANARY_URI}: {exc}")
    sha = raw[MODEL_CANARY_SHA256].lower()
    if not SHA256_RE.match(sha):
        problems.append(f"{MODEL_CANARY_SHA256} must be 64 hex digits")
    fmt = raw[MODEL_CANARY_FORMAT].lower()
    if fmt not in FORMATS:
        problems.append(f"{MODEL_CANARY_FORMAT}={fmt!r} must be one of {', '.join(FORMATS)}")
    try:
        percent: Any = float(raw[MODEL_CANARY_PERCENT])
    except ValueError:
        percent = raw[MODEL_CANARY_PERCENT]
    problem = canary_percent_problem(percent)
    if problem:
        problems.append(f"{MODEL_CANARY_PERCENT}: {problem}")
    if len(problems) > before:
        return {}
    return {"canary_uri": uri, "canary_sha256": sha, "canary_format": fmt, "canary_name": raw[MODEL_CANARY_NAME],
            "canary_percent": float(percent)}


def _read_schema(raw: str, problems: list[str]) -> tuple[ModelSchema | None, DriftProfile | None]:
    """MODEL_SCHEMA: inline JSON, or a file relative to the package root (the directory holding functions/); the
    schema and, when the document has one (its `drift` object), the drift profile checked against it."""
    if not raw:
        return None, None
    text = raw
    if not raw.startswith("{"):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = raw if os.path.isabs(raw) else os.path.join(root, raw)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            problems.append(f"{MODEL_SCHEMA}: cannot read {path}: {exc.strerror or exc}")
            return None, None
    try:
        doc = json.loads(text)
        schema = ModelSchema.from_json(doc)
    except (ValueError, SchemaError) as exc:
        problems.append(f"{MODEL_SCHEMA}: {exc}")
        return None, None
    raw_drift = doc.get(SCHEMA_DRIFT_KEY)
    if raw_drift is None:
        return schema, None
    try:
        return schema, DriftProfile.from_json(raw_drift, schema.names, [f.type for f in schema.features],
                                              schema.task, schema.classes)
    except DriftError as exc:
        problems.append(f"{MODEL_SCHEMA}: {exc}")
        return schema, None
