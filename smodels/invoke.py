"""`smodels invoke`: call a deployed endpoint, signing the request when the stack is private.

    smodels invoke ENDPOINT [--cloud aws|gcp] [--stack NAME | --outputs FILE] [--data JSON] [--method GET|POST]

The endpoint URL comes from the stack outputs (`pulumi stack output --json`, or a file holding that JSON, see
`__main__.py` for the shape). Private AWS endpoints (API Gateway with AWS_IAM) are signed with SigV4 for the
`execute-api` service, region parsed from the URL; private GCP endpoints get a Google ID token whose audience is
the function URL. The status and the JSON response are printed; 4xx/5xx exit with 1, usage problems with 2.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The book's request: the first game played, none of the others.
BOOK_REQUEST: dict[str, int] = {f"G{i}": int(i == 1) for i in range(1, 11)}
ECHO_REQUEST: dict[str, str] = {"msg": "Hello from smodels invoke"}
_REGION_RE = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class InvokeError(Exception):
    """A problem that stops the call before it is sent (message says what to do); exit code 2."""


# --- outputs --------------------------------------------------------------------------------------------------


def load_outputs(outputs_file: str | None, stack: str | None, cwd: Path | None = None) -> dict[str, Any]:
    """The stack outputs: from `outputs_file` if given, else `pulumi stack output --json [--stack NAME]`."""
    if outputs_file:
        try:
            data = json.loads(Path(outputs_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvokeError(f"--outputs: cannot read {outputs_file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InvokeError(f"--outputs: {outputs_file} is not JSON: {exc}") from None
    else:
        exe = shutil.which("pulumi")
        if exe is None:
            raise InvokeError(
                "the pulumi CLI is not on PATH; pass --outputs FILE "
                "(a file holding `pulumi stack output --json` of the stack)"
            )
        cmd = [exe, "stack", "output", "--json"] + (["--stack", stack] if stack else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)
        if proc.returncode != 0:
            raise InvokeError(f"`{' '.join(cmd[1:])}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise InvokeError("`pulumi stack output --json` did not print JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
        raise InvokeError("the stack outputs have no `endpoints` (has the stack been deployed with `pulumi up`?)")
    return data


def select_endpoint(outputs: dict[str, Any], endpoint: str, cloud: str | None) -> tuple[str, dict[str, Any]]:
    """(cloud, endpoint outputs) for `endpoint`; without `cloud`, AWS first, then GCP."""
    clouds = outputs["endpoints"]
    candidates = [cloud] if cloud else [c for c in ("aws", "gcp") if endpoint in (clouds.get(c) or {})]
    for c in candidates:
        info = (clouds.get(c) or {}).get(endpoint)
        if isinstance(info, dict) and info.get("url"):
            return c, info
    known = sorted({f"{c}:{name}" for c, eps in clouds.items() if isinstance(eps, dict) for name in eps})
    where = f" on {cloud}" if cloud else ""
    raise InvokeError(f"no endpoint {endpoint!r}{where} in the stack outputs; deployed: {', '.join(known) or 'none'}")


def is_private(outputs: dict[str, Any], info: dict[str, Any]) -> bool:
    """Whether the call needs signing: the endpoint's `auth`, else the stack's `private` (default private)."""
    auth = info.get("auth")
    if auth is not None:
        return auth != "none"
    return bool(outputs.get("private", True))


# --- signing --------------------------------------------------------------------------------------------------


def region_from_url(url: str) -> str | None:
    """`us-east-1` from `https://abc.execute-api.us-east-1.amazonaws.com/pred`; None for other hosts."""
    from urllib.parse import urlsplit

    match = _REGION_RE.search(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def sigv4_headers(method: str, url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    """`headers` plus the SigV4 `Authorization`, `X-Amz-Date` (and session token) for `execute-api`."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise InvokeError(
            "the endpoint is private (AWS_IAM) and no AWS credentials were found: "
            "run `aws configure` or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def fetch_google_id_token(audience: str) -> str:
    """A Google ID token for `audience`: Application Default Credentials, else `gcloud auth print-identity-token`."""
    problem = ""
    try:
        import google.auth.exceptions
        import google.auth.transport.requests
        import google.oauth2.id_token

        try:
            return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
        except google.auth.exceptions.GoogleAuthError as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except ImportError as exc:
        problem = f"google-auth is not installed ({exc})"
    gcloud = shutil.which("gcloud")
    if gcloud:
        proc = subprocess.run(
            [gcloud, "auth", "print-identity-token"], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
        problem += f"; gcloud: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no token'}"
    raise InvokeError(
        f"the endpoint is private and no Google ID token could be obtained ({problem}). "
        "Run `gcloud auth login` (your account must be in `invokers`), or use a service account key via "
        "GOOGLE_APPLICATION_CREDENTIALS, or pass --token"
    )


# Replaced in tests; called with the audience (the function URL).
TokenFetcher = Callable[[str], str]
token_fetcher: TokenFetcher = fetch_google_id_token


# --- the call -------------------------------------------------------------------------------------------------


def build_request(
    cloud: str,
    url: str,
    method: str,
    data: Any,
    private: bool,
    region: str | None = None,
    token: str | None = None,
) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of the call, signed for `cloud` when `private`."""
    body = b"" if method == "GET" else json.dumps(data, separators=(",", ":")).encode()
    headers = {"Accept": "application/json"}
    if method != "GET":
        headers["Content-Type"] = "application/json"
    if not private:
        return url, headers, body
    if cloud == "aws":
        region = region or region_from_url(url)
        if not region:
            raise InvokeError(f"cannot tell the AWS region from {url}; pass --region")
        return url, sigv4_headers(method, url, body, headers, region), body
    headers["Authorization"] = f"Bearer {token or token_fetcher(url)}"
    return url, headers, body


def invoke(args: argparse.Namespace) -> int:
    """Run `smodels invoke` with parsed `args`; returns the exit code."""
    import requests

    try:
        if args.data is None:
            data: Any = None
        else:
            try:
                data = json.loads(args.data)
            except ValueError as exc:
                raise InvokeError(f"--data is not JSON: {exc}") from None
        outputs = load_outputs(args.outputs, args.stack)
        cloud, info = select_endpoint(outputs, args.endpoint, args.cloud)
        if data is None:
            data = BOOK_REQUEST if info.get("model_uri") else ECHO_REQUEST
        private = is_private(outputs, info)
        url, headers, body = build_request(
            cloud, info["url"], args.method, data, private, region=args.region, token=args.token
        )
    except InvokeError as exc:
        print(f"smodels invoke: {exc}", file=sys.stderr)
        return 2

    auth = {"aws": "SigV4", "gcp": "Google ID token"}[cloud] if private else "no auth"
    print(f"{args.method} {url}  ({cloud}, {auth})", file=sys.stderr)
    try:
        resp = requests.request(args.method, url, data=body or None, headers=headers, timeout=args.timeout)
    except requests.RequestException as exc:
        print(f"smodels invoke: request failed: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP {resp.status_code} {resp.reason}")
    try:
        print(json.dumps(resp.json(), indent=2, sort_keys=True))
    except ValueError:
        print(resp.text)
    return 1 if resp.status_code >= 400 else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `smodels invoke` to the CLI."""
    p = subparsers.add_parser(
        "invoke",
        help="call a deployed endpoint (signed when the stack is private)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name, e.g. pred")
    p.add_argument("--cloud", choices=("aws", "gcp"), help="which deployment (default: aws if it has ENDPOINT)")
    p.add_argument("--stack", help="Pulumi stack to read outputs from (default: the selected stack)")
    p.add_argument("--outputs", metavar="FILE", help="read the outputs from FILE (`pulumi stack output --json`)")
    p.add_argument(
        "--data", metavar="JSON", help='request body (default: the book\'s {"G1": 1, "G2": 0, ...}; echo: {"msg"})'
    )
    p.add_argument("--method", choices=("GET", "POST"), default="POST", type=str.upper)
    p.add_argument("--region", help="AWS region for SigV4 (default: parsed from the URL)")
    p.add_argument("--token", help="Google ID token to send instead of fetching one")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    p.set_defaults(func=invoke)
