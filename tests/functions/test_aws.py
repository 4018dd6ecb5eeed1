"""The Lambda adapter: every event kind, every client error, S3 through moto, and robustness to junk events."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from fn_cases import BOOK, ECHO_ERRORS, FEATURES, MODEL_ERRORS, MODEL_OK, Case, check_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions import aws
from functions.http import ApiError, parse_json_bytes


def rest_v1(case: Case, b64: bool = False) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event."""
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    body = case.body
    return {
        "resource": "/pred", "path": "/pred", "httpMethod": case.method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": None, "requestContext": {"resourcePath": "/pred", "httpMethod": case.method},
        "body": (base64.b64encode(body).decode() if b64 else body.decode("utf-8", "surrogateescape"))
        if body else None,
        "isBase64Encoded": b64,
    }


def http_v2(case: Case, b64: bool = False, function_url: bool = False) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event, or a Lambda function URL event (same shape, routeKey $default)."""
    headers = {"content-type": case.content_type} if case.content_type else {}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default" if function_url else "POST /pred",
        "rawPath": "/" if function_url else "/pred", "rawQueryString": "", "headers": headers,
        "requestContext": {"http": {"method": case.method, "path": "/pred", "protocol": "HTTP/1.1"},
                           "domainName": "abc.lambda-url.us-east-1.on.aws" if function_url else "x"},
        "isBase64Encoded": b64,
    }
    if case.body:
        event["body"] = base64.b64encode(case.body).decode() if b64 else case.body.decode("utf-8", "surrogateescape")
    return event


# Invalid UTF-8 cannot travel in a non-base64 event (API Gateway base64-encodes binary bodies).
def _text_safe(case: Case) -> bool:
    try:
        case.body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


EVENT_KINDS = {
    "rest-v1": lambda c: rest_v1(c),
    "rest-v1-b64": lambda c: rest_v1(c, b64=True),
    "http-v2": lambda c: http_v2(c),
    "http-v2-b64": lambda c: http_v2(c, b64=True),
    "function-url": lambda c: http_v2(c, function_url=True),
    "function-url-b64": lambda c: http_v2(c, b64=True, function_url=True),
}


def call(handler: Any, event: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Invoke a handler and decode its answer, checking the Lambda response shape."""
    out = handler(event, None)
    assert set(out) >= {"statusCode", "headers", "body"}
    assert isinstance(out["body"], str)
    assert out["headers"]["Content-Type"] == "application/json"
    return out["statusCode"], json.loads(out["body"]), out["headers"]


@pytest.fixture
def skops_model(models, configure):
    configure(models.skops.uri, models.skops.sha256, "skops")
    return models


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
@pytest.mark.parametrize("case", MODEL_ERRORS, ids=lambda c: c.id)
def test_model_errors_every_event_kind(skops_model, case: Case, kind: str) -> None:
    if not kind.endswith("b64") and not _text_safe(case):
        pytest.skip("a non-UTF-8 body only arrives base64-encoded")
    status, body, headers = call(aws.lambda_handler, EVENT_KINDS[kind](case))
    check_error(status, body, case)
    if status == 405:
        assert headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
@pytest.mark.parametrize("case", MODEL_OK, ids=lambda c: c.id)
def test_model_ok_every_event_kind(skops_model, case: Case, kind: str) -> None:
    status, body, _ = call(aws.lambda_handler, EVENT_KINDS[kind](case))
    assert status == 200, body
    expected = skops_model.clf.predict_proba(np.array([[1.0] + [0.0] * 9]))[0][1]
    assert body["prediction"] == pytest.approx(expected, abs=1e-12)
    assert body["response"] == str(body["prediction"])


CONSOLE_ERRORS = [
    ({k: v for k, v in BOOK.items() if k != "G10"}, 400, "missing_feature", "G10"),
    (dict(BOOK, G11="1"), 400, "unknown_feature", "G11"),
    (dict(BOOK, G3="x"), 400, "invalid_value", "G3"),
    (dict(BOOK, G2=True), 400, "invalid_value", "G2"),
    (dict(BOOK, G2=float("nan")), 400, "invalid_json", None),  # the runtime's json accepts NaN; we do not
    (dict(BOOK, G2=float("inf")), 400, "invalid_json", None),
    ({"instances": []}, 400, "empty_batch", "instances"),
    ({"instances": [[0] * 10] * 1001}, 413, "batch_too_large", "instances"),
    ([1, 2], 400, "invalid_request", None),
    ("text", 400, "invalid_request", None),
    (None, 400, "invalid_request", None),
    (3.5, 400, "invalid_request", None),
]


