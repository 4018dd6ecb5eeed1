"""`smodels serve`: the stack on this machine (`smodels smoke --local` uses the same helpers).

    smodels serve [--stack dev] [--port 8080]      every endpoint of every cloud, locally, until Ctrl-C

Progress goes to stderr (one line per step), the endpoint table and "ready" to stdout.
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
