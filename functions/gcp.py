"""Google Cloud Functions (functions-framework) adapter: entry points ``echo``, ``pred``, ``predict``.

Each takes the flask request functions-framework passes and returns a flask response with a JSON body.
``pred`` and ``predict`` are the same generic model app, configured from the environment. flask
is imported lazily (functions-framework has already imported it by the time a request arrives).
"""

from __future__ import annotations

import os
from typing import Any

from functions.contract import max_body_bytes
from functions.http import ApiError, Request, Response, app_handle, internal_error


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
        except ApiError as err:
            return to_flask(err.to_response())
        return to_flask(app_handle(kind)(request))
    except Exception:
        return to_flask(internal_error(where))


def echo(request: Any) -> Any:
    """The book's echo function."""
    return _serve(request, "echo", "echo")


def pred(request: Any) -> Any:
    """The generic model endpoint (the book's scikit-learn ``pred``)."""
    return _serve(request, "model", "pred")


def predict(request: Any) -> Any:
    """The generic model endpoint (the book's Keras ``predict``)."""
    return _serve(request, "model", "predict")

