"""The storage trigger of `refresh: pointer` endpoints, played locally: a pointer change reaches the function.

On the clouds the Pulumi program wires it: an S3 bucket notification (ObjectCreated on `endpoints/<ep>/live.json`)
invokes the Lambda alias asynchronously, and a GCS notification publishes to Pub/Sub, whose push subscription
POSTs to `<function url>/_refresh` (functions.contract.REFRESH_PATH). The emulators have neither, so a `Notifier`
(a daemon thread) polls each pointer object every `interval` seconds (S3: HEAD, the ETag; GCS: the object's
metadata, its generation; "absent" is a state too) and, when the tag changes to a present object, delivers what
the cloud would deliver:

- AWS: one invocation (`LambdaFunction.invoke`) of the S3 event `{"Records": [{"eventSource": "aws:s3",
  "eventName": "ObjectCreated:Put", ...}]}`, the shape S3 sends (event version 2.1);
- GCP: one HTTP POST to `<function url>/_refresh`, content-type application/json, `Authorization: Bearer <ID token>`
  of the endpoint's runtime account when the watch has a `token` (as the push subscription's OIDC token, whose
  audience is the function URL), of the Pub/Sub push envelope
  `{"message": {"attributes": {bucketId, objectId, objectGeneration, eventType: OBJECT_FINALIZE, payloadFormat:
  JSON_API_V1, notificationConfig, ...}, "data": <base64 of the object's JSON metadata>, "messageId",
  "publishTime"}, "subscription": "projects/<project>/subscriptions/<name>"}`.

Like the clouds, one delivery reaches ONE Lambda worker / one instance; the others pick the pointer up within
ttlSeconds. A pointer removed triggers nothing (the clouds subscribe to object creation only). Rewriting the same
bytes to S3 keeps the ETag, so it is not seen as a change (it would re-deliver the same pointer on AWS: a no-op).
Each delivery is logged (one line) and recorded in `deliveries`; nothing that fails while polling or delivering
stops the thread (it is logged, once per distinct problem, and polling goes on).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

from functions.contract import REFRESH_PATH

ABSENT = "absent"
DEFAULT_INTERVAL_S = 0.5
PUSH_USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


@dataclass(frozen=True)
class Watch:
    """One pointer object and the function its changes are delivered to.

    `target`: on "aws" a callable taking the event's JSON bytes (`LambdaFunction.invoke`; its result's `outcome`
    and `payload` are read when present); on "gcp" the function's base URL (the POST goes to `<url>/_refresh`).
    """

    cloud: str  # "aws" | "gcp"
    endpoint: str
    bucket: str
    key: str
    target: Any
    subscription: str = ""  # gcp: the push subscription's short name (default: "<endpoint>-refresh-push")
    token: Callable[[], str] | None = None  # gcp: an ID token for the push (the runtime account's), per delivery


@dataclass(frozen=True)
class Delivery:
    """One event delivered (or attempted): when, to what, and what the function answered."""

    at: float  # time.time() when the delivery finished
    cloud: str
    endpoint: str
    key: str
    tag: str  # the pointer's ETag (aws) or generation (gcp) that triggered it
    status: int | None  # HTTP status (gcp) or the Lambda result's statusCode (200 if it has none); None: no answer
    outcome: str  # aws: the invocation outcome (response, error, crashed, timeout, ...); gcp: "http" or "unreachable"
    duration_ms: float
    detail: str = ""  # the start of the answer, or of the error

    @property
    def ok(self) -> bool:
        """True when the function accepted the event (a 2xx)."""
        return self.status is not None and 200 <= self.status < 300


def _utc(ts: float | None = None) -> str:
    """An RFC 3339 UTC time with milliseconds (`2024-05-01T12:00:00.123Z`), as S3 and Pub/Sub write it."""
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def s3_event(*, bucket: str, key: str, etag: str, size: int, region: str, event_time: str | None = None,
             sequencer: str | None = None) -> dict[str, Any]:
    """The S3 ObjectCreated:Put notification for one object, as S3 invokes a Lambda with it (event version 2.1)."""
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time or _utc(),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:LOCALPUBLISHER"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes).decode()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "pointer-refresh",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCALOWNER"}, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 URL-encodes the key in events (spaces as '+'); a pointer key has neither.
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag,
                       "sequencer": sequencer or f"{time.time_ns():X}"},
        },
    }]}


def pubsub_envelope(*, bucket: str, key: str, metadata: dict[str, Any], project: str, subscription: str,
                    overwrote_generation: str | None = None) -> dict[str, Any]:
    """The Pub/Sub push request body of a GCS OBJECT_FINALIZE notification (payload format JSON_API_V1)."""
    attributes = {
        "bucketId": bucket,
        "objectId": key,
        "objectGeneration": str(metadata.get("generation", "")),
        "eventType": "OBJECT_FINALIZE",
        "eventTime": str(metadata.get("updated") or _utc()),
        "payloadFormat": "JSON_API_V1",
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
    }
    if overwrote_generation:
        attributes["overwroteGeneration"] = overwrote_generation
    message_id = str(time.time_ns() // 1000)
    published = _utc()
    return {
        "message": {
            "attributes": attributes,
            "data": base64.b64encode(json.dumps(metadata).encode()).decode(),
            "messageId": message_id, "message_id": message_id,  # push bodies carry both spellings
            "publishTime": published, "publish_time": published,
        },
        "subscription": f"projects/{project}/subscriptions/{subscription}",
    }


def _short(data: bytes | str, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Notifier:
    """Poll the pointer objects of `watches` and deliver a storage event to each one's function when it changes.

    `s3_url` / `gcs_url` are the emulators' endpoints (needed for the clouds watched), `s3_credentials` the boto3
    key pair the S3 reads sign with (the deployer's once moto enforces IAM: S3 itself reads the objects it notifies
    about); `log` gets one line per
    delivery and per problem. `start()` records the current state (no delivery for what is already there), then
    polls every `interval` seconds in a daemon thread until `stop()`.
    """

    def __init__(self, watches: Iterable[Watch], *, s3_url: str | None = None, gcs_url: str | None = None,
                 region: str = "us-east-1", project: str = "local-project", interval: float = DEFAULT_INTERVAL_S,
                 log: Callable[[str], None] | None = None, delivery_timeout: float = 60.0,
                 s3_credentials: dict[str, str] | None = None) -> None:
        self.watches = list(watches)
        for w in self.watches:
            if w.cloud not in ("aws", "gcp"):
                raise ValueError(f"watch {w.endpoint}: unknown cloud {w.cloud!r}")
            if w.cloud == "aws" and (s3_url is None or not callable(w.target)):
                raise ValueError(f"aws {w.endpoint}: needs s3_url and a callable target (LambdaFunction.invoke)")
            if w.cloud == "gcp" and (gcs_url is None or not isinstance(w.target, str)):
                raise ValueError(f"gcp {w.endpoint}: needs gcs_url and the function's URL as target")
        if interval <= 0:
            raise ValueError(f"interval must be > 0, got {interval!r}")
        self.s3_url = s3_url
        self.s3_credentials = s3_credentials
        self.gcs_url = gcs_url.rstrip("/") if gcs_url else None
        self.region = region
        self.project = project
        self.interval = interval
        self.delivery_timeout = delivery_timeout
        self._log = log
        self._tags: dict[int, str | None] = {i: None for i in range(len(self.watches))}  # None: never seen
        self._problems: dict[int, str] = {}
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: list[threading.Thread] = []
        self._s3: Any = None
        self.polls = 0

    # -- public --------------------------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, oldest first (a copy)."""
        with self._lock:
            return list(self._deliveries)

    def tag(self, index: int) -> str | None:
        """The last tag seen of watch `index` (ABSENT, an ETag / generation, or None before the first poll)."""
        return self._tags[index]

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        """Block until at least `count` deliveries are recorded or `timeout` passes; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.deliveries
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.deliveries

    def start(self) -> Notifier:
        """Record every pointer's current state, then poll in a daemon thread."""
        if self._thread is not None:
            return self
        self.poll_once(deliver=False)
        self._thread = threading.Thread(target=self._run, name="pointer-notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; wait (up to `timeout`) for the poll thread and any delivery in flight."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for t in list(self._senders):
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def poll_once(self, deliver: bool = True) -> None:
        """Look at every pointer once; deliver an event for each that changed to a new present object."""
        self.polls += 1
        for i, watch in enumerate(self.watches):
            try:
                tag, info = self._head(watch)
            except Exception as exc:  # noqa: BLE001 - an emulator hiccup must not stop the trigger
                self._problem(i, f"trigger: cannot read {watch.cloud} {watch.bucket}/{watch.key}: "
                                 f"{type(exc).__name__}: {_short(str(exc))}")
                continue
            if i in self._problems:
                del self._problems[i]
                self._say(f"trigger: {watch.cloud} {watch.endpoint}: the pointer is readable again")
            previous = self._tags[i]
            self._tags[i] = tag
            if previous is None or tag == previous:
                continue
            if tag == ABSENT:
                self._say(f"trigger: {watch.cloud} {watch.endpoint}: {watch.key} was removed (no event: the "
                          "notification is for object creation)")
                continue
            if deliver and not self._stop.is_set():
                sender = threading.Thread(target=self._deliver, args=(watch, tag, info, previous),
                                          name=f"trigger-{watch.cloud}-{watch.endpoint}", daemon=True)
                self._senders = [t for t in self._senders if t.is_alive()]
                self._senders.append(sender)
                sender.start()

    # -- polling -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - belt and braces: the loop itself never dies
                self._say(f"trigger: poll failed: {type(exc).__name__}: {_short(str(exc))}")

    def _head(self, watch: Watch) -> tuple[str, dict[str, Any]]:
        """(tag, what the event needs) of the pointer object now; tag ABSENT when there is none."""
        if watch.cloud == "aws":
            from botocore.exceptions import ClientError

            try:
                resp = self._s3_client().head_object(Bucket=watch.bucket, Key=watch.key)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                    return ABSENT, {}
                raise
            etag = str(resp.get("ETag", "")).strip('"')
            return etag, {"etag": etag, "size": int(resp.get("ContentLength") or 0)}
        url = f"{self.gcs_url}/storage/v1/b/{quote(watch.bucket, safe='')}/o/{quote(watch.key, safe='')}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                metadata = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return ABSENT, {}
            raise
        if not isinstance(metadata, dict) or not metadata.get("generation"):
            raise ValueError(f"the emulator's metadata has no generation: {_short(json.dumps(metadata))}")
        return str(metadata["generation"]), {"metadata": metadata}

    def _s3_client(self) -> Any:
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            from smodels.local_state import FAKE_CREDENTIALS

            self._s3 = boto3.client("s3", endpoint_url=self.s3_url, region_name=self.region,
                                    config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
                                    **(self.s3_credentials or FAKE_CREDENTIALS))
        return self._s3

    # -- delivering ----------------------------------------------------------------------------------------

    def _deliver(self, watch: Watch, tag: str, info: dict[str, Any], previous: str) -> None:
        t0 = time.perf_counter()
        try:
            if watch.cloud == "aws":
                status, outcome, detail = self._invoke(watch, info)
            else:
                status, outcome, detail = self._push(watch, info, previous)
        except Exception as exc:  # noqa: BLE001 - a delivery that blows up is recorded, not raised
            status, outcome, detail = None, "failed", f"{type(exc).__name__}: {_short(str(exc))}"
        ms = (time.perf_counter() - t0) * 1000
        record = Delivery(time.time(), watch.cloud, watch.endpoint, watch.key, tag, status, outcome, ms, detail)
        with self._lock:
            self._deliveries.append(record)
        what = "etag" if watch.cloud == "aws" else "generation"
        answer = str(status) if status is not None else outcome
        tail = f": {detail}" if not record.ok and detail else ""
        self._say(f"trigger: {watch.cloud} {watch.endpoint} <- {watch.key} ({what} {tag}) -> {answer} "
                  f"in {ms:.0f} ms{tail}")

    def _invoke(self, watch: Watch, info: dict[str, Any]) -> tuple[int | None, str, str]:
        event = s3_event(bucket=watch.bucket, key=watch.key, etag=info["etag"], size=info["size"], region=self.region)
        result = watch.target(json.dumps(event).encode())
        outcome = str(getattr(result, "outcome", "response"))
        payload = getattr(result, "payload", result)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode() if payload is not None else b""
        if outcome != "response":
            return None, outcome, _short(raw) or str(getattr(result, "error_type", "") or "")
        status = 200
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("statusCode"), int):
            status = doc["statusCode"]
        return status, outcome, _short(raw)

    def _push(self, watch: Watch, info: dict[str, Any], previous: str) -> tuple[int | None, str, str]:
        body = pubsub_envelope(bucket=watch.bucket, key=watch.key, metadata=info["metadata"], project=self.project,
                               subscription=watch.subscription or f"{watch.endpoint}-refresh-push",
                               overwrote_generation=previous if previous != ABSENT else None)
        url = str(watch.target).rstrip("/") + REFRESH_PATH
        headers = {"Content-Type": "application/json", "User-Agent": PUSH_USER_AGENT}
        if watch.token is not None:
            headers["Authorization"] = f"Bearer {watch.token()}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.delivery_timeout) as resp:
                return resp.status, "http", _short(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, "http", _short(exc.read())
        except OSError as exc:
            return None, "unreachable", f"{type(exc).__name__}: {_short(str(exc))}"

    # -- logging -------------------------------------------------------------------------------------------

    def _problem(self, index: int, message: str) -> None:
        if self._problems.get(index) != message:  # once per distinct problem, not every half second
            self._problems[index] = message
            self._say(message)

    def _say(self, line: str) -> None:
        if self._log is not None:
            try:
                self._log(line)
            except Exception:  # noqa: BLE001, S110 - a broken log sink must not stop the trigger
                pass
