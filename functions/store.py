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
    """The artifact could not be read (bad URI, missing object, denied, network). ``missing``: the object does
    not exist (a pointer nobody has published yet), as opposed to one that cannot be read right now."""

    def __init__(self, message: str, missing: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.missing = missing
        self.code = code  # the store's own error code, when it gave one (e.g. S3 "AccessDenied")


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
    got = fetch_if_changed(uri, None)
    assert got is not None  # unconditional: always the object (or a StoreError)
    return got


def fetch_if_changed(uri: str, tag: str | None) -> tuple[bytes, str] | None:
    """The object's ``(bytes, tag)`` if its tag is not ``tag``, else None: one conditional request (S3
    ``If-None-Match`` on the ETag, GCS ``ifGenerationNotMatch``), so an unchanged object costs one round trip and
    no body. A server that ignores the condition is caught by comparing the tag it returns."""
    loc = parse_uri(uri)
    if loc.scheme == "s3":
        got = _s3_fetch(loc, if_none_match=tag)
    elif loc.scheme == "gs":
        got = _gcs_fetch(loc, if_generation_not_match=tag)
    else:
        got = None if tag is not None and _file_head(loc) == tag else _file_fetch(loc)
    return None if got is None or (tag is not None and got[1] == tag) else got


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
        raise StoreError(f"cannot read {loc}: {exc.strerror or exc}", isinstance(exc, FileNotFoundError)) from None


def _file_head(loc: Location) -> str:
    try:
        return _file_version(os.stat(loc.key))
    except OSError as exc:
        raise StoreError(f"cannot stat {loc}: {exc.strerror or exc}", isinstance(exc, FileNotFoundError)) from None


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


def s3_error_code(exc: Exception) -> str:
    """The S3 error code botocore attached to ``exc`` ("NoSuchKey", "AccessDenied", "304", ...), or ""."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _s3_error(loc: Location, exc: Exception) -> StoreError:
    code = s3_error_code(exc)
    detail = f"{code}: {exc}" if code else str(exc)
    return StoreError(f"cannot read {loc}: {detail}", code in ("NoSuchKey", "404", "NotFound"), code)


def _s3_fetch(loc: Location, if_none_match: str | None = None) -> tuple[bytes, str] | None:
    extra = {"IfNoneMatch": if_none_match} if if_none_match else {}
    try:
        obj = _s3().get_object(Bucket=loc.bucket, Key=loc.key, **extra)
        return obj["Body"].read(), str(obj.get("ETag", ""))
    except Exception as exc:  # botocore raises many unrelated classes; all mean "not readable"
        if if_none_match and s3_error_code(exc) in ("304", "NotModified"):
            return None
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


def _gcs_request(loc: Location, media: bool, if_generation_not_match: str | None = None) -> tuple[bytes, Any] | None:
    """The object's media or metadata; None when ``if_generation_not_match`` is its generation (HTTP 304)."""
    import urllib.error
    import urllib.request

    base, needs_token = _gcs_base()
    url = f"{base}/storage/v1/b/{quote(loc.bucket, safe='')}/o/{quote(loc.key, safe='')}"
    query = (["alt=media"] if media else []) + (
        [f"ifGenerationNotMatch={quote(if_generation_not_match, safe='')}"] if if_generation_not_match else [])
    if query:
        url += "?" + "&".join(query)
    headers = {"Authorization": f"Bearer {_token()}"} if needs_token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_SECONDS) as resp:
            return resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and if_generation_not_match:
            return None
        raise StoreError(f"cannot read {loc}: HTTP {exc.code} {exc.reason}", exc.code == 404) from None
    except OSError as exc:
        raise StoreError(f"cannot read {loc}: {exc}") from None


def _gcs_head(loc: Location) -> str:
    got = _gcs_request(loc, media=False)
    assert got is not None  # unconditional
    body = got[0]
    try:
        meta = json.loads(body)
        return str(meta["generation"])
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"cannot read {loc}: unexpected metadata response") from None


def _gcs_fetch(loc: Location, if_generation_not_match: str | None = None) -> tuple[bytes, str] | None:
    got = _gcs_request(loc, media=True, if_generation_not_match=if_generation_not_match)
    if got is None:
        return None
    data, headers = got
    generation = headers.get("x-goog-generation") if headers is not None else None
    # Not every server (e.g. some emulators) sends the header; the metadata GET always has it.
    return data, str(generation) if generation else _gcs_head(loc)
