"""Function dependencies: which pins each kind needs, installing them for the target, slimming, bytecode, cache.

Dependencies are installed once per (pins, target, options, builder version) into `.build/deps/<key>/site`
and reused by every function and every rebuild with that key, so a handler-only change installs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from smodels.packager.archive import dist_name_version, distribution_sizes, iter_files, top, tree_size
from smodels.packager.target import Target, find_interpreter, interpreter_version, verify_wheel_tags
from smodels.packager.types import BuildError, BuildOptions

# Bump when the install/slim/compile recipe changes: every cached dependency tree is rebuilt.
BUILDER_VERSION = "1"

# Exact pins shipped in packages; they equal the dev venv's versions (a test checks), so the ONNX parity
# check at build time runs the same onnxruntime the function will run.
PINS = {
    "numpy": "2.4.6",
    "onnxruntime": "1.32.0",
    "scipy": "1.17.1",
    "skops": "0.16.0",
    "functions-framework": "3.10.2",
    "google-cloud-storage": "3.17.1",
    # Keras needs a backend to serve; torch on PyPI drags in the CUDA wheels (GBs), jax's wheels are CPU-only.
    "jax": "0.10.2",
    "jaxlib": "0.10.2",
    # Native tabular models: a model is served by the version that saved it (the manifest's `requirements` must
    # name these versions, else the build stops). XGBoost ships as `xgboost-cpu`: the `xgboost` wheel for Linux
    # depends on nvidia-nccl (GPU collectives, hundreds of MB).
    "scikit-learn": "1.9.1",
    "xgboost-cpu": "3.2.0",
    "lightgbm": "4.7.0",
    "pandas": "3.1.1",  # only for estimators called with a DataFrame (functions.predictors.needs_frame)
}
# The distribution that serves each library a manifest's `requirements` names (by its import/PyPI name).
DISTRIBUTIONS = {"scikit-learn": "scikit-learn", "xgboost": "xgboost-cpu", "lightgbm": "lightgbm", "pandas": "pandas"}
# Transitive pins resolve as they were on this date, so a rebuild next month resolves the same closure.
EXCLUDE_NEWER = "2026-11-25T00:00:00Z"
# Lambda's Python runtime ships these; a package must never carry its own copy.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")


@dataclass(frozen=True)
class DepsSpec:
    """What one function needs installed: exact pins, and distributions proven unused at serving time."""

    pins: tuple[str, ...]
    unused: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()  # modules the package must import after slimming
    env: dict[str, str] = field(default_factory=dict)


def pin(name: str, version: str | None = None) -> str:
    """`name==version`, from the PINS table unless given."""
    return f"{name}=={version or PINS[name]}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class StepReport:
    """Bytes and files one slimming step removed."""

    step: str
    files: int = 0
    bytes: int = 0


def _remove(path: Path, report: StepReport) -> None:
    if path.is_dir() and not path.is_symlink():
        for _, f in iter_files(path):
            report.files += 1
            report.bytes += f.stat().st_size
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        report.files += 1
        report.bytes += path.lstat().st_size
        path.unlink()


def _remove_distribution(site: Path, name: str, report: StepReport) -> None:
    """Delete a distribution's files (by its RECORD) and its .dist-info."""
    for dist_info in site.glob("*.dist-info"):
        if _norm(dist_name_version(dist_info)[0]) != _norm(name):
            continue
        record = dist_info / "RECORD"
        tops: set[str] = set()
        if record.is_file():
            for line in record.read_text(errors="replace").splitlines():
                rel = line.split(",", 1)[0]
                if not rel or rel.startswith(".."):
                    continue
                target = site / rel
                tops.add(Path(rel).parts[0])
                if target.is_file():
                    _remove(target, report)
        for t in tops:  # drop directories the RECORD emptied
            d = site / t
            if d.is_dir() and not any(p.is_file() for p in d.rglob("*")):
                shutil.rmtree(d)
        if dist_info.exists():
            _remove(dist_info, report)


