"""Package benchmark: the book's recipe vs `sam build` vs our sklearn-native and ONNX Lambda packages.

`venv/bin/python bench/package.py [--out bench/out] [--skip-sam] [--runs 5] [--json]`

Builds, in one run, for cp313 manylinux x86_64: the book's recipe (`pip install pandas scikit-learn --target
DIR`, zipped as is), `sam build` of the same function (aws-sam-cli from PyPI in its own venv under the out
dir, no container), our sklearn-native package and our ONNX package (with and without bytecode). Prints per
package: unzipped MB, zipped MB, cold build s, warm rebuild s, byte-identical rebuild. Then, under python3.13
in a fresh process per run: cold start (interpreter start + imports + model load + first prediction) and warm
per-call latency, the book's handler beside ours.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smodels.config import load_stack_config  # noqa: E402
from smodels.packager import BuildOptions, build_function, find_interpreter  # noqa: E402
from smodels.packager.archive import iter_files  # noqa: E402

BOOK_EVENT = {f"G{i}": "1" if i == 1 else "0" for i in range(1, 11)}
PIP_PLATFORMS = [f"manylinux_2_{m}_x86_64" for m in range(34, 16, -1)] + ["manylinux2014_x86_64"]
SAM_VERSION = "1.170.0"

# The book's handler (ch. 3), reading the model from the package folder with joblib and pandas.
BOOK_HANDLER = '''
import pandas as pd
import joblib

model = joblib.load("logit.pkl")


def lambda_handler(event, context):
    new_row = {k: event[k] for k in ["G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10"]}
    new_x = pd.DataFrame.from_dict(new_row, orient="index").transpose()
    prediction = str(model.predict_proba(new_x.astype(float))[0][1])
    return {"body": "Prediction " + prediction}
'''

RUNNER = r'''
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
os.chdir(sys.argv[1])
module, name = sys.argv[2].rsplit(".", 1)
def hwm():  # this process's peak RSS in KiB (ru_maxrss would also count the parent's peak before exec)
    try:
        with open("/proc/self/status") as f:
            return next((int(x.split()[1]) for x in f if x.startswith("VmHWM:")), None)
    except OSError:
        return None
handler = getattr(__import__(module, fromlist=[name]), name)
event = json.loads(sys.argv[3])
first = handler(event, None)
t1 = time.perf_counter()
answered_at = time.clock_gettime(time.CLOCK_MONOTONIC)  # system-wide: the parent subtracts its spawn time
hwm_first = hwm()
lat = []
for _ in range(int(sys.argv[4])):
    s = time.perf_counter(); handler(event, None); lat.append(time.perf_counter() - s)
lat.sort()
answer = first if isinstance(first, dict) else {}
print("BENCH " + json.dumps({"in_process_cold_s": t1 - t0, "warm_median_s": lat[len(lat) // 2],
                             "warm_s": [round(x, 9) for x in lat],
                             "first": str(first)[:300], "status": answer.get("statusCode"),
                             "body": answer.get("body"), "hwm_first_kb": hwm_first, "hwm_kb": hwm(),
                             "answered_at": answered_at}, default=str))
'''


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for _, p in iter_files(root))


def plain_zip(src: Path, dest: Path) -> None:
    """Zip a folder the way `zip -r` / the console does: real mtimes, filesystem order."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, _, files in os.walk(src):
            for f in files:
                p = Path(dirpath) / f
                zf.write(p, p.relative_to(src).as_posix())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def book_model_pkl(out: Path) -> Path:
    """The book's logistic regression (models/logreg) as the chapter ships it: a joblib pickle, out/logit.pkl."""
    import joblib
    import skops.io as sio

    from smodels.manifest import load_manifest

    manifest = load_manifest(REPO / "models" / "logreg")
    data = manifest.artifact_path.read_bytes()
    model_pkl = out / "logit.pkl"
    joblib.dump(sio.loads(data, trusted=sio.get_untrusted_types(data=data)), model_pkl)
    return model_pkl


