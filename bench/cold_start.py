"""Cold start and warm latency: our Lambda handler against the book's handler, in one run.

For each handler it measures
  - fresh-process cold start: a new interpreter per sample runs import + model load + the first prediction
    (wall time seen by this process, plus the child's own import / first-call split); median of --samples;
  - warm per-call latency: one process, --calls calls of the book's request after the first; median and p99.

Ours is ``functions.aws.lambda_handler`` with ``MODEL_URI=file://...`` (the sha256 check, lazy load and
strict parsing included). The book's is a joblib pickle loaded at start and, per request, a one-row pandas
DataFrame from the event and ``model.predict_proba(df)[0][1]``, as in the book. The book's handler always
runs on this interpreter (it needs pandas); ours runs on ``--python`` with ``--path`` alone on sys.path when a
built package is given, so the packaging helper can call this for each build.

Default model: models/logreg/model.skops (+ model.json) if committed, else a LogisticRegression (liblinear)
fit on the games CSV now ($SMODELS_DATA or ../shared/data/games-expand.csv).

    venv/bin/python bench/cold_start.py [--python PY] [--path PKG] [--model-uri file:///m.onnx --sha256 H
        --format onnx] [--samples 5] [--calls 2000] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = [f"G{i}" for i in range(1, 11)]
BOOK_EVENT = {"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}
MARK = "BENCH-RESULT "

OURS_CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {path!r})
from functions.aws import lambda_handler
t1 = time.perf_counter()
event = {event!r}
out = lambda_handler(event, None)
t2 = time.perf_counter()
if out["statusCode"] != 200:
    raise SystemExit("first call failed: " + out["body"])
first = json.loads(out["body"])["prediction"]
calls = {calls}
lat = []
if calls:
    devnull = open(os.devnull, "w")
    real, sys.stdout = sys.stdout, devnull  # the per-prediction log line goes nowhere, not to our pipe
    try:
        for _ in range(calls):
            s = time.perf_counter()
            lambda_handler(event, None)
            lat.append(time.perf_counter() - s)
    finally:
        sys.stdout = real
print({mark!r} + json.dumps({{"import_s": t1 - t0, "first_call_s": t2 - t1, "prediction": first, "lat": lat,
      "python": sys.version.split()[0]}}))
"""

BOOK_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
import joblib
import pandas as pd
model = joblib.load({model!r})
t1 = time.perf_counter()
warnings.simplefilter("ignore")  # fitted without feature names; the book's DataFrame has them

def lambda_handler(event, context):
    new_row = {{f"G{{i}}": event[f"G{{i}}"] for i in range(1, 11)}}
    new_x = pd.DataFrame.from_dict(new_row, orient="index").transpose()
    prediction = str(model.predict_proba(new_x)[0][1])
    return {{"body": "Prediction " + prediction}}

event = {event!r}
out = lambda_handler(event, None)
t2 = time.perf_counter()
first = float(out["body"].split()[-1])
lat = []
for _ in range({calls}):
    s = time.perf_counter()
    lambda_handler(event, None)
    lat.append(time.perf_counter() - s)
print({mark!r} + json.dumps({{"import_s": t1 - t0, "first_call_s": t2 - t1, "prediction": first, "lat": lat,
      "python": sys.version.split()[0]}}))
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-3000:]}{proc.stdout[-2000:]}")
    lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
    if not lines:
        raise SystemExit(f"benchmark child printed no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall, json.loads(lines[-1][len(MARK):])


def _measure(make_cmd: Any, env: dict[str, str], samples: int, calls: int) -> dict[str, Any]:
    cold = [_run(make_cmd(0), env) for _ in range(samples)]
    _, warm = _run(make_cmd(calls), env)
    lat = sorted(warm["lat"])
    return {
        "python": cold[0][1]["python"],
        "prediction": cold[0][1]["prediction"],
        "cold_wall_s": statistics.median(w for w, _ in cold),
        "cold_wall_samples_s": [round(w, 4) for w, _ in cold],
        "import_s": statistics.median(r["import_s"] for _, r in cold),
        "first_call_s": statistics.median(r["first_call_s"] for _, r in cold),
        "warm_median_us": statistics.median(lat) * 1e6 if lat else None,
        "warm_p99_us": lat[int(len(lat) * 0.99) - 1] * 1e6 if lat else None,
        "warm_calls": len(lat),
    }


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "PYTHON"))}
    env.update(extra)
    return env


def _default_model(tmp: Path) -> tuple[str, str, str, Any]:
    """(uri, sha256, format, estimator) for the committed skops model, or one fit now from the games CSV."""
    manifest = REPO_ROOT / "models" / "logreg" / "model.json"
    import skops.io as sio

    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        art = manifest.parent / meta["artifact"]
        if meta.get("format") == "skops" and art.is_file():
            data = art.read_bytes()
            clf = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
            return art.as_uri(), hashlib.sha256(data).hexdigest(), "skops", clf
    return _fit_model(tmp)


