"""Google Cloud Functions (functions-framework) adapter: entry points ``echo``, ``pred``, ``predict``.

Each takes the flask request functions-framework passes and returns a flask response with a JSON body. A model
endpoint following a published pointer also takes ``POST /_refresh`` (contract.REFRESH_PATH): the Pub/Sub push
of the Cloud Storage notification on its pointer key, which makes it re-read the pointer at once. Only that push:
the request must carry its ID token (functions/idtoken.py: RS256 from Google or the local issuer, audience
REFRESH_AUDIENCE, email REFRESH_SERVICE_ACCOUNT), else 403 ``forbidden``, so a caller of a public endpoint cannot
make it re-read its pointer. The verifier and its key cache are imported on the first ``/_refresh`` only: the
prediction path loads none of it.
``pred`` and ``predict`` are the same generic model app, configured from the environment. flask
is imported lazily (functions-framework has already imported it by the time a request arrives).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from functions.apps import app_handle
from functions.contract import (
    REFRESH_AUDIENCE,
    REFRESH_CERTS_URL,
    REFRESH_FORBIDDEN,
    REFRESH_ISSUER,
    REFRESH_PATH,
    REFRESH_PLATFORM_VERIFIED,
    REFRESH_SERVICE_ACCOUNT,
    max_body_bytes,
)
from functions.http import ApiError, Request, Response, internal_error, parse_json_body


def flask_to_request(flask_request: Any, max_bytes: int) -> Request:
    """Read a flask request into a :class:`Request`, never reading more than ``max_bytes + 1`` body bytes."""
    length = flask_request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "body_too_large", f"request body is {length} bytes; the limit is {max_bytes}")
    body = flask_request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "body_too_large", f"request body is over the {max_bytes}-byte limit")
    headers = {k.lower(): v for k, v in flask_request.headers.items()}
    return Request(method=flask_request.method, body=body, headers=headers, path=flask_request.path or "/")


def to_flask(response: Response) -> Any:
    """A :class:`Response` as a flask response with the JSON content type."""
    import flask

    return flask.Response(response.body_text(), status=response.status, headers=response.all_headers(),
                          mimetype="application/json")


def _serve(flask_request: Any, kind: str, where: str) -> Any:
    try:
        try:
            request = flask_to_request(flask_request, max_body_bytes(os.environ))
            if kind == "model" and request.path == REFRESH_PATH and request.method.upper() == "POST":
                return to_flask(_refresh(request))
        except ApiError as err:
            return to_flask(err.to_response())
        return to_flask(app_handle(kind)(request))
    except Exception:
        return to_flask(internal_error(where))


_ISSUERS: dict[tuple[str, str], list[Any]] = {}  # (extra issuer, its certs URL) -> idtoken.Issuer list, per instance


def _trusted_issuers(environ: Mapping[str, str]) -> list[Any]:
    """Google, and the issuer REFRESH_ISSUER / REFRESH_CERTS_URL name (the local stack's); their key caches live as
    long as the instance."""
    key = (environ.get(REFRESH_ISSUER, ""), environ.get(REFRESH_CERTS_URL, ""))
    found = _ISSUERS.get(key)
    if found is None:
        from functions import idtoken

        found = [idtoken.google_issuer()]
        if key[0] and key[1]:
            found.append(idtoken.Issuer((key[0],), idtoken.JwksCache(key[1])))
        _ISSUERS[key] = found
    return found


def check_push(headers: Mapping[str, str], environ: Mapping[str, str] | None = None,
               now: float | None = None) -> dict[str, Any]:
    """The claims of the push's ID token in `headers` (lower-case names), or ApiError 403 ``forbidden`` saying
    which check failed: no token, a token that does not verify, or one for another audience or identity."""
    from functions import idtoken

    environ = os.environ if environ is None else environ
    code, status = REFRESH_FORBIDDEN
    audience, account = environ.get(REFRESH_AUDIENCE, ""), environ.get(REFRESH_SERVICE_ACCOUNT, "")
    if not audience or not account:
        raise ApiError(status, code, f"{REFRESH_PATH} is not configured ({REFRESH_AUDIENCE} and "
                       f"{REFRESH_SERVICE_ACCOUNT} are unset): it trusts no one")
    only = f"{REFRESH_PATH} takes only the Pub/Sub push of this function's storage trigger"
    token = idtoken.bearer(headers)
    if token is None:
        raise ApiError(status, code, f"{only}: no `Authorization: Bearer <ID token>`")
    try:
        return idtoken.verify(token, issuers=_trusted_issuers(environ), audiences=[audience], email=account,
                              trust_stripped=environ.get(REFRESH_PLATFORM_VERIFIED) == "1", now=now)
    except idtoken.TokenError as exc:
        raise ApiError(status, code, f"{only}: its ID token was refused ({exc})") from None


def _refresh(request: Request) -> Response:
    """A Pub/Sub push of the Cloud Storage notification on the pointer key: re-read the pointer now. The push's ID
    token is verified first (`check_push`); then only the envelope's shape is checked: its content is not trusted
    (the pointer and the artifact's hash decide)."""
    check_push(request.headers)
    envelope = parse_json_body(request)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise ApiError(400, "invalid_request", f"POST {REFRESH_PATH} takes a Pub/Sub push envelope "
                       '({"message": {...}, "subscription": ...})', "message")
    from functions import app

    return app.refresh("pubsub_push")


def echo(request: Any) -> Any:
    """The book's echo function."""
    return _serve(request, "echo", "echo")


def pred(request: Any) -> Any:
    """The generic model endpoint (the book's scikit-learn ``pred``)."""
    return _serve(request, "model", "pred")


def predict(request: Any) -> Any:
    """The generic model endpoint (the book's Keras ``predict``)."""
    return _serve(request, "model", "predict")

