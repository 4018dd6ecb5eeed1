"""Drift counting overhead: warm in-handler latency with and without counting, side by side in one run.

`venv/bin/python bench/drift.py [--calls 2000] [--rounds 7] [--out bench/out/drift] [--json]`

Models: ``logreg``, the book's LogisticRegression (models/logreg) on runtime pure, as auto serves it, with the
book's console event (the body itself: G1 = "1", the others "0"); ``wide64``, a 64-feature model (scikit-learn's
digits: 64 integer pixel features, 10 classes, a LogisticRegression in a StandardScaler pipeline, seeded), added
with ``smodels.save_model`` under OUT/models/ and served pure, with the example's first row as its event.

Each model's pure artifact (``smodels.packager.prepare_model``) is served by two apps (functions/app.py) built from
the environment its package gets (functions.settings.read_env of MODEL_URI / MODEL_SHA256 / MODEL_FORMAT and the
schema document the packager writes): one whose schema carries the drift profile (counting on), one without it
(what `drift: false` ships). Warm calls go through ``functions.aws.lambda_handler`` with the process app set to one
or the other; after a warm-up, every round runs ``--calls`` calls of each (model, drift) in turn, so a change in the
machine's load hits every row alike; p50 / p99 are over all the calls of all the rounds. The log lines the handler
writes go to a file, as a function's go to its platform's agent (the write is counted). Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.package import BOOK_EVENT, percentile  # noqa: E402

MODELS = ("logreg", "wide64")


def wide64(out: Path) -> Path:
    """The 64-feature model's endpoint directory (made once under `out`)."""
    directory = out / "models" / "wide64"
    if (directory / "model.json").is_file():
        return directory
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from smodels import save_model

    data = load_digits(as_frame=True)
    x = data.data.astype("int64")
    y = pd.Series([f"d{v}" for v in data.target], name="digit")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0)).fit(x, y)
    save_model(model, directory, example=x.assign(digit=y), label="digit", name="wide64", say=lambda _: None)
    return directory


def apps(model_dir: Path, build_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(app counting drift, app not counting, the event) for one model directory, served pure."""
    from functions.app import ModelApp
    from functions.contract import MODEL_FORMAT, MODEL_SCHEMA, MODEL_SHA256, MODEL_URI, SCHEMA_DRIFT_KEY
    from functions.settings import read_env
    from smodels.manifest import load_manifest
    from smodels.manifest.drift import drift_document
    from smodels.packager import prepare_model

    manifest = load_manifest(model_dir)
    art = prepare_model(manifest, "pure", build_dir)
    profile, reason = drift_document(manifest)
    if profile is None:
        raise SystemExit(f"{model_dir}: {reason}")
    env = {MODEL_URI: art.path.resolve().as_uri(), MODEL_SHA256: art.sha256, MODEL_FORMAT: art.format}
    schema = manifest.input_schema()
    on = ModelApp(read_env({**env, MODEL_SCHEMA: json.dumps({**schema, SCHEMA_DRIFT_KEY: profile})}))
    off = ModelApp(read_env({**env, MODEL_SCHEMA: json.dumps(schema)}))
    event = BOOK_EVENT if manifest.name == "games-logreg" else dict(manifest.samples[0].input)
    return on, off, event


def measure(rows: dict[tuple[str, bool], tuple[Any, dict[str, Any]]], calls: int, rounds: int) -> dict:
    """Per (model, drift): every warm call's latency in seconds, round robin."""
    import functions.app as app_module
    from functions.aws import lambda_handler

    samples: dict[tuple[str, bool], list[float]] = {key: [] for key in rows}
    with tempfile.TemporaryFile("w") as log, contextlib.redirect_stdout(log):
        for r in range(rounds + 1):  # round 0 warms up (loads the models, fills the caches) and is dropped
            for key, (app, event) in rows.items():
                app_module._app = app
                for _ in range(calls if r else 200):
                    t = time.perf_counter()
                    answer = lambda_handler(event, None)
                    dt = time.perf_counter() - t
                    if r:
                        samples[key].append(dt)
                if answer.get("statusCode") != 200:
                    raise SystemExit(f"{key}: {answer}")
    app_module._app = None
    return samples


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="warm calls per (model, drift) per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (after one warm-up round)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "drift")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    dirs = {"logreg": REPO / "models" / "logreg", "wide64": wide64(args.out)}
    rows: dict[tuple[str, bool], tuple[Any, dict[str, Any]]] = {}
    for name in MODELS:
        on, off, event = apps(dirs[name], args.out / "build")
        rows[(name, False)] = (off, event)
        rows[(name, True)] = (on, event)
    samples = measure(rows, args.calls, args.rounds)
    report = {}
    for name in MODELS:
        figures = {}
        for drift in (False, True):
            s = sorted(samples[(name, drift)])
            figures["on" if drift else "off"] = {"p50_us": percentile(s, 50) * 1e6, "p99_us": percentile(s, 99) * 1e6,
                                                 "calls": len(s)}
        figures["p50_ratio"] = figures["on"]["p50_us"] / figures["off"]["p50_us"]
        figures["p50_added_us"] = figures["on"]["p50_us"] - figures["off"]["p50_us"]
        report[name] = figures
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"warm in-handler latency (functions.aws.lambda_handler, console event), {args.rounds} rounds x "
          f"{args.calls} calls, python {sys.version.split()[0]}")
    print(f"{'model':<8} {'drift off p50':>14} {'drift on p50':>13} {'added':>9} {'ratio':>7} {'off p99':>9} "
          f"{'on p99':>9}")
    for name, f in report.items():
        print(f"{name:<8} {f['off']['p50_us']:>11.1f} us {f['on']['p50_us']:>10.1f} us {f['p50_added_us']:>6.1f} us "
              f"{f['p50_ratio']:>7.3f} {f['off']['p99_us']:>6.1f} us {f['on']['p99_us']:>6.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
