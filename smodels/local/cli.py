"""`smodels serve` and `smodels smoke`: the stack on this machine, and the book's requests against any stack.

    smodels serve [--stack dev] [--port 8080]      every endpoint of every cloud, locally, until Ctrl-C
    smodels smoke --local [--stack dev]             start the same, check every endpoint, stop; JSON report
    smodels smoke --stack prod [--outputs FILE]     check a deployed stack (pulumi stack output --json)

Progress goes to stderr (one line per step), the endpoint table and "ready" to stdout.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any


def _progress(message: str) -> None:
    print(f"smodels: {message}", file=sys.stderr, flush=True)


def _port(text: str) -> int:
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
    """Add `serve` and `smoke` to the `smodels` parser."""
    serve = subparsers.add_parser("serve", help="run every endpoint of the stack locally (no credentials)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default: dev)")
    serve.add_argument("--port", type=_port, default=8080,
                       help="base port: AWS front on N, GCP functions on N+1..; 0 = any free ports (default 8080)")
    serve.add_argument("--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml")
    serve.add_argument("--workers", type=_pool, default=2, help="Lambda worker processes per function (default 2)")
    serve.add_argument("--state-file", type=Path, default=None,
                       help="where to write pids and URLs once ready (default .build/local/<stack>/state.json)")
    serve.add_argument("--quiet", action="store_true", help="do not echo function logs to stderr")
    serve.set_defaults(func=cmd_serve)

    smoke = subparsers.add_parser("smoke", help="send the book's requests to every endpoint and check the answers",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke.add_argument("--stack", default="dev", help="stack name (config file, or the deployed stack)")
    where = smoke.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="start the stack locally (like serve) and check it")
    where.add_argument("--outputs", type=Path, default=None,
                       help="deployed stack: read outputs from this JSON file instead of `pulumi stack output`")
    smoke.add_argument("--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml")
    smoke.add_argument("--port", type=_port, default=0, help="with --local: base port (default 0 = free ports)")
    smoke.add_argument("--report", type=Path, default=None, help="also write the JSON report to this file")
    smoke.set_defaults(func=cmd_smoke)


class _Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGINT handlers."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    # One stop is enough: ignore repeats so a second Ctrl-C cannot cut the teardown (bounded: SIGKILL after 5 s).
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the stack until Ctrl-C or SIGTERM; everything started is stopped on the way out."""
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack, LocalStackError

    cfg = stack_config_for(args.project_dir, args.stack)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    t0 = time.perf_counter()
    stack = LocalStack(cfg, stack=args.stack, port=args.port, pool_size=args.workers,
                       logs=None if args.quiet else sys.stderr, progress=_progress, state_file=args.state_file)
    try:
        with stack:
            print(stack.table(), flush=True)
            cached = all(bool(getattr(b, "cached", False)) for b in stack.builds)
            print(f"ready in {time.perf_counter() - t0:.1f}s ({'cached' if cached else 'fresh'} build); "
                  f"state: {stack.state_file}; Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
    except _Stop as stop:
        _progress(f"{stop}: stopping")
        return 0
    except LocalStackError as exc:
        _progress(f"error: {exc}")
        return 1
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _progress("stopped")


def cmd_smoke(args: argparse.Namespace) -> int:
    """Check every endpoint; print the JSON report; 0 only if every check passed."""
    from smodels.config import stack_config_for
    from smodels.local.smoke import Smoke, read_outputs, signing_sender, targets_from_local, targets_from_outputs

    cfg = stack_config_for(args.project_dir, args.stack)
    if args.local:
        from smodels.local.stack import LocalStack, LocalStackError

        previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            with LocalStack(cfg, stack=args.stack, port=args.port, progress=_progress,
                            run_dir=cfg.project_dir / ".build" / "local" / f"{args.stack}-smoke") as stack:
                _progress("sending the book's requests")
                report = Smoke().run(targets_from_local(stack))
                report["target"] = {"local": True, "stack": args.stack, "startup_s": stack.timings.total}
        except LocalStackError as exc:
            _progress(f"error: {exc}")
            return 1
        except _Stop as stop:
            _progress(f"{stop}: stopping")
            return 1
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
    else:
        try:
            outputs = read_outputs(args.stack, args.outputs, cfg.project_dir)
            targets = targets_from_outputs(outputs, cfg)
        except ValueError as exc:
            _progress(f"error: {exc}")
            return 2
        report = Smoke(signing_sender(targets)).run(targets)
        report["target"] = {"local": False, "stack": args.stack, "private": [f"{t.cloud}/{t.name}" for t in targets
                                                                               if t.private]}
    text = json.dumps(report, indent=2)
    print(text, flush=True)
    if args.report is not None:
        args.report.write_text(text + "\n")
    failed = report["summary"]["failed"]
    _progress("all checks passed" if report["ok"] else f"FAILED: {', '.join(failed) or 'no endpoints'}")
    return 0 if report["ok"] else 1
