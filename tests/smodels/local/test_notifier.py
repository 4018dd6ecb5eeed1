"""`Notifier` against a real moto server and gcp-storage-emulator, with fake delivery targets: a recording function
for AWS (what `LambdaFunction.invoke` receives) and a loopback HTTP server for GCP (what a Pub/Sub push sends)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from functions.contract import REFRESH_PATH, pointer_key
from smodels.local.emulators import GCSEmulator, S3Emulator
from smodels.local.lambda_runtime import InvokeResult
from smodels.local.notifier import ABSENT, Notifier, Watch, pubsub_envelope, s3_event

pytestmark = pytest.mark.slow  # starts both emulators
BUCKET = "notifier-test-models"
INTERVAL = 0.1
SETTLE = 6 * INTERVAL  # several polls: how long "nothing happened" is watched for
WAIT = 60.0  # the most a delivery or a state may take to show up (conditions are waited for, not slept for)


def _until(condition: Any, what: str) -> None:
    """Wait until `condition()` holds (up to WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _emulator_with_bucket(emu: Any) -> Iterator[Any]:
    """Start `emu`, make BUCKET in it, yield it, and stop it afterwards."""
    emu = emu.start()
    try:
        emu.ensure_bucket(BUCKET)
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Emulator]:
    yield from _emulator_with_bucket(S3Emulator(tmp_path_factory.mktemp("s3logs")))


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GCSEmulator]:
    yield from _emulator_with_bucket(GCSEmulator(tmp_path_factory.mktemp("gcslogs")))


