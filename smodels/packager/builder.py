"""Build every function of a stack: Lambda zips (code + slimmed dependencies, optional layer) and GCP source
archives (code + exact requirements.txt), deterministic and cached under `.build/<cloud>/<endpoint>/`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from functions.contract import SCHEMA_DRIFT_KEY, SCHEMA_FILE
from smodels.packager.archive import iter_files, sha256_file, top, unzipped_size, write_zip
from smodels.packager.deps import (
    BUILDER_VERSION,
    DISTRIBUTIONS,
    PINS,
    DepsSpec,
    build_deps,
    bytecode_interpreter,
    compile_bytecode,
    deps_key,
    pin,
)
from smodels.packager.model import PURE_MODULES, load_model_manifest, manifest_requirements, prepare_model
from smodels.packager.target import Target, interpreter_version
from smodels.packager.types import BuildError, BuildOptions, FunctionBuild, LayerBuild

MODULES = {
    "echo": ("__init__.py", "contract.py", "http.py", "apps.py", "echo.py"),
    "model": ("__init__.py", "contract.py", "settings.py", "http.py", "apps.py", "schema.py", "store.py",
              "predictors.py", "model_cache.py", "app.py", "pointer.py", "drift.py", "oip.py", "mlflow_scoring.py"),
}
#: What a package served by runtime pure adds (the evaluator; onnx and native packages never import it).
PURE_SOURCES = tuple(f"pure/{m}.py" for m in PURE_MODULES)
ADAPTER = {"aws": "aws.py", "gcp": "gcp.py"}
GCP_MAIN = b"from functions.gcp import echo, pred, predict  # noqa: F401\n"
SKLEARN_VERSION = PINS["scikit-learn"]  # the scikit-learn the pins are tested with (the dev venv's)


def resolve_target(cfg, opts: BuildOptions) -> Target:
    """The stack config's target platform, or this interpreter and machine with `opts.host`."""
    if opts.host:
        return Target.for_host()
    return Target(python=cfg.python_version, arch=cfg.architecture)


def requirements_for(cloud: str, kind: str, runtime: str, manifest) -> DepsSpec:
    """Exact pins a function needs on `cloud` (Lambda: installed into the zip; GCP: its requirements.txt).

    `runtime` is what serves the model ("pure", "onnx" or "native"; resolve "auto" with `prepare_model` first). A native
    model gets only its own libraries: a scikit-learn model scikit-learn + skops + numpy + scipy (+ pandas when it
    is called with a DataFrame, + xgboost-cpu / lightgbm when a booster sits in its Pipeline); an XGBoost booster
    xgboost-cpu + numpy + scipy; a LightGBM booster lightgbm + numpy + scipy. Versions follow the manifest's
    `requirements`; one the package would not install is a BuildError.
    """
    ff = (pin("functions-framework"),) if cloud == "gcp" else ()
    if kind == "echo" or (kind == "model" and runtime == "pure"):
        return DepsSpec(pins=ff)  # pure: the standard library evaluates the program (functions/pure/)
    if runtime == "onnx" or manifest.format == "onnx":
        # onnxruntime's protobuf/flatbuffers/packaging serve its offline tools only; InferenceSession never
        # imports them (proven: the slimmed package answers requests in tests/smodels/packager).
        return DepsSpec(
            pins=(pin("numpy"), pin("onnxruntime"), *ff),
            unused=("flatbuffers", "protobuf", "packaging") if cloud == "aws" else (),
            imports=("numpy", "onnxruntime"),
        )
    if runtime != "native":
        raise BuildError(f"model {manifest.name}: runtime {runtime!r} must be resolved to pure, onnx or native first "
                         "(prepare_model)")
    if manifest.framework == "keras" or manifest.format == "keras":
        if cloud == "aws":
            raise BuildError(
                f"model {manifest.name}: native Keras does not fit Lambda (Keras 3 needs a backend: jax + scipy "
                f"or torch, far past the 250 MB unzipped limit with numpy). Use runtime onnx for this endpoint "
                f"on AWS (runtime: onnx), or deploy the native model to GCP only."
            )
        return DepsSpec(
            pins=(pin("keras", manifest.framework_version), pin("jax"), pin("jaxlib"), pin("numpy"), *ff),
            env={"KERAS_BACKEND": "jax"},
        )
    libraries = _native_libraries(manifest)
    pins = [_checked_pin(manifest, lib) for lib in libraries] + [pin("numpy"), pin("scipy")]
    imports = ["numpy", "scipy"]
    unused: tuple[str, ...] = ()
    if "scikit-learn" in libraries:
        pins.append(pin("skops"))
        imports += ["sklearn.linear_model", "skops.io"]
        # prettytable + wcwidth (4 MB) serve skops.card (model cards) only; skops.io never imports them.
        unused = ("prettytable", "wcwidth") if cloud == "aws" else ()
    imports += [{"xgboost": "xgboost", "lightgbm": "lightgbm", "pandas": "pandas"}[lib]
                for lib in libraries if lib != "scikit-learn"]
    return DepsSpec(pins=(*pins, *ff), unused=unused, imports=tuple(imports))