def book_recipe(out: Path, model_pkl: Path) -> tuple[Path, Path]:
    """pip install pandas + scikit-learn into a folder for cp313 manylinux x86_64, add handler + model, zip."""
    folder = out / "book" / "pkg"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(folder),
           "--python-version", "3.13", "--implementation", "cp", "--only-binary=:all:"]
    for plat in PIP_PLATFORMS:
        cmd += ["--platform", plat]
    subprocess.run([*cmd, "pandas", "scikit-learn==1.9.1"], check=True)
    (folder / "lambda_function.py").write_text(BOOK_HANDLER)
    shutil.copyfile(model_pkl, folder / "logit.pkl")
    archive = out / "book" / "book.zip"
    plain_zip(folder, archive)
    return folder, archive


def sam_build(out: Path, model_pkl: Path) -> tuple[Path | None, Path | None, str]:
    """`sam build` of the same function (no container). Returns (build dir, zip, note)."""
    venv = out / "sam-venv"
    sam = venv / "bin" / "sam"
    if not sam.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        res = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                              f"aws-sam-cli=={SAM_VERSION}"], capture_output=True, text=True)
        if res.returncode != 0:
            return None, None, f"pip install aws-sam-cli=={SAM_VERSION} failed: {res.stderr.strip()[-300:]}"
    app = out / "sam-app"
    shutil.rmtree(app, ignore_errors=True)
    (app / "src").mkdir(parents=True)
    (app / "src" / "lambda_function.py").write_text(BOOK_HANDLER)
    (app / "src" / "requirements.txt").write_text("pandas\nscikit-learn==1.9.1\n")
    shutil.copyfile(model_pkl, app / "src" / "logit.pkl")
    (app / "template.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Pred:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
        "      Handler: lambda_function.lambda_handler\n      Runtime: python3.13\n      Architectures: [x86_64]\n"
    )
    py = find_interpreter("3.13")
    if not py:
        return None, None, "sam build needs python3.13 on PATH; none found (pyenv install 3.13)"
    env = {**os.environ, "PATH": f"{Path(py).parent}:{venv / 'bin'}:{os.environ['PATH']}",
           "SAM_CLI_TELEMETRY": "0"}
    res = subprocess.run([str(sam), "build", "--template", "template.yaml"], cwd=app, env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        return None, None, "sam build failed: " + (res.stderr or res.stdout).strip()[-600:]
    built = app / ".aws-sam" / "build" / "Pred"
    archive = out / "sam.zip"
    plain_zip(built, archive)
    return built, archive, ""


def ours(out: Path, runtime: str, bytecode: bool, fresh: bool, *, model: str | Path = "models/logreg",
         endpoint: str = "pred", python: str = "3.13", build_dir: Path | None = None) -> object:
    """Our Lambda package of `model` (a manifest directory, relative to the repo or absolute) as endpoint
    `endpoint` of an aws-only stack for `python` x86_64, built in `build_dir` (default: out/ours-<runtime>-<bc|src>;
    `fresh` empties it first)."""
    cfg = load_stack_config({"serverless-models:clouds": '["aws"]', "serverless-models:pythonVersion": python,
                             "serverless-models:endpoints":
                             json.dumps({endpoint: {"model": str(model), "runtime": runtime}})}, REPO)
    build_dir = build_dir or out / f"ours-{runtime}-{'bc' if bytecode else 'src'}"
    if fresh:
        shutil.rmtree(build_dir, ignore_errors=True)
    return build_function(replace(cfg, bytecode=bytecode), cfg.endpoints[0], "aws", BuildOptions(out_dir=build_dir))


def start_once(py: str, folder: Path, handler: str, event: dict, env: dict, warm_calls: int = 1000) -> dict:
    """One fresh `py -I -B` process with only `folder` on sys.path: the runner's record (first answer, in-process
    cold, every warm call's latency in `warm_s`, VmHWM in KiB) plus `cold_start_s`, the wall time from spawn to
    the first answer (CLOCK_MONOTONIC on both sides), and `process_s`, spawn to exit. RuntimeError if it fails.
    -B: Lambda's /var/task is read-only, so no process may leave bytecode in the package for the next one (a
    package without bytecode for the target Python, such as the book's, compiles its sources on every cold start
    there)."""
    # stdout (every log line the handler writes, then the BENCH record) goes to a file, as a function's goes to
    # the platform's log agent: a pipe read by this process would wake a Python reader on every line, and on a
    # 2-core machine that reader's turn (20-50 us) lands inside the handler's measured call; the write itself
    # (about 1.3 us) is still counted.
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        spawned_at = time.clock_gettime(time.CLOCK_MONOTONIC)
        res = subprocess.run([py, "-I", "-B", "-c", RUNNER, str(folder), handler, json.dumps(event),
                              str(warm_calls)], env={"PATH": "/usr/bin:/bin", **env}, stdout=out,
                             stderr=subprocess.PIPE, text=True, timeout=300)
        run_s = time.perf_counter() - t
        out.seek(0)
        stdout = out.read()
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH ")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"{folder}: {res.stderr[-1500:]}")
    data = json.loads(line[6:])
    data["cold_start_s"] = data["answered_at"] - spawned_at
    data["process_s"] = run_s
    return data


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted, non-empty list."""
    return sorted_values[max(0, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))) - 1)]


def summarize_starts(records: list[dict]) -> dict:
    """Medians over fresh processes (start_once records): cold start (spawn to first answer), in-process cold,
    warm per-call latency (median of each process's median; `warm_p50_us` / `warm_p99_us` over all the warm
    calls of all the processes), whole-process wall time, peak RSS (VmHWM) at the first answer and at the end."""
    pooled = sorted(x for r in records for x in r["warm_s"])
    last = records[-1]
    return {"cold_start_s": statistics.median(r["cold_start_s"] for r in records),
            "in_process_cold_s": statistics.median(r["in_process_cold_s"] for r in records),
            "warm_call_us": statistics.median(r["warm_median_s"] for r in records) * 1e6,
            "warm_p50_us": percentile(pooled, 50) * 1e6, "warm_p99_us": percentile(pooled, 99) * 1e6,
            "warm_calls": len(pooled), "process_s": statistics.median(r["process_s"] for r in records),
            "answer": last["first"], "status": last.get("status"), "body": last.get("body"),
            "peak_rss_first_MB": statistics.median(r["hwm_first_kb"] or 0 for r in records) * 1024 / 1e6,
            "peak_rss_MB": statistics.median(r["hwm_kb"] or 0 for r in records) * 1024 / 1e6,
            "runs": len(records)}


def measure_start(py: str, folder: Path, handler: str, event: dict, env: dict, runs: int) -> dict:
    """Median over `runs` fresh processes: wall time from spawn to first answer (not to exit: the process then
    makes 1000 warm calls), in-process cold, warm per-call latency, whole-process wall time, and the process's
    peak RSS (VmHWM) at its first answer and after the warm calls (summarize_starts)."""
    return summarize_starts([start_once(py, folder, handler, event, env) for _ in range(runs)])


def unzip(archive: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--skip-sam", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = find_interpreter("3.13")
    if not py:
        print("python3.13 not found: pyenv install 3.13", file=sys.stderr)
        return 2

    model_pkl = book_model_pkl(out)

    rows: dict[str, dict] = {}

    def row(name: str, cold_s: float, warm_s: float, unzipped: int, zipped: int, identical: bool | None, **kw):
        rows[name] = {"unzipped_MB": unzipped / 1e6, "zipped_MB": zipped / 1e6, "cold_build_s": cold_s,
                      "warm_rebuild_s": warm_s, "byte_identical": identical, **kw}
        print(f"  {name}: {rows[name]}", file=sys.stderr)

    print("== book recipe (pip install pandas scikit-learn --target, zip)", file=sys.stderr)
    t = time.perf_counter()
    folder, archive = book_recipe(out, model_pkl)
    cold = time.perf_counter() - t
    first_sha = sha(archive)
    time.sleep(1.1)  # a rebuild a second later: zip timestamps differ
    t = time.perf_counter()
    folder, archive = book_recipe(out, model_pkl)
    warm = time.perf_counter() - t
    row("book", cold, warm, tree_bytes(folder), archive.stat().st_size, sha(archive) == first_sha)

    sam_note = "skipped (--skip-sam)"
    if not args.skip_sam:
        print("== sam build", file=sys.stderr)
        t = time.perf_counter()
        built, sam_zip, sam_note = sam_build(out, model_pkl)
        cold = time.perf_counter() - t
        if built is not None:
            first_sha = sha(sam_zip)
            time.sleep(1.1)
            t = time.perf_counter()
            built, sam_zip, sam_note = sam_build(out, model_pkl)
            warm = time.perf_counter() - t
            if built is not None:
                row("sam build", cold, warm, tree_bytes(built), sam_zip.stat().st_size, sha(sam_zip) == first_sha)
        if sam_note:
            print(f"  sam build: {sam_note}", file=sys.stderr)

    builds = {}
    for name, runtime, bytecode in (("ours native", "native", True), ("ours onnx", "onnx", True),
                                    ("ours onnx, no bytecode", "onnx", False)):
        print(f"== {name}", file=sys.stderr)
        t = time.perf_counter()
        b = ours(out, runtime, bytecode, fresh=True)
        cold = time.perf_counter() - t
        first_bytes = b.archive.read_bytes()
        again = ours(out, runtime, bytecode, fresh=False)
        row(name, cold, again.seconds, b.unzipped_bytes, b.zipped_bytes, again.archive.read_bytes() == first_bytes,
            rebuild_cached=again.cached)
        builds[name] = b
    fresh = ours(out / "again", "onnx", True, fresh=True)
    same = fresh.archive.read_bytes() == builds["ours onnx"].archive.read_bytes()
    rows["ours onnx"]["byte_identical_cold_rebuild"] = same

    print(f"== cold start and warm latency under {py} ({args.runs} fresh processes each)", file=sys.stderr)
    starts = {}
    starts["book"] = measure_start(py, unzip(out / "book" / "book.zip", out / "run" / "book"),
                                   "lambda_function.lambda_handler", BOOK_EVENT, {}, args.runs)
    for name, b in builds.items():
        env = {"MODEL_URI": b.model.path.resolve().as_uri(), "MODEL_SHA256": b.model.sha256,
               "MODEL_FORMAT": b.model.format, "MODEL_FEATURES": json.dumps(b.model.manifest.feature_names)}
        folder = unzip(b.archive, out / "run" / name.replace(" ", "-").replace(",", ""))
        starts[name] = measure_start(py, folder, "functions.aws.lambda_handler", BOOK_EVENT, env, args.runs)
    for name, s in starts.items():
        s["cold_vs_book"] = s["cold_start_s"] / starts["book"]["cold_start_s"]
        s["warm_vs_book"] = s["warm_call_us"] / starts["book"]["warm_call_us"]
        rows.setdefault(name, {}).update(s)
    report = {"packages": rows, "sam_note": sam_note or "ok", "python": py,
              "bytecode_adds_MB": (builds["ours onnx"].unzipped_bytes
                                   - builds["ours onnx, no bytecode"].unzipped_bytes) / 1e6}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    cols = ("unzipped_MB", "zipped_MB", "cold_build_s", "warm_rebuild_s", "byte_identical", "cold_start_s",
            "warm_call_us", "cold_vs_book", "warm_vs_book")
    print(f"{'package':24}" + "".join(f"{c:>16}" for c in cols))
    for name, r in rows.items():
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append(f"{v:>16.3f}" if isinstance(v, float) else f"{v!s:>16}")
        print(f"{name:24}" + "".join(cells))
    print(f"sam build: {report['sam_note']}")
    print(f"bytecode adds {report['bytecode_adds_MB']:.1f} MB to the ONNX package; "
          f"byte-identical cold rebuild of ONNX: {rows['ours onnx'].get('byte_identical_cold_rebuild')}")
    for name in starts:
        print(f"answer {name}: {starts[name]['answer'][:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
