"""Request cases shared by the adapter tests: every client error the contract names, plus accepted variants.

Each case is an HTTP-level request (method, content type, raw body) and the expected status, error code and
field, so the same table runs through the Lambda adapter (every event kind) and functions-framework.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

FEATURES = [f"G{i}" for i in range(1, 11)]
BOOK = {"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}


def _with(**changes: object) -> bytes:
    row: dict[str, object] = dict(BOOK)
    for k, v in changes.items():
        if v is _DROP:
            row.pop(k)
        else:
            row[k] = v
    return json.dumps(row).encode()


_DROP = object()


@dataclass(frozen=True)
class Case:
    """One request and what must come back."""

    id: str
    body: bytes
    status: int
    code: str | None = None
    field: str | None = None
    method: str = "POST"
    content_type: str | None = "application/json"


ROW = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]

MODEL_ERRORS = [
    Case("invalid-json", b'{"G1": "1",', 400, "invalid_json"),
    Case("nan-literal", b'{"G1": NaN}', 400, "invalid_json"),
    Case("infinity-literal", b'{"G1": -Infinity}', 400, "invalid_json"),
    Case("duplicate-key", b'{"G1": "1", "G1": "0"}', 400, "invalid_json", "G1"),
    Case("too-deep", b'{"instances": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "invalid_json"),
    Case("invalid-utf8", b'{"G1": "\xff\xfe"}', 400, "invalid_json"),
    Case("empty-body", b"", 400, "invalid_json"),
    Case("not-an-object", b"[1, 2, 3]", 400, "invalid_request"),
    Case("missing-feature", _with(G10=_DROP), 400, "missing_feature", "G10"),
    Case("unknown-feature", _with(G11="0"), 400, "unknown_feature", "G11"),
    Case("non-numeric", _with(G3="abc"), 400, "invalid_value", "G3"),
    Case("nan-string", _with(G4="nan"), 400, "invalid_value", "G4"),
    Case("overflow-number", _with(G5=1e308).replace(b"1e+308", b"1e999"), 400, "invalid_value", "G5"),
    Case("bool", _with(G2=True), 400, "invalid_value", "G2"),
    Case("null", _with(G6=None), 400, "invalid_value", "G6"),
    Case("nested-value", _with(G7=[1]), 400, "invalid_value", "G7"),
    Case("empty-batch", b'{"instances": []}', 400, "empty_batch", "instances"),
    Case("batch-not-list", b'{"instances": {"G1": 1}}', 400, "invalid_request", "instances"),
    Case("batch-too-large", json.dumps({"instances": [ROW] * 1001}).encode(), 413, "batch_too_large", "instances"),
    Case("batch-row-length", json.dumps({"instances": [ROW, ROW[:9]]}).encode(), 400, "wrong_row_length",
         "instances[1]"),
    Case("batch-bad-value", json.dumps({"instances": [ROW, dict(BOOK, G8="x")]}).encode(), 400, "invalid_value",
         "instances[1].G8"),
    Case("batch-extra-field", json.dumps({"instances": [ROW], "x": 1}).encode(), 400, "unknown_field", "x"),
    Case("body-too-large", b'{"G1": "1"' + b" " * (1024 * 1024) + b"}", 413, "body_too_large"),
    Case("wrong-method", b"", 405, "method_not_allowed", method="PUT"),
    Case("wrong-content-type", json.dumps(BOOK).encode(), 415, "unsupported_media_type", "Content-Type",
         content_type="text/plain"),
    Case("wrong-charset", json.dumps(BOOK).encode(), 415, "unsupported_media_type", "Content-Type",
         content_type="application/json; charset=latin-1"),
]

MODEL_OK = [
    Case("json", json.dumps(BOOK).encode(), 200),
    Case("json-charset", json.dumps(BOOK).encode(), 200, content_type="application/json; charset=UTF-8"),
    Case("no-content-type", json.dumps(BOOK).encode(), 200, content_type=None),
    Case("numbers", json.dumps({k: int(v) for k, v in BOOK.items()}).encode(), 200),
]

ECHO_ERRORS = [
    Case("invalid-json", b'{"msg": ', 400, "invalid_json"),
    Case("missing-msg", b'{"message": "hi"}', 400, "missing_field", "msg"),
    Case("msg-not-string", b'{"msg": 3}', 400, "invalid_value", "msg"),
    Case("not-an-object", b'"hi"', 400, "invalid_request"),
    Case("wrong-method", b"", 405, "method_not_allowed", method="DELETE"),
    Case("wrong-content-type", b'{"msg": "hi"}', 415, "unsupported_media_type", "Content-Type",
         content_type="text/plain"),
    Case("body-too-large", b'{"msg": "' + b"a" * (1024 * 1024) + b'"}', 413, "body_too_large"),
]


def check_error(status: int, body: dict, case: Case) -> None:
    """Assert a response matches an error case's status, code and field."""
    assert status == case.status, body
    assert body["success"] is False
    assert body["error"]["code"] == case.code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if case.field is not None:
        assert body["error"]["field"] == case.field, body