def _native_libraries(manifest) -> list[str]:
    """The libraries (requirements names) the native model needs at serving time, in pin order."""
    fmt = manifest.format
    if fmt in ("xgboost", "lightgbm"):
        return [fmt]  # the booster alone: no scikit-learn
    if fmt not in ("skops", "joblib", "pickle"):
        raise BuildError(f"model {manifest.name}: unsupported format {fmt!r} for runtime native")
    requirements = manifest_requirements(manifest)
    libraries = ["scikit-learn"] + [lib for lib in ("xgboost", "lightgbm") if lib in requirements or
                                    manifest.framework == lib]
    if "pandas" in requirements or _needs_pandas(manifest):
        libraries.append("pandas")
    return libraries


def _needs_pandas(manifest) -> bool:
    """True when the estimator is called with a DataFrame (functions.predictors.needs_frame)."""
    from functions.predictors import needs_frame
    from smodels.packager.model import _load_sklearn

    return needs_frame(_load_sklearn(manifest), manifest.model_schema())


def _checked_pin(manifest, library: str) -> str:
    """`dist==version` for a library of the native model; BuildError if the manifest needs another version."""
    dist = DISTRIBUTIONS[library]
    have = PINS[dist]
    want = manifest_requirements(manifest).get(library)
    if want is None and library == "scikit-learn" and manifest.framework == "scikit-learn":
        want = manifest.framework_version
    if want is not None and want != have:
        raise BuildError(
            f"model {manifest.name}: it needs {library} {want} (the manifest's requirements), but the package would "
            f"install {dist} {have} (the version the packager's numpy/scipy pins are tested with). A model must be "
            f"served by the library version that saved it: re-save it with {library} {have} (smodels add-model), "
            f"or use runtime onnx."
        )
    return pin(dist)


def function_sources(functions_dir: Path, kind: str, cloud: str, runtime: str = "native") -> list[tuple[str, Path]]:
    """(archive name, file) of the `functions` modules a `kind` archive for `cloud` served by `runtime` contains."""
    names = (*MODULES[kind], *(PURE_SOURCES if kind == "model" and runtime == "pure" else ()), ADAPTER[cloud])
    missing = [n for n in names if not (functions_dir / n).is_file()]
    if missing:
        raise BuildError(f"functions package {functions_dir} lacks {', '.join(missing)} (needed for a {kind} {cloud} "
                         "function)")
    return [(f"functions/{n}", functions_dir / n) for n in names]


