"""API Gateway HTTP API (payload 2.0) translation: request -> event, proxy result -> HTTP response."""

from __future__ import annotations

import base64
import json

from smodels.local import apigw


def _event(**kw):
    base = dict(
        method="POST",
        path="/pred",
        query="",
        headers=[("Content-Type", "application/json"), ("X-Trace", "a"), ("x-trace", "b")],
        body=b'{"G1": "1"}',
        source_ip="127.0.0.1",
        route_key="POST /pred",
        request_id="req-1",
        now=1_700_000_000.5,
    )
    base.update(kw)
    return apigw.http_api_event(**base)


def test_event_has_the_payload_2_0_fields() -> None:
    ev = _event()
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "POST /pred"
    assert ev["rawPath"] == "/pred"
    assert ev["rawQueryString"] == ""
    assert "queryStringParameters" not in ev and "cookies" not in ev
    assert ev["headers"] == {"content-type": "application/json", "x-trace": "a,b"}
    ctx = ev["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/pred", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                           "userAgent": ""}
    assert ctx["requestId"] == "req-1" and ctx["stage"] == "$default" and ctx["routeKey"] == "POST /pred"
    assert ctx["timeEpoch"] == 1_700_000_000_500
    assert ctx["time"] == "14/Nov/2023:22:13:20 +0000"
    assert ev["body"] == '{"G1": "1"}' and ev["isBase64Encoded"] is False
    json.dumps(ev)  # the event must be JSON-serialisable as is


def test_query_and_cookies_are_split_like_api_gateway() -> None:
    ev = _event(query="a=1&a=2&b=&c=x%20y", headers=[("Cookie", "s=1; t=2"), ("User-Agent", "ua")])
    assert ev["rawQueryString"] == "a=1&a=2&b=&c=x%20y"
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "", "c": "x y"}
    assert ev["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in ev["headers"]
    assert ev["requestContext"]["http"]["userAgent"] == "ua"


def test_binary_or_untyped_bodies_are_base64() -> None:
    raw = b"\xff\x00binary"
    ev = _event(headers=[("Content-Type", "application/octet-stream")], body=raw)
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == raw
    # No content type at all: HTTP APIs treat the body as binary.
    ev = _event(headers=[], body=b'{"msg": "hi"}')
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b'{"msg": "hi"}'
    # JSON content type but not UTF-8: base64 rather than a corrupted string.
    ev = _event(body=b'{"msg": "\xff"}')
    assert ev["isBase64Encoded"] is True
    for ct in ("text/plain; charset=utf-8", "application/vnd.api+json", "application/x-www-form-urlencoded"):
        assert _event(headers=[("Content-Type", ct)], body=b"x=1")["isBase64Encoded"] is False


def test_no_body_means_no_body_key() -> None:
    ev = _event(method="GET", body=b"", route_key="GET /pred")
    assert "body" not in ev and ev["isBase64Encoded"] is False
    assert ev["requestContext"]["http"]["method"] == "GET"


def test_proxy_response_with_status_code() -> None:
    payload = {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-A": 1},
               "cookies": ["a=1", "b=2"], "body": '{"ok": true}'}
    resp = apigw.proxy_response(json.dumps(payload).encode())
    assert resp.status == 201
    assert resp.header("x-a") == "1"
    assert [v for k, v in resp.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert json.loads(resp.body) == {"ok": True}


def test_proxy_response_base64_body() -> None:
    payload = {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01").decode()}
    assert apigw.proxy_response(json.dumps(payload).encode()).body == b"\x00\x01"
    bad = {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!!"}
    resp = apigw.proxy_response(json.dumps(bad).encode())
    assert resp.status == 500 and json.loads(resp.body)["message"] == "Internal Server Error"


def test_proxy_response_without_status_code_is_inferred() -> None:
    resp = apigw.proxy_response(b'{"response": "hello", "success": true}')
    assert resp.status == 200
    assert resp.header("content-type") == "application/json"
    assert json.loads(resp.body) == {"response": "hello", "success": True}
    assert apigw.proxy_response(b'"just a string"').body == b'"just a string"'


def test_malformed_proxy_responses_are_json_errors() -> None:
    for payload, status in (
        (b"not json", 502),
        (b'{"statusCode": "200"}', 500),
        (b'{"statusCode": 99}', 500),
        (b'{"statusCode": 200, "headers": []}', 500),
        (b'{"statusCode": 200, "headers": {"a": [1]}}', 500),
        (b'{"statusCode": 200, "cookies": "a=1"}', 500),
    ):
        resp = apigw.proxy_response(payload)
        assert resp.status == status, payload
        body = json.loads(resp.body)
        assert "message" in body and "local" in body, payload


def test_function_error_is_500_with_local_detail() -> None:
    err = json.dumps({"errorType": "ValueError", "errorMessage": "boom", "stackTrace": []}).encode()
    resp = apigw.function_error_response(err, "Unhandled")
    body = json.loads(resp.body)
    assert resp.status == 500
    assert body == {"message": "Internal Server Error", "local": {"errorType": "ValueError", "errorMessage": "boom"}}
    resp = apigw.function_error_response(b"garbage", None)
    assert json.loads(resp.body)["local"]["errorMessage"] == "garbage"
