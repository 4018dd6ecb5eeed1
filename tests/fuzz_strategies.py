"""Hypothesis strategies and answer rules for fuzzing the Lambda and functions-framework adapters.

Lambda: ``functions.aws.lambda_handler`` / ``echo_handler`` get arbitrary events (:func:`lambda_events`): console
dicts (the JSON document itself, NaN/Infinity floats included, as Lambda's runtime parses them), API Gateway
REST v1, HTTP API v2 and function-URL events with missing keys, wrong types, random headers and methods, plain
and base64 bodies (invalid base64, invalid UTF-8), duplicate keys, NaN/Infinity literals, deep nesting,
truncated JSON, bodies over 1 MiB and 10,000-row batches. GCP (:func:`http_requests`): the same bodies, random
methods, content types and headers, sent through functions-framework's own flask app (:func:`gcp_client`).

Rules checked on every answer (:func:`check_lambda_result` / :func:`check_answer`): never raises; Lambda
returns ``{statusCode, headers, body}`` with a JSON string body; the status is never 5xx (the store is up
here); every 4xx body is ``{"success": false, "error": {"code", "message", "field"}}``; every 200 body has a
success shape from the OpenAPI document (prediction, batch, metadata or echo).

Used by tests/functions/test_hardening_fuzz.py (a few hundred cases per test) and by bench/fuzz.py, which
runs the same targets with 10,000 cases each and prints the counts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from functions.contract import ENV_VARS

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
MIB = 1024 * 1024
MODEL_ENV_VARS = ENV_VARS

# -- strategies ------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
good_values = st.one_of(
    st.sampled_from([0, 1, "0", "1", 0.0, 1.0, "1.0", "-2e3", ".5", "+3"]),
    st.integers(-10**6, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
)
tricky_strings = st.sampled_from([
    "", " ", "nan", "NaN", "inf", "-Infinity", "1e999", "-1e400", "1_000", "0x1F", " 1", "1 ", "1\n", "\u0661",
    "1e", ".", "+", "--1", "1.2.3", "\x00", "\ud800", "１", "1e308", "9" * 400,
])
any_values = st.one_of(
    good_values, good_values, tricky_strings, json_values, st.floats(),
    st.sampled_from([10**400, -(10**400), 2**63, 1e308, -1e308, 3.5e38, 1e39, 5e-324]),
)


@st.composite
def rows(draw: st.DrawFn, valid_bias: bool = True) -> dict[str, Any]:
    """A row object: mostly every feature with a plausible value, sometimes dropped/extra keys or bad values."""
    values = good_values if valid_bias and draw(st.integers(0, 3)) else any_values
    row = {name: draw(values) for name in FEATURES}
    if draw(st.integers(0, 5)) == 0:
        row.pop(draw(st.sampled_from(FEATURES)), None)
    if draw(st.integers(0, 5)) == 0:
        row[draw(st.sampled_from(["G11", "g1", "", "G1 ", "instances", "msg"]) | st.text(max_size=5))] = draw(
            any_values)
    return row


@st.composite
def positional_rows(draw: st.DrawFn) -> list[Any]:
    """A row as a list in feature order, sometimes the wrong length."""
    n = draw(st.sampled_from([10, 10, 10, 9, 11, 0]))
    values = good_values if draw(st.integers(0, 3)) else any_values
    return [draw(values) for _ in range(n)]


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    """``{"instances": [...]}`` with 0..60 rows (objects, lists or junk), sometimes an extra key."""
    items = st.one_of(rows(), positional_rows(), json_values)
    batch: dict[str, Any] = {"instances": draw(st.lists(items, max_size=60))}
    if draw(st.integers(0, 9)) == 0:
        batch["instances"] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        batch[draw(st.text(max_size=5))] = draw(json_values)
    return batch


payloads = st.one_of(rows(), rows(), batches(), json_values, st.fixed_dictionaries({"msg": any_values}))

# Bodies that cannot be produced by json.dumps of a payload. Built once: they are large.
_BIG_ROW = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
FIXED_BODIES = {
    "10k-row batch": json.dumps({"instances": [_BIG_ROW] * 10_000}).encode(),
    "1001-row batch": json.dumps({"instances": [_BIG_ROW] * 1001}).encode(),
    "over 1 MiB": b'{"G1": "1", "pad": "' + b"x" * MIB + b'"}',
    "exactly 1 MiB of spaces": b"{}" + b" " * (MIB - 2),
    "deep nesting": b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "deep objects": b'{"a":' * 2000 + b"1" + b"}" * 2000,
    "unclosed nesting": b"[" * 100_000,
    "NaN literal": b'{"G1": NaN, "G2": 0, "G3": 0, "G4": 0, "G5": 0, "G6": 0, "G7": 0, "G8": 0, "G9": 0, "G10": 0}',
    "Infinity literal": b'{"instances": [[Infinity, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}',
    "duplicate keys": b'{"G1": 1, "G1": 0, "G2": 0, "G3": 0, "G4": 0, "G5": 0, "G6": 0, "G7": 0, "G8": 0, '
                      b'"G9": 0, "G10": 0}',
    "invalid utf-8": b'{"G1": "\xff\xfe", "G2": "\xc3\x28"}',
    "utf-16": json.dumps({"msg": "hi"}).encode("utf-16"),
    "BOM": b"\xef\xbb\xbf" + json.dumps({f: 0 for f in FEATURES}).encode(),
    "NUL": b'{"G1": 1\x00}',
    "huge integer": b'{"G1": ' + b"9" * 5000 + b"}",
}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Raw request bodies: JSON of a payload (NaN/Infinity allowed), or mangled, or a fixed hard case."""
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        return json.dumps(draw(payloads), allow_nan=True).encode("utf-8", "surrogatepass")
    if kind == 6:
        text = json.dumps(draw(payloads)).encode("utf-8", "surrogatepass")
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.binary(max_size=4))
    if kind == 7:
        return draw(st.binary(max_size=64))
    if kind == 8:
        return FIXED_BODIES[draw(st.sampled_from(sorted(FIXED_BODIES)))]
    pairs = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in draw(rows()).items())
    dup = draw(st.sampled_from(FEATURES))
    return ("{" + pairs + f', "{dup}": 1' + "}").encode("utf-8", "surrogatepass")


