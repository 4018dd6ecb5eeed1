"""functions/store.py: URI parsing, file versions, and the real-GCS path (metadata-server token, JSON API URLs)
against a local stand-in for both servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions import store


@pytest.mark.parametrize("uri,expected", [
    ("s3://bucket/models/a/b.skops", ("s3", "bucket", "models/a/b.skops")),
    ("gs://b/k", ("gs", "b", "k")),
    ("file:///tmp/m%20x.onnx", ("file", "", "/tmp/m x.onnx")),
    ("file://localhost/tmp/m", ("file", "", "/tmp/m")),
])
def test_parse_uri(uri: str, expected: tuple[str, str, str]) -> None:
    loc = store.parse_uri(uri)
    assert (loc.scheme, loc.bucket, loc.key) == expected


@pytest.mark.parametrize("uri", ["s3://bucket", "s3:///key", "gs://b/", "http://x/y", "file://host/tmp/x",
                                 "file:relative", "/abs/path", ""])
def test_parse_uri_rejects(uri: str) -> None:
    with pytest.raises(store.StoreError, match="MODEL_URI"):
        store.parse_uri(uri)


def test_file_version_changes_on_rewrite(tmp_path) -> None:
    p = tmp_path / "m.bin"
    p.write_bytes(b"abc")
    data, v1 = store.fetch(p.as_uri())
    assert data == b"abc" and store.head(p.as_uri()) == v1
    p.write_bytes(b"abcd")
    assert store.head(p.as_uri()) != v1
    with pytest.raises(store.StoreError, match="cannot read"):
        store.fetch((tmp_path / "missing").as_uri())


class FakeGoogle(BaseHTTPRequestHandler):
    """Serves the metadata token endpoint and the GCS JSON API for one object; records what it saw."""

    seen: list[tuple[str, dict[str, str]]] = []
    objects = {("my-bucket", "models/x/a b+c.onnx"): (b"MODEL", "1700000000000001")}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, b"missing Metadata-Flavor")
            return self._send(200, json.dumps({"access_token": "tok123", "expires_in": 3599,
                                               "token_type": "Bearer"}).encode())
        if self.headers.get("Authorization") != "Bearer tok123":
            return self._send(401, b"no token")
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(self.path)
        prefix = "/storage/v1/b/"
        if not parts.path.startswith(prefix) or "/o/" not in parts.path:
            return self._send(404, b"")
        bucket, _, name = parts.path[len(prefix):].partition("/o/")
        obj = self.objects.get((unquote(bucket), unquote(name)))
        if obj is None:
            return self._send(404, b"{}")
        if parts.query == "alt=media":
            return self._send(200, obj[0], {"x-goog-generation": obj[1]})
        return self._send(200, json.dumps({"name": unquote(name), "generation": obj[1]}).encode())

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGoogle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(store, "GCS_BASE", base)
    token_path = "/computeMetadata/v1/instance/service-accounts/default/token"
    monkeypatch.setattr(store, "METADATA_TOKEN_URL", base + token_path)
    store.reset_clients()
    FakeGoogle.seen = []
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        store.reset_clients()


def test_gcs_uses_metadata_token_and_encodes_the_object_name(fake_google: str) -> None:
    uri = "gs://my-bucket/models/x/a b+c.onnx"
    data, generation = store.fetch(uri)
    assert (data, generation) == (b"MODEL", "1700000000000001")
    assert store.head(uri) == "1700000000000001"
    paths = [p for p, _ in FakeGoogle.seen]
    # One token fetch for both calls (cached), then the JSON API with the name as a single encoded segment.
    assert paths.count("/computeMetadata/v1/instance/service-accounts/default/token") == 1
    assert "/storage/v1/b/my-bucket/o/models%2Fx%2Fa%20b%2Bc.onnx?alt=media" in paths
    assert "/storage/v1/b/my-bucket/o/models%2Fx%2Fa%20b%2Bc.onnx" in paths


def test_gcs_errors_are_store_errors(fake_google: str) -> None:
    with pytest.raises(store.StoreError, match="HTTP 404"):
        store.fetch("gs://my-bucket/nope")


def test_gcs_without_metadata_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from fn_support import free_port

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(store, "METADATA_TOKEN_URL", f"http://127.0.0.1:{free_port()}/token")
    store.reset_clients()
    with pytest.raises(store.StoreError, match="metadata server"):
        store.fetch("gs://b/k")
    store.reset_clients()
