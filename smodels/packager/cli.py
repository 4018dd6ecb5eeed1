"""`smodels build`: build every function archive of a stack and print what was built (or `--json`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from smodels.config import PYTHON_VERSIONS


def register(subparsers) -> None:
    """Add the `build` sub-command to the `smodels` parser."""
    p = subparsers.add_parser("build", help="build the Lambda zips and GCP source archives of a stack")
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default dev)")
    p.add_argument("--project-dir", default=".", help="project directory (default .)")
    p.add_argument("--out", default=None, help="build directory (default <project>/.build)")
    p.add_argument("--python", choices=PYTHON_VERSIONS, help="target Python (default: the stack's pythonVersion)")
    p.add_argument("--arch", choices=("x86_64", "arm64"), help="Lambda architecture (default: the stack's)")
    p.add_argument("--host", action="store_true", help="build Lambda packages for this interpreter and machine")
    p.add_argument("--no-bytecode", action="store_true", help="ship source only (no .pyc)")
    p.add_argument("--layer", action="store_true", help="dependencies in a Lambda layer, handler zip KBs")
    p.add_argument("--strip", action="store_true", help="strip debug symbols from .so files (opt-in)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


_RESULT_FIELDS = ("cloud", "endpoint", "kind", "runtime", "runtime_reason", "cloud_runtime", "architecture", "handler",
                  "entry_point", "archive", "archive_sha256", "object_name", "zipped_bytes", "unzipped_bytes",
                  "needs_s3", "top_packages", "requirements", "environment", "seconds", "cached", "warnings")
_LAYER_FIELDS = ("archive", "archive_sha256", "zipped_bytes", "unzipped_bytes")
_MODEL_FIELDS = ("path", "sha256", "format", "key", "size_bytes", "parity_max_abs_diff", "conversion")


def _plain(value):
    """A build result's value as JSON: paths as strings, tuples as lists (pairs too), seconds rounded."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _fields(obj, names: tuple[str, ...]) -> dict | None:
    return None if obj is None else {n: _plain(getattr(obj, n)) for n in names}


def _result_dict(r) -> dict:
    out = _fields(r, _RESULT_FIELDS)
    out["seconds"] = round(r.seconds, 3)
    return {**out, "layer": _fields(r.layer, _LAYER_FIELDS), "model": _fields(r.model, _MODEL_FIELDS)}


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def run(args: argparse.Namespace) -> int:
    """Build the stack's functions; exit 1 with the reason on a BuildError."""
    from smodels.config import stack_config_for
    from smodels.packager import BuildError, BuildOptions, build_stack

    project = Path(args.project_dir).resolve()
    cfg = stack_config_for(project, args.stack)
    # Command-line choices override the stack's settings; the build reads them from the config alone.
    cfg = replace(
        cfg,
        python_version=args.python or cfg.python_version,
        architecture=args.arch or cfg.architecture,
        bytecode=cfg.bytecode and not args.no_bytecode,
        lambda_layer=cfg.lambda_layer or args.layer,
    )
    tty = sys.stderr.isatty()
    opts = BuildOptions(
        out_dir=Path(args.out) if args.out else project / ".build",
        host=args.host,
        strip=args.strip,
        progress=(lambda m: print(f"  .. {m}", file=sys.stderr)) if tty or not args.json else None,
    )
    try:
        results = build_stack(cfg, opts)
    except BuildError as exc:
        print(f"smodels build: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([_result_dict(r) for r in results.values()], indent=2))
        return 0
    for r in results.values():
        entry = r.handler or r.entry_point
        print(f"{r.cloud}/{r.endpoint}  [{r.kind}, {r.runtime}, {r.cloud_runtime} {r.architecture}]  {entry}")
        if r.kind == "model":
            print(f"  runtime   {r.runtime} ({r.runtime_reason})")
        print(f"  archive   {r.archive}{'  (cached)' if r.cached else ''}")
        print(f"  size      {_mb(r.zipped_bytes)} zipped, {_mb(r.unzipped_bytes)} unzipped"
              + ("  -> upload through S3" if r.needs_s3 else ""))
        if r.layer:
            print(f"  layer     {r.layer.archive}  {_mb(r.layer.zipped_bytes)} zipped, "
                  f"{_mb(r.layer.unzipped_bytes)} unzipped")
        if r.top_packages:
            print("  largest   " + ", ".join(f"{n} {_mb(s)}" for n, s in r.top_packages))
        if r.model:
            print(f"  model     {r.model.path} -> {r.model.key}")
        for w in r.warnings:
            print(f"  warning   {w}")
        print(f"  time      {r.seconds:.2f} s")
    return 0