content_types = st.one_of(
    st.sampled_from([
        "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
        "Application/JSON", "application/vnd.api+json", "text/plain", "application/json; charset=latin-1",
        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "*/*", "json",
    ]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
header_names = st.one_of(
    st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE", "content-length", "x-forwarded-for",
                     "authorization", "accept", "host"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=12),
)
_METHODS = ["POST"] * 12 + ["GET", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post", "get", "", "PO ST"]
methods = st.sampled_from(_METHODS + [None]).flatmap(lambda m: st.text(max_size=8) if m is None else st.just(m))


@st.composite
def event_headers(draw: st.DrawFn) -> Any:
    """Lambda event headers: usually a dict (maybe with non-string values), sometimes junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    headers: dict[str, Any] = draw(st.dictionaries(header_names, st.text(max_size=20) | json_values, max_size=4))
    if draw(st.booleans()):
        headers[draw(st.sampled_from(["content-type", "Content-Type"]))] = draw(content_types)
    return headers


def _well_formed(draw: st.DrawFn, kind: str) -> bytes:
    if kind == "echo":
        return json.dumps({"msg": draw(st.text(max_size=40))}).encode("utf-8", "surrogatepass")
    return json.dumps(draw(rows() | batches())).encode("utf-8", "surrogatepass")


@st.composite
def lambda_events(draw: st.DrawFn, kind_of_endpoint: str = "model") -> Any:
    """Any event a Lambda model (or echo, with ``kind_of_endpoint="echo"``) function could be handed."""
    kind = draw(st.sampled_from(["console", "console", "v1", "v2", "v2", "url", "junk"]))
    if kind == "console":
        return draw(payloads)
    if kind == "junk":
        return draw(json_values)
    raw = draw(bodies())
    if draw(st.integers(0, 3)) == 0:  # keep a share of well-formed requests so the 200 path is fuzzed too
        raw = _well_formed(draw, kind_of_endpoint)
    encoding = draw(st.sampled_from(["plain", "plain", "b64", "bad-b64", "none", "not-a-string"]))
    b64 = encoding in ("b64", "bad-b64")
    if encoding == "plain":
        body: Any = raw.decode("utf-8", draw(st.sampled_from(["replace", "surrogateescape", "ignore"])))
    elif encoding == "b64":
        body = base64.b64encode(raw).decode("ascii")
    elif encoding == "bad-b64":
        body = draw(st.sampled_from(["!!!", "YQ", "ab=c", "====", "eyJHMSI6IDF9\n", "é"])) + draw(
            st.text(max_size=8))
    elif encoding == "none":
        body = None
    else:
        body = draw(json_values.filter(lambda v: not isinstance(v, str)))
    method = draw(methods)
    headers = draw(event_headers())
    if kind == "v1":
        event: dict[str, Any] = {"resource": "/pred", "path": "/pred", "httpMethod": method, "headers": headers,
                                 "multiValueHeaders": draw(st.none() | st.dictionaries(
                                     header_names, st.lists(st.text(max_size=10), max_size=2) | json_values,
                                     max_size=3)),
                                 "requestContext": {"httpMethod": method}, "body": body, "isBase64Encoded": b64}
    else:
        event = {"version": "2.0", "routeKey": "$default" if kind == "url" else "POST /pred",
                 "rawPath": "/pred", "rawQueryString": "", "headers": headers,
                 "requestContext": {"http": {"method": method, "path": "/pred"}}, "body": body,
                 "isBase64Encoded": b64}
    # Then break the event's own structure now and then: drop keys, replace values with junk.
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=2, unique=True)) if draw(
            st.integers(0, 2)) == 0 else []:
        if draw(st.booleans()):
            del event[key]
        else:
            event[key] = draw(json_values)
    if draw(st.integers(0, 7)) == 0:
        event["isBase64Encoded"] = draw(st.sampled_from(["true", 1, None, "false"]))
    return event


@st.composite
def http_requests(draw: st.DrawFn, kind_of_endpoint: str = "model") -> tuple[str, bytes, dict[str, str]]:
    """(method, body, headers) for the flask test client: header values must be printable ASCII lines."""
    method = draw(st.sampled_from(["POST"] * 12 + ["GET", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
    headers = draw(st.dictionaries(
        st.sampled_from(["x-request-id", "accept", "authorization", "x-forwarded-for", "user-agent"]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20), max_size=3))
    if draw(st.integers(0, 5)):
        headers["Content-Type"] = draw(content_types)
    body = _well_formed(draw, kind_of_endpoint) if draw(st.integers(0, 3)) == 0 else draw(bodies())
    return method, body, headers


_DATATYPES = ["FP64", "FP32", "INT64", "INT32", "BOOL", "BYTES", "FP8", "", None]


@st.composite
def oip_tensors(draw: st.DrawFn) -> Any:
    """An OIP input tensor: mostly well-formed (one [N, 10] matrix or one feature's column), often broken."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    n = draw(st.integers(0, 3))
    per_feature = draw(st.booleans())
    name = draw(st.sampled_from(FEATURES)) if per_feature else draw(st.sampled_from(["input-0", "x", "", "G1"]))
    size = n if per_feature else n * 10
    data = draw(st.lists(any_values if draw(st.integers(0, 3)) == 0 else st.sampled_from([0, 1, 0.0, 1.0]),
                         min_size=size, max_size=size + draw(st.integers(0, 1))))
    tensor: dict[str, Any] = {"name": name, "shape": [n] if per_feature else [n, 10],
                              "datatype": draw(st.sampled_from(_DATATYPES)), "data": data}
    for key in draw(st.lists(st.sampled_from(sorted(tensor)), max_size=1)) if draw(st.integers(0, 3)) == 0 else []:
        tensor[key] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        tensor["parameters"] = {"binary_data_size": draw(st.integers(0, 80))}
    return tensor


@st.composite
def protocol_requests(draw: st.DrawFn) -> tuple[str, Any]:
    """(path, body) of an OIP infer or an MLflow scoring request: well-formed envelopes with fuzzed values,
    broken envelopes, or any body at all."""
    path = draw(st.sampled_from(["/v2/models/pred/infer", "/pred/invocations", "/v2/models/other/infer",
                                 "/v2/models/pred/versions/x/infer", "/v2/models/pred", "/v2/health/ready"]))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return path, draw(payloads)
    if path.endswith("/infer") and kind <= 3:
        body: Any = {"inputs": draw(st.lists(oip_tensors(), max_size=11))}
        if draw(st.booleans()):
            body["outputs"] = [{"name": draw(st.sampled_from(["prediction", "label", "probabilities", "x"]))}]
        if draw(st.integers(0, 5)) == 0:
            body["id"] = draw(json_values)
        return path, body
    rows_ = draw(st.lists(rows() | positional_rows(), max_size=3))
    fmt = draw(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "other"]))
    if fmt == "dataframe_split":
        value: Any = {"columns": draw(st.sampled_from([FEATURES, FEATURES[::-1], FEATURES[:9], ["G1"] * 10])),
                      "data": [list(r.values()) if isinstance(r, dict) else r for r in rows_]}
    elif fmt == "inputs" and draw(st.booleans()):
        value = {f: [draw(any_values) for _ in rows_] for f in FEATURES}
    else:
        value = rows_
    return path, {fmt: value, **({"params": draw(json_values)} if draw(st.integers(0, 4)) == 0 else {})}


# -- invariants ------------------------------------------------------------------------------------------

class RuleBroken(AssertionError):
    """An answer broke one of the fuzzing rules; ``server_error`` is set for a 5xx answer."""

    def __init__(self, message: str, server_error: bool = False) -> None:
        super().__init__(message)
        self.server_error = server_error


def _schemas() -> dict[str, Any]:
    """The OpenAPI components as one JSON Schema document (nullable turned into a type list)."""
    from smodels.openapi import build_spec

    spec = build_spec(FEATURES, "pred")

    def convert(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "example")}
            if node.get("nullable") and isinstance(node.get("type"), str):
                out["type"] = [node["type"], "null"]
            return out
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    return {"components": convert(spec["components"])}


