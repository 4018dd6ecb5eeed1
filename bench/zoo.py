"""Zoo benchmark: every runtime of the book's two models and the zoo's, side by side in one run, target Python.

`venv/bin/python bench/zoo.py [--python 3.13] [--runs 5] [--out bench/out/zoo] [--models logreg,keras,regressor]
[--json] [--plot docs/bench-cold-start.svg]`

Models: the book's two (``logreg`` = models/logreg, ``keras`` = models/keras, used as they are: manifest
directories, the console's event of the book) and the zoo of tests/zoo.py (regressor, multiclass, categorical,
xgboost, lightgbm: trained here in seconds, saved with ``smodels.save_model`` under OUT/models/, the event is the
example's first row). Default: all of them.

For each model it builds the AWS Lambda package (x86_64, --python, bytecode on) the way bench/package.py builds
ours, an aws-only stack config whose one endpoint points at the model, with the config's ``runtime`` forced to
``pure``, ``onnx`` and ``native`` in turn, and once with ``auto`` to report what auto picks and why (its package
is the forced one's; a different package would be measured as a row of its own). A runtime a model cannot use
(native Keras on Lambda, a program pure cannot compile, ...) is a row of "-" with the build's reason. For the
book's logistic regression it also builds the book's recipe (bench/package.py: ``pip install pandas
scikit-learn --target``, the book's handler, a joblib model), cached under OUT/book. Builds and their dependency
trees are cached under OUT/build (the first native builds download wheels with uv).

Then, under the target interpreter, round-robin (round r runs one process of every package, so a change in the
machine's load hits every row alike): ``python3.X -I -c pass`` (the bare interpreter: spawn to exit) and, per
package, a fresh ``python3.X -I -B`` process with only the unzipped package on sys.path (-B: Lambda's /var/task is
read-only, so no run leaves bytecode for the next; ours ship the target's, the book's recipe ships only the build
interpreter's, so it compiles its sources at every cold start, as it would on Lambda) that imports the handler,
loads the model (a file:// URI of the model object, the function's own environment from
``FunctionBuild.function_env``), answers the event (cold start = spawn to that first answer) and then answers it
1000 more times (warm = in-handler latency of those calls: p50 and p99 over all the warm calls of all the
processes); peak RSS = the process's VmHWM read by itself after the warm calls (not ru_maxrss: a child's counts
this process's peak before exec). Package sizes are the Lambda zip's; the model object is not in our packages
(it is read from the bucket at cold start, and its size is the "model kB" column) while the book's recipe ships
its pickle. Cold start and RSS are set beside the bare interpreter's, the book's logistic regression's warm
latency beside the book's handler's. Writes a plot of cold start against package size (hand-written SVG).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # ahead of bench/, which holds this file, also named zoo.py

from zoo import ZOO  # noqa: E402 - tests/zoo.py

from bench.package import (  # noqa: E402
    BOOK_EVENT,
    book_model_pkl,
    book_recipe,
    find_interpreter,
    ours,
    start_once,
    summarize_starts,
    unzip,
)

#: The book's two models, used as they are (manifest directories of this repository).
BOOK_MODELS = {"logreg": REPO / "models" / "logreg", "keras": REPO / "models" / "keras"}
MODELS = (*BOOK_MODELS, *ZOO)
FORCED = ("pure", "onnx", "native")
#: The answer the book prints for its request (G1 = 1, the others 0) with its logistic regression.
BOOK_NUMBER = 0.06745113592634559
BOOK_ROW = "book"  # runtime column of the book's recipe
BARE_ENV = {"PATH": "/usr/bin:/bin"}
# The bare interpreter's own peak RSS: read by the child (a child's ru_maxrss also counts this process's peak).
BARE_HWM = "print(next(x.split()[1] for x in open('/proc/self/status') if x.startswith('VmHWM:')))"
# The bare interpreter timed like a package: spawn to its last statement (CLOCK_MONOTONIC), not to exit.
BARE_STAMP = "import time; print(time.clock_gettime(time.CLOCK_MONOTONIC))"
LAMBDA_MIN_MB = 128
LAMBDA_UNZIPPED_MB = 250 * 1024 * 1024 / 1e6  # 262.1: Lambda's unzipped limit, 250 MiB


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def example_row(frame) -> dict:
    """The frame's first row as a console event would hold it: plain JSON values, a missing value as null."""
    row = {}
    for column, value in frame.iloc[0].items():
        value = value.item() if hasattr(value, "item") else value
        row[str(column)] = None if isinstance(value, float) and math.isnan(value) else value
    return row


