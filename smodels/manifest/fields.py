"""Checkers of single manifest fields: JSON types and ranges, then the top-level fields both schemas share."""

from __future__ import annotations

import math
import re
from typing import Any

from functions.contract import FORMATS
from smodels.manifest.model import ManifestError, TrainingData
from smodels.manifest.schema import _NAME_RE, _SHA_RE, _VERSION_RE, MANIFEST_FILE


def _str(d: dict[str, Any], key: str, field: str, *, allow_empty: bool = False) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise ManifestError(field, f"must be a string, got {type(v).__name__}")
    if not allow_empty and not v.strip():
        raise ManifestError(field, "must not be empty")
    return v


def _int(d: dict[str, Any], key: str, field: str, *, minimum: int = 0) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ManifestError(field, f"must be an integer, got {type(v).__name__}")
    if v < minimum:
        raise ManifestError(field, f"must be >= {minimum}, got {v}")
    return v


def _num(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ManifestError(field, f"must be a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise ManifestError(field, "must be finite")
    return float(v)


def _prob(v: Any, field: str) -> float:
    x = _num(v, field)
    if not 0.0 <= x <= 1.0:
        raise ManifestError(field, f"must be a probability in [0, 1], got {x}")
    return x


def _bool(d: dict[str, Any], key: str, field: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise ManifestError(field, f"must be true or false, got {v!r}")
    return v


def _choice(d: dict[str, Any], key: str, field: str, choices: tuple[str, ...]) -> str:
    v = d.get(key)
    if v not in choices:
        raise ManifestError(field, f"must be one of {', '.join(choices)}; got {v!r}")
    return v


def _obj(d: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise ManifestError(field, f"must be an object, got {type(v).__name__}")
    return v


def _sha(d: dict[str, Any], key: str, field: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not _SHA_RE.match(v):
        raise ManifestError(field, "must be 64 lowercase hex characters (a sha256)")
    return v


def _unknown_keys(d: dict[str, Any], allowed: set[str] | frozenset[str] | tuple[str, ...], field: str) -> None:
    for k in sorted(set(d) - set(allowed)):
        raise ManifestError(f"{field}.{k}" if field else k, "unknown key")


# --- top-level fields ------------------------------------------------------------------------------------


def _name(data: dict[str, Any]) -> str:
    name = _str(data, "name", "name")
    if not _NAME_RE.match(name):
        raise ManifestError("name", f"must match [a-z0-9-]+ (no leading/trailing/double dash), got {name!r}")
    return name


def _version(data: dict[str, Any]) -> str:
    v = _str(data, "framework_version", "framework_version")
    if not _VERSION_RE.match(v):
        raise ManifestError("framework_version", f"must be a version like 1.9.1, got {v!r}")
    return v


def _backend(data: dict[str, Any], framework: str) -> str | None:
    backend = data.get("backend")
    if backend is not None and (not isinstance(backend, str) or not backend):
        raise ManifestError("backend", "must be null or a non-empty string")
    if framework == "keras" and backend is None:
        raise ManifestError("backend", "is required for keras (the training backend, e.g. torch)")
    if framework != "keras" and backend is not None:
        raise ManifestError("backend", f"must be null for {framework}")
    return backend


def _python_version(v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^3\.\d+\.\d+", v):
        raise ManifestError("python_version", f"must be a CPython version like 3.11.7, got {v!r}")
    return v


def _format(data: dict[str, Any], framework: str, allowed_by: dict[str, tuple[str, ...]]) -> str:
    fmt = _choice(data, "format", "format", tuple(FORMATS))
    allowed = allowed_by[framework]
    if fmt not in allowed:
        raise ManifestError("format", f"{fmt!r} is not a format for {framework} (one of {', '.join(allowed)})")
    return fmt


def _artifact(data: dict[str, Any]) -> str:
    artifact = _str(data, "artifact", "artifact")
    if "/" in artifact or "\\" in artifact or artifact in (".", "..") or artifact == MANIFEST_FILE:
        raise ManifestError("artifact", f"must be a plain file name beside the manifest, got {artifact!r}")
    return artifact


def _training_data(raw: Any) -> TrainingData:
    if not isinstance(raw, dict):
        raise ManifestError("training_data", f"must be an object, got {type(raw).__name__}")
    _unknown_keys(raw, {"source", "sha256", "rows"}, "training_data")
    return TrainingData(
        source=_str(raw, "source", "training_data.source"),
        sha256=_sha(raw, "sha256", "training_data.sha256"),
        rows=_int(raw, "rows", "training_data.rows", minimum=1),
    )
