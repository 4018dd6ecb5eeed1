"""AWS Lambda adapter: ``lambda_handler`` (model endpoints) and ``echo_handler``.

Accepted events: a console test event (the JSON body itself, as in the book: ``{"G1": "1", ...}``, a batch,
or ``{"msg": ...}``), API Gateway REST (payload 1.0), HTTP API (payload 2.0) and Lambda function URLs (2.0
shape), with plain or base64 bodies; and, for a model endpoint following a published pointer, the S3 event
notification of its pointer key, which makes it re-read the pointer at once (its content is not trusted).
The answer is always ``{statusCode, headers, body}`` with a JSON string
body; the handlers never raise, whatever the event looks like.
"""

from __future__ import annotations

import json
import os
from typing import Any

from functions.apps import app_handle
from functions.contract import max_body_bytes
from functions.http import ApiError, Request, Response, internal_error


def _is_http_event(event: dict[str, Any]) -> bool:
    ctx = event.get("requestContext")
    return "httpMethod" in event or "routeKey" in event or (isinstance(ctx, dict) and "http" in ctx) or (
        "body" in event and ("headers" in event or "isBase64Encoded" in event))


def _headers(event: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for k, v in multi.items():
            if isinstance(k, str) and isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                out[k.lower()] = ",".join(v)
    single = event.get("headers")
    if isinstance(single, dict):
        for k, v in single.items():
            if isinstance(k, str) and isinstance(v, str):
                out[k.lower()] = v
    return out


def _method_and_path(event: dict[str, Any]) -> tuple[str, str]:
    ctx = event.get("requestContext")
    http = ctx.get("http") if isinstance(ctx, dict) else None
    if isinstance(http, dict) and isinstance(http.get("method"), str):  # payload 2.0 / function URL
        path = event.get("rawPath") if isinstance(event.get("rawPath"), str) else http.get("path")
        return http["method"], path if isinstance(path, str) else "/"
    method = event.get("httpMethod")
    path = event.get("path")
    return (method if isinstance(method, str) and method else "POST"), (path if isinstance(path, str) else "/")


def event_to_request(event: Any, max_bytes: int) -> Request:
    """Translate any Lambda event into a :class:`Request`; raise ApiError for an unusable one."""
    if isinstance(event, dict) and _is_http_event(event):
        method, path = _method_and_path(event)
        body = event.get("body")
        if body is None:
            raw = b""
        elif isinstance(body, str):
            if event.get("isBase64Encoded") is True:
                if len(body) > max_bytes * 4 // 3 + 4:
                    raise ApiError(413, "body_too_large", f"request body is over the {max_bytes}-byte limit")
                import base64  # lazy: most events carry plain text, and every import is cold-start time
                import binascii

                try:
                    raw = base64.b64decode(body, validate=True)
                except (binascii.Error, ValueError):
                    raise ApiError(400, "invalid_base64", "isBase64Encoded is true but the body is not base64",
                                   "body") from None
            else:
                try:
                    raw = body.encode("utf-8")
                except UnicodeEncodeError:
                    raise ApiError(400, "invalid_json", "request body is not valid UTF-8") from None
        else:
            raise ApiError(400, "invalid_request", "event 'body' must be a string", "body")
        return Request(method=method, body=raw, headers=_headers(event), path=path)
    # A console/direct invocation: the event is the JSON document itself. Lambda's runtime parsed it with
    # Python's json module, which accepts NaN and Infinity; re-serialising with allow_nan=False makes the
    # strict parser see exactly what the client sent (minus duplicate keys, which the runtime already merged).
    if event is None:
        raise ApiError(400, "invalid_request", "the event is empty; send a JSON object")
    if _is_flat_document(event, max_bytes):
        return Request(method="POST", headers={"content-type": "application/json"}, path="/", doc=event)
    try:
        raw = json.dumps(event, allow_nan=False).encode("utf-8")
    except ValueError:
        raise ApiError(400, "invalid_json", "NaN and Infinity are not valid JSON") from None
    except (TypeError, RecursionError, UnicodeEncodeError):
        raise ApiError(400, "invalid_json", "the event cannot be read as a JSON document") from None
    return Request(method="POST", body=raw, headers={"content-type": "application/json"}, path="/")


#: A flat console event (the book's row) skips the re-serialising below when its encoded size is bounded by this
#: many bytes per key and value character (a \uXXXX escape) plus the punctuation of one entry.
_ESCAPED = 6
_ENTRY = 64


def _is_flat_document(event: Any, max_bytes: int) -> bool:
    """True for a dict of string keys and plain values (finite floats, ints within 2**53, short strings, booleans,
    null) whose JSON text is surely within ``max_bytes``: such an event is exactly what the strict parser would
    return for its serialisation (no NaN, no duplicate keys, depth 1), so the adapter hands it over as it is."""
    if type(event) is not dict or len(event) > 4096:
        return False
    bound = 2
    for k, v in event.items():
        t = type(v)
        if type(k) is not str:
            return False
        if t is str:
            bound += _ESCAPED * (len(k) + len(v)) + _ENTRY
        elif t is float:
            if v - v != 0.0:  # NaN or Infinity: the careful path says "not valid JSON"
                return False
            bound += _ESCAPED * len(k) + _ENTRY
        elif t is int:
            if not -(2**53) <= v <= 2**53:
                return False
            bound += _ESCAPED * len(k) + _ENTRY
        elif v is None or t is bool:
            bound += _ESCAPED * len(k) + _ENTRY
        else:
            return False
    return bound <= max_bytes


def to_lambda(response: Response) -> dict[str, Any]:
    """A :class:`Response` as the dict Lambda/API Gateway/function URLs expect."""
    return {"statusCode": response.status, "headers": response.all_headers(), "body": response.body_text(),
            "isBase64Encoded": False}


def is_s3_event(event: Any) -> bool:
    """An S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}]}``): the pointer trigger."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (isinstance(records, list) and bool(records)
            and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records))


def _serve(event: Any, kind: str, where: str) -> dict[str, Any]:
    try:
        if kind == "model" and is_s3_event(event):  # the bucket notification on the pointer key
            from functions import app

            return to_lambda(app.refresh("s3_event"))
        try:
            request = event_to_request(event, max_body_bytes(os.environ))
        except ApiError as err:
            return to_lambda(err.to_response())
        return to_lambda(app_handle(kind)(request))
    except Exception:
        return to_lambda(internal_error(where))


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Model endpoint entry point (handler string ``functions.aws.lambda_handler``)."""
    return _serve(event, "model", "lambda_handler")


def echo_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Echo entry point (handler string ``functions.aws.echo_handler``)."""
    return _serve(event, "echo", "echo_handler")
