"""What the IAM tests ask of a moto server: a client signing as one identity, and the S3 error code of a call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from functions.store import s3_error_code


def s3_as(url: str, region: str, creds: Mapping[str, str]) -> Any:
    """A boto3 S3 client for the moto server at `url`, signing with `creds` (boto3 keyword arguments)."""
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name=region, **creds)


def outcome(call: Callable[[], Any]) -> str:
    """"ok" if `call()` succeeds, else the S3 error code botocore reports ("AccessDenied", "NoSuchKey", ...)."""
    try:
        call()
    except Exception as exc:  # botocore's generated ClientError classes
        return s3_error_code(exc)
    return "ok"