def _fit_model(tmp: Path) -> tuple[str, str, str, Any]:
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    csv = Path(os.environ.get("SMODELS_DATA") or REPO_ROOT.parent / "shared" / "data" / "games-expand.csv")
    if not csv.is_file():
        raise SystemExit(f"no committed model and no games data at {csv}; set SMODELS_DATA")
    raw = np.loadtxt(csv, delimiter=",", skiprows=1)
    clf = LogisticRegression(solver="liblinear").fit(raw[:, :10], raw[:, 10].astype(int))
    data = sio.dumps(clf)
    path = tmp / "model.skops"
    path.write_bytes(data)
    return path.as_uri(), hashlib.sha256(data).hexdigest(), "skops", clf


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table (or JSON) and return the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter for our handler's processes")
    ap.add_argument("--path", help="built package directory, put alone on sys.path (run with -I)")
    ap.add_argument("--model-uri", help="MODEL_URI for our handler (default: committed or freshly fit model)")
    ap.add_argument("--sha256", help="MODEL_SHA256 (required with --model-uri)")
    ap.add_argument("--format", default=None, help="MODEL_FORMAT (default skops)")
    ap.add_argument("--samples", type=int, default=5, help="fresh processes per handler (median)")
    ap.add_argument("--calls", type=int, default=2000, help="warm calls (median)")
    ap.add_argument("--no-book", action="store_true", help="skip the book's handler")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    if args.model_uri and not args.sha256:
        ap.error("--sha256 is required with --model-uri")
    if args.samples < 1 or args.calls < 1:
        ap.error("--samples and --calls must be >= 1")

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        uri, sha, fmt, clf = _default_model(tmp)
        if args.model_uri:
            uri, sha, fmt = args.model_uri, args.sha256, args.format or "skops"
        path = str(Path(args.path).resolve()) if args.path else str(REPO_ROOT)
        env = _child_env({"MODEL_URI": uri, "MODEL_SHA256": sha, "MODEL_FORMAT": fmt, "MODEL_NAME": "bench",
                          "MODEL_FEATURES": json.dumps(FEATURES), "ENDPOINT_NAME": "pred",
                          "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")})

        def ours_cmd(calls: int) -> list[str]:
            code = OURS_CHILD.format(path=path, event=BOOK_EVENT, calls=calls, mark=MARK)
            return [args.python, "-I", "-c", code]

        results: dict[str, Any] = {"model": {"uri": uri, "sha256": sha, "format": fmt},
                                   "package": args.path, "samples": args.samples, "calls": args.calls}
        results["ours"] = _measure(ours_cmd, env, args.samples, args.calls)
        if not args.no_book:
            import joblib

            pkl = tmp / "logit.pkl"
            joblib.dump(clf, pkl)

            def book_cmd(calls: int) -> list[str]:
                code = BOOK_CHILD.format(model=str(pkl), event=BOOK_EVENT, calls=calls, mark=MARK)
                return [sys.executable, "-I", "-c", code]

            book = _measure(book_cmd, _child_env({}), args.samples, args.calls)
            results["book"] = book
            ours = results["ours"]
            results["ratios"] = {
                "cold_wall_book_over_ours": book["cold_wall_s"] / ours["cold_wall_s"],
                "warm_median_book_over_ours": book["warm_median_us"] / ours["warm_median_us"],
                "prediction_abs_diff": abs(book["prediction"] - ours["prediction"]),
            }

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results)
    return results


def _print_table(r: dict[str, Any]) -> None:
    m = r["model"]
    print(f"model: {m['format']} {m['uri']} (sha256 {m['sha256'][:12]}...)  package: {r['package'] or 'repo'}")
    print(f"cold: median of {r['samples']} fresh processes; warm: median/p99 of {r['calls']} calls")
    print(f"{'handler':<8} {'python':<8} {'cold wall s':>11} {'import s':>9} {'1st call s':>10} "
          f"{'warm med us':>11} {'warm p99 us':>11}  prediction")
    for name in ("ours", "book"):
        if name in r:
            x = r[name]
            print(f"{name:<8} {x['python']:<8} {x['cold_wall_s']:>11.3f} {x['import_s']:>9.3f} "
                  f"{x['first_call_s']:>10.4f} {x['warm_median_us']:>11.1f} {x['warm_p99_us']:>11.1f}  "
                  f"{x['prediction']!r}")
    if "ratios" in r:
        q = r["ratios"]
        print(f"book/ours: cold {q['cold_wall_book_over_ours']:.2f}x, warm {q['warm_median_book_over_ours']:.2f}x; "
              f"|prediction difference| {q['prediction_abs_diff']:.3g}")


if __name__ == "__main__":
    main()