_VALIDATORS: dict[str, Any] = {}


def validator(name: str) -> Any:
    """A jsonschema validator for component ``name`` (``Error``, ``Prediction``, ...) or ``Echo``."""
    if name not in _VALIDATORS:
        import jsonschema

        if name == "Echo":
            schema: dict[str, Any] = {"type": "object", "required": ["response", "success"],
                                      "additionalProperties": False,
                                      "properties": {"response": {"type": "string"}, "success": {"const": True}}}
        else:
            schema = {**_schemas(), "$ref": f"#/components/schemas/{name}"}
        _VALIDATORS[name] = jsonschema.Draft7Validator(schema)
    return _VALIDATORS[name]


def _conforms(body: Any, *names: str) -> bool:
    return any(validator(n).is_valid(body) for n in names)


def check_answer(status: Any, headers: Any, body_text: Any, kind: str, method: str | None = None,
                 allow_503: bool = False) -> str:
    """Check one answer against the rules; return a short outcome label ("200", "400 invalid_json", ...)."""
    if isinstance(status, bool) or not isinstance(status, int):
        raise RuleBroken(f"statusCode {status!r} is not an int")
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in
                                                 headers.items()):
        raise RuleBroken(f"headers {headers!r} is not a dict of strings")
    if not isinstance(body_text, str):
        raise RuleBroken(f"body is {type(body_text).__name__}, not str")
    if status >= 500 and not (allow_503 and status == 503):
        raise RuleBroken(f"server error {status}: {body_text[:300]}", server_error=True)
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if method == "HEAD" and body_text == "":
        return f"{status} (HEAD)"
    if not ctype.startswith("application/json"):
        raise RuleBroken(f"{status} with content type {ctype!r}: {body_text[:200]}")
    try:
        body = json.loads(body_text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError as exc:
        raise RuleBroken(f"{status} body is not strict JSON ({exc}): {body_text[:200]}") from None
    if 400 <= status < 600:
        if not _conforms(body, "Error"):
            raise RuleBroken(f"{status} body is not the error shape: {body_text[:300]}")
        return f"{status} {body['error']['code']}"
    if status == 200:
        wanted = ("Echo",) if kind == "echo" else ("Prediction", "BatchPrediction", "Metadata")
        if not _conforms(body, *wanted):
            raise RuleBroken(f"200 body is not a success shape for {kind}: {body_text[:300]}")
        return "200"
    raise RuleBroken(f"unexpected status {status}: {body_text[:200]}")


def check_lambda_result(result: Any, kind: str, allow_503: bool = False) -> str:
    """Check what a Lambda handler returned: ``{statusCode, headers, body}`` obeying :func:`check_answer`."""
    if not isinstance(result, dict):
        raise RuleBroken(f"handler returned {type(result).__name__}, not a dict")
    missing = {"statusCode", "headers", "body"} - set(result)
    if missing:
        raise RuleBroken(f"handler result lacks {sorted(missing)}: {result!r:.300}")
    return check_answer(result["statusCode"], result["headers"], result["body"], kind, allow_503=allow_503)


# -- environment -----------------------------------------------------------------------------------------

def book_model_env(runtime: str = "native", workdir: Path | None = None) -> dict[str, str]:
    """The function environment serving models/logreg from file://.

    ``native``: the skops artifact; ``onnx``: the packager's own conversion (smodels.packager, double input);
    ``onnx32``: converted here with a float32 input (the input type Keras models get), which exercises the
    float32 range check.
    """
    import hashlib

    from smodels.manifest import load_manifest

    manifest = load_manifest(REPO_ROOT / "models" / "logreg")
    path, fmt, sha = manifest.artifact_path, manifest.format, manifest.sha256
    workdir = Path(workdir or tempfile.mkdtemp(prefix="smodels-fuzz-"))
    if runtime == "onnx":
        from smodels.packager.model import prepare_model

        art = prepare_model(REPO_ROOT / "models" / "logreg", "onnx", workdir)
        path, fmt, sha = Path(art.path), art.format, art.sha256
    elif runtime == "onnx32":
        import skops.io as sio
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        data = path.read_bytes()
        clf = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        onx = convert_sklearn(clf, initial_types=[("x", FloatTensorType([None, len(FEATURES)]))],
                              options={id(clf): {"zipmap": False}}).SerializeToString()
        path = workdir / "model32.onnx"
        path.write_bytes(onx)
        fmt, sha = "onnx", hashlib.sha256(onx).hexdigest()
    elif runtime != "native":
        raise ValueError(f"runtime must be native, onnx or onnx32, got {runtime!r}")
    return {"MODEL_URI": path.as_uri(), "MODEL_SHA256": sha, "MODEL_FORMAT": fmt, "MODEL_NAME": manifest.name,
            "MODEL_FRAMEWORK": f"{manifest.framework} {manifest.framework_version}",
            "MODEL_FEATURES": json.dumps(manifest.feature_names), "ENDPOINT_NAME": "pred"}


@contextlib.contextmanager
def model_environment(env: dict[str, str]) -> Iterator[None]:
    """Set the model env in this process (and forget the cached app) for the duration of the block."""
    from functions import app

    saved = {k: os.environ.get(k) for k in MODEL_ENV_VARS}
    for k in MODEL_ENV_VARS:
        os.environ.pop(k, None)
    os.environ.update(env)
    app.reset_app()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        app.reset_app()


@contextlib.contextmanager
def quiet_stdout() -> Iterator[io.StringIO]:
    """Swallow the functions' JSON log lines (one per prediction) during a large run."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield buf


def gcp_client(target: str) -> Any:
    """A flask test client of functions-framework's app for entry point ``target`` of functions/gcp.py."""
    import functions_framework

    from smodels.packager.builder import GCP_MAIN

    src = Path(tempfile.mkdtemp(prefix="smodels-ff-")) / "main.py"
    src.write_bytes(GCP_MAIN)  # the main.py the packager ships
    return functions_framework.create_app(target, str(src), "http").test_client()


# -- calls: one example in, its checked outcome out -------------------------------------------------------

def lambda_call(kind: str) -> Callable[[Any], str]:
    """Call the Lambda handler for ``kind`` ("model" or "echo") and check the result."""
    from functions import aws

    handler = aws.echo_handler if kind == "echo" else aws.lambda_handler
    return lambda event: check_lambda_result(handler(event, None), kind)


def gcp_call(client: Any, kind: str) -> Callable[[Any], str]:
    """Send one (method, body, headers) through the functions-framework test client and check the answer."""
    def call(req: tuple[str, bytes, dict[str, str]]) -> str:
        method, body, headers = req
        resp = client.open("/pred", method=method, data=body, headers=headers)
        text = resp.get_data().decode("utf-8", "replace")
        return check_answer(resp.status_code, dict(resp.headers), text, kind, method)
    return call