SOURCE_SUFFIXES = (
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".cu", ".cuh",
    ".pyx", ".pxd", ".pxi", ".tp", ".f", ".f90",  # Cython sources and templates, Fortran sources
)
DOC_DIRS = ("doc", "docs", "examples")
# Files proven unused when serving (the built packages are imported and answer requests in the tests):
# numpy's C headers and static libs (f2py stays: `from numpy import *` imports it), C test extensions,
# scikit-learn's bundled toy datasets, build files, and onnxruntime's offline tools (quantization, transformer
# optimisers) that InferenceSession never loads.
BUILD_ONLY = (
    "numpy/_core/include",
    "numpy/_core/lib",
    "numpy/_pyinstaller",
    "numpy/_core/_simd.*.so",  # SIMD test harness; numpy's own code never imports it
    "numpy/_core/_*_tests.*.so",  # numpy's C test extensions
    "scipy/*/_test_*.so",  # scipy's C test extensions
    "scipy/ndimage/_ctest.*.so",
    "scipy/ndimage/_cytest.*.so",
    "sklearn/datasets/data",
    "sklearn/datasets/descr",
    "sklearn/datasets/images",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
)


def slim(site: Path, unused: tuple[str, ...] = ()) -> list[StepReport]:
    """Remove what a serving function never reads; returns what each step removed. Every .dist-info stays."""
    reports = []
    rep = StepReport("runtime-provided (boto3, botocore)")
    for name in RUNTIME_PROVIDED:
        _remove_distribution(site, name, rep)
    reports.append(rep)
    rep = StepReport("unused dependencies (" + (", ".join(unused) or "none") + ")")
    for name in unused:
        _remove_distribution(site, name, rep)
    reports.append(rep)

    def walk_dirs(match) -> None:
        for dirpath, dirnames, _ in os.walk(site, topdown=True):
            if dirpath.endswith(".dist-info"):
                dirnames[:] = []
                continue
            for d in list(dirnames):
                if d.endswith(".dist-info"):
                    continue
                if match(d):
                    _remove(Path(dirpath) / d, rep)
                    dirnames.remove(d)

    def walk_files(match) -> None:
        for rel, path in iter_files(site):
            if ".dist-info/" in rel:
                continue
            if match(path.name):
                _remove(path, rep)

    rep = StepReport("__pycache__")
    walk_dirs(lambda d: d == "__pycache__")
    reports.append(rep)
    rep = StepReport("tests")
    walk_dirs(lambda d: d == "tests")
    walk_files(lambda n: n == "conftest.py")
    reports.append(rep)
    rep = StepReport("type stubs (*.pyi)")
    walk_files(lambda n: n.endswith(".pyi"))
    reports.append(rep)
    rep = StepReport("C/C++/Cython sources and headers")
    walk_files(lambda n: n.endswith(SOURCE_SUFFIXES))
    reports.append(rep)
    rep = StepReport("docs")
    walk_dirs(lambda d: d in DOC_DIRS)
    reports.append(rep)
    rep = StepReport("build-only files (headers, static libs, toy datasets, ORT tools)")
    for pattern in BUILD_ONLY:
        for path in sorted(site.glob(pattern)):
            _remove(path, rep)
    walk_files(lambda n: n.endswith(".a") or n in ("meson.build", "meson.options"))
    walk_dirs(lambda d: d == "pkgconfig")
    reports.append(rep)
    return reports


