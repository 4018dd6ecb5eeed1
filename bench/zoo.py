"""Zoo benchmark: the Lambda package of each zoo model, runtime auto beside runtime native, in one run.

`venv/bin/python bench/zoo.py [--python 3.13] [--runs 5] [--out bench/out/zoo] [--models regressor,xgboost] [--json]`

For each model of tests/zoo.py (default: all of them: regressor, multiclass, categorical, xgboost, lightgbm) it
trains the model (seconds), saves it with ``smodels.save_model`` under OUT/models/, and builds its AWS Lambda
package (x86_64, --python, bytecode on) the way bench/package.py builds ours: an aws-only stack config whose one
endpoint points at the saved model, once with runtime ``auto`` (whatever it picks, and why) and once with
runtime ``native``. Builds and their dependency trees are cached under OUT/build (the first native build
downloads wheels with uv).

Then, under the target interpreter, for each package: cold start = median wall time, from spawn to the first
answer, of --runs fresh ``python3.X -I`` processes with only the unzipped package on sys.path doing interpreter
start + import + model load + the first prediction through ``functions.aws.lambda_handler`` (a console-style
event: the example's first row), with the function's environment (``FunctionBuild.function_env`` with a file://
URI of the model object; the schema file it names is in the package root); warm = median per-call latency of
1000 more calls in that process; peak RSS = the process's VmHWM, read by itself at the end (after the warm
calls; the JSON also has it at the first answer). Not ru_maxrss: a child's ru_maxrss also counts this process's
peak before exec, hundreds of MB here once the models are trained. Cold start and peak RSS are each set beside
the bare interpreter's (``python3.X -I -c pass``, --runs processes before and --runs after the packages; its RSS
from as many printing their VmHWM). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # ahead of bench/, which holds this file, also named zoo.py

from zoo import ZOO  # noqa: E402 - tests/zoo.py

from bench.package import find_interpreter, measure_start, ours, unzip  # noqa: E402
from smodels.packager import BuildError  # noqa: E402

RUNTIMES = ("auto", "native")
BARE_ENV = {"PATH": "/usr/bin:/bin"}
# The bare interpreter's own peak RSS: read by the child (a child's ru_maxrss also counts this process's peak).
BARE_HWM = "print(next(x.split()[1] for x in open('/proc/self/status') if x.startswith('VmHWM:')))"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def example_row(frame) -> dict:
    """The frame's first row as a console event would hold it: plain JSON values, a missing value as null."""
    row = {}
    for column, value in frame.iloc[0].items():
        value = value.item() if hasattr(value, "item") else value
        row[str(column)] = None if isinstance(value, float) and math.isnan(value) else value
    return row


def measure_bare(py: str, runs: int) -> dict:
    """`py -I -c pass` in `runs` fresh processes (wall times, timed as measure_start times its processes), and
    the bare interpreter's peak RSS in bytes (VmHWM, from `runs` more that print it)."""
    walls, rss = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([py, "-I", "-c", "pass"], env=BARE_ENV, capture_output=True, text=True, timeout=60,
                       check=True)
        walls.append(time.perf_counter() - t)
    for _ in range(runs):
        res = subprocess.run([py, "-I", "-c", BARE_HWM], env=BARE_ENV, capture_output=True, text=True, timeout=60,
                             check=True)
        rss.append(int(res.stdout) * 1024)
    return {"walls": walls, "rss": rss}


