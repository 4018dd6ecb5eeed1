"""`smodels invoke`: call a deployed or local endpoint, signing the request when the stack is private.

    smodels invoke ENDPOINT [--cloud aws|gcp] [--stack NAME | --outputs FILE] [--data JSON] [--method GET|POST]
    smodels invoke ENDPOINT --local [--stack dev] [--project-dir .]     the stack `smodels serve` runs

The endpoint URL comes from the stack outputs (`pulumi stack output --json`, or a file holding that JSON), or with
--local from the running local stack's state file (`.build/local/<stack>/state.json`; `--outputs` of that file
does the same). A private endpoint's request is signed by `smodels.client`: SigV4 on AWS, a Google ID token on
GCP; for the local stack with its own key pair and an ID token its issuer signs for the local deployer. The
status and the JSON response are printed; 4xx/5xx exit with 1, usage problems with 2.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from typing import Any

from smodels import client
from smodels.client import ClientError

# The book's request: the first game played, none of the others.
BOOK_REQUEST: dict[str, int] = {f"G{i}": int(i == 1) for i in range(1, 11)}
ECHO_REQUEST: dict[str, str] = {"msg": "Hello from smodels invoke"}


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
    raise ClientError(f"no endpoint {endpoint!r}{where} in the stack outputs; deployed: {', '.join(known) or 'none'}")


def build_request(cloud: str, url: str, method: str, data: Any, private: bool, region: str | None = None,
                  token: str | None = None) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the call, signed for `cloud` when `private`."""
    body = b"" if method == "GET" else json.dumps(data, separators=(",", ":")).encode()
    headers = {"Accept": "application/json"}
    if method != "GET":
        headers["Content-Type"] = "application/json"
    if not private:
        return headers, body
    local = client.local_access_for(url) is not None  # the local stack signs with its own region
    if cloud == "aws" and not (region or local or client.region_from_url(url)):
        raise ClientError(f"cannot tell the AWS region from {url}; pass --region")
    return client.sign(cloud, method, url, body, headers, region=region, token=token), body


def invoke(args: argparse.Namespace) -> int:
    """Run `smodels invoke` with parsed `args`; returns the exit code."""
    try:
        try:
            data = None if args.data is None else json.loads(args.data)
        except ValueError as exc:
            raise ClientError(f"--data is not JSON: {exc}") from None
        if getattr(args, "local", False):
            if args.outputs:
                raise ClientError("--local reads the running local stack's state file; leave out --outputs")
            outputs = client.local_state_outputs(args.project_dir, args.stack or "dev")
        else:
            outputs = client.read_outputs(args.outputs, args.stack)
        local = client.use_local_outputs(outputs)
        cloud, info = select_endpoint(outputs, args.endpoint, args.cloud)
        if data is None:
            data = BOOK_REQUEST if info.get("model_uri") else ECHO_REQUEST
        url, private = info["url"], client.is_private(outputs, info)
        headers, body = build_request(cloud, url, args.method, data, private, region=args.region, token=args.token)
    except ClientError as exc:
        print(f"smodels invoke: {exc}", file=sys.stderr)
        return 2

    auth = {"aws": "SigV4", "gcp": "Google ID token"}[cloud] if private else "no auth"
    if private and local is not None:
        auth = ("SigV4, the local key pair" if cloud == "aws" else
                f"ID token of the local issuer for {local.deployer}")
    print(f"{args.method} {url}  ({cloud}, {auth})", file=sys.stderr)
    try:
        status, _, raw = client.send(args.method, url, body or None, headers, timeout=args.timeout)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"smodels invoke: request failed: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP {status} {http.client.responses.get(status, '')}")
    try:
        print(json.dumps(json.loads(raw), indent=2, sort_keys=True))
    except ValueError:
        print(raw.decode("utf-8", "replace"))
    return 1 if status >= 400 else 0


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
    p.add_argument("--stack", help="Pulumi stack to read outputs from (default: the selected stack; dev with --local)")
    p.add_argument("--outputs", metavar="FILE", help="read the outputs from FILE (`pulumi stack output --json`)")
    p.add_argument("--local", action="store_true",
                   help="call the local stack `smodels serve --stack STACK` runs (signed for it when private)")
    p.add_argument("--project-dir", default=".", help="with --local: the directory holding Pulumi.yaml (default .)")
    p.add_argument("--data", metavar="JSON",
                   help='request body (default: the book\'s {"G1": 1, "G2": 0, ...}; echo: {"msg"})')
    p.add_argument("--method", choices=("GET", "POST"), default="POST", type=str.upper)
    p.add_argument("--region", help="AWS region for SigV4 (default: parsed from the URL; the local stack's own)")
    p.add_argument("--token", help="Google ID token to send instead of fetching (or minting) one")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    p.set_defaults(func=invoke)