def bare_once(py: str) -> dict:
    """One round of the bare interpreter: `py -I -c pass` spawn to exit; spawn to the last statement of a
    `-c` that stamps the clock; and the VmHWM of one more that prints it (bytes)."""
    spawned = time.clock_gettime(time.CLOCK_MONOTONIC)
    subprocess.run([py, "-I", "-c", "pass"], env=BARE_ENV, capture_output=True, timeout=60, check=True)
    exited = time.clock_gettime(time.CLOCK_MONOTONIC)
    spawned2 = time.clock_gettime(time.CLOCK_MONOTONIC)
    res = subprocess.run([py, "-I", "-c", BARE_STAMP], env=BARE_ENV, capture_output=True, text=True, timeout=60,
                         check=True)
    stamped = float(res.stdout) - spawned2
    res = subprocess.run([py, "-I", "-c", BARE_HWM], env=BARE_ENV, capture_output=True, text=True, timeout=60,
                         check=True)
    return {"pass_s": exited - spawned, "stamp_s": stamped, "rss": int(res.stdout) * 1024}


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def build(key: str, model_dir: Path, runtime: str, python: str, build_dir: Path) -> dict:
    """One package of our stack; a dict with the FunctionBuild, or the reason it cannot be built."""
    t = time.perf_counter()
    try:
        b = ours(build_dir, runtime, True, False, model=model_dir, endpoint=f"{key}-{runtime}", python=python,
                 build_dir=build_dir)
    except Exception as exc:  # noqa: BLE001 - a runtime the model cannot use is a row of "-", never a crash
        return {"error": one_line(f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else exc),
                "build_s": time.perf_counter() - t}
    return {"build": b, "build_s": time.perf_counter() - t, "cached": b.cached, "serves": b.runtime,
            "reason": b.runtime_reason, "format": b.model.format, "archive_sha256": b.archive_sha256,
            "unzipped_MB": b.unzipped_bytes / 1e6, "zipped_MB": b.zipped_bytes / 1e6,
            "model_kB": b.model.size_bytes / 1e3, "requirements": list(b.requirements)}


def book_package(out: Path) -> dict:
    """The book's recipe for its logistic regression (bench/package.py), built once and cached under out/book."""
    folder, archive = out / "book" / "pkg", out / "book" / "book.zip"
    t = time.perf_counter()
    cached = archive.is_file() and (folder / "lambda_function.py").is_file() and (folder / "logit.pkl").is_file()
    if not cached:
        say("  book: pip install pandas scikit-learn --target (cp313 manylinux x86_64), about a minute")
        try:
            folder, archive = book_recipe(out, book_model_pkl(out))
        except Exception as exc:  # noqa: BLE001 - e.g. no network: a row of "-"
            return {"error": one_line(f"the book's recipe did not build: {exc}"), "build_s": time.perf_counter() - t}
    with zipfile.ZipFile(archive) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
        model_bytes = zf.getinfo("logit.pkl").file_size
    return {"archive": archive, "build_s": time.perf_counter() - t, "cached": cached, "serves": BOOK_ROW,
            "reason": "the book's recipe: pandas + scikit-learn, joblib model and handler in the package",
            "unzipped_MB": unzipped / 1e6, "zipped_MB": archive.stat().st_size / 1e6, "model_kB": model_bytes / 1e3,
            "handler": "lambda_function.lambda_handler"}


