"""`smodels drift`: its arguments, reading the counts (the sources of `smodels rollout status`), and the report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from smodels.drift.html import render_html
from smodels.drift.merge import Merge
from smodels.drift.psi import DRIFT, FLOOR, MIN_ROWS, WATCH
from smodels.drift.report import build_report, render_text
from smodels.drift.sources import DriftSetupError, endpoint_config, endpoint_profiles, garbled_local_lines
from smodels.rollout.cli import _since_text, add_source_arguments, collect
from smodels.rollout.errors import RolloutError
from smodels.rollout.sources import CLOUDS

DESCRIPTION = f"""\
`smodels drift`: are the inputs an endpoint gets still the inputs its model was trained on, and is its output still
what it was? From the drift counts every prediction log line carries (functions/drift.py).

    smodels drift ENDPOINT --stack STACK [--cloud aws|gcp] [--local] [--since 24h] [--json] [--html FILE]
                           [--outputs-file F] [--project-dir .]

Per model version: the rows seen; per feature the PSI (population stability index) of the live counts against the
training profile in the model's manifest, sum (live - train) * ln(live / train) over its bins (numbers: the decile
bins of the training example; categories: the most frequent categories and "other"; plus missing and unknown
values), each share floored at {FLOOR:g}; the live vs training share of its top bins; the same for the output
(regression, binary: its decile bins; multiclass: the predicted class). A status per feature and per model:
ok (PSI < {WATCH}), watch ({WATCH} to {DRIFT}), drift (>= {DRIFT}), too_few (fewer than {MIN_ROWS} rows: no verdict).
Features are sorted by PSI, worst first. The profiles come from the stack config's models (Pulumi.STACK.yaml in
--project-dir), as the packager shipped them; each line names the profile it was counted against.

The lines come from where `smodels rollout status` reads them: --local, the files of `smodels serve --stack STACK`;
AWS, CloudWatch Logs of the function's log group; GCP, Cloud Logging entries of its Cloud Run service.

--json prints {{"endpoint", "models": [{{"model", "version", "rows", "status", "output": {{"psi", "status"}},
"features": [{{"name", "psi", "status", "missing_rate", ...}}]}}], "notes"}}. --html FILE writes one self-contained
page: per feature (worst first) and for the output, the training vs live histogram with its PSI and status.

Exit status: 0 (no model in drift), 3 when any model version is in drift (for a cron or CI job), 1 when nothing
could be measured (no lines, no counts, logs unreadable), 2 for bad arguments or config.
"""


def now() -> float:
    """The current time in epoch seconds (replaced in tests that need a fixed clock)."""
    return time.time()


def _say(message: str) -> None:
    print(f"smodels drift: {message}", file=sys.stderr)


def merge_notes(merge: Merge, ep: Any, no_profile: bool) -> list[str]:
    """One note per kind of line that could not be counted."""
    notes = []
    why = ("the endpoint has drift: false" if not getattr(ep, "drift", True) else
           "no profile: drift unavailable for its model" if no_profile else
           "written by a function version older than drift counting (redeploy to count)")
    for (model, version), p in sorted(merge.without_counts.items()):
        notes.append(f"{p.count} prediction line(s) of model {model} version {version[:12]} carry no drift counts "
                     f"({why})")
    for (model, version, pid), p in sorted(merge.unknown_profile.items()):
        notes.append(f"{p.count} prediction line(s) of model {model} version {version[:12]} were counted against "
                     f"profile {pid}, which no model of this stack's config has (the function was deployed from "
                     "another config or model): run from the checkout it was deployed from, or redeploy")
    if merge.garbled.count:
        notes.append(f"{merge.garbled.count} prediction line(s) have garbled drift counts and were left out "
                     f"(first: {merge.garbled.first})")
    return notes


def cmd_drift(args: argparse.Namespace) -> int:
    """Run `smodels drift`; prints the report (or JSON), writes the page, returns the exit code."""
    try:
        ep = endpoint_config(Path(args.project_dir), args.stack, args.endpoint)
        profiles, notes = endpoint_profiles(ep)
        records, where = collect(args, now() - args.since)
    except DriftSetupError as exc:
        _say(str(exc))
        return 2
    except RolloutError as exc:
        _say(str(exc))
        return exc.exit_code
    merge = Merge(profiles).add_all(records)
    notes += merge_notes(merge, ep, not profiles)
    if args.local:
        garbled = garbled_local_lines(Path(args.project_dir), args.stack, args.endpoint,
                                      [args.cloud] if args.cloud else CLOUDS)
        if garbled:
            notes.append(f"{garbled} line(s) of the local log files look like prediction lines but are not JSON "
                         "(cut or corrupted) and were left out")
    heading = (f"endpoint {args.endpoint}, stack {args.stack}: {merge.predictions} prediction lines from {where}, "
               f"since {_since_text(args.since)}")
    if not merge.predictions:
        for note in notes:
            _say(note)
        _say(f"no prediction line for endpoint {args.endpoint!r} in {where} (since {_since_text(args.since)}); send it "
             "some requests, or widen --since")
        return 1
    versions = [(vc, profiles[vc.profile]) for vc in merge.versions.values()]
    report = build_report(args.endpoint, versions, stack=args.stack, source=where, since=_since_text(args.since))
    report["notes"] = notes
    if args.html:
        try:
            Path(args.html).write_text(render_html(report, heading, notes), encoding="utf-8")
        except OSError as exc:
            _say(f"cannot write {args.html}: {exc.strerror or exc}")
            return 1
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for note in notes:
            _say(note)
        if report["models"]:
            print(render_text(report, heading))
    if args.html:
        _say(f"wrote {args.html}")
    if not report["models"]:
        if args.json:
            for note in notes:
                _say(note)
        _say("nothing to measure: no prediction line carries drift counts this stack's config can read")
        return 1
    return 3 if any(m["status"] == "drift" for m in report["models"]) else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `smodels drift` to the CLI."""
    p = subparsers.add_parser("drift", help="drift of an endpoint's inputs and output against its training profile",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(p, 86400.0, "24h")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page")
    p.add_argument("--project-dir", type=Path, default=Path("."),
                   help="directory holding Pulumi.yaml and Pulumi.STACK.yaml (and .build/local for --local)")
    p.set_defaults(func=cmd_drift)
