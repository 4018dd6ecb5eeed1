"""The runtime contract: what a deployed function reads, and the limits and error codes it answers with.

This module is the one definition of every fact the deployer and the function must agree on: the
environment variable names, their defaults and limits, the model formats and their object extensions, and
the error codes. The Pulumi program and the local stack write the environment with :func:`write_env`; the
function reads it with :func:`read_env`. Standard library only: it ships in every archive, echo's included.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

# --- environment variable names ------------------------------------------------------------------------------
MODEL_URI = "MODEL_URI"  # s3://bucket/key, gs://bucket/key, file:///abs/path
MODEL_SHA256 = "MODEL_SHA256"  # the artifact is never deserialised unless its bytes hash to this
MODEL_FORMAT = "MODEL_FORMAT"  # a key of FORMATS
MODEL_NAME = "MODEL_NAME"  # the manifest's name
MODEL_FRAMEWORK = "MODEL_FRAMEWORK"  # e.g. "scikit-learn 1.9.1" (reported by GET)
MODEL_FEATURES = "MODEL_FEATURES"  # JSON list of feature names in model input order
MODEL_FEATURE_TYPES = "MODEL_FEATURE_TYPES"  # JSON list of their FEATURE_TYPES (absent: all numeric)
# The full input schema and task (functions.schema): a file relative to the package root, or the JSON itself.
# Deployments use it; MODEL_FEATURES (+ MODEL_FEATURE_TYPES) is the short form for hand-written environments.
MODEL_SCHEMA = "MODEL_SCHEMA"
SCHEMA_FILE = "model_schema.json"  # what the packager writes beside functions/
# The schema document's key holding the training profile drift is counted against (functions.drift); absent (an
# endpoint's `drift: false`, or a model without a profile): the function counts no drift.
SCHEMA_DRIFT_KEY = "drift"
MODEL_TTL_SECONDS = "MODEL_TTL_SECONDS"  # 0: never re-check the model object
ENDPOINT_NAME = "ENDPOINT_NAME"
MAX_BATCH_ROWS = "MAX_BATCH_ROWS"
MAX_BODY_BYTES = "MAX_BODY_BYTES"
# A model canary (all five or none): a second model, pinned by its sha256 like the stable one, that answers
# MODEL_CANARY_PERCENT (0 < p <= 100) of the requests. It takes the stable model's input schema and task.
MODEL_CANARY_URI = "MODEL_CANARY_URI"
MODEL_CANARY_SHA256 = "MODEL_CANARY_SHA256"
MODEL_CANARY_FORMAT = "MODEL_CANARY_FORMAT"
MODEL_CANARY_NAME = "MODEL_CANARY_NAME"
MODEL_CANARY_PERCENT = "MODEL_CANARY_PERCENT"
CANARY_ENV_VARS = (MODEL_CANARY_URI, MODEL_CANARY_SHA256, MODEL_CANARY_FORMAT, MODEL_CANARY_NAME, MODEL_CANARY_PERCENT)
#: The request header whose value picks the model by a stable hash (the same key always gets the same model).
REQUEST_KEY_HEADER = "X-Request-Key"
# Publishing without a deploy (`refresh: pointer`): the pointer object the function follows. Absent: the function
# serves MODEL_URI only. Present: on its first request and every MODEL_TTL_SECONDS after (or at once when a trigger
# arrives) it re-reads the pointer and serves the model it names, once that model's bytes hash to the pointer's
# sha256 and it loads; until a pointer exists it serves MODEL_URI (the model a fresh stack starts from).
MODEL_POINTER_URI = "MODEL_POINTER_URI"
ENV_VARS = (MODEL_URI, MODEL_SHA256, MODEL_FORMAT, MODEL_NAME, MODEL_FRAMEWORK, MODEL_FEATURES, MODEL_FEATURE_TYPES,
            MODEL_SCHEMA, MODEL_TTL_SECONDS, ENDPOINT_NAME, MAX_BATCH_ROWS, MAX_BODY_BYTES, *CANARY_ENV_VARS,
            MODEL_POINTER_URI)

# --- published models: where `smodels publish` writes and what the function follows ---------------------------
#: Everything `smodels publish` writes for an endpoint lives under `endpoints/<endpoint>/` of the model bucket:
#: the artifacts under `models/<sha256>.<ext>` and the pointer `live.json`. Functions may only read there (and
#: under their deployed model's prefix); only the publisher identity may write.
ENDPOINTS_PREFIX = "endpoints/"
POINTER_FILE = "live.json"
#: The path a storage notification reaches a Cloud Function on (a Pub/Sub push); on Lambda an S3 event does.
REFRESH_PATH = "/_refresh"
#: Who may POST to REFRESH_PATH (functions/gcp.py verifies the push's ID token with functions/idtoken.py; anything
#: else is a 403): the token's audience must be REFRESH_AUDIENCE (the function's URL, the audience the push
#: subscription names: both come from one value in infra/gcp.py), its email REFRESH_SERVICE_ACCOUNT (the function's
#: own runtime account, whose token the push carries). REFRESH_PLATFORM_VERIFIED=1 (a private function) accepts a
#: token whose signature Cloud Run removed after verifying it. REFRESH_ISSUER / REFRESH_CERTS_URL name one more
#: trusted issuer and its JWK set (the local stack's); Google is always trusted. Unset audience or account: no one.
REFRESH_AUDIENCE = "REFRESH_AUDIENCE"
REFRESH_SERVICE_ACCOUNT = "REFRESH_SERVICE_ACCOUNT"
REFRESH_PLATFORM_VERIFIED = "REFRESH_PLATFORM_VERIFIED"
REFRESH_ISSUER = "REFRESH_ISSUER"
REFRESH_CERTS_URL = "REFRESH_CERTS_URL"
REFRESH_ENV_VARS = (REFRESH_AUDIENCE, REFRESH_SERVICE_ACCOUNT, REFRESH_PLATFORM_VERIFIED, REFRESH_ISSUER,
                    REFRESH_CERTS_URL)
#: The HTTP API routes of an endpoint (AWS: one API for the stack; the local front matches the same): (route id,
#: method, path with "{endpoint}" for its name). Every endpoint takes the book's GET and POST on /<endpoint>; a model
#: endpoint also the Open Inference Protocol v2 (functions/oip.py: metadata, ready, infer; the OIP base is the API's
#: root) and MLflow's scoring path (functions/mlflow_scoring.py). GCP: a function URL takes any path below it.
BOOK_ROUTES = (("post", "POST", "/{endpoint}"), ("get", "GET", "/{endpoint}"))
PROTOCOL_ROUTES = (("oip-metadata", "GET", "/v2/models/{endpoint}"),
                   ("oip-ready", "GET", "/v2/models/{endpoint}/ready"),
                   ("oip-infer", "POST", "/v2/models/{endpoint}/infer"),
                   ("mlflow", "POST", "/{endpoint}/invocations"))
#: The pointer document's schema version (its "pointer" field).
POINTER_VERSION = 1

# --- defaults and limits -------------------------------------------------------------------------------------
DEFAULT_MAX_BATCH_ROWS = 1000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_TTL_SECONDS = 86400
#: Deepest nesting of JSON arrays/objects accepted in a request body. A batch of rows needs 3.
MAX_JSON_DEPTH = 8
#: The largest finite float32 (numpy.finfo(numpy.float32).max), the input bound of a float32 model.
FLOAT32_MAX = 3.4028234663852886e38

#: Feature types (functions.schema says what each lets through): "binary" is 0 or 1 (JSON numbers, or the
#: strings "0" and "1" as the book sends them); "numeric" is any finite number or numeric string.
FEATURE_TYPES = ("numeric", "integer", "binary", "boolean", "categorical")

#: MODEL_FORMAT values and the extension of their object in the model bucket.
FORMATS: dict[str, str] = {"skops": "skops", "onnx": "onnx", "keras": "keras", "joblib": "joblib", "pickle": "pkl",
                           "xgboost": "json", "lightgbm": "txt", "pure": "json"}

#: What only REFRESH_PATH answers, to anything but its own storage trigger's push (403): not a code of the
#: endpoint's public paths, so not in ERROR_CODES (docs/openapi.json describes those).
REFRESH_FORBIDDEN = ("forbidden", 403)
#: Every ``error.code`` a function answers with on its public paths, and its HTTP status.
ERROR_CODES: dict[str, int] = {
    "invalid_json": 400,
    "invalid_request": 400,
    "invalid_base64": 400,
    "missing_field": 400,
    "missing_feature": 400,
    "unknown_feature": 400,
    "unknown_field": 400,
    "invalid_value": 400,
    "unknown_category": 400,
    "wrong_row_length": 400,
    "empty_batch": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "batch_too_large": 413,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "non_finite_output": 422,
    "internal": 500,
    "model_unavailable": 503,
    "misconfigured": 503,
}

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def routes(endpoint: str, kind: str) -> list[tuple[str, str, str]]:
    """(route id, method, path) of every HTTP API route of endpoint ``endpoint`` of ``kind`` ("model", "echo")."""
    table = BOOK_ROUTES + (PROTOCOL_ROUTES if kind == "model" else ())
    return [(rid, method, path.format(endpoint=endpoint)) for rid, method, path in table]


def endpoint_prefix(endpoint: str) -> str:
    """The bucket prefix of what is published for ``endpoint``: ``endpoints/<endpoint>/``."""
    return f"{ENDPOINTS_PREFIX}{endpoint}/"


def pointer_key(endpoint: str) -> str:
    """The pointer object's key: ``endpoints/<endpoint>/live.json``."""
    return endpoint_prefix(endpoint) + POINTER_FILE