def prediction_of(body: str | None) -> float | None:
    """The first probability / value an answer carries: our JSON body's `prediction` (first element of a list,
    the positive class of a [p0, p1] pair), or the number in the book's "Prediction 0.06..."."""
    if not body:
        return None
    try:
        value = json.loads(body).get("prediction")
    except (ValueError, AttributeError):
        match = re.search(r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?", body)
        return float(match.group()) if match else None
    while isinstance(value, list) and value:
        value = value[-1] if len(value) == 2 and not isinstance(value[0], list) else value[0]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def p_ratio(num: float | None, den: float | None) -> float | None:
    return num / den if isinstance(num, int | float) and isinstance(den, int | float) and den else None


# --- the plot ----------------------------------------------------------------------------------------------------

STYLE = {  # runtime: (colour, marker, legend)
    "pure": ("#1b9e77", "circle", "pure (stdlib only)"),
    "onnx": ("#7570b3", "square", "onnx (numpy + onnxruntime)"),
    "native": ("#d95f02", "triangle", "native (the model's library)"),
    BOOK_ROW: ("#c51b7d", "diamond", "the book's recipe"),
}


def _marker(shape: str, x: float, y: float, colour: str, r: float = 5.0) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}" fill="{colour}"/>'
    if shape == "triangle":
        pts = f"{x:.1f},{y - r * 1.2:.1f} {x - r * 1.1:.1f},{y + r * 0.9:.1f} {x + r * 1.1:.1f},{y + r * 0.9:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    pts = f"{x:.1f},{y - r * 1.3:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r * 1.3:.1f} {x - r:.1f},{y:.1f}"
    return f'<polygon points="{pts}" fill="{colour}"/>'


def _log_ticks(lo: float, hi: float, steps: tuple[float, ...]) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [s * 10.0**e for s in steps if lo <= s * 10.0**e <= hi * (1 + 1e-9)]
    return ticks


def _num(v: float) -> str:
    return f"{v:g}" if v >= 0.001 else f"{v:.0e}"