class Recorder:
    """A fake Lambda: records each event, answers like `LambdaFunction.invoke` with `answer`."""

    def __init__(self, answer: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or InvokeResult("response", b'{"statusCode": 200, "body": "{}"}', None, 1.0, "id")

    def __call__(self, event: bytes) -> Any:
        self.events.append(json.loads(event))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class PushSink:
    """A loopback HTTP server standing in for a Cloud Function: records every request, answers `status`."""

    def __init__(self, status: int = 204) -> None:
        self.requests: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.status = status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[PushSink]:
    s = PushSink()
    try:
        yield s
    finally:
        s.close()


def _pointer(n: int) -> bytes:
    return json.dumps({"pointer": 1, "n": n}).encode()


def _notifier(watches: list[Watch], lines: list[str], **kw: Any) -> Notifier:
    return Notifier(watches, interval=INTERVAL, log=lines.append, **kw)


def test_aws_one_change_one_s3_event(s3: S3Emulator) -> None:
    key = pointer_key("pred")
    fn, lines = Recorder(), []
    notifier = _notifier([Watch("aws", "pred", BUCKET, key, fn)], lines, s3_url=s3.url, region="eu-west-1").start()
    try:
        assert notifier.tag(0) == ABSENT
        time.sleep(SETTLE)
        assert notifier.deliveries == [] and fn.events == [], "nothing published: no event"

        s3.put_bytes(BUCKET, key, _pointer(1))
        [d] = notifier.wait_for(1, WAIT)
        time.sleep(SETTLE)
        assert len(notifier.deliveries) == 1 and len(fn.events) == 1, "one change, one delivery"
        [record] = fn.events[0]["Records"]
        head = s3.client().head_object(Bucket=BUCKET, Key=key)
        etag = head["ETag"].strip('"')
        assert {k: record[k] for k in ("eventVersion", "eventSource", "awsRegion", "eventName")} == {
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1", "eventName": "ObjectCreated:Put"}
        assert record["eventTime"].endswith("Z") and "T" in record["eventTime"]
        assert record["s3"]["bucket"] == {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}",
                                          "ownerIdentity": {"principalId": "LOCALOWNER"}}
        obj = record["s3"]["object"]
        assert obj["key"] == key and obj["size"] == len(_pointer(1)) and obj["eTag"] == etag
        assert isinstance(obj["sequencer"], str) and obj["sequencer"]
        assert (d.cloud, d.endpoint, d.key, d.tag, d.status, d.outcome, d.ok) == (
            "aws", "pred", key, etag, 200, "response", True)
        assert any(line.startswith(f"trigger: aws pred <- {key} (etag {etag}) -> 200") for line in lines), lines

        s3.put_bytes(BUCKET, key, _pointer(1))  # the same bytes: the same ETag, not a change
        time.sleep(SETTLE)
        assert len(notifier.deliveries) == 1

        s3.put_bytes(BUCKET, key, _pointer(2))
        assert len(notifier.wait_for(2, WAIT)) == 2 and fn.events[1]["Records"][0]["s3"]["object"]["eTag"] != etag
        time.sleep(SETTLE)
        assert len(fn.events) == 2

        s3.client().delete_object(Bucket=BUCKET, Key=key)  # removed: a state, but no event (creation only)
        _until(lambda: notifier.tag(0) == ABSENT, "the removal to be seen")
        time.sleep(SETTLE)
        assert len(fn.events) == 2
        assert any("was removed" in line for line in lines)
        s3.put_bytes(BUCKET, key, _pointer(1))  # back again: created, so an event even with an ETag seen before
        assert len(notifier.wait_for(3, WAIT)) == 3
    finally:
        notifier.stop()
        s3.client().delete_object(Bucket=BUCKET, Key=key)


def test_gcp_one_change_one_pubsub_push(gcs: GCSEmulator, sink: PushSink) -> None:
    key = pointer_key("pred")
    lines: list[str] = []
    watch = Watch("gcp", "pred", BUCKET, key, sink.url, subscription="serverless-models-unit-pred-refresh")
    notifier = _notifier([watch], lines, gcs_url=gcs.url).start()
    try:
        time.sleep(SETTLE)
        assert notifier.deliveries == [] and sink.requests == []

        gcs.put_bytes(BUCKET, key, _pointer(1))
        [d] = notifier.wait_for(1, WAIT)
        time.sleep(SETTLE)
        assert len(sink.requests) == 1, "one change, one push"
        req = sink.requests[0]
        assert req["path"] == REFRESH_PATH
        assert req["headers"]["Content-Type"] == "application/json"
        body = req["body"]
        assert set(body) == {"message", "subscription"}
        assert body["subscription"] == "projects/local-project/subscriptions/serverless-models-unit-pred-refresh"
        msg = body["message"]
        attrs = msg["attributes"]
        assert {k: attrs[k] for k in ("bucketId", "objectId", "eventType", "payloadFormat")} == {
            "bucketId": BUCKET, "objectId": key, "eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1"}
        assert attrs["notificationConfig"].startswith(f"projects/_/buckets/{BUCKET}/notificationConfigs/")
        assert "overwroteGeneration" not in attrs, "the first pointer overwrote nothing"
        metadata = json.loads(base64.b64decode(msg["data"]))
        assert metadata["name"] == key and metadata["bucket"] == BUCKET
        assert attrs["objectGeneration"] == str(metadata["generation"]) == d.tag
        assert msg["messageId"] and msg["publishTime"].endswith("Z")
        assert (d.cloud, d.endpoint, d.status, d.outcome, d.ok) == ("gcp", "pred", 204, "http", True)
        assert any(line.startswith(f"trigger: gcp pred <- {key} (generation {d.tag}) -> 204") for line in lines)

        gcs.put_bytes(BUCKET, key, _pointer(1))  # GCS: every write is a new generation, and a notification
        assert len(notifier.wait_for(2, WAIT)) == 2
        assert sink.requests[1]["body"]["message"]["attributes"]["overwroteGeneration"] == d.tag
        time.sleep(SETTLE)
        assert len(sink.requests) == 2, "an unchanged pointer: no push"
    finally:
        notifier.stop()


def test_existing_pointer_is_the_starting_state(s3: S3Emulator, gcs: GCSEmulator, sink: PushSink) -> None:
    key = pointer_key("warm")
    s3.put_bytes(BUCKET, key, _pointer(7))
    gcs.put_bytes(BUCKET, key, _pointer(7))
    fn = Recorder()
    notifier = _notifier([Watch("aws", "warm", BUCKET, key, fn), Watch("gcp", "warm", BUCKET, key, sink.url)], [],
                         s3_url=s3.url, gcs_url=gcs.url).start()
    try:
        time.sleep(SETTLE)
        assert notifier.tag(0) != ABSENT and notifier.tag(1) != ABSENT
        assert notifier.deliveries == [], "a pointer already there at start is not news"
        gcs.put_bytes(BUCKET, key, _pointer(8))  # only the GCS one changes: only the GCP function hears of it
        [d] = notifier.wait_for(1, WAIT)
        time.sleep(SETTLE)
        assert d.cloud == "gcp" and len(notifier.deliveries) == 1 and fn.events == []
    finally:
        notifier.stop()


def test_failures_are_recorded_and_never_stop_the_thread(s3: S3Emulator, gcs: GCSEmulator, sink: PushSink) -> None:
    from smodels.local.procs import free_port

    bad_fn = Recorder(RuntimeError("the function blew up"))
    error_fn = Recorder(InvokeResult("error", b'{"errorType": "ValueError"}', "Unhandled", 1.0, "id"))
    http_400 = Recorder(InvokeResult("response", b'{"statusCode": 400, "body": "{}"}', None, 1.0, "id"))
    keys = [pointer_key(f"ep{i}") for i in range(5)]
    closed = f"http://127.0.0.1:{free_port()}/"
    watches = [Watch("aws", "ep0", BUCKET, keys[0], bad_fn), Watch("aws", "ep1", BUCKET, keys[1], error_fn),
               Watch("aws", "ep2", BUCKET, keys[2], http_400), Watch("gcp", "ep3", BUCKET, keys[3], closed),
               Watch("gcp", "ep4", BUCKET, keys[4], sink.url)]
    lines: list[str] = []
    notifier = _notifier(watches, lines, s3_url=s3.url, gcs_url=gcs.url).start()
    try:
        for key in keys[:3]:
            s3.put_bytes(BUCKET, key, _pointer(1))
        gcs.put_bytes(BUCKET, keys[3], _pointer(1))
        got = {d.endpoint: d for d in notifier.wait_for(4, WAIT)}
        assert (got["ep0"].status, got["ep0"].outcome) == (None, "failed")
        assert "the function blew up" in got["ep0"].detail
        assert (got["ep1"].status, got["ep1"].outcome, got["ep1"].ok) == (None, "error", False)
        assert (got["ep2"].status, got["ep2"].ok) == (400, False)
        assert (got["ep3"].status, got["ep3"].outcome) == (None, "unreachable")
        assert notifier._thread is not None and notifier._thread.is_alive()
        gcs.put_bytes(BUCKET, keys[4], _pointer(1))  # and the trigger still works
        assert any(d.endpoint == "ep4" and d.ok for d in notifier.wait_for(5, WAIT))
    finally:
        notifier.stop()
        for key in keys[:3]:
            s3.client().delete_object(Bucket=BUCKET, Key=key)


def test_unreadable_storage_is_logged_once_and_polling_goes_on(tmp_path: Path, sink: PushSink) -> None:
    lines: list[str] = []
    emu = GCSEmulator(tmp_path / "logs")  # not started yet: the first polls fail
    notifier = _notifier([Watch("gcp", "pred", BUCKET, pointer_key("pred"), sink.url)], lines, gcs_url=emu.url)
    notifier.start()
    try:
        _until(lambda: notifier.polls > 3, "a few failed polls")
        problems = [line for line in lines if "cannot read gcp" in line]
        assert len(problems) == 1, lines  # once, not every poll
        assert notifier._thread is not None and notifier._thread.is_alive()
        emu.start()
        emu.ensure_bucket(BUCKET)
        _until(lambda: notifier.tag(0) == ABSENT, "the emulator to be readable")
        assert any("readable again" in line for line in lines)
        emu.put_bytes(BUCKET, pointer_key("pred"), _pointer(1))
        # The first state seen is the baseline (the pointer may have been there all along): no event for it.
        time.sleep(SETTLE)
        emu.put_bytes(BUCKET, pointer_key("pred"), _pointer(2))
        assert notifier.wait_for(1, WAIT)[0].ok
    finally:
        notifier.stop()
        emu.stop()


def test_stop_ends_the_thread(s3: S3Emulator) -> None:
    notifier = _notifier([Watch("aws", "pred", BUCKET, pointer_key("pred"), Recorder())], [], s3_url=s3.url).start()
    notifier.stop()
    assert notifier._thread is not None and not notifier._thread.is_alive()


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="needs s3_url"):
        Notifier([Watch("aws", "pred", BUCKET, "k", Recorder())])
    with pytest.raises(ValueError, match="needs gcs_url"):
        Notifier([Watch("gcp", "pred", BUCKET, "k", Recorder())], gcs_url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="interval"):
        Notifier([], interval=0)


def test_event_builders() -> None:
    event = s3_event(bucket="b", key="endpoints/a b/live.json", etag="e", size=3, region="us-east-1")
    assert event["Records"][0]["s3"]["object"]["key"] == "endpoints/a+b/live.json", "keys are URL-encoded"
    env = pubsub_envelope(bucket="b", key="k", metadata={"generation": "5", "name": "k"}, project="p",
                          subscription="s", overwrote_generation="4")
    assert env["subscription"] == "projects/p/subscriptions/s"
    assert env["message"]["attributes"]["objectGeneration"] == "5"
    assert env["message"]["attributes"]["overwroteGeneration"] == "4"
    assert json.loads(base64.b64decode(env["message"]["data"])) == {"generation": "5", "name": "k"}