def _sources_hash(sources: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


KEEP_BUILDS = 3


def drift_for(endpoint, manifest) -> tuple[dict | None, str]:
    """(the drift profile the endpoint's function counts against, "") or (None, why it counts nothing): the
    endpoint's `drift: false`, or a manifest without a drift-ready profile (smodels.manifest.drift)."""
    from smodels.manifest.drift import drift_profile

    if not getattr(endpoint, "drift", True):
        return None, f"endpoint {endpoint.name}: drift: false (no drift counting)"
    profile, reason = drift_profile(manifest)
    return (None, reason) if profile is None else (profile.to_json(), "")


def _schema_file(manifest, out_dir: Path, drift: dict | None = None) -> Path:
    """The model's input schema as the file the function reads (MODEL_SCHEMA), content-addressed in the cache; with
    `drift`, its profile as the `drift` object (functions.contract.SCHEMA_DRIFT_KEY), which turns counting on."""
    doc = manifest.input_schema()
    if drift is not None:
        doc[SCHEMA_DRIFT_KEY] = drift
    data = (json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    path = out_dir / "schemas" / f"{hashlib.sha256(data).hexdigest()[:16]}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def _prune(directory: Path, keep: set[str]) -> None:
    """Drop all but the newest few builds of one endpoint (switching back is then a cache hit), so `.build` does
    not grow without bound."""
    zips = sorted(directory.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    stale = [p for p in zips if p.stem not in keep and p.name not in keep][KEEP_BUILDS - 1:]
    for p in stale:
        p.unlink()
        p.with_suffix(".json").unlink(missing_ok=True)


def build_function(cfg, endpoint, cloud: str, opts: BuildOptions) -> FunctionBuild:
    """Build one endpoint's archive for `cloud` ("aws" | "gcp"); cached, deterministic."""
    t0 = time.perf_counter()
    if cloud not in ADAPTER:
        raise BuildError(f"cloud: expected aws or gcp, got {cloud!r}")
    functions_dir = Path(opts.functions_dir or Path(cfg.project_dir) / "functions")
    manifest = model = None
    drift, drift_reason = None, ""
    if endpoint.kind == "model":
        if endpoint.model is None:
            raise BuildError(f"endpoint {endpoint.name}: a model endpoint needs a model manifest")
        model = stable_model(cfg, endpoint, cloud, opts)
        manifest = model.manifest
        sources = function_sources(functions_dir, endpoint.kind, cloud, model.runtime)
        try:
            spec = requirements_for(cloud, endpoint.kind, model.runtime, manifest)
        except BuildError as exc:
            if endpoint.runtime != "auto":
                raise
            raise BuildError(f"{exc}\n(runtime auto chose native because {model.runtime_reason[len('auto: '):]})"
                             ) from None
        drift, drift_reason = drift_for(endpoint, manifest)
        sources.append((SCHEMA_FILE, _schema_file(manifest, Path(opts.out_dir), drift)))
    else:
        sources = function_sources(functions_dir, endpoint.kind, cloud)
        spec = requirements_for(cloud, endpoint.kind, endpoint.runtime, None)
    canary = _prepare_canary(cfg, endpoint, cloud, opts, model, spec)
    if cloud == "gcp":
        result = _build_gcp(cfg, endpoint, sources, spec, model, opts, t0)
    else:
        result = _build_aws(cfg, endpoint, sources, spec, model, opts, t0)
    if drift is not None or drift_reason:
        result = replace(result, drift_profile=drift["id"] if drift else "", drift_reason=drift_reason)
    if canary is None:
        return result
    return replace(result, canary=canary, canary_percent=endpoint.canary_percent)


def _prepare_canary(cfg, endpoint, cloud: str, opts: BuildOptions, model, spec: DepsSpec):
    """The endpoint's canary artifact, prepared with the endpoint's runtime like the stable model, or None."""
    manifest = getattr(endpoint, "canary_manifest", None)
    if model is None or manifest is None:
        return None
    return prepare_compatible(cfg, endpoint, cloud, opts, manifest, model, spec, "canary")


def prepare_compatible(cfg, endpoint, cloud: str, opts: BuildOptions, manifest, model, spec: DepsSpec | None = None,
                       role: str = "canary"):
    """`manifest`'s artifact, prepared to be served by the package built for `model` (the endpoint's stable model):
    the same runtime (and, native, the same pinned requirements), else a BuildError saying why. `role` names the
    second model in messages ("canary", "published model")."""
    opts.say(f"{cloud}/{endpoint.name}: preparing {role} {manifest.name} ({endpoint.runtime})")
    other = prepare_model(manifest, endpoint.runtime, opts.out_dir, onnx_refused=_onnx_refused(cfg, cloud, opts))
    if other.runtime != model.runtime:
        raise BuildError(
            f"{cloud}/{endpoint.name}: the {role} {manifest.name} would be served by runtime {other.runtime} "
            f"({other.runtime_reason}) and the stable model {model.manifest.name} by runtime {model.runtime} "
            f"({model.runtime_reason}); one package serves both, so they must share a runtime. Set the endpoint's "
            "runtime (e.g. runtime: onnx or pure) so both models convert to it")
    if model.runtime == "native":
        spec = spec or requirements_for(cloud, endpoint.kind, model.runtime, model.manifest)
        theirs = requirements_for(cloud, endpoint.kind, other.runtime, manifest)
        if sorted(theirs.pins) != sorted(spec.pins):
            raise BuildError(
                f"{cloud}/{endpoint.name}: the {role} {manifest.name} needs {sorted(theirs.pins)} and the stable "
                f"model {model.manifest.name} {sorted(spec.pins)}; one package serves both, so runtime native needs "
                "the same requirements for both. Use runtime onnx (or pure) for this endpoint")
    return other


def stable_model(cfg, endpoint, cloud: str, opts: BuildOptions):
    """The artifact the endpoint's package serves: its config's model prepared with its runtime (the conversion is
    cached under opts.out_dir, so after a build this costs a hash)."""
    manifest = endpoint.manifest or load_model_manifest(endpoint.model)
    opts.say(f"{cloud}/{endpoint.name}: preparing model {manifest.name} ({endpoint.runtime})")
    return prepare_model(manifest, endpoint.runtime, opts.out_dir, onnx_refused=_onnx_refused(cfg, cloud, opts))


def _onnx_refused(cfg, cloud: str, opts: BuildOptions) -> str | None:
    """Why ONNX cannot serve on this target (runtime auto then goes native), or None."""
    from smodels.config import ONNXRUNTIME_ARM64_LAMBDA_OK

    if cloud != "aws" or resolve_target(cfg, opts).arch != "arm64":
        return None
    if PINS["onnxruntime"] in ONNXRUNTIME_ARM64_LAMBDA_OK:
        return None
    return (f"onnxruntime {PINS['onnxruntime']} cannot detect the CPU on arm64 Lambda "
            "(/sys/devices/system/cpu/possible is missing there; onnxruntime#10038)")


def _build_gcp(cfg, endpoint, sources, spec: DepsSpec, model, opts: BuildOptions, t0: float) -> FunctionBuild:
    requirements = "".join(f"{p}\n" for p in sorted(spec.pins, key=str.lower)).encode()
    entries: list[tuple[str, Path | bytes]] = [*sources, ("main.py", GCP_MAIN), ("requirements.txt", requirements)]
    content = hashlib.sha256(BUILDER_VERSION.encode())
    for name, src in sorted(entries, key=lambda e: e[0]):
        data = src if isinstance(src, bytes) else src.read_bytes()
        content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    key = content.hexdigest()[:16]
    directory = Path(opts.out_dir) / "gcp" / endpoint.name
    archive = directory / f"{key}.zip"
    cached = archive.is_file()
    if not cached:
        opts.say(f"gcp/{endpoint.name}: writing source archive")
        write_zip(archive, entries)
        _prune(directory, {archive.name})
    sha = sha256_file(archive)
    unzipped = unzipped_size(archive)
    return FunctionBuild(
        cloud="gcp",
        endpoint=endpoint.name,
        kind=endpoint.kind,
        runtime=model.runtime if model else "native",
        runtime_reason=model.runtime_reason if model else "",
        archive=archive,
        archive_sha256=sha,
        zipped_bytes=archive.stat().st_size,
        unzipped_bytes=unzipped,
        seconds=time.perf_counter() - t0,
        cached=cached,
        object_name=f"{endpoint.name}-{sha[:16]}.zip",
        entry_point=endpoint.entry_point,
        cloud_runtime=cfg.gcp_runtime,
        architecture="x86_64",
        top_packages=(("functions", unzipped),),
        model=model,
        requirements=tuple(sorted(spec.pins, key=str.lower)),
        environment=dict(spec.env),
    )


def _build_aws(cfg, endpoint, sources, spec: DepsSpec, model, opts: BuildOptions, t0: float) -> FunctionBuild:
    target = resolve_target(cfg, opts)
    bytecode = cfg.bytecode
    use_layer = cfg.lambda_layer and bool(spec.pins)
    interp, warning = bytecode_interpreter(target) if bytecode else (None, None)
    warnings = [warning] if warning else []
    dkey = deps_key(spec, target, interp, opts.strip) if spec.pins else None
    fkey = hashlib.sha256(
        json.dumps(
            {
                "builder": BUILDER_VERSION,
                "sources": _sources_hash(sources),
                "deps": dkey,
                "target": target.key(),
                "bytecode": interpreter_version(interp) if interp else None,
                "layer": use_layer,
                "strip": opts.strip,
                "limit": opts.size_limit,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    directory = Path(opts.out_dir) / "aws" / endpoint.name
    archive = directory / f"{fkey}.zip"
    record = directory / f"{fkey}.json"
    if archive.is_file() and record.is_file():
        info = json.loads(record.read_text())
        layer = LayerBuild(**{**info["layer"], "archive": Path(info["layer"]["archive"]), "cached": True}) \
            if info.get("layer") else None
        if layer is None or layer.archive.is_file():
            archive.touch()  # most recently used: pruning keeps it
            return _aws_result(cfg, endpoint, target, archive, info, layer, model, spec, t0, cached=True)

    twin = next((p for p in sorted((Path(opts.out_dir) / "aws").glob(f"*/{fkey}.zip")) if p != archive), None)
    if twin is not None and twin.with_suffix(".json").is_file():
        # Another endpoint with the same code, deps and target (e.g. pred and predict on ONNX): same bytes.
        info = json.loads(twin.with_suffix(".json").read_text())
        layer = LayerBuild(**{**info["layer"], "archive": Path(info["layer"]["archive"]), "cached": True}) \
            if info.get("layer") else None
        if layer is None or layer.archive.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(twin, archive)
            record.write_text(twin.with_suffix(".json").read_text())
            _prune(directory, {fkey})
            return _aws_result(cfg, endpoint, target, archive, info, layer, model, spec, t0, cached=False)

    deps = None
    if spec.pins:
        deps = build_deps(spec, target, opts, bytecode)
        warnings += deps.meta.get("warnings", [])
    with tempfile.TemporaryDirectory(prefix="smodels-fn-") as tmp:
        stage = Path(tmp) / "code"
        for name, path in sources:
            dest = stage / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        if interp:
            _, warn = compile_bytecode(stage, interp)
            if warn:
                warnings.append(warn)
        code_entries: list[tuple[str, Path | bytes]] = list(iter_files(stage))
        code_bytes = sum(p.stat().st_size for _, p in code_entries)
        layer = None
        entries = list(code_entries)
        if deps is not None and use_layer:
            layer = _build_layer(deps, target, opts)
        elif deps is not None:
            entries += iter_files(deps.site)
        deps_bytes = deps.meta["bytes"] if deps else 0
        total = code_bytes + deps_bytes
        if total > opts.size_limit:
            biggest = top({**dict(deps.top_packages if deps else ()), "functions": code_bytes})
            raise BuildError(
                f"aws/{endpoint.name}: {total:,} bytes unzipped (function + layers) exceeds Lambda's limit of "
                f"{opts.size_limit:,} bytes; biggest packages: "
                + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in biggest)
            )
        opts.say(f"aws/{endpoint.name}: writing zip ({total / 1e6:.1f} MB unzipped)")
        sha = write_zip(archive, entries)
    top_packages = top({**dict(deps.top_packages if deps else ()), "functions": code_bytes})
    info = {
        "archive_sha256": sha,
        "zipped_bytes": archive.stat().st_size,
        "unzipped_bytes": code_bytes + (0 if use_layer else deps_bytes),
        "top_packages": [list(t) for t in top_packages],
        "requirements": deps.meta["resolved"] if deps else [],
        "layer": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(layer).items() if k != "cached"}
        if layer else None,
        "warnings": warnings,
        "deps_key": dkey,
    }
    record.write_text(json.dumps(info, indent=1, sort_keys=True))
    _prune(directory, {fkey})
    return _aws_result(cfg, endpoint, target, archive, info, layer, model, spec, t0, cached=False)


def _build_layer(deps, target: Target, opts: BuildOptions) -> LayerBuild:
    """The dependency tree as a Lambda layer zip (under `python/`), one per dependency key."""
    archive = Path(opts.out_dir) / "aws" / "layers" / f"{deps.key[:16]}.zip"
    cached = archive.is_file()
    if not cached:
        opts.say(f"writing layer {archive.name}")
        write_zip(archive, iter_files(deps.site, prefix="python/"))
    return LayerBuild(
        archive=archive,
        archive_sha256=sha256_file(archive),
        zipped_bytes=archive.stat().st_size,
        unzipped_bytes=unzipped_size(archive),
        key=deps.key,
        compatible_runtime=target.lambda_runtime,
        architecture=target.arch,
        cached=cached,
    )


def _aws_result(cfg, endpoint, target, archive, info, layer, model, spec, t0, cached) -> FunctionBuild:
    return FunctionBuild(
        cloud="aws",
        endpoint=endpoint.name,
        kind=endpoint.kind,
        runtime=model.runtime if model else "native",
        runtime_reason=model.runtime_reason if model else "",
        archive=archive,
        archive_sha256=info["archive_sha256"],
        zipped_bytes=info["zipped_bytes"],
        unzipped_bytes=info["unzipped_bytes"],
        seconds=time.perf_counter() - t0,
        cached=cached,
        object_name=f"{endpoint.name}-{info['archive_sha256'][:16]}.zip",
        handler=endpoint.lambda_handler,
        cloud_runtime=target.lambda_runtime,
        architecture=target.arch,
        layer=layer,
        top_packages=tuple((n, s) for n, s in info["top_packages"]),
        model=model,
        requirements=tuple(info["requirements"]),
        environment=dict(spec.env),
        warnings=tuple(info.get("warnings", [])),
    )


def build_stack(cfg, opts: BuildOptions) -> dict[tuple[str, str], FunctionBuild]:
    """Build every function of the stack config, keyed by (cloud, endpoint), in config order."""
    results: dict[tuple[str, str], FunctionBuild] = {}
    for cloud in cfg.clouds:
        for endpoint in cfg.endpoints_for(cloud):
            result = build_function(cfg, endpoint, cloud, opts)
            opts.say(
                f"{cloud}/{endpoint.name}: {'cached' if result.cached else 'built'} {result.archive} "
                f"({result.zipped_bytes / 1e6:.1f} MB zipped) in {result.seconds:.2f}s"
            )
            results[(cloud, endpoint.name)] = result
    return results