def write_plot(path: Path, points: list[dict], bare_s: float, title: str, subtitle: str,
               missing: tuple[str, ...] = ()) -> None:
    """Cold start (y, log) against unzipped package size (x, log) as plain SVG: one labelled point per
    (model, runtime), coloured and shaped by runtime; the bare interpreter and 4x it as horizontal lines, Lambda's
    250 MB unzipped limit as a vertical one. Labels are placed greedily where they overlap nothing. `missing`:
    the (model/runtime) rows without a point, listed under the legend."""
    W, H, L, R, T, B = 960, 600, 78, 250, 62, 58
    pw, ph = W - L - R, H - T - B
    xs = [p["x"] for p in points] or [1.0]
    ys = [p["y"] for p in points] + [bare_s] or [1.0]
    x_lo, x_hi = 10 ** math.floor(math.log10(min(xs) / 1.5)), 10 ** math.ceil(math.log10(max(max(xs), 300) * 1.5))
    y_lo, y_hi = 10 ** math.floor(math.log10(min(ys) / 1.3)), 10 ** math.ceil(math.log10(max(ys) * 1.3))

    def px(x: float) -> float:
        return L + pw * (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))

    def py(y: float) -> float:
        return T + ph * (1 - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="24" font-size="16" font-weight="bold">{html.escape(title)}</text>',
           f'<text x="{L}" y="44" font-size="12" fill="#555">{html.escape(subtitle)}</text>']
    for t in _log_ticks(x_lo, x_hi, (1,)):  # grid and ticks
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{x:.1f}" y="{T + ph + 18}" text-anchor="middle">{_num(t)}</text>')
    for t in _log_ticks(x_lo, x_hi, (2, 3, 5)):
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{T + ph}" x2="{x:.1f}" y2="{T + ph + 4}" stroke="#888"/>')
    for t in _log_ticks(y_lo, y_hi, (1, 2, 5)):
        y = py(t)
        major = abs(math.log10(t) - round(math.log10(t))) < 1e-9
        grey = "#e6e6e6" if major else "#f3f3f3"
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="{grey}"/>')
        out.append(f'<text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{_num(t)}</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{L + pw / 2}" y="{H - 16}" text-anchor="middle">unzipped Lambda package, MB '
               '(log scale; our packages exclude the model object, read from the bucket)</text>')
    out.append(f'<text transform="translate(20 {T + ph / 2}) rotate(-90)" text-anchor="middle">'
               'cold start, s: spawn to first answer (log scale)</text>')
    taken: list[tuple[float, float, float, float]] = []  # boxes labels must avoid
    # reference lines
    for value, text, dash in ((bare_s, f"bare interpreter {bare_s * 1000:.0f} ms", "5 3"),
                              (4 * bare_s, "4x bare (goal)", "2 3")):
        if y_lo <= value <= y_hi:
            y = py(value)
            out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="#333" '
                       f'stroke-dasharray="{dash}"/>')
            out.append(f'<text x="{L + pw - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#333">{text}</text>')
            taken.append((L + pw - 4 - 6.6 * len(text), y - 16, L + pw - 4, y - 2))
    if x_lo <= LAMBDA_UNZIPPED_MB <= x_hi:
        x = px(LAMBDA_UNZIPPED_MB)
        text = "Lambda limit: 250 MiB unzipped"
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#b2182b" stroke-dasharray="6 3"/>')
        out.append(f'<text x="{x - 5:.1f}" y="{T + ph - 8}" text-anchor="end" fill="#b2182b">{text}</text>')
        taken.append((x - 5 - 6.6 * len(text), T + ph - 21, x + 3, T + ph))
    marks = []
    for p in points:
        colour, shape, _ = STYLE.get(p["runtime"], ("#333", "circle", p["runtime"]))
        x, y = px(p["x"]), py(p["y"])
        marks.append(_marker(shape, x, y, colour))
        taken.append((x - 6, y - 7, x + 6, y + 7))
    labels = []
    for p in sorted(points, key=lambda p: (p["y"], p["x"]), reverse=True):  # top first
        colour = STYLE.get(p["runtime"], ("#333",))[0]
        x, y = px(p["x"]), py(p["y"])
        text = p["label"]
        w, h = 6.6 * len(text) + 2, 13
        spot = None
        for dy in (0, -12, 12, -24, 24, -36, 36, -48, 48, -60, 60, -72, 72, -84, 84, -96, 96, -108, 108):
            for side in (1, -1):
                x0 = x + 9 if side == 1 else x - 9 - w
                box = (x0, y + dy - h / 2 - 1, x0 + w, y + dy + h / 2)
                inside = L + 2 <= box[0] and box[2] <= L + pw - 2 and T + 2 <= box[1] and box[3] <= T + ph - 2
                if inside and not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3]
                                      for o in taken):
                    spot = (box, side)
                    break
            if spot:
                break
        if spot is None:  # nowhere free: on the right, overlapping
            spot = ((x + 9, y - h / 2, x + 9 + w, y + h / 2), 1)
        box, side = spot
        taken.append(box)
        ty = (box[1] + box[3]) / 2 + 4
        tx = box[0] + 1
        if abs((box[1] + box[3]) / 2 - y) > 4:  # leader line
            ex = box[0] if side == 1 else box[2]
            labels.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{ex:.1f}" y2="{(box[1] + box[3]) / 2:.1f}" '
                          f'stroke="{colour}" stroke-width="0.7" opacity="0.7"/>')
        labels.append(f'<text x="{tx:.1f}" y="{ty:.1f}" fill="{colour}">{html.escape(text)}</text>')
    out += labels + marks
    lx, ly = L + pw + 18, T + 10  # legend
    out.append(f'<text x="{lx}" y="{ly}" font-weight="bold">runtime</text>')
    for i, runtime in enumerate(r for r in STYLE if any(p["runtime"] == r for p in points)):
        colour, shape, text = STYLE[runtime]
        y = ly + 22 + 22 * i
        out.append(_marker(shape, lx + 6, y - 4, colour))
        out.append(f'<text x="{lx + 18}" y="{y}">{html.escape(text)}</text>')
    y = ly + 22 + 22 * len(STYLE) + 8
    lines = ["label = model; * = what", "runtime auto picks for it", "", "logreg, keras: the book's",
             "others: tests/zoo.py"]
    if missing:
        lines += ["", "not plotted (cannot build", "or did not start):", *missing]
    for line in lines:
        out.append(f'<text x="{lx}" y="{y}" fill="#555" font-size="11">{html.escape(line)}</text>')
        y += 15
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


