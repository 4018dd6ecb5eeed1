"""`smodels serve`: the stack on this machine (`smodels smoke --local` uses the same helpers), and
`smodels local-token`: what to call its private endpoints with by hand.

    smodels serve [--stack dev] [--port 8080]      every endpoint of every cloud, locally, until Ctrl-C
    smodels local-token ENDPOINT [--stack dev]     an ID token for ENDPOINT's GCP function (as the local deployer)
    smodels local-token --cloud aws [--stack dev]  KEY:SECRET of the local key pair (curl --aws-sigv4 --user)

Progress goes to stderr (one line per step), the endpoint table and "ready" to stdout. `local-token` prints only
the token (or the key pair) on stdout, as `gcloud auth print-identity-token` does, so `$(...)` can take it.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"smodels: {message}", file=sys.stderr, flush=True)


def port_arg(text: str) -> int:
    """`--port`: a base port with room for the GCP functions above it; 0 = any free ports."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port: {text!r} is not a whole number") from None
    if not 0 <= value <= 65535 - 16:
        raise argparse.ArgumentTypeError(f"--port: {value} is outside 0..65519 (0 = any free ports)")
    return value


def _pool(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers: {text!r} is not a whole number") from None
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"--workers: {value} is outside 1..16")
    return value


def register(subparsers: Any) -> None:
    """Add `serve` to the `smodels` parser."""
    serve = subparsers.add_parser("serve", help="run every endpoint of the stack locally (no credentials)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default: dev)")
    serve.add_argument("--port", type=port_arg, default=8080,
                       help="base port: AWS front on N, GCP functions on N+1..; 0 = any free ports (default 8080)")
    serve.add_argument("--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml")
    serve.add_argument("--workers", type=_pool, default=2, help="Lambda worker processes per function (default 2)")
    serve.add_argument("--state-file", type=Path, default=None,
                       help="where to write pids and URLs once ready (default .build/local/<stack>/state.json)")
    serve.add_argument("--quiet", action="store_true", help="do not echo function logs to stderr")
    serve.set_defaults(func=cmd_serve)

    token = subparsers.add_parser(
        "local-token", help="print an ID token (GCP) or the key pair (AWS) for calling the local stack by hand",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    token.add_argument("endpoint", metavar="ENDPOINT", nargs="?", help="the endpoint whose GCP function URL is the "
                                                                       "token's audience (needed for gcp)")
    token.add_argument("--stack", default="dev", help="the running local stack (default: dev)")
    token.add_argument("--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml")
    token.add_argument("--state-file", type=Path, default=None,
                       help="the state file of the stack (default .build/local/<stack>/state.json, as serve writes)")
    token.add_argument("--cloud", choices=("gcp", "aws"), default="gcp",
                       help="gcp: an ID token (default); aws: KEY:SECRET for curl --user")
    token.add_argument("--as", dest="identity", default=None, metavar="EMAIL|runtime",
                       help="whose token: the local deployer (default), `runtime` (the endpoint's runtime account, "
                            "as the refresh push), or any email (refused unless it is in `invokers`)")
    token.add_argument("--lifetime", type=int, default=3600, help="seconds the token is valid (default 3600)")
    token.set_defaults(func=cmd_local_token)


class Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGINT handlers."""


def raise_stop(signum: int, frame: FrameType | None) -> None:
    # One stop is enough: ignore repeats so a second Ctrl-C cannot cut the teardown (bounded: SIGKILL after 5 s).
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_on(*signals: signal.Signals) -> Iterator[None]:
    """Within the block, `signals` raise Stop in the main thread; the previous handlers are back afterwards."""
    previous = {s: signal.signal(s, raise_stop) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the stack until Ctrl-C or SIGTERM; everything started is stopped on the way out."""
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack, LocalStackError

    cfg = stack_config_for(args.project_dir, args.stack)
    t0 = time.perf_counter()
    stack = LocalStack(cfg, stack=args.stack, port=args.port, pool_size=args.workers,
                       logs=None if args.quiet else sys.stderr, progress=progress, state_file=args.state_file)
    try:
        with stop_on(signal.SIGINT, signal.SIGTERM, signal.SIGHUP), stack:
            print(stack.table(), flush=True)
            if stack.private:
                print("private (public: false): requests must be signed, e.g. `smodels invoke ENDPOINT --local "
                      f"--stack {args.stack}`; by hand: `smodels local-token` (README, \"Calling the local stack by "
                      "hand\")", flush=True)
            cached = all(bool(getattr(b, "cached", False)) for b in stack.builds.values())
            print(f"ready in {time.perf_counter() - t0:.1f}s ({'cached' if cached else 'fresh'} build); "
                  f"state: {stack.state_file}; Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
    except Stop as stop:
        progress(f"{stop}: stopping")
        return 0
    except LocalStackError as exc:
        progress(f"error: {exc}")
        return 1
    finally:
        progress("stopped")


def cmd_local_token(args: argparse.Namespace) -> int:
    """Print what to sign the local stack's requests with by hand; 2 (and a message) when it cannot be had."""
    from smodels import client

    try:
        if args.state_file is not None:
            outputs = client.read_outputs(args.state_file, None)
        else:
            outputs = client.local_state_outputs(args.project_dir, args.stack)
        access = client.use_local_outputs(outputs)
        if access is None:
            raise client.ClientError(f"the state file of the local stack {args.stack!r} names no access file "
                                     "(was it started by this version of smodels?)")
        if args.cloud == "aws":
            print(f"{access.access_key_id}:{access.secret_access_key}")
            return 0
        if not args.endpoint:
            raise client.ClientError("an ID token is for one function: name the ENDPOINT (e.g. `smodels local-token "
                                     "pred`)")
        target = next((g for g in access.gcp if g.name == args.endpoint), None)
        if target is None:
            known = ", ".join(g.name for g in access.gcp) or "none"
            raise client.ClientError(f"no GCP endpoint {args.endpoint!r} in the local stack {args.stack!r} "
                                     f"(its GCP endpoints: {known})")
        if not 60 <= args.lifetime <= 12 * 3600:
            raise client.ClientError(f"--lifetime: {args.lifetime} is outside 60..43200 seconds")
        email = target.runtime_account if args.identity == "runtime" else args.identity
        print(client.mint_id_token(access, target.url.rstrip("/"), email, lifetime_s=args.lifetime))
        return 0
    except client.ClientError as exc:
        print(f"smodels local-token: {exc}", file=sys.stderr)
        return 2
