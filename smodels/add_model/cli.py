"""The `smodels add-model` sub-command: its parser and what it prints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smodels.add_model.api import add_model
from smodels.add_model.errors import AddModelError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `add-model` sub-command."""
    p = subparsers.add_parser(
        "add-model", help="turn a trained model into an endpoint directory (model.json + a safe artifact)",
        description="Write DIR/model.json (manifest schema 2) and the model in a safe format (skops, XGBoost "
                    "JSON, LightGBM text, .keras) from a trained model and an example of its input.")
    p.add_argument("artifact", metavar="ARTIFACT",
                   help="a .joblib/.pkl/.pickle file (loaded here: pickle runs code), a .skops or .keras file, or an "
                        "MLflow model directory (flavors sklearn, xgboost, lightgbm, keras)")
    p.add_argument("--example", metavar="CSV", help="example inputs (a CSV with a header); an MLflow input example "
                   "stands in when absent")
    p.add_argument("--name", required=True, help="the model's name, [a-z0-9-]+")
    p.add_argument("--label", metavar="COLUMN", help="the label column of the example: excluded from the features, "
                   "and a metric (roc_auc, accuracy or r2) is computed on the example")
    p.add_argument("--out", metavar="DIR", help="where to write (default models/NAME)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        m = add_model(args.artifact, example=args.example, name=args.name, label=args.label, out=args.out)
    except AddModelError as exc:
        print(f"smodels add-model: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("models") / args.name
    print(f"wrote {out / m.artifact} ({m.format}, {m.size_bytes} bytes) and {out / 'model.json'}")
    print(f"model {m.name}: {m.framework} {m.framework_version}, {m.task}"
          + (f", classes {list(m.classes)}" if m.classes else ""))
    for f in m.features:
        extra = " nullable" if f.nullable else ""
        if f.type == "categorical":
            extra += f" {len(f.categories)} categories" + (" (unknown ignored)" if f.ignore_unknown else "")
        print(f"  {f.name!r}: {f.type}{extra}")
    if m.holdout is not None:
        print(f"{m.holdout.metric} = {m.holdout.value} on {m.holdout.rows} example rows")
    print(f"serve it: add an endpoint with `model: {out}` under serverless-models:endpoints in "
          "Pulumi.<stack>.yaml, then `make serve` or `pulumi up`")
    return 0