# --- main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.13", help="target Python of the Lambda (default 3.13)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per package (median; default 5)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "zoo")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {', '.join(MODELS)} (default: all)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bench-cold-start.svg",
                        help="SVG of cold start against package size (default docs/bench-cold-start.svg)")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown or not keys:
        parser.error(f"--models: unknown {unknown or 'empty list'}; choose from {', '.join(MODELS)}")
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
    t_start = time.perf_counter()

    rows: dict[tuple[str, str], dict] = {}
    events: dict[str, dict] = {}
    auto: dict[str, dict] = {}
    for key in keys:
        if key in BOOK_MODELS:
            model_dir, events[key] = BOOK_MODELS[key], dict(BOOK_EVENT)
        else:
            import smodels

            say(f"== {key}: training and saving")
            z = ZOO[key]()
            model_dir = out / "models" / key
            shutil.rmtree(model_dir, ignore_errors=True)
            smodels.save_model(z.model, model_dir, example=z.example, label=z.label, name=z.name,
                               say=lambda m, key=key: say(f"  {key}: {m}"))
            events[key] = example_row(z.features)
        for runtime in (*FORCED, "auto"):
            say(f"== {key}: building aws, runtime {runtime}, python{args.python} x86_64")
            r = build(key, model_dir, runtime, args.python, build_dir)
            say(f"  {r.get('error') or ('serves ' + r['serves'] + ' (' + r['reason'] + ')')}; "
                f"{r['build_s']:.1f} s{' (cached)' if r.get('cached') else ''}")
            if runtime == "auto":
                auto[key] = r
            else:
                rows[key, runtime] = r
        a = auto[key]
        twin = rows.get((key, a.get("serves")), {})
        if "build" in a and twin.get("archive_sha256") != a["archive_sha256"]:
            rows[key, "auto"] = a  # not the forced package: measured too
        if key == "logreg":
            say("== logreg: the book's recipe")
            rows[key, BOOK_ROW] = book_package(out)

    # Unzip every package once, then measure round-robin.
    jobs = []
    for (key, runtime), r in rows.items():
        if "error" in r:
            continue
        if runtime == BOOK_ROW:
            folder, handler, env = unzip(r["archive"], run_dir / f"{key}-{runtime}"), r["handler"], {}
        else:
            b = r["build"]
            folder = unzip(b.archive, run_dir / f"{key}-{runtime}")
            handler = b.handler
            env = {k: str(v) for k, v in b.function_env(b.model.path.resolve().as_uri(), 0).items()}
        jobs.append(((key, runtime), folder, handler, env))
    records: dict[tuple[str, str], list[dict]] = {job[0]: [] for job in jobs}
    bare_rounds = []
    say(f"== {args.runs} rounds under {py}: the bare interpreter and {len(jobs)} packages, one fresh process each")
    for n in range(args.runs):
        bare_rounds.append(bare_once(py))
        order = jobs[n % len(jobs):] + jobs[: n % len(jobs)] if jobs else []  # rotate: no package always first
        for ident, folder, handler, env in order:
            if "error" in rows[ident]:
                continue
            try:
                records[ident].append(start_once(py, folder, handler, events[ident[0]], env))
            except Exception as exc:  # noqa: BLE001 - a package that does not start is a row of "-"
                rows[ident]["error"] = one_line(f"start failed: {str(exc).strip()[-600:]}")
        say(f"  round {n + 1}/{args.runs} done, load {os.getloadavg()[0]:.2f}")
    bare_rounds.append(bare_once(py))  # one more after the last package: the bare figure brackets the run
    bare_cold = statistics.median(b["pass_s"] for b in bare_rounds)
    bare_stamp = statistics.median(b["stamp_s"] for b in bare_rounds)
    bare_rss = statistics.median(b["rss"] for b in bare_rounds) / 1e6
    for ident, recs in records.items():
        if recs and "error" not in rows[ident]:
            rows[ident].update(summarize_starts(recs))
    book = rows.get(("logreg", BOOK_ROW), {})
    for (key, runtime), r in rows.items():
        r.pop("build", None)
        r.pop("archive", None)
        if "cold_start_s" not in r:
            continue
        r["cold_vs_bare"] = r["cold_start_s"] / bare_cold
        r["cold_vs_bare_stamp"] = r["cold_start_s"] / bare_stamp
        r["rss_vs_bare"] = r["peak_rss_MB"] / bare_rss
        r["prediction"] = prediction_of(r.get("body"))
        if key == "logreg":
            r["warm_p50_vs_book"] = p_ratio(r["warm_p50_us"], book.get("warm_p50_us"))
            r["warm_p99_vs_book"] = p_ratio(r["warm_p99_us"], book.get("warm_p99_us"))
            r["cold_vs_book"] = p_ratio(r["cold_start_s"], book.get("cold_start_s"))
            if r["prediction"] is not None:
                r["book_number_diff"] = abs(r["prediction"] - BOOK_NUMBER)
        r["auto_picks"] = runtime != BOOK_ROW and auto.get(key, {}).get("serves") == r.get("serves")
    load_after = os.getloadavg()

    report = {
        "python": py, "target": f"python{args.python} x86_64 (AWS Lambda)", "runs": args.runs,
        "warm_calls_per_process": 1000, "seconds": time.perf_counter() - t_start,
        "bare": {"cold_start_s": bare_cold, "cold_start_to_last_statement_s": bare_stamp, "peak_rss_MB": bare_rss,
                 "rounds": bare_rounds},
        "loadavg_before": load_before, "loadavg_after": load_after, "cpus": os.cpu_count(),
        "events": events,
        "auto": {k: {x: a.get(x) for x in ("serves", "reason", "error", "archive_sha256")} for k, a in auto.items()},
        "packages": [{"key": k, "runtime": rt, **r} for (k, rt), r in rows.items()],
    }
    points = [{"x": p["unzipped_MB"], "y": p["cold_start_s"], "runtime": p["serves"],
               "label": p["key"] + ("*" if p.get("auto_picks") else "")}
              for p in report["packages"] if "cold_start_s" in p]
    if args.plot:
        plot = args.plot.resolve()
        write_plot(plot, points, bare_cold,
                   f"Cold start against package size, {report['target']}",
                   f"{Path(py).name} -I -B, only the unzipped package on sys.path; median of {args.runs} fresh "
                   f"processes; load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs",
                   tuple(f"{p['key']}/{p['runtime']}" for p in report["packages"] if "cold_start_s" not in p))
        report["plot"] = str(plot)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        if args.plot:
            say(f"plot: {report['plot']}")
        return 0
    print_table(report, py, args.runs)
    return 0


