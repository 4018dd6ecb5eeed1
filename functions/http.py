"""Cloud-neutral HTTP plumbing: request/response types, API errors and strict JSON body parsing.

Both adapters (``aws.py``, ``gcp.py``) translate their platform's request into :class:`Request`, call an
app's ``handle`` and translate the :class:`Response` back. Only the standard library is used here: this
module ships in echo archives, which contain neither numpy nor a model runtime.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from typing import Any

from functions.contract import DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH

_JSON_CT = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")
#: One compact, strict encoder for every body and log line (``json.dumps`` with options builds one per call).
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_encode_log = json.JSONEncoder(separators=(",", ":"), default=str).encode
_UNSET: Any = object()


class ApiError(Exception):
    """A client-visible error: HTTP status, a stable machine code, a message and the offending field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        """The uniform error body: ``{"success": false, "error": {"code", "message", "field"}}``."""
        body = {"success": False, "error": {"code": self.code, "message": self.message, "field": self.field}}
        return Response(self.status, body, dict(self.headers))


class Request:
    """An HTTP request as the apps see it. Header names are lower-case. ``doc``: the body already parsed by the
    platform and checked by the adapter as :func:`parse_json_bytes` would check it (a console event), else None."""

    __slots__ = ("method", "body", "headers", "path", "doc")

    def __init__(self, method: str, body: bytes = b"", headers: dict[str, str] | None = None, path: str = "/",
                 doc: Any = None) -> None:
        self.method = method
        self.body = body
        self.headers = {} if headers is None else headers
        self.path = path
        self.doc = doc

    def __repr__(self) -> str:
        return f"Request({self.method!r}, {self.body[:60]!r}, {self.headers!r}, {self.path!r})"

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name.lower())


class Response:
    """An HTTP response whose body is a JSON-serialisable object, or its compact JSON text already encoded
    (``text``: the hot path writes a one-row answer directly; ``body`` then decodes it on demand)."""

    __slots__ = ("status", "_body", "headers", "_text")

    def __init__(self, status: int, body: Any = _UNSET, headers: dict[str, str] | None = None,
                 text: str | None = None) -> None:
        if body is _UNSET and text is None:
            raise TypeError("Response needs a body or its text")
        self.status = status
        self._body = body
        self._text = text
        self.headers = {} if headers is None else headers

    def __repr__(self) -> str:
        return f"Response({self.status!r}, {self.body!r}, {self.headers!r})"

    @property
    def body(self) -> Any:
        """The body as a JSON-serialisable object."""
        if self._body is _UNSET:
            self._body = json.loads(self._text)  # type: ignore[arg-type]
        return self._body

    def body_text(self) -> str:
        """The body serialised as compact JSON (never NaN/Infinity)."""
        if self._text is None:
            self._text = _encode(self._body)
        return self._text

    def all_headers(self) -> dict[str, str]:
        """Headers to send, including the JSON content type."""
        out = {"Content-Type": "application/json"}
        out.update(self.headers)
        return out


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response carrying ``body`` as JSON."""
    return Response(status, body, dict(headers or {}))


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    """The uniform error response of :class:`ApiError` (``{"success": false, "error": {...}}``), not raised."""
    return ApiError(status, code, message, field, headers).to_response()


def internal_error(where: str) -> Response:
    """Log the exception being handled (one JSON line with the traceback) and return a JSON 500."""
    import traceback  # lazy: a cold start never needs it

    log_event("internal_error", where=where, traceback=traceback.format_exc())
    return error_response(500, "internal", "internal error; see the function's logs")


def log_event(event: str, **fields: Any) -> None:
    """Write one structured JSON log line to stdout (CloudWatch / Cloud Logging parse it)."""
    write_log_line(_encode_log({"event": event, **fields}))


def write_log_line(line: str) -> None:
    """Write one already-encoded JSON log line to stdout and flush it (the platform ships it per line)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def method_not_allowed(method: str, allow: str) -> ApiError:
    """A 405 naming the allowed methods (also in the ``Allow`` header)."""
    return ApiError(405, "method_not_allowed", f"method {method!r} not allowed; use {allow}", None, {"Allow": allow})


def refuse_unknown_fields(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str = "",
                          listing: str | None = None) -> None:
    """ApiError 400 ``unknown_field`` naming the first key of `raw` (sorted) not in `allowed`: ``<where>: unexpected
    field 'x' (<listing>)``, the field ``<where>.x`` (``x`` at the top level). `listing` defaults to `allowed`."""
    extra = sorted(str(k) for k in raw if k not in allowed)
    if extra:
        prefix = f"{where}: " if where else ""
        raise ApiError(400, "unknown_field", f"{prefix}unexpected field {extra[0][:60]!r} "
                       f"({listing or ', '.join(allowed)})", f"{where}.{extra[0]}" if where else extra[0])


def check_content_type(request: Request) -> None:
    """Accept ``application/json`` (with parameters; charset must be utf-8) or no content type at all.

    A missing content type is accepted because the book's console tests and ``curl -d`` habits send none.
    """
    value = request.headers.get("content-type")
    if value is not None:
        _check_content_type(value)


@functools.lru_cache(maxsize=32)  # the few values clients send; a refused one raises, and that is not cached
def _check_content_type(value: str) -> None:
    if not value.strip():
        return
    mime, _, params = value.partition(";")
    if not _JSON_CT.match(mime.strip().lower()):
        raise ApiError(415, "unsupported_media_type", f"content type {mime.strip()!r} not supported; send JSON "
                       "as application/json", "Content-Type")
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", "only the utf-8 charset is supported", "Content-Type")


def _reject_constant(name: str) -> Any:
    raise ApiError(400, "invalid_json", f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(400, "invalid_json", f"duplicate key {key!r} in JSON object", key)
        out[key] = value
    return out


def _check_depth(doc: Any, limit: int) -> None:
    """Walk the parsed document iteratively (linear in its size) and reject nesting deeper than ``limit``.

    Checking the parsed value, not the text, keeps this linear: a regex over the raw text backtracks
    quadratically on unterminated strings full of escaped quotes.
    """
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise ApiError(400, "invalid_json", f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def parse_json_bytes(body: bytes, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """Strictly parse a JSON document: size limit, UTF-8, no NaN/Infinity, no duplicate keys, bounded depth.

    Raises :class:`ApiError` (400 or 413) with a message saying what is wrong.
    """
    if len(body) > max_bytes:
        raise ApiError(413, "body_too_large", f"request body is {len(body)} bytes; the limit is {max_bytes}")
    if not body.strip():
        raise ApiError(400, "invalid_json", "request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except ApiError:
        raise
    except RecursionError:
        # The C scanner guards its recursion; a body nested this deep is far past our own limit anyway.
        raise ApiError(400, "invalid_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        # json.JSONDecodeError is a ValueError; so are over-long integer literals.
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    _check_depth(doc, MAX_JSON_DEPTH)
    return doc


def parse_json_body(request: Request, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """Check the content type, then strictly parse the request body (see :func:`parse_json_bytes`); a body the
    adapter has already parsed and checked (``request.doc``) is returned as it is."""
    if request.doc is not None:
        return request.doc
    check_content_type(request)
    return parse_json_bytes(request.body, max_bytes)