@pytest.mark.parametrize("event,status,code,field", CONSOLE_ERRORS)
def test_console_event_errors(skops_model, event: Any, status: int, code: str, field: str | None) -> None:
    got_status, body, _ = call(aws.lambda_handler, event)
    check_error(got_status, body, Case("console", b"", status, code, field))


def test_console_event_book_request(skops_model, capsys) -> None:
    """The book's console test: a plain dict of string features."""
    status, body, _ = call(aws.lambda_handler, dict(BOOK))
    assert status == 200
    assert body["success"] is True
    assert float(body["response"]) == body["prediction"]
    assert body["model"] == {"name": "games-test", "version": skops_model.skops.sha256}
    # One structured log line per prediction, without the request body.
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    preds = [x for x in lines if x["event"] == "prediction"]
    assert len(preds) == 1
    assert preds[0]["rows"] == 1 and preds[0]["model_version"] == skops_model.skops.sha256
    assert preds[0]["output"]["mean"] == body["prediction"] and preds[0]["latency_ms"] >= 0
    assert "G1" not in json.dumps(preds[0])


def test_console_batch_dicts_and_lists(skops_model) -> None:
    rows = skops_model.X[:50]
    expected = skops_model.clf.predict_proba(rows)[:, 1]
    status, body, _ = call(aws.lambda_handler, {"instances": rows.tolist()})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], expected, rtol=0, atol=1e-12)
    dict_rows = [{f: str(int(v)) for f, v in zip(FEATURES, r, strict=True)} for r in rows]
    status, body2, _ = call(aws.lambda_handler, {"instances": dict_rows})
    assert status == 200 and body2["predictions"] == body["predictions"]


@pytest.mark.parametrize("kind", ["rest-v1", "http-v2", "function-url"])
def test_get_returns_metadata(skops_model, kind: str) -> None:
    status, body, _ = call(aws.lambda_handler, EVENT_KINDS[kind](Case("get", b"", 200, method="GET")))
    assert status == 200
    assert body["model"]["version"] == skops_model.skops.sha256
    assert body["model"]["features"] == FEATURES
    assert body["model"]["format"] == "skops"
    assert body["endpoint"] == "pred"
    assert body["runtime"]["python"].count(".") == 2


def test_invalid_base64_is_400(skops_model) -> None:
    event = rest_v1(Case("b64", b"", 200))
    event.update(body="not base64!!", isBase64Encoded=True)
    status, body, _ = call(aws.lambda_handler, event)
    check_error(status, body, Case("x", b"", 400, "invalid_base64", "body"))


def test_multivalue_headers_only(skops_model) -> None:
    """Some REST integrations send only multiValueHeaders."""
    event = rest_v1(Case("mv", json.dumps(BOOK).encode(), 200, content_type=None))
    event["multiValueHeaders"] = {"Content-Type": ["text/csv"]}
    status, body, _ = call(aws.lambda_handler, event)
    assert status == 415, body


def test_misconfigured_is_503_json(models, configure, monkeypatch) -> None:
    configure(models.skops.uri, models.skops.sha256, "skops")
    monkeypatch.setenv("MODEL_FORMAT", "h5")
    monkeypatch.delenv("MODEL_SHA256")
    status, body, _ = call(aws.lambda_handler, dict(BOOK))
    assert status == 503
    assert body["error"]["code"] == "misconfigured"
    assert "MODEL_SHA256" in body["error"]["message"] and "MODEL_FORMAT" in body["error"]["message"]


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["httpMethod", "body", "headers", "isBase64Encoded", "requestContext", "http", "method",
                         "rawPath", "multiValueHeaders", "routeKey", "version", "G1", "msg", "instances"])
        | st.text(max_size=5), inner, max_size=5),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=junk)
def test_any_event_shape_never_raises(skops_model, event: Any) -> None:
    for handler in (aws.lambda_handler, aws.echo_handler):
        status, body, _ = call(handler, event)
        assert status in (200, 400, 405, 413, 415), body
        if status != 200:
            assert body["success"] is False and body["error"]["code"]


# -- echo -------------------------------------------------------------------------------------------------

def test_echo_console_event() -> None:
    status, body, _ = call(aws.echo_handler, {"msg": "hello"})
    assert (status, body) == (200, {"response": "hello", "success": True})


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
def test_echo_every_event_kind(kind: str) -> None:
    status, body, _ = call(aws.echo_handler, EVENT_KINDS[kind](Case("ok", b'{"msg": "h\xc3\xa9"}', 200)))
    assert (status, body) == (200, {"response": "h\u00e9", "success": True})


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
@pytest.mark.parametrize("case", ECHO_ERRORS, ids=lambda c: c.id)
def test_echo_errors_every_event_kind(case: Case, kind: str) -> None:
    status, body, headers = call(aws.echo_handler, EVENT_KINDS[kind](case))
    check_error(status, body, case)
    if status == 405:
        assert headers["Allow"] == "POST"