def print_table(report: dict, py: str, runs: int) -> None:
    bare = report["bare"]
    cols = (("model", 11, None, "key"), ("runtime", 8, None, "runtime"), ("unzip MB", 9, ".3g", "unzipped_MB"),
            ("zip MB", 7, ".3g", "zipped_MB"), ("model kB", 9, ".3g", "model_kB"),
            ("cold s", 7, ".3f", "cold_start_s"), ("x bare", 7, ".1f", "cold_vs_bare"),
            ("warm p50 us", 12, ",.0f", "warm_p50_us"), ("p99 us", 8, ",.0f", "warm_p99_us"),
            ("x book", 7, ".3f", "warm_p50_vs_book"), ("RSS MB", 7, ".1f", "peak_rss_MB"),
            ("x bare", 7, ".1f", "rss_vs_bare"), ("note", 4, None, "note"))
    notes: list[str] = []
    print(f"Lambda packages, {report['target']}, under {py} -I -B; medians of {runs} fresh processes, warm = "
          f"{report['warm_calls_per_process']} calls each (p50/p99 over all {runs * report['warm_calls_per_process']})")
    print("  ".join(f"{name:<{w}}" if fmt is None else f"{name:>{w}}" for name, w, fmt, _ in cols).rstrip())
    bare_row = {"key": "-", "runtime": "bare", "unzipped_MB": 0.0, "zipped_MB": 0.0,
                "cold_start_s": bare["cold_start_s"], "cold_vs_bare": 1.0,
                "peak_rss_MB": bare["peak_rss_MB"], "rss_vs_bare": 1.0}
    for p in [bare_row, *report["packages"]]:
        p = dict(p)
        if p.get("runtime") not in ("bare", BOOK_ROW) and p.get("serves") and p["serves"] != p["runtime"]:
            p["runtime"] = f"{p['runtime']}>{p['serves']}"
        if p.get("auto_picks"):
            p["runtime"] += "*"
        if p.get("error"):
            notes.append(f"[{len(notes) + 1}] {p['key']}/{p['runtime']}: {p['error']}")
            p["note"] = f"[{len(notes)}] " + ("cannot build" if "start failed" not in p["error"] else "no start")
        cells = []
        for _, w, fmt, k in cols:
            v = p.get(k)
            if fmt is None:
                cells.append(f"{'-' if v is None else v!s:<{w}}")
            else:
                number = isinstance(v, int | float) and not isinstance(v, bool)
                cells.append(f"{v:>{w}{fmt}}" if number else f"{'-':>{w}}")
        print("  ".join(cells).rstrip())
    print(f"bare = {py} -I -c pass, spawn to exit: {bare['cold_start_s'] * 1000:.1f} ms (median of {runs + 1}, "
          f"round-robin with the packages; spawn to the last statement of a -c: "
          f"{bare['cold_start_to_last_statement_s'] * 1000:.1f} ms), peak RSS {bare['peak_rss_MB']:.1f} MB")
    print("* = what runtime auto picks for the model (same package as the forced runtime); x book = warm p50 over "
          "the book's handler's")
    for line in notes:
        print(line)
    for key, a in report["auto"].items():
        print(f"{key}: auto -> {a.get('serves') or '-'} ({a.get('reason') or a.get('error')})")
    measured = {(p["key"], p["runtime"]): p for p in report["packages"] if "cold_start_s" in p}
    for key in report["auto"]:
        pure, onnx = measured.get((key, "pure")), measured.get((key, "onnx"))
        if pure and onnx:
            saved = onnx["cold_start_s"] - pure["cold_start_s"]
            extra = pure["warm_p50_us"] - onnx["warm_p50_us"]
            what = (f"onnx's faster warm calls repay that after {saved / (extra * 1e-6):,.0f} warm requests per "
                    "instance" if saved > 0 and extra >= 1 else "warm calls even (under 1 us apart)"
                    if saved > 0 and extra > 0 else "pure is not behind on either" if saved >= 0
                    else "onnx starts sooner")
            print(f"{key}: pure starts {saved * 1000:,.0f} ms sooner than onnx, its warm p50 is {extra:+,.1f} us "
                  f"per call: {what}")
    for p in report["packages"]:
        if p.get("body") is not None:
            diff = f" (|x - book| = {p['book_number_diff']:.1e})" if "book_number_diff" in p else ""
            print(f"answer {p['key']}/{p['runtime']}: {p['body'][:150]}{diff}")
    print(f"load average before {' '.join(f'{x:.2f}' for x in report['loadavg_before'])}, after "
          f"{' '.join(f'{x:.2f}' for x in report['loadavg_after'])} ({report['cpus']} CPUs); "
          f"{report['seconds']:.0f} s in all")
    if report.get("plot"):
        print(f"plot: {report['plot']}")


if __name__ == "__main__":
    sys.exit(main())
