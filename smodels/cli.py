"""The `smodels` command line: one entry point, each sub-command registered by its own module."""

from __future__ import annotations

import argparse
import sys

from smodels import add_model, drift, invoke, openapi, publish, rollout, smoke
from smodels.local import cli as local_cli
from smodels.packager import cli as packager_cli

# Each module defines `register(subparsers)`, which adds its parsers and sets `func` on them.
COMMAND_MODULES = (packager_cli, local_cli, smoke, invoke, openapi, add_model, publish, rollout, drift)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command."""
    parser = argparse.ArgumentParser(prog="smodels", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `smodels` with `argv`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from smodels.config import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"smodels: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
