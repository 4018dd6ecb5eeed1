"""Fetch a model artifact (bytes + version tag) from ``s3://``, ``gs://`` or ``file://``, and head it cheaply.

The version tag is what the TTL re-check compares: the S3 ETag, the GCS generation, or a file's mtime and
size. S3 goes through boto3 (imported lazily; it honours ``AWS_ENDPOINT_URL_S3`` itself). GCS uses the JSON
API over the standard library's urllib with a token from the metadata server, which keeps
google-cloud-storage out of the cold start; ``STORAGE_EMULATOR_HOST`` switches to an emulator, without a token.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

GCS_BASE = "https://storage.googleapis.com"
METADATA_TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
TIMEOUT_SECONDS = 30.0


class StoreError(Exception):
    """The artifact could not be read (bad URI, missing object, denied, network)."""


class Location(NamedTuple):
    """A parsed model URI."""

    scheme: str  # "s3" | "gs" | "file"
    bucket: str  # empty for file://
    key: str  # the object name, or the absolute file path

    def __str__(self) -> str:
        return f"file://{self.key}" if self.scheme == "file" else f"{self.scheme}://{self.bucket}/{self.key}"


def parse_uri(uri: str) -> Location:
    """Parse ``s3://bucket/key``, ``gs://bucket/key`` or ``file:///abs/path``; raise StoreError otherwise."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("s3", "gs"):
        key = parts.path.lstrip("/")
        if not parts.netloc or not key:
            raise StoreError(f"MODEL_URI {uri!r} must look like {scheme}://bucket/key")
        return Location(scheme, parts.netloc, key)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreError(f"MODEL_URI {uri!r}: file URIs must be file:///absolute/path")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise StoreError(f"MODEL_URI {uri!r}: file URIs need an absolute path")
        return Location("file", "", path)
    raise StoreError(f"MODEL_URI {uri!r}: scheme must be s3://, gs:// or file://")


def fetch(uri: str) -> tuple[bytes, str]:
    """Read the whole artifact; return ``(bytes, version tag)``."""
    loc = parse_uri(uri)
    if loc.scheme == "s3":
        return _s3_fetch(loc)
    if loc.scheme == "gs":
        return _gcs_fetch(loc)
    return _file_fetch(loc)


def head(uri: str) -> str:
    """The artifact's current version tag, without downloading it."""
    loc = parse_uri(uri)
    if loc.scheme == "s3":
        return _s3_head(loc)
    if loc.scheme == "gs":
        return _gcs_head(loc)
    return _file_head(loc)


# -- file -------------------------------------------------------------------------------------------------

def _file_version(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}-{st.st_size}"


def _file_fetch(loc: Location) -> tuple[bytes, str]:
    try:
        with open(loc.key, "rb") as fh:
            st = os.fstat(fh.fileno())
            return fh.read(), _file_version(st)
    except OSError as exc:
        raise StoreError(f"cannot read {loc}: {exc.strerror or exc}") from None


def _file_head(loc: Location) -> str:
    try:
        return _file_version(os.stat(loc.key))
    except OSError as exc:
        raise StoreError(f"cannot stat {loc}: {exc.strerror or exc}") from None


# -- S3 ---------------------------------------------------------------------------------------------------

_s3_client: Any = None
_s3_lock = threading.Lock()


def _s3() -> Any:
    global _s3_client
    with _s3_lock:
        if _s3_client is None:
            import boto3  # lazy: only S3-backed functions pay for it

            _s3_client = boto3.client("s3")
        return _s3_client


def reset_clients() -> None:
    """Forget cached clients and tokens (tests switch endpoints between cases)."""
    global _s3_client, _gcs_token
    with _s3_lock:
        _s3_client = None
    with _token_lock:
        _gcs_token = None


def _s3_error(loc: Location, exc: Exception) -> StoreError:
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    detail = f"{code}: {exc}" if code else str(exc)
    return StoreError(f"cannot read {loc}: {detail}")


def _s3_fetch(loc: Location) -> tuple[bytes, str]:
    try:
        obj = _s3().get_object(Bucket=loc.bucket, Key=loc.key)
        return obj["Body"].read(), str(obj.get("ETag", ""))
    except Exception as exc:  # botocore raises many unrelated classes; all mean "not readable"
        raise _s3_error(loc, exc) from None


def _s3_head(loc: Location) -> str:
    try:
        return str(_s3().head_object(Bucket=loc.bucket, Key=loc.key).get("ETag", ""))
    except Exception as exc:
        raise _s3_error(loc, exc) from None


# -- GCS --------------------------------------------------------------------------------------------------

_gcs_token: tuple[str, float] | None = None
_token_lock = threading.Lock()


def _gcs_base() -> tuple[str, bool]:
    """The API base URL and whether a token is needed."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if host:
        if "://" not in host:
            host = "http://" + host
        return host.rstrip("/"), False
    return GCS_BASE, True


def _token() -> str:
    global _gcs_token
    with _token_lock:
        now = time.monotonic()
        if _gcs_token is not None and _gcs_token[1] > now:
            return _gcs_token[0]
        import urllib.request  # lazy: http.client, email and ssl cost ~30 ms of every cold start that reads no gs://

        req = urllib.request.Request(METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                data = json.loads(resp.read())
            token, ttl = str(data["access_token"]), float(data.get("expires_in", 300))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"cannot get an access token from the metadata server: {exc}") from None
        _gcs_token = (token, now + max(ttl - 60.0, 0.0))
        return token


def _gcs_request(loc: Location, media: bool) -> tuple[bytes, Any]:
    import urllib.error
    import urllib.request

    base, needs_token = _gcs_base()
    url = f"{base}/storage/v1/b/{quote(loc.bucket, safe='')}/o/{quote(loc.key, safe='')}"
    if media:
        url += "?alt=media"
    headers = {"Authorization": f"Bearer {_token()}"} if needs_token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_SECONDS) as resp:
            return resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        raise StoreError(f"cannot read {loc}: HTTP {exc.code} {exc.reason}") from None
    except OSError as exc:
        raise StoreError(f"cannot read {loc}: {exc}") from None


def _gcs_head(loc: Location) -> str:
    body, _ = _gcs_request(loc, media=False)
    try:
        meta = json.loads(body)
        return str(meta["generation"])
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"cannot read {loc}: unexpected metadata response") from None


def _gcs_fetch(loc: Location) -> tuple[bytes, str]:
    data, headers = _gcs_request(loc, media=True)
    generation = headers.get("x-goog-generation") if headers is not None else None
    # Not every server (e.g. some emulators) sends the header; the metadata GET always has it.
    return data, str(generation) if generation else _gcs_head(loc)