def build(key: str, model_dir: Path, runtime: str, python: str, build_dir: Path) -> dict:
    """One package; a dict with the FunctionBuild (or the error)."""
    t = time.perf_counter()
    try:
        b = ours(build_dir, runtime, True, False, model=model_dir, endpoint=f"{key}-{runtime}", python=python,
                 build_dir=build_dir)
    except BuildError as exc:
        return {"error": f"build failed: {str(exc).strip()[:600]}", "build_s": time.perf_counter() - t}
    return {"build": b, "build_s": time.perf_counter() - t, "cached": b.cached, "serves": b.runtime,
            "reason": b.runtime_reason, "format": b.model.format, "unzipped_MB": b.unzipped_bytes / 1e6,
            "zipped_MB": b.zipped_bytes / 1e6, "requirements": list(b.requirements)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.13", help="target Python of the Lambda (default 3.13)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per package (median; default 5)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "zoo")
    parser.add_argument("--models", default=",".join(ZOO),
                        help=f"comma-separated subset of {', '.join(ZOO)} (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ZOO]
    if unknown or not keys:
        parser.error(f"--models: unknown {unknown or 'empty list'}; choose from {', '.join(ZOO)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    py = find_interpreter(args.python)
    if not py:
        say(f"python{args.python} not found: pyenv install {args.python}")
        return 2
    out = args.out.resolve()
    build_dir, run_dir = out / "build", out / "run"
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()

    import smodels

    rows: dict[tuple[str, str], dict] = {}
    events: dict[str, dict] = {}
    for key in keys:
        say(f"== {key}: training and saving")
        z = ZOO[key]()
        model_dir = out / "models" / key
        shutil.rmtree(model_dir, ignore_errors=True)
        smodels.save_model(z.model, model_dir, example=z.example, label=z.label, name=z.name,
                           say=lambda m, key=key: say(f"  {key}: {m}"))
        events[key] = example_row(z.features)
        for runtime in RUNTIMES:
            say(f"== {key}: building aws, runtime {runtime}, python{args.python} x86_64")
            r = build(key, model_dir, runtime, args.python, build_dir)
            r["model"] = z.name
            rows[key, runtime] = r
            say(f"  {r.get('error') or ('serves ' + r['serves'] + ' (' + r['reason'] + ')')}; "
                f"{r['build_s']:.1f} s{' (cached)' if r.get('cached') else ''}")

    say(f"== bare interpreter: {py} -I -c pass, {args.runs} runs")
    bare = measure_bare(py, args.runs)
    for (key, runtime), r in rows.items():
        b = r.get("build")
        if b is None:
            continue
        say(f"== {key}/{runtime}: {args.runs} fresh processes under {py}")
        folder = unzip(b.archive, run_dir / f"{key}-{runtime}")
        env = {k: str(v) for k, v in b.function_env(b.model.path.resolve().as_uri(), 0).items()}
        try:
            r.update(measure_start(py, folder, b.handler, events[key], env, args.runs))
        except RuntimeError as exc:
            r["error"] = f"start failed: {str(exc).strip()[-600:]}"
    say(f"== bare interpreter again, {args.runs} runs")
    again = measure_bare(py, args.runs)
    bare_cold = statistics.median(bare["walls"] + again["walls"])
    bare_rss = statistics.median(bare["rss"] + again["rss"]) / 1e6
    for r in rows.values():
        r.pop("build", None)
        if "cold_start_s" in r:
            r["cold_vs_bare"] = r["cold_start_s"] / bare_cold
            r["rss_vs_bare"] = r["peak_rss_MB"] / bare_rss
    load_after = os.getloadavg()

    report = {
        "python": py, "target": f"python{args.python} x86_64 (AWS Lambda)", "runs": args.runs,
        "bare": {"cold_start_s": bare_cold, "peak_rss_MB": bare_rss,
                 "cold_start_s_before": statistics.median(bare["walls"]),
                 "cold_start_s_after": statistics.median(again["walls"])},
        "loadavg_before": load_before, "loadavg_after": load_after, "cpus": os.cpu_count(),
        "events": events,
        "packages": [{"key": k, "runtime": rt, **r} for (k, rt), r in rows.items()],
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0

    cols = (("model", 12, None), ("runtime", 8, None), ("serves", 7, None), ("unzip MB", 9, ".1f"),
            ("zip MB", 7, ".1f"), ("build s", 8, ".1f"), ("cold s", 7, ".3f"), ("x bare", 7, ".1f"),
            ("in-proc s", 10, ".3f"), ("warm us", 8, ".0f"), ("RSS MB", 7, ".1f"), ("x bare", 7, ".1f"),
            ("status", 6, None))
    keys_of = ("key", "runtime", "serves", "unzipped_MB", "zipped_MB", "build_s", "cold_start_s", "cold_vs_bare",
               "in_process_cold_s", "warm_call_us", "peak_rss_MB", "rss_vs_bare", "status")
    print(f"Lambda packages of the zoo, {report['target']}, under {py}; medians of {args.runs} fresh processes")
    print("  ".join(f"{name:<{w}}" if fmt is None else f"{name:>{w}}" for name, w, fmt in cols))
    for p in report["packages"]:
        cells = []
        for (_, w, fmt), k in zip(cols, keys_of, strict=True):
            v = p.get(k)
            if fmt is None:
                cells.append(f"{'-' if v is None else v!s:<{w}}")
            else:
                cells.append(f"{v:>{w}{fmt}}" if isinstance(v, int | float) else f"{'-':>{w}}")
        print("  ".join(cells).rstrip())
    b = report["bare"]
    print(f"bare {py} -I -c pass: {bare_cold:.3f} s (median of {2 * args.runs}: {b['cold_start_s_before']:.3f} "
          f"before, {b['cold_start_s_after']:.3f} after the packages), peak RSS {bare_rss:.1f} MB")
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} CPUs)")
    for p in report["packages"]:
        what = f"{p['key']}/{p['runtime']}"
        if p.get("reason"):
            print(f"{what}: {p['serves']} ({p['reason']})")
        if p.get("error"):
            print(f"{what}: ERROR {p['error']}")
        elif p.get("body") is not None:
            print(f"{what} answer: {p['body'][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
