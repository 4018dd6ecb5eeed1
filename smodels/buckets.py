"""The model buckets `smodels publish` writes: S3 through boto3, Cloud Storage over its JSON API (the cloud or an
emulator). Shared by publish and the local stack, below both."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from urllib.parse import quote

from functions.store import s3_error_code

GCS_BASE = "https://storage.googleapis.com"


class BucketError(Exception):
    """A bucket cannot be read or written (the message names the object and the cause); exit code 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code



class Bucket:
    """One cloud's model bucket: read the pointer, write objects."""

    cloud = ""
    scheme = ""

    def __init__(self, name: str) -> None:
        self.name = name

    def uri(self, key: str) -> str:
        """The object's URI as the function reads it."""
        return f"{self.scheme}://{self.name}/{key}"

    def get(self, key: str) -> bytes | None:  # pragma: no cover - overridden
        """The object's bytes, or None if there is none."""
        raise NotImplementedError

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:  # pragma: no cover
        """Write the object."""
        raise NotImplementedError


class S3Bucket(Bucket):
    """An S3 bucket through boto3 (`endpoint_url` for the local emulator)."""

    cloud, scheme = "aws", "s3"

    def __init__(self, name: str, endpoint_url: str | None = None, region: str | None = None,
                 credentials: dict[str, str] | None = None) -> None:
        super().__init__(name)
        import boto3

        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, **(credentials or {}))

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except Exception as exc:  # botocore raises generated classes
            # Without s3:ListBucket (the publisher has none), S3 answers 403 for a missing object.
            if s3_error_code(exc) in ("NoSuchKey", "404", "NotFound", "AccessDenied", "403"):
                return None
            raise BucketError(f"cannot read s3://{self.name}/{key}: {exc}") from None

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type, Metadata=metadata)
        except Exception as exc:
            raise BucketError(f"cannot write s3://{self.name}/{key}: {exc} (is this the publisher identity? "
                               "see `smodels publish --help`)") from None


class GcsBucket(Bucket):
    """A Cloud Storage bucket over the JSON API (the emulator's base URL locally, no token)."""

    cloud, scheme = "gcp", "gs"

    def __init__(self, name: str, base_url: str = GCS_BASE, token: Callable[[], str] | None = None) -> None:
        super().__init__(name)
        self.base = base_url.rstrip("/")
        self.token = token

    def _request(self, url: str, data: bytes | None = None, content_type: str = "") -> bytes:
        headers = {"Authorization": f"Bearer {self.token()}"} if self.token is not None else {}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def get(self, key: str) -> bytes | None:
        url = f"{self.base}/storage/v1/b/{quote(self.name, safe='')}/o/{quote(key, safe='')}?alt=media"
        try:
            return self._request(url)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise BucketError(f"cannot read gs://{self.name}/{key}: HTTP {exc.code} {exc.reason}") from None
        except OSError as exc:
            raise BucketError(f"cannot read gs://{self.name}/{key}: {exc}") from None

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        # A multipart upload carries the metadata (sha256) with the bytes, as the program's objects have it (and the
        # emulator's media upload would parse an application/json body as JSON and fail on it).
        boundary = f"==smodels{uuid.uuid4().hex}=="
        meta = json.dumps({"name": key, "contentType": content_type, "metadata": metadata}).encode()
        body = b"".join([
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(), meta,
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode(), data,
            f"\r\n--{boundary}--\r\n".encode(),
        ])
        url = f"{self.base}/upload/storage/v1/b/{quote(self.name, safe='')}/o?uploadType=multipart"
        try:
            self._request(url, body, f'multipart/related; boundary="{boundary}"')
        except urllib.error.HTTPError as exc:
            raise BucketError(f"cannot write gs://{self.name}/{key}: HTTP {exc.code} {exc.reason} (is this the "
                               "publisher identity? see `smodels publish --help`)") from None
        except OSError as exc:
            raise BucketError(f"cannot write gs://{self.name}/{key}: {exc}") from None