def published_key(endpoint: str, sha256: str, fmt: str) -> str:
    """A published artifact's key: ``endpoints/<endpoint>/models/<sha256>.<ext>`` (content-addressed)."""
    return f"{endpoint_prefix(endpoint)}models/{sha256}.{FORMATS[fmt]}"


class PointerError(Exception):
    """A pointer document that cannot be followed (the message says why)."""


class Pointer(NamedTuple):
    """A parsed pointer: the model to serve and what `smodels publish` said of it."""

    uri: str
    sha256: str
    format: str
    name: str
    framework: str = ""
    published_at: str = ""
    summary: dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated

    def to_json(self, endpoint: str) -> bytes:
        """The pointer document ``smodels publish`` writes (sorted keys, so equal pointers are equal bytes)."""
        doc = {"pointer": POINTER_VERSION, "endpoint": endpoint, "uri": self.uri, "sha256": self.sha256,
               "format": self.format, "name": self.name, "framework": self.framework,
               "published_at": self.published_at, "manifest": self.summary}
        return json.dumps(doc, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def read_pointer(data: bytes, pointer_uri: str, endpoint: str) -> Pointer:
    """Parse a pointer document read from ``pointer_uri``; raise PointerError naming the bad field.

    Beyond its shape, the pointer may only name an artifact published for this endpoint in the pointer's own
    bucket (``endpoints/<endpoint>/models/<sha256>.<ext>``): a pointer edited to name anything else is refused."""
    from functions import store

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PointerError("the pointer is not a JSON document") from None
    if not isinstance(doc, dict):
        raise PointerError("the pointer is not a JSON object")
    if doc.get("pointer") != POINTER_VERSION:
        raise PointerError(f"pointer: expected version {POINTER_VERSION}, got {doc.get('pointer')!r}")
    for name in ("uri", "sha256", "format", "name"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise PointerError(f"{name}: a non-empty string is required")
    if doc.get("endpoint") != endpoint:
        raise PointerError(f"endpoint: the pointer is for {doc.get('endpoint')!r}, this is {endpoint!r}")
    sha, fmt = doc["sha256"].lower(), doc["format"].lower()
    if not SHA256_RE.match(sha):
        raise PointerError("sha256: must be 64 hex digits")
    if fmt not in FORMATS:
        raise PointerError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        here, there = store.parse_uri(pointer_uri), store.parse_uri(doc["uri"])
    except store.StoreError as exc:
        raise PointerError(f"uri: {exc}") from None
    expected = published_key(endpoint, sha, fmt)
    if here.scheme == "file":  # the local file store: the same layout under the pointer's own root
        root = here.key[: -len(pointer_key(endpoint))]
        ok = there.scheme == "file" and there.key == root + expected
    else:
        ok = (there.scheme, there.bucket, there.key) == (here.scheme, here.bucket, expected)
    if not ok:
        raise PointerError(f"uri: {doc['uri']!r} is not this endpoint's published artifact for that sha256 "
                           f"(expected {expected} in the pointer's bucket)")
    summary = doc.get("manifest") if isinstance(doc.get("manifest"), dict) else {}
    return Pointer(doc["uri"], sha, fmt, doc["name"], str(doc.get("framework") or ""),
                   str(doc.get("published_at") or ""), summary)


def ttl_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid model TTL (a whole number of seconds, 0..MAX_TTL_SECONDS), or None.

    The one rule for both sides: the stack config's ``ttlSeconds`` and the function's MODEL_TTL_SECONDS.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected a whole number of seconds, got {value!r}"
    if not 0 <= value <= MAX_TTL_SECONDS:
        return f"{value} is outside the allowed range 0..{MAX_TTL_SECONDS}"
    return None


def canary_percent_problem(value: Any) -> str | None:
    """Why ``value`` is not a valid canary percent (a number, 0 < p <= 100), or None. The config's
    ``canary.percent`` and the function's MODEL_CANARY_PERCENT share this rule."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return f"expected a number in (0, 100], got {value!r}"
    if not 0 < value <= 100:
        return f"{value} is outside (0, 100]"
    return None


def write_env(
    endpoint: str,
    *,
    uri: Any = None,
    sha256: str | None = None,
    fmt: str | None = None,
    name: str = "",
    features: Sequence[str] = (),
    feature_types: Sequence[str] = (),
    schema_file: str | None = None,
    framework: str = "",
    ttl_seconds: int = 0,
    extra: Mapping[str, str] | None = None,
    canary_uri: Any = None,
    canary_sha256: str | None = None,
    canary_fmt: str | None = None,
    canary_name: str = "",
    canary_percent: float | None = None,
    pointer_uri: Any = None,
) -> dict[str, Any]:
    """The environment of one function: ``extra`` (what its package needs), the endpoint name and, for a model
    endpoint (``sha256`` given), the model variables, and the canary's when ``canary_sha256`` is given.
    ``pointer_uri`` (``refresh: pointer``) adds MODEL_POINTER_URI. ``uri``, ``canary_uri`` and ``pointer_uri`` may be
    Pulumi Outputs; everything else is text."""
    env: dict[str, Any] = {**(extra or {}), ENDPOINT_NAME: endpoint}
    if sha256 is None:
        return env
    env.update({
        MODEL_URI: uri,
        MODEL_SHA256: sha256,
        MODEL_FORMAT: fmt,
        MODEL_NAME: name,
        MODEL_FRAMEWORK: framework,
        MODEL_TTL_SECONDS: str(ttl_seconds),
    })
    if canary_sha256 is not None:
        env.update({
            MODEL_CANARY_URI: canary_uri,
            MODEL_CANARY_SHA256: canary_sha256,
            MODEL_CANARY_FORMAT: canary_fmt,
            MODEL_CANARY_NAME: canary_name,
            MODEL_CANARY_PERCENT: format(float(canary_percent or 0), "g"),
        })
    if pointer_uri is not None:
        env[MODEL_POINTER_URI] = pointer_uri
    if schema_file:
        env[MODEL_SCHEMA] = schema_file
        return env
    env[MODEL_FEATURES] = json.dumps(list(features), separators=(",", ":"))
    if feature_types:
        env[MODEL_FEATURE_TYPES] = json.dumps(list(feature_types), separators=(",", ":"))
    return env


def refresh_env(audience: Any, service_account: Any, *, platform_verified: bool, issuer: str | None = None,
                certs_url: str | None = None) -> dict[str, Any]:
    """The REFRESH_* variables of a `refresh: pointer` Cloud Function: who its `/_refresh` trusts (see
    REFRESH_AUDIENCE). ``audience`` and ``service_account`` may be Pulumi Outputs; ``issuer`` and ``certs_url``
    (the local stack's issuer) go together."""
    if (issuer is None) != (certs_url is None):
        raise ValueError("refresh_env: an extra issuer needs its certs URL, and a certs URL its issuer")
    env: dict[str, Any] = {REFRESH_AUDIENCE: audience, REFRESH_SERVICE_ACCOUNT: service_account,
                           REFRESH_PLATFORM_VERIFIED: "1" if platform_verified else "0"}
    if issuer is not None:
        env.update({REFRESH_ISSUER: issuer, REFRESH_CERTS_URL: certs_url})
    return env


def max_body_bytes(environ: Mapping[str, str]) -> int:
    """MAX_BODY_BYTES from ``environ`` (default 1 MiB); an invalid value falls back to the default.

    Adapters read this per request, before any app is built, so it is cached by the raw text.
    """
    return _max_body_bytes(environ.get(MAX_BODY_BYTES, ""))


@functools.lru_cache(maxsize=8)
def _max_body_bytes(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_BODY_BYTES
    return value if value > 0 else DEFAULT_MAX_BODY_BYTES

