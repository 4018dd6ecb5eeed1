"""Local storage emulators: moto in server mode for S3, gcp-storage-emulator for GCS, and model uploads.

Both run as child processes on 127.0.0.1 (`ManagedProcess`). Buckets are created and objects uploaded over
each emulator's own HTTP API (boto3 against moto, the GCS JSON API against the emulator), under the same
keys the Pulumi program uses, so the functions read them exactly as they read the real buckets.

moto runs as account `apigw.ACCOUNT_ID` (`MOTO_ACCOUNT_ID`), the account of every local ARN. Once the local stack
has created its IAM identities and turned moto's checks on (smodels/local/iam.py), `S3Emulator.credentials` is the
deployer's key pair; before that, any pair does.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from smodels.buckets import GcsBucket
from smodels.local.apigw import ACCOUNT_ID
from smodels.local.procs import ManagedProcess, free_port, wait_for
from smodels.local_state import FAKE_CREDENTIALS


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


class S3Emulator:
    """moto's server (`python -m moto.server`) on a free port, and uploads through boto3."""

    def __init__(self, log_dir: Path, region: str = "us-east-1", port: int = 0, echo: TextIO | None = None) -> None:
        self.port = port or free_port()
        self.region = region
        self.url = f"http://127.0.0.1:{self.port}"
        self.account_id = ACCOUNT_ID
        # What the stack's own requests sign with: any pair until IAM is enforced, then the deployer's.
        self.credentials: dict[str, str] = dict(FAKE_CREDENTIALS)
        env = {**_child_env(), "MOTO_ACCOUNT_ID": ACCOUNT_ID}
        self.proc = ManagedProcess(
            "s3-emulator",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            log_path=log_dir / "s3-emulator.log",
            echo=echo,
        )

    def start(self, timeout: float = 30.0) -> S3Emulator:
        """Start moto and wait until it answers."""
        self.proc.start()
        wait_for(lambda: _http_ok(f"{self.url}/moto-api/"), timeout=timeout, what="moto S3 server", proc=self.proc)
        return self

    def client(self):  # noqa: ANN201 - boto3's client type is generated at runtime
        """A boto3 S3 client for the emulator, signing with `credentials`."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=self.region, **self.credentials)

    def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` unless it exists."""
        s3 = self.client()
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})

    def put(self, bucket: str, key: str, path: Path) -> None:
        """Create `bucket` if needed and upload `path` as `key`."""
        self.ensure_bucket(bucket)
        self.client().upload_file(str(path), bucket, key)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "application/json") -> None:
        """Write `data` as object `key` of an existing `bucket` (a single PUT, as `smodels publish` does)."""
        self.client().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def stop(self) -> None:
        """Stop the server."""
        self.proc.stop()


class GCSEmulator:
    """gcp-storage-emulator (in memory) on a free port, and uploads over the GCS JSON API."""

    def __init__(self, log_dir: Path, port: int = 0, project: str = "local-project", echo: TextIO | None = None):
        self.port = port or free_port()
        self.project = project
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("gcp-storage-emulator")
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "gcp_storage_emulator"]
        self.proc = ManagedProcess(
            "gcs-emulator",
            [*argv, "start", "--host", "127.0.0.1", "--port", str(self.port), "--in-memory"],
            env=_child_env(),
            log_path=log_dir / "gcs-emulator.log",
            echo=echo,
        )

    @property
    def host(self) -> str:
        """The value for STORAGE_EMULATOR_HOST."""
        return self.url

    def start(self, timeout: float = 30.0) -> GCSEmulator:
        """Start the emulator and wait until it answers."""
        self.proc.start()
        wait_for(lambda: _http_ok(f"{self.url}/storage/v1/b?project={self.project}"), timeout=timeout,
                 what="GCS emulator", proc=self.proc)
        return self

    def _call(self, method: str, url: str, data: bytes | None, content_type: str) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` unless it exists."""
        status, body = self._call("GET", f"{self.url}/storage/v1/b/{quote(bucket, safe='')}", None, "application/json")
        if status == 404:
            payload = json.dumps({"name": bucket}).encode()
            status, body = self._call("POST", f"{self.url}/storage/v1/b?project={self.project}", payload,
                                      "application/json")
        if status >= 300:
            raise RuntimeError(f"GCS emulator: cannot create bucket {bucket}: HTTP {status} {body[:200]!r}")

    def put(self, bucket: str, key: str, path: Path) -> None:
        """Create `bucket` if needed and upload `path` as object `key`."""
        self.ensure_bucket(bucket)
        url = f"{self.url}/upload/storage/v1/b/{quote(bucket, safe='')}/o?uploadType=media&name={quote(key, safe='')}"
        status, body = self._call("POST", url, path.read_bytes(), "application/octet-stream")
        if status >= 300:
            raise RuntimeError(f"GCS emulator: cannot upload gs://{bucket}/{key}: HTTP {status} {body[:200]!r}")

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "application/json") -> None:
        """Write `data` as object `key` of an existing `bucket` (one new generation), as `smodels publish` writes."""
        GcsBucket(bucket, base_url=self.url).put(key, data, content_type, {})

    def stop(self) -> None:
        """Stop the emulator."""
        self.proc.stop()


def _child_env() -> dict[str, str]:
    """A minimal environment for emulator processes: no cloud credentials of the caller leak in."""
    import os

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONUNBUFFERED": "1"})
    return env