def strip_shared_objects(site: Path) -> StepReport:
    """`strip --strip-debug` the extension modules (opt-in); the caller proves the package still imports."""
    rep = StepReport("strip --strip-debug *.so")
    strip = shutil.which("strip")
    if not strip:
        raise BuildError("strip: the `strip` tool (binutils) is not installed; build without --strip")
    for rel, path in iter_files(site):
        # Libraries auditwheel vendored into `<pkg>.libs/` were rewritten by patchelf; strip corrupts them
        # (numpy's OpenBLAS then fails with "ELF load command address/offset not page-aligned").
        if ".so" not in path.name or path.is_symlink() or rel.split("/", 1)[0].endswith(".libs"):
            continue
        before = path.stat().st_size
        res = subprocess.run([strip, "--strip-debug", str(path)], capture_output=True, text=True)
        if res.returncode != 0:
            raise BuildError(f"strip failed on {path.relative_to(site)}: {res.stderr.strip()[:300]}")
        rep.files += 1
        rep.bytes += before - path.stat().st_size
    return rep


def compile_bytecode(root: Path, interpreter: str) -> tuple[int, str | None]:
    """Compile every .py under `root` with `interpreter` (unchecked-hash pycs, paths relative to `root`).

    Returns (bytes added, warning or None). Deterministic: no mtimes in the pyc, fixed hash seed.
    """
    before = tree_size(root)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    res = subprocess.run(
        [interpreter, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", str(root), str(root)],
        capture_output=True, text=True, env=env,
    )
    warning = None
    if res.returncode != 0:
        tail = (res.stdout + res.stderr).strip().splitlines()[-3:]
        warning = f"bytecode: some files did not compile with {interpreter} (left as source): {' | '.join(tail)}"
    return tree_size(root) - before, warning


def bytecode_interpreter(target: Target) -> tuple[str | None, str | None]:
    """(interpreter, None): the target Python to compile with.

    Raises BuildError when none is found: shipping source only instead would give another zip (another code
    hash, a redeploy) depending on which machine deploys, so the same inputs would not give the same package.
    """
    if target.host:
        return sys.executable, None
    found = find_interpreter(target.python)
    if found:
        return found, None
    raise BuildError(
        f"bytecode: true needs python{target.python} to compile the package, and none works on this machine. "
        f"Without it the zip would differ from one built where python{target.python} exists (another code hash, "
        f"a redeploy of every function whenever the deploying machine changes). Install it (pyenv install "
        f"{target.python}, or set SMODELS_PYTHON{target.python.replace('.', '')} to its path), or set "
        f"serverless-models:bytecode to false for this stack on every machine that deploys it"
    )


def import_check(site: Path, target: Target, imports: tuple[str, ...], interpreter: str | None) -> str | None:
    """Import `imports` from `site` alone with the target interpreter, as Lambda would; None if not runnable here.

    Raises BuildError if an import fails (slimming or stripping removed something needed).
    """
    import platform

    if not imports or interpreter is None:
        return None
    if not target.host and target.machine != platform.machine():
        return None
    code = f"import sys; sys.path.insert(0, {str(site)!r}); " + "; ".join(f"import {m}" for m in imports)
    res = subprocess.run([interpreter, "-I", "-B", "-c", code], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise BuildError(
            f"the slimmed dependencies do not import under {interpreter} ({', '.join(imports)}):\n"
            + res.stderr.strip()[-1500:]
        )
    return interpreter


def _run_uv(args: list[str]) -> subprocess.CompletedProcess:
    """Run uv (the venv's, via the `uv` package); separate so tests can prove a cache hit never calls it."""
    from uv import find_uv_bin

    env = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    return subprocess.run([find_uv_bin(), *args], capture_output=True, text=True, env=env)


def install(site: Path, pins: tuple[str, ...], target: Target) -> None:
    """`uv pip install --target site` the pins for `target`, binary wheels only; BuildError naming a missing one."""
    args = ["pip", "install", "--no-config", "--target", str(site), *target.uv_args()]
    if not target.host:
        args += ["--python", sys.executable]
    args += ["--only-binary", ":all:", "--link-mode", "copy", "--exclude-newer", EXCLUDE_NEWER, *pins]
    res = _run_uv(args)
    if res.returncode != 0:
        text = (res.stderr or res.stdout).strip()
        names = [p.split("==")[0] for p in pins if re.search(rf"\b{re.escape(p.split('==')[0])}\b", text, re.I)]
        what = ", ".join(names) if names else "a dependency"
        raise BuildError(
            f"no installable wheel of {what} for {target.describe()} (binary wheels only; pins: {', '.join(pins)})."
            f"\nuv said:\n{text[-1500:]}"
        )


@dataclass(frozen=True)
class DepsBuild:
    """An installed, slimmed (and maybe compiled) dependency tree, cached under its key."""

    key: str
    site: Path
    meta: dict
    cached: bool

    @property
    def top_packages(self) -> tuple[tuple[str, int], ...]:
        """The five biggest distributions of the tree, (name, bytes)."""
        return tuple((n, s) for n, s in self.meta["top_packages"])


def deps_key(spec: DepsSpec, target: Target, bytecode_interp: str | None, strip: bool) -> str:
    """Cache key of a dependency tree."""
    material = {
        "builder": BUILDER_VERSION,
        "pins": sorted(spec.pins),
        "unused": sorted(spec.unused),
        "target": target.key(),
        "bytecode": interpreter_version(bytecode_interp) if bytecode_interp else None,
        "strip": strip,
        "exclude_newer": EXCLUDE_NEWER,
        "slim": [*BUILD_ONLY, *SOURCE_SUFFIXES, *DOC_DIRS, *RUNTIME_PROVIDED],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def build_deps(spec: DepsSpec, target: Target, opts: BuildOptions, bytecode: bool) -> DepsBuild:
    """Install + slim + compile `spec` for `target`, or reuse the cached tree with the same key."""
    interp, warning = bytecode_interpreter(target) if bytecode else (None, None)
    key = deps_key(spec, target, interp, opts.strip)
    root = Path(opts.out_dir) / "deps" / key[:16]
    meta_file = root / "meta.json"
    if meta_file.is_file() and (root / "site").is_dir():
        return DepsBuild(key, root / "site", json.loads(meta_file.read_text()), cached=True)

    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    site = tmp / "site"
    site.mkdir(parents=True)
    warnings = [warning] if warning else []
    t0 = time.perf_counter()
    opts.say(f"installing {', '.join(spec.pins)} for {target.describe()}")
    install(site, spec.pins, target)
    verify_wheel_tags(site, target)
    for stray in (".lock",):  # uv's lock file in the target dir
        (site / stray).unlink(missing_ok=True)
    raw = tree_size(site)
    opts.say(f"installed {len(list(site.glob('*.dist-info')))} distributions, {raw / 1e6:.1f} MB; slimming")
    steps = slim(site, spec.unused)
    resolved = sorted("==".join(dist_name_version(d)) for d in site.glob("*.dist-info"))
    if opts.strip:
        steps.append(strip_shared_objects(site))
    slimmed = tree_size(site)
    checker = sys.executable if target.host else (interp or find_interpreter(target.python))
    verified = import_check(site, target, spec.imports, checker)
    bytecode_bytes = 0
    if interp:
        opts.say(f"compiling bytecode with {interp}")
        bytecode_bytes, warn = compile_bytecode(site, interp)
        if warn:
            warnings.append(warn)
    meta = {
        "key": key,
        "pins": list(spec.pins),
        "resolved": resolved,
        "target": target.describe(),
        "raw_bytes": raw,
        "slim_steps": [{"step": s.step, "files": s.files, "bytes": s.bytes} for s in steps],
        "slimmed_bytes": slimmed,
        "bytecode_bytes": bytecode_bytes,
        "bytecode_interpreter": interp,
        "bytes": tree_size(site),
        "top_packages": list(top(distribution_sizes(site))),
        "import_checked_with": verified,
        "install_seconds": round(time.perf_counter() - t0, 2),
        "warnings": warnings,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return DepsBuild(key, root / "site", meta, cached=False)