# -- S3 through moto --------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["skops", "onnx64"])
def test_book_request_from_s3_matches_predict_proba(models, configure, s3, fmt: str) -> None:
    art = getattr(models, fmt)
    key = f"models/games-test/{art.sha256}.{art.fmt}"
    s3.put_object(Bucket="models", Key=key, Body=art.data)
    configure(f"s3://models/{key}", art.sha256, art.fmt)
    expected = models.clf.predict_proba(np.array([[1.0] + [0.0] * 9]))[0][1]
    for event in (dict(BOOK), http_v2(Case("ok", json.dumps(BOOK).encode(), 200))):
        status, body, _ = call(aws.lambda_handler, event)
        assert status == 200, body
        assert abs(body["prediction"] - expected) <= 1e-9
        assert abs(float(body["response"]) - expected) <= 1e-9
    rows = models.X[:300]
    status, body, _ = call(aws.lambda_handler, {"instances": rows.tolist()})
    np.testing.assert_allclose(body["predictions"], models.clf.predict_proba(rows)[:, 1], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_s3_missing_object_is_503_and_retried(models, configure, s3) -> None:
    key = f"models/games-test/{models.skops.sha256}.skops"
    configure(f"s3://models/{key}", models.skops.sha256, "skops")
    status, body, _ = call(aws.lambda_handler, dict(BOOK))
    assert status == 503 and body["error"]["code"] == "model_unavailable"
    assert "s3://models/" in body["error"]["message"]
    s3.put_object(Bucket="models", Key=key, Body=models.skops.data)  # appears later: no poisoned cache
    status, body, _ = call(aws.lambda_handler, dict(BOOK))
    assert status == 200, body


@pytest.mark.slow
def test_s3_sha256_mismatch_is_503_and_logged(models, configure, s3, capsys) -> None:
    key = "models/games-test/tampered.skops"
    s3.put_object(Bucket="models", Key=key, Body=models.skops.data + b"\0")
    configure(f"s3://models/{key}", models.skops.sha256, "skops")
    status, body, _ = call(aws.lambda_handler, dict(BOOK))
    assert status == 503 and "sha256" in body["error"]["message"]
    logs = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [x["stage"] for x in logs if x["event"] == "model_load_failed"] == ["sha256_mismatch"]


FLAT_EVENTS = [dict(BOOK), {k: int(v) for k, v in BOOK.items()}, {k: float(v) for k, v in BOOK.items()},
               dict(BOOK, G2=None), dict(BOOK, G2=True), {"G1": "é\u2028", "x": -0.0}, {}]
NOT_FLAT = [dict(BOOK, G2=float("nan")), dict(BOOK, G2=2**60), dict(BOOK, G2=[1]), {"instances": [[0] * 10]},
            {1: "a"}, {"G1": "x" * 4000}]


@pytest.mark.parametrize("event", FLAT_EVENTS)
def test_flat_console_event_is_handed_over_as_the_strict_parser_reads_it(event: dict) -> None:
    """The fast path gives the app exactly the document the re-serialise-and-parse path would give."""
    request = aws.event_to_request(event, 1000)
    assert request.doc is event and request.body == b""
    assert request.doc == parse_json_bytes(json.dumps(event).encode(), 1000)


@pytest.mark.parametrize("event", NOT_FLAT)
def test_other_console_events_take_the_careful_path(event: dict) -> None:
    try:
        request = aws.event_to_request(event, 1000)
    except ApiError:
        return  # NaN: refused there, as before
    assert request.doc is None and request.body


def test_one_row_answer_text_is_the_encoded_body(skops_model) -> None:
    """The directly written one-row answer is byte for byte what encoding the answer's dict gives."""
    from functions.app import get_app

    app = get_app()
    for p in (0.06745113592634559, 0.5, 1.0, 0.0, 1e-300, 0.9999999999999999):
        text = app._one_answer(p, "games-test", "ab" * 32)
        body = app._answer([p], False)
        body["model"] = {"name": "games-test", "version": "ab" * 32}
        assert text == json.dumps(body, separators=(",", ":"), allow_nan=False)
    assert app._one_answer(1, "games-test", "ab" * 32) is None  # not a float: the dict path
