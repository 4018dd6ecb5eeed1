"""API Gateway HTTP API (payload format 2.0) translation: an HTTP request into the Lambda event, and back.

What API Gateway does between a client and a Lambda proxy integration, as documented for HTTP APIs:
- header names lower-cased, repeated headers joined with ",", cookies moved to `cookies`;
- `rawQueryString` as sent, `queryStringParameters` decoded (repeated keys joined with ",");
- the body as text when the content type is textual (JSON, XML, text/*, form), otherwise base64 with
  `isBase64Encoded: true` (a request without a content type counts as binary);
- the response: a dict with `statusCode` is taken as is (headers, cookies, body, isBase64Encoded); any
  other valid JSON is returned as a 200 `application/json` body; anything malformed is a 500.
Pure functions, no I/O: the front (`front.py`) and the unit tests use them directly.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "000000000000"
API_ID = "local"
STAGE = "$default"
INTERNAL_ERROR = {"message": "Internal Server Error"}

_TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/yaml",
)


def _is_text_content_type(value: str | None) -> bool:
    if not value:
        return False
    mime = value.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


@dataclass
class HttpResponse:
    """An HTTP response ready to write: status, header pairs (Set-Cookie may repeat) and body bytes."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def json_response(status: int, body: Any, extra_headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """A JSON response (compact, UTF-8)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return HttpResponse(status, [("Content-Type", "application/json"), *extra_headers], data)


def http_api_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    route_key: str,
    domain: str = "127.0.0.1",
    request_id: str | None = None,
    now: float | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway would hand a Lambda proxy integration for this request (`authorizer`:
    `requestContext.authorizer`, e.g. `{"iam": {...}}` for an `AWS_IAM` route)."""
    now = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": STAGE,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if cookies:
        event["cookies"] = cookies
    if query:
        params: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    if body:
        text: str | None = None
        if _is_text_content_type(joined.get("content-type")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is not None:
            event["body"] = text
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def proxy_response(payload: bytes) -> HttpResponse:
    """Turn a Lambda function's response payload into the HTTP response API Gateway (payload 2.0) sends."""
    try:
        result = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return json_response(502, INTERNAL_ERROR | {"local": "the function returned a payload that is not JSON"})
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway infers 200 and passes the JSON through as the body.
        return HttpResponse(200, [("Content-Type", "application/json")], payload)
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return json_response(500, INTERNAL_ERROR | {"local": f"statusCode {status!r} is not an HTTP status"})
    headers: list[tuple[str, str]] = []
    raw_headers = result.get("headers")
    raw_headers = {} if raw_headers is None else raw_headers
    if not isinstance(raw_headers, dict):
        return json_response(500, INTERNAL_ERROR | {"local": "headers must be an object"})
    for k, v in raw_headers.items():
        if isinstance(v, (list, dict)):
            return json_response(500, INTERNAL_ERROR | {"local": f"header {k!r} must be a string"})
        headers.append((str(k), "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)))
    cookies = result.get("cookies")
    cookies = [] if cookies is None else cookies
    if not isinstance(cookies, list):
        return json_response(500, INTERNAL_ERROR | {"local": "cookies must be a list"})
    headers.extend(("Set-Cookie", str(c)) for c in cookies)
    body = result.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        if result.get("isBase64Encoded") is True:
            try:
                data = base64.b64decode(body, validate=True)
            except ValueError:
                return json_response(500, INTERNAL_ERROR | {"local": "isBase64Encoded body is not base64"})
        else:
            data = body.encode("utf-8")
    else:
        # API Gateway serialises a non-string body itself.
        data = json.dumps(body, separators=(",", ":")).encode()
    return HttpResponse(status, headers, data)


def function_error_response(error_payload: bytes, error_type: str | None) -> HttpResponse:
    """An unhandled function error: API Gateway answers 500 "Internal Server Error"; the detail is local-only."""
    try:
        detail = json.loads(error_payload)
    except (ValueError, UnicodeDecodeError):
        detail = {"errorMessage": error_payload.decode("utf-8", "replace")[:2000]}
    if not isinstance(detail, dict):
        detail = {"errorMessage": str(detail)}
    local = {
        "errorType": detail.get("errorType") or error_type or "Unknown",
        "errorMessage": detail.get("errorMessage", ""),
    }
    return json_response(500, INTERNAL_ERROR | {"local": local})
