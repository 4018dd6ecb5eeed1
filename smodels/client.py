"""Calling a deployed stack, for `smodels invoke` and `smodels smoke`: its outputs, signing, sending.

`read_outputs` gives `pulumi stack output --json` (shape in `__main__.py`). `sign`: a private AWS endpoint (API
Gateway, AWS_IAM) wants SigV4 for `execute-api`, region parsed from the URL; a private GCP endpoint wants a Google
ID token whose audience is the function URL. `send` returns a 4xx/5xx instead of raising.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_REGION_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class ClientError(ValueError):
    """A problem that stops a call before it is sent; the message says what to do."""


def read_outputs(outputs_file: str | Path | None, stack: str | None, cwd: Path | None = None) -> dict[str, Any]:
    """The stack outputs: from `outputs_file` if given, else `pulumi stack output --json [--stack NAME]` in `cwd`.

    Never with `--show-secrets`: calling an endpoint needs its URL, model sha256 and auth mode, none of them
    secret. The stack's only secret outputs are the publisher's access keys (`publisher: true`); without the flag
    Pulumi prints them as "[secret]", so the keys never reach this process, its error messages or its reports.
    Something that does need a secret should ask for that output alone (`pulumi stack output publisher
    --show-secrets`).
    """
    if outputs_file:
        try:
            data = json.loads(Path(outputs_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ClientError(f"--outputs: cannot read {outputs_file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ClientError(f"--outputs: {outputs_file} is not JSON: {exc}") from None
    else:
        exe = shutil.which("pulumi")
        if exe is None:
            raise ClientError("the pulumi CLI is not on PATH; pass --outputs FILE "
                              "(a file holding `pulumi stack output --json` of the stack)")
        cmd = [exe, "stack", "output", "--json"] + (["--stack", stack] if stack else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)
        if proc.returncode != 0:
            raise ClientError(f"`{' '.join(cmd[1:])}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise ClientError("`pulumi stack output --json` did not print JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
        raise ClientError("the stack outputs have no `endpoints` (has the stack been deployed with `pulumi up`?)")
    return data


def is_private(outputs: dict[str, Any], info: dict[str, Any]) -> bool:
    """Whether the call needs signing: the endpoint's `auth`, else the stack's `private` (default private)."""
    auth = info.get("auth")
    return auth != "none" if auth is not None else bool(outputs.get("private", True))


def region_from_url(url: str) -> str | None:
    """`us-east-1` from `https://abc.execute-api.us-east-1.amazonaws.com/pred`; None for other hosts."""
    match = _REGION_RE.search(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def google_token(audience: str | None = None, scopes: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """A Google token and, when none could be had, why: an ID token for `audience`, else an OAuth access token for
    `scopes`. Application Default Credentials first, then `gcloud auth print-identity-token` /
    `print-access-token`."""
    problem = ""
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
        import google.oauth2.id_token

        try:
            request = google.auth.transport.requests.Request()
            if audience is not None:
                return google.oauth2.id_token.fetch_id_token(request, audience), ""
            credentials, _ = google.auth.default(scopes=list(scopes))
            credentials.refresh(request)
            return str(credentials.token), ""
        except google.auth.exceptions.GoogleAuthError as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except ImportError as exc:
        problem = f"google-auth is not installed ({exc})"
    gcloud = shutil.which("gcloud")
    if gcloud:
        what = "print-identity-token" if audience is not None else "print-access-token"
        try:
            proc = subprocess.run([gcloud, "auth", what], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{problem}; gcloud: {exc}"
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip(), ""
        problem += f"; gcloud: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no token'}"
    return None, problem


def fetch_google_id_token(audience: str) -> str:
    """A Google ID token for `audience`: Application Default Credentials, else `gcloud auth print-identity-token`."""
    token, problem = google_token(audience=audience)
    if token is None:
        raise ClientError(f"the endpoint is private and no Google ID token could be obtained ({problem}). "
                          "Run `gcloud auth login` (your account must be in `invokers`), or use a service account "
                          "key via GOOGLE_APPLICATION_CREDENTIALS (`smodels invoke` also takes --token)")
    return token


# Replaced in tests; called with the audience (the function URL).
token_fetcher: Callable[[str], str] = fetch_google_id_token


def sign(cloud: str, method: str, url: str, body: bytes, headers: dict[str, str], region: str | None = None,
         token: str | None = None) -> dict[str, str]:
    """`headers` signed for a private endpoint: AWS adds SigV4 for `execute-api` (`region`, else the URL's), GCP
    adds `Authorization: Bearer` with `token`, else one from `token_fetcher` for the URL."""
    if cloud != "aws":
        return {**headers, "Authorization": f"Bearer {token or token_fetcher(url)}"}
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    region = region or region_from_url(url)
    if not region:
        raise ClientError(f"cannot tell the AWS region from {url}")
    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise ClientError("the endpoint is private (AWS_IAM) and no AWS credentials were found: run `aws configure` "
                          "or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def send(method: str, url: str, body: bytes | None, headers: dict[str, str],
         timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one HTTP(S) request; a 4xx/5xx is returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
