"""The book's echo function: ``{"msg": "..."}`` -> ``{"response": "...", "success": true}``."""

from __future__ import annotations

import os

from functions.contract import max_body_bytes
from functions.http import (
    ApiError,
    Request,
    Response,
    internal_error,
    json_response,
    method_not_allowed,
    parse_json_body,
)


def handle(request: Request) -> Response:
    """Echo the request's ``msg`` back; any client mistake is a 4xx JSON error naming the field."""
    try:
        if request.method.upper() != "POST":
            raise method_not_allowed(request.method, "POST")
        payload = parse_json_body(request, max_body_bytes(os.environ))
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_request", "body must be a JSON object like {\"msg\": \"hello\"}")
        if "msg" not in payload:
            raise ApiError(400, "missing_field", "field 'msg' is required", "msg")
        msg = payload["msg"]
        if not isinstance(msg, str):
            raise ApiError(400, "invalid_value", "field 'msg' must be a string", "msg")
        return json_response({"response": msg, "success": True})
    except ApiError as err:
        return err.to_response()
    except Exception:
        return internal_error("echo")
