"""The model object a function serves, and the runtime that serves it: the manifest's artifact as is (native), or
converted to ONNX at build time (runtime ``auto``, the default: ONNX where it converts and passes parity).

scikit-learn models (Pipelines included, with XGBoost/LightGBM inside) convert with skl2onnx, XGBoost and LightGBM
boosters with onnxmltools (smodels/packager/convert.py); a binary LogisticRegression becomes a 3-node sigmoid graph
(output `prob`). Keras models convert without Keras: a `.keras` file is a zip of `config.json` +
`model.weights.h5`, so the Dense layers' kernels and biases are read with h5py and the graph is written with
onnx.helper (Gemm + activation).
Every conversion is checked against the manifest's samples and parity rows, parsed as the function parses a
request (functions.schema) and run through the very predictor the function ships (functions.predictors):
max abs difference <= 1e-5 (regression: relative to max(1, max |output|); multiclass: over every probability),
plus, where the schema allows them, a missing value or an unseen category against the native model. The first
candidate that passes is kept; with `auto`, none passing means native, with the reason. Results (and failures)
are cached under `.build/models/<name>/` keyed by the manifest, the artifact, the converter versions and the
serving code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from functions.contract import FORMATS
from smodels.manifest import sha256_file
from smodels.packager.types import BuildError, ModelArtifact

RUNTIMES = ("auto", "native", "onnx", "pure")
PARITY_TOLERANCE = 1e-5
#: runtime pure: parity against the native model for a graph in float64 throughout (linear models, MLPs); a graph
#: with float32 tensors (Keras, the float candidates, ai.onnx.ml operators with float attributes, tree ensembles'
#: float32 leaf weights) keeps the ONNX tolerance, and the reason says so.
PURE_TOLERANCE = 1e-9
#: runtime auto weighs pure against onnx by an estimate of one warm request, from the program alone (so every
#: machine decides alike; a timing would not): the request path both pay, plus per scalar operation of the program
#: (convert.pure_work) the evaluator's cost, and for onnx its fixed cost per call (numpy arrays in and out,
#: session.run) and onnxruntime's per-operation cost. Fitted to bench/zoo.py on CPython 3.13 here (book logreg: 12
#: operations, pure 82 us / onnx 110 us; book Keras MLP: 9,094 operations, pure 1,138 us / onnx 165 us). Pure
#: serves while its estimate is within PURE_MAX_RATIO of onnx's: it starts tens of ms sooner (no numpy, no
#: onnxruntime), which a steady endpoint should not pay for with a several-fold slower call.
REQUEST_NS = 40_000
PURE_NS_PER_OP = 80
ONNX_CALL_NS = 30_000
ONNX_NS_PER_OP = 5
PURE_MAX_RATIO = 2.0
#: Without onnx on the target (e.g. arm64 Lambda), pure is weighed against native: it serves while one row costs at
#: most this many operations (about 1.6 ms per row at PURE_NS_PER_OP).
PURE_WORK_BUDGET = 20_000
#: What runtime auto tries, in order: the first that converts and reproduces the model serves it.
AUTO_ORDER = ("pure", "onnx", "native")
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
KERAS_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "linear": None,
                     None: None}
MODEL_CONVERTER_VERSION = "4"  # written into every graph (producer_version): a bump changes every model object
SKLEARN_FORMATS = ("skops", "joblib", "pickle")
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
#: The pure runtime's package (functions/pure/): shipped in every model archive, and part of what a pure
#: conversion is checked with.
PURE_MODULES = ("__init__", "tensor", "ops", "ml", "trees", "program")


def object_key(name: str, sha256: str, fmt: str) -> str:
    """The model's object key in the cloud bucket: `models/<manifest name>/<sha256>.<ext>`."""
    return f"models/{name}/{sha256}.{FORMATS[fmt]}"


def load_model_manifest(model: Any):
    """A `Manifest` from a Manifest, a manifest directory or a model.json path; BuildError if invalid."""
    from smodels.manifest import Manifest, ManifestError, load_manifest

    if isinstance(model, Manifest):
        return model
    try:
        return load_manifest(model)
    except ManifestError as exc:
        raise BuildError(f"model manifest {model}: {exc}") from None


def prepare_model(model: Any, runtime: str, out_dir: Path | str = ".build", *,
                  onnx_refused: str | None = None) -> ModelArtifact:
    """The artifact to upload for `model` (manifest, dir or model.json) served with `runtime`.

    native: the manifest's artifact as is. onnx: converted (or the artifact itself if it is ONNX already) and
    parity-checked, else BuildError naming the worst row. pure: compiled from the ONNX graph and parity-checked.
    auto: pure where it compiles, reproduces the model and its estimated warm request is within PURE_MAX_RATIO of
    onnx's (`warm_estimates`); else onnx where that succeeds (pure again if onnx fails after all), else native; the
    artifact's `runtime_reason` says which and why, with both estimates. `onnx_refused` (e.g. arm64 Lambda): auto
    weighs pure against native (PURE_WORK_BUDGET) and goes native with the reason.
    """
    manifest = load_model_manifest(model)
    if runtime not in RUNTIMES:
        raise BuildError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    not_pure = ""
    fallback: Callable[[str, str], ModelArtifact] | None = None  # pure, should onnx fail after all
    if (runtime == "pure" or (runtime == "auto" and "pure" in AUTO_ORDER)) and manifest.format != "onnx":
        try:
            path, sha, gap, how, note = _pure_compiled(manifest, Path(out_dir))
        except BuildError as exc:
            if runtime == "pure":
                raise
            not_pure = f"; not pure: {exc}"
        else:
            from smodels.packager.convert import pure_work

            work = pure_work(path.read_bytes())
            pure_us, onnx_us = warm_estimates(work)
            estimate = f"estimated warm request: pure {pure_us:,.0f} us, onnx {onnx_us:,.0f} us"

            def pure_artifact(mode: str, why: str = "") -> ModelArtifact:
                return ModelArtifact(
                    path=path, sha256=sha, format="pure", key=object_key(manifest.name, sha, "pure"),
                    manifest=manifest, size_bytes=path.stat().st_size, converted=True, parity_max_abs_diff=gap,
                    runtime_reason=f"{mode}: parity {gap:.2g}{note}, {work:,} operations per row ({estimate}){why}",
                    conversion=how)

            if runtime == "pure":
                return pure_artifact("forced")
            if onnx_refused:
                if work <= PURE_WORK_BUDGET:
                    return pure_artifact("auto", f"; not onnx: {onnx_refused}")
                not_pure = f"; not pure: {work:,} operations per row is over the budget of {PURE_WORK_BUDGET:,}"
            elif pure_us <= PURE_MAX_RATIO * onnx_us:
                return pure_artifact("auto")
            else:
                not_pure = (f"; not pure: {work:,} operations per row ({estimate}): pure serves only within "
                            f"{PURE_MAX_RATIO:g}x onnx's estimate")
                fallback = pure_artifact
    if manifest.format == "onnx":
        return _as_is(manifest, f"{'auto' if runtime == 'auto' else 'forced'}: the artifact is ONNX already")
    if runtime == "native":
        return _as_is(manifest, "forced")
    if runtime == "auto" and onnx_refused:
        return _as_is(manifest, f"auto: {onnx_refused}{not_pure}")
    try:
        path, sha, gap, how = _converted(manifest, Path(out_dir))
    except BuildError as exc:
        if runtime == "onnx":
            raise
        if fallback is not None:  # pure reproduced the model: it serves rather than native
            return fallback("auto", f"; not onnx: {exc}")
        return _as_is(manifest, f"auto: {exc}{not_pure}")
    return ModelArtifact(
        path=path,
        sha256=sha,
        format="onnx",
        key=object_key(manifest.name, sha, "onnx"),
        manifest=manifest,
        size_bytes=path.stat().st_size,
        converted=True,
        parity_max_abs_diff=gap,
        runtime_reason=f"{'auto' if runtime == 'auto' else 'forced'}: parity {gap:.2g}{not_pure}",
        conversion=how,
    )


def warm_estimates(work: int) -> tuple[float, float]:
    """The estimated warm request, in microseconds, of a program of ``work`` scalar operations per row served by
    pure and by onnx (see REQUEST_NS): deterministic, so every machine's `runtime: auto` decides alike."""
    pure = REQUEST_NS + PURE_NS_PER_OP * work
    onnx = REQUEST_NS + ONNX_CALL_NS + ONNX_NS_PER_OP * work
    return pure / 1000, onnx / 1000


def _as_is(manifest, reason: str) -> ModelArtifact:
    path = manifest.artifact_path
    return ModelArtifact(
        path=path,
        sha256=manifest.sha256,
        format=manifest.format,
        key=object_key(manifest.name, manifest.sha256, manifest.format),
        manifest=manifest,
        size_bytes=path.stat().st_size,
        runtime_reason=reason,
    )


def _converted(manifest, out_dir: Path) -> tuple[Path, str, float, str]:
    """(path, sha256, parity gap, how) of the manifest's ONNX conversion, from the cache or converted now; BuildError
    with the reason when no conversion passes (cached too: the same inputs fail the same way)."""
    manifest_file = manifest.directory / "model.json"
    manifest_bytes = manifest_file.read_bytes() if manifest_file.is_file() else json.dumps(
        manifest.to_dict(), sort_keys=True).encode()
    key = hashlib.sha256(
        json.dumps(
            {
                "converter": MODEL_CONVERTER_VERSION,
                "manifest": hashlib.sha256(manifest_bytes).hexdigest(),
                "artifact": manifest.sha256,
                "tools": _tool_versions(manifest),
                "serving": _serving_code_hash(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    cache = out_dir / "models" / manifest.name
    record = cache / f"convert-{key}.json"
    if record.is_file():
        info = json.loads(record.read_text())
        if info.get("failure"):
            raise BuildError(info["failure"])
        path = cache / f"{info['sha256']}.onnx"
        if path.is_file() and sha256_file(path) == info["sha256"]:
            return path, info["sha256"], info["parity_max_abs_diff"], info.get("how", "")

    def convert() -> tuple[bytes, dict[str, Any]]:
        onnx_bytes, gap, how = convert_checked(manifest)
        return onnx_bytes, {"parity_max_abs_diff": gap, "how": how}

    path, info = _cached_conversion(cache, record, ".onnx", convert)
    return path, info["sha256"], info["parity_max_abs_diff"], info["how"]


def _cached_conversion(cache: Path, record: Path, suffix: str,
                       convert: Callable[[], tuple[bytes, dict[str, Any]]]) -> tuple[Path, dict[str, Any]]:
    """Run `convert` (bytes and what to remember of them), store the bytes content-addressed in `cache` and the
    record beside them. A ConversionFailed is recorded too, so the next build does not try again."""
    cache.mkdir(parents=True, exist_ok=True)
    try:
        data, info = convert()
    except ConversionFailed as exc:
        record.write_text(json.dumps({"failure": str(exc)}, sort_keys=True))
        raise
    sha = hashlib.sha256(data).hexdigest()
    path = cache / f"{sha}{suffix}"
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    info = {"sha256": sha, **info}
    record.write_text(json.dumps(info, sort_keys=True))
    return path, info


class ConversionFailed(BuildError):
    """No candidate conversion of the model reproduces it (the reason names the converter, error or worst row)."""


def _tool_versions(manifest) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ["onnx", "onnxruntime", "numpy"]
    if manifest.framework == "keras":
        names += ["h5py"]
    else:
        names += ["skl2onnx", "onnxmltools", "scikit-learn", "skops", "pandas", "xgboost-cpu", "xgboost", "lightgbm"]
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "missing"
    return out


def _serving_code_hash(names: tuple[str, ...] = ("predictors.py", "schema.py")) -> str:
    """The predictors and the schema parser decide what a conversion is checked with: a change re-checks."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(hashlib.sha256((FUNCTIONS_DIR / name).read_bytes()).digest())
    return digest.hexdigest()


def _schema(manifest):
    from functions.schema import SchemaError

    try:
        return manifest.model_schema()
    except SchemaError as exc:
        raise BuildError(f"model {manifest.name}: input schema: {exc}") from None


def manifest_requirements(manifest) -> dict[str, str]:
    """The manifest's `requirements`: every library the native model needs (schema 1: its framework)."""
    return dict(getattr(manifest, "requirements", None) or {manifest.framework: manifest.framework_version})


def _load_sklearn(manifest) -> Any:
    """The manifest's scikit-learn estimator, read by the very loader the function ships (skops trust list
    included, widened to the boosting libraries its `requirements` name); its sha256 was verified when the
    manifest loaded, which is what makes joblib/pickle acceptable."""
    from functions.predictors import PredictorError, sklearn_estimator, trusted_prefixes

    try:
        return sklearn_estimator(manifest.artifact_path.read_bytes(), manifest.format,
                                 trusted_prefixes(manifest_requirements(manifest)))
    except PredictorError as exc:
        raise BuildError(f"artifact: {exc}") from None


def candidates(manifest, schema) -> list:
    """The conversions to try for `manifest`, in order (smodels.packager.convert.Candidate)."""
    from smodels.packager.convert import Candidate, booster_candidates, sklearn_candidates

    name = manifest.name
    if manifest.framework == "keras" and manifest.format == "keras":
        return [Candidate("weights read with h5py, Gemm graph", "the Keras converter", "Keras model",
                          lambda: convert_keras_file(manifest.artifact_path, len(manifest.features)))]
    missing = [m for m in ("skl2onnx", "onnxmltools") if importlib.util.find_spec(m) is None]
    if missing:  # an environment problem, not the model's: never cached as the model's failure
        raise BuildError(f"runtime onnx needs {' and '.join(missing)} in the build environment")
    if manifest.format in ("xgboost", "lightgbm"):
        return booster_candidates(manifest.format, manifest.artifact_path.read_bytes(), schema, name,
                                  MODEL_CONVERTER_VERSION)
    if manifest.format not in SKLEARN_FORMATS:
        raise ConversionFailed(f"no ONNX converter for format {manifest.format!r}")
    est = _load_sklearn(manifest)
    out = []
    from functions.predictors import needs_frame

    if schema.task == "binary-classification" and schema.numeric and not needs_frame(est, schema):
        out.append(Candidate("3-node sigmoid graph", "the LogisticRegression converter", type(est).__name__,
                             lambda: _compact_binary_logistic(est, len(schema.features), name) or b""))
    return out + sklearn_candidates(est, schema, name, MODEL_CONVERTER_VERSION)


def convert_checked(manifest) -> tuple[bytes, float, str]:
    """(ONNX bytes, parity gap, how) of the first candidate conversion that reproduces the manifest; else
    ConversionFailed with the reason of the candidate that came closest."""
    schema = _schema(manifest)
    data = parity_data(manifest, schema)
    probes = None
    failures: list[tuple[int, str]] = []  # (how far it got: 0 convert, 1 run, 2 parity, 3 probes; reason)
    for cand in candidates(manifest, schema):
        try:
            onnx_bytes = cand.make()
        except Exception as exc:  # converters raise RuntimeError, NotImplementedError, TypeError, ...
            failures.append((0, f"{cand.converter} cannot convert {cand.what}: {_one_line(exc)}"))
            continue
        if not onnx_bytes:
            continue  # a candidate that does not apply (e.g. a multinomial LogisticRegression)
        try:
            gap, worst, got = parity_gap(onnx_bytes, schema, data)
        except Exception as exc:  # onnxruntime's own exception classes, PredictorError
            failures.append((1, f"onnxruntime cannot run the ONNX conversion of {cand.what} ({cand.how}): "
                                f"{_one_line(exc)}"))
            continue
        if not gap <= PARITY_TOLERANCE:
            failures.append((2, _parity_message(manifest, schema, data, gap, worst, got)))
            continue
        if probes is None:
            probes = native_probes(manifest, schema, data)
        problem = probe_problem(onnx_bytes, schema, probes)
        if problem:
            failures.append((3, f"the ONNX conversion of {cand.what} differs from the native model on {problem}"))
            continue
        return onnx_bytes, gap, cand.how
    if not failures:
        raise ConversionFailed(f"no ONNX conversion applies to {manifest.name}")
    best = max(f[0] for f in failures)
    raise ConversionFailed(next(reason for stage, reason in failures if stage == best))


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ParityData:
    """The manifest's parity rows and samples as one parsed batch, their expected outputs and where each came from."""

    def __init__(self, batch: Any, expected: Any, labels: list[str], inputs: list[Any]) -> None:
        self.batch, self.expected, self.labels, self.inputs = batch, expected, labels, inputs


def parity_data(manifest, schema) -> ParityData:
    """Parity rows then samples, parsed exactly as the function parses a request; BuildError if one does not fit."""
    import numpy as np

    from functions.http import ApiError

    rows = [list(r) for r in manifest.parity.rows]
    samples = [dict(s.input) for s in manifest.samples]
    labels = [f"parity row {i}" for i in range(len(rows))] + [f"sample {i}" for i in range(len(samples))]
    try:
        batch = schema.parse({"instances": rows + samples}, max_rows=len(rows) + len(samples))
    except ApiError as exc:
        raise BuildError(f"model {manifest.name}: a parity row or sample does not fit the input schema "
                         f"({exc.message}; instances[i] counts parity rows first, then samples)") from None
    expected = np.asarray([*manifest.parity.outputs, *(s.output for s in manifest.samples)], dtype=np.float64)
    return ParityData(batch, expected, labels, [*rows, *samples])


def parity_gap(onnx_bytes: bytes, schema, data: ParityData) -> tuple[float, int, Any]:
    """(max difference, worst row, ONNX outputs) of the ONNX model through the shipped predictor: abs difference
    (multiclass: over every probability; regression: relative to max(1, max |expected|))."""

    from functions.predictors import OnnxPredictor

    got = OnnxPredictor(onnx_bytes, schema).predict(data.batch)
    if got.shape != data.expected.shape:
        raise BuildError(f"ONNX outputs have shape {got.shape}; the manifest's have {data.expected.shape}")
    return _worst_gap(schema, got, data.expected)


def _worst_gap(schema, got, expected) -> tuple[float, int, Any]:
    """(largest per-row difference, its row, `got`): abs difference, the row's largest over every probability for
    multiclass, relative to max(1, max |expected|) for regression; NaN counts as infinitely far."""
    import numpy as np

    diff = np.abs(got - expected)
    per_row = diff.max(axis=1) if diff.ndim == 2 else diff
    per_row = np.where(np.isnan(per_row), np.inf, per_row) / _scale(schema, expected)
    worst = int(np.argmax(per_row))
    return float(per_row[worst]), worst, got


def _onnx_model(graph) -> Any:
    """An ONNX model around `graph`, with the opset, IR version and producer every graph of ours carries."""
    from onnx import helper

    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="smodels",
        producer_version=MODEL_CONVERTER_VERSION,
        ir_version=ONNX_IR_VERSION,
    )


def _scale(schema, expected) -> float:
    import numpy as np

    if schema.task != "regression" or expected.size == 0:
        return 1.0
    return float(max(1.0, np.max(np.abs(expected))))


def _parity_message(manifest, schema, data: ParityData, gap: float, worst: int, got) -> str:
    scale = _scale(schema, data.expected)
    relative = f" (relative to max(1, max |output|) = {scale:.6g})" if scale != 1.0 else ""
    return (f"ONNX parity failed for {manifest.name}: max abs difference {gap:.3g}{relative} > {PARITY_TOLERANCE} "
            f"at {data.labels[worst]} (input {data.inputs[worst]}: ONNX {_fmt(got[worst])}, manifest "
            f"{_fmt(data.expected[worst])})")


def _fmt(value) -> str:
    import numpy as np

    arr = np.asarray(value)
    return repr(float(arr)) if arr.ndim == 0 else "[" + ", ".join(f"{float(v)!r}" for v in arr) + "]"


def native_probes(manifest, schema, data: ParityData) -> tuple[Any, Any, list[str]] | None:
    """Rows the manifest may not cover, with the native model's outputs on them: the first parity row with one
    nullable feature missing, or one ignore-unknown category unseen. None when there are none (or the native
    model cannot be run here)."""
    import numpy as np

    from functions import predictors

    base = data.inputs[0]
    base = [base[n] for n in schema.names] if isinstance(base, dict) else list(base)
    rows, labels = [], []
    for j, f in enumerate(schema.features):
        if f.nullable:
            rows.append([None if k == j else v for k, v in enumerate(base)])
            labels.append(f"a missing {f.name!r}")
        if f.type == "categorical" and f.ignore_unknown:
            rows.append(["<smodels probe: not a category>" if k == j else v for k, v in enumerate(base)])
            labels.append(f"an unseen category of {f.name!r}")
    if not rows or manifest.format == "keras":
        return None
    try:
        batch = schema.parse({"instances": rows}, max_rows=len(rows))
        native = (predictors.SklearnPredictor(_load_sklearn(manifest), schema) if manifest.format in SKLEARN_FORMATS
                  else predictors.load(manifest.artifact_path.read_bytes(), manifest.format, schema))
        expected = np.asarray(native.predict(batch), dtype=np.float64)
    except Exception:  # the native model does not run here (or refuses the probe): the manifest's rows decide
        return None
    return batch, expected, labels


def probe_problem(onnx_bytes: bytes, schema, probes) -> str | None:
    """What the ONNX model answers differently from the native model on the probes (None: nothing)."""
    import numpy as np

    from functions.predictors import OnnxPredictor

    if probes is None:
        return None
    batch, expected, labels = probes
    got = OnnxPredictor(onnx_bytes, schema).predict(batch)
    diff = np.abs(got - expected)
    per_row = (diff.max(axis=1) if diff.ndim == 2 else diff) / _scale(schema, expected)
    per_row = np.where(np.isnan(per_row), np.inf, per_row)
    worst = int(np.argmax(per_row))
    if per_row[worst] <= PARITY_TOLERANCE:
        return None
    return f"{labels[worst]} (ONNX {_fmt(got[worst])}, native {_fmt(expected[worst])})"


def _compact_binary_logistic(clf: Any, n: int, name: str) -> bytes | None:
    """A 3-node graph (MatMul, Add, Sigmoid; double in, `prob` [N, 1] out) for a binary one-vs-rest
    LogisticRegression, or None for anything else.

    skl2onnx's graph for the same model has 11 nodes (label, normalisation) and costs about 3x as much per
    call in onnxruntime; the serving side needs only P(label == 1). It is accepted only if it reproduces the
    estimator's own `predict_proba` on the unit rows and a random sample to 1e-12; otherwise skl2onnx runs.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if type(clf) is not LogisticRegression or len(getattr(clf, "classes_", ())) != 2:
        return None
    if getattr(clf, "coef_", np.empty(0)).shape != (1, n):
        return None
    from onnx import TensorProto, helper, numpy_helper

    weights = np.asarray(clf.coef_, dtype=np.float64).T.copy()
    bias = np.asarray(clf.intercept_, dtype=np.float64).reshape(1)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["z0"], name="matmul"),
            helper.make_node("Add", ["z0", "b"], ["z"], name="add"),
            helper.make_node("Sigmoid", ["z"], ["prob"], name="sigmoid"),
        ],
        name,
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, n])],
        [helper.make_tensor_value_info("prob", TensorProto.DOUBLE, [None, 1])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = _onnx_model(graph)
    data = model.SerializeToString(deterministic=True)
    rows = np.vstack([np.zeros((1, n)), np.eye(n), np.random.default_rng(0).integers(0, 2, (200, n))]).astype(float)
    expected = clf.predict_proba(rows)[:, 1]
    if float(np.max(np.abs(onnx_positive_probability(data, rows) - expected))) > 1e-12:
        return None  # e.g. a multinomial fit, whose binary probabilities are not a plain sigmoid
    return data


def convert_keras_file(path: Path, n_features: int) -> bytes:
    """ONNX bytes for a Keras 3 `.keras` MLP, read without Keras (Dense + Dropout + Activation layers only).

    Input `x` float32 [N, n_features], output `prob` float32 [N, units of the last layer].
    """
    import h5py
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
            weights = zf.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BuildError(
            f"{path}: not a Keras 3 .keras file (zip with config.json + model.weights.h5): {exc}"
        ) from None
    layers = config.get("config", {}).get("layers")
    if config.get("class_name") not in ("Sequential", "Functional") or not isinstance(layers, list):
        raise BuildError(
            f"{path}: only Sequential/Functional Keras models are converted, got {config.get('class_name')}"
        )

    nodes, inits = [], []
    current = "x"
    width = n_features
    with h5py.File(io.BytesIO(weights), "r") as h5:
        dense_i = 0
        for layer in layers:
            cls = layer.get("class_name")
            cfg = layer.get("config", {})
            name = cfg.get("name", f"layer{dense_i}")
            if cls in ("InputLayer", "Dropout"):
                continue  # Dropout is the identity at inference
            if cls == "Activation":
                act = cfg.get("activation")
            elif cls == "Dense":
                # Keras 3 stores weights by class and position (dense, dense_1, ...), not by the layer's name.
                group = h5.get(f"layers/dense{'' if dense_i == 0 else f'_{dense_i}'}/vars")
                if group is None or "0" not in group:
                    raise BuildError(f"{path}: no weights for Dense layer {name!r} in model.weights.h5")
                kernel = np.asarray(group["0"], dtype=np.float32)
                if kernel.shape[0] != width:
                    raise BuildError(
                        f"{path}: layer {name!r} expects {kernel.shape[0]} inputs, the previous layer gives {width}"
                    )
                bias = (
                    np.asarray(group["1"], dtype=np.float32)
                    if cfg.get("use_bias", True)
                    else np.zeros(kernel.shape[1], np.float32)
                )
                w_name, b_name, out = f"dense{dense_i}_W", f"dense{dense_i}_b", f"dense{dense_i}_out"
                inits += [numpy_helper.from_array(kernel, w_name), numpy_helper.from_array(bias, b_name)]
                nodes.append(helper.make_node("Gemm", [current, w_name, b_name], [out], name=f"dense{dense_i}"))
                current, width = out, kernel.shape[1]
                dense_i += 1
                act = cfg.get("activation")
            else:
                raise BuildError(f"{path}: layer {name!r} ({cls}) has no ONNX conversion here; use runtime native")
            if act not in KERAS_ACTIVATIONS:
                raise BuildError(f"{path}: activation {act!r} of layer {name!r} is not supported")
            if KERAS_ACTIVATIONS[act]:
                out = f"{current}_{act}"
                nodes.append(helper.make_node(KERAS_ACTIVATIONS[act], [current], [out], name=out))
                current = out
    if not nodes:
        raise BuildError(f"{path}: no Dense layers found")
    nodes.append(helper.make_node("Identity", [current], ["prob"], name="prob"))
    graph = helper.make_graph(
        nodes,
        "keras_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [None, width])],
        initializer=inits,
    )
    model = _onnx_model(graph)
    import onnx

    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise BuildError(f"{path}: converted graph is invalid: {exc}") from None
    return model.SerializeToString(deterministic=True)


def onnx_positive_probability(onnx_bytes: bytes, rows) -> Any:
    """What the function will answer for `rows`: the shipped ONNX predictor (functions.predictors) run on them."""
    import numpy as np

    from functions.predictors import OnnxPredictor
    from functions.schema import Batch

    return OnnxPredictor(onnx_bytes).predict(Batch(np.asarray(rows, dtype=np.float64).tolist(), True))


def check_parity(onnx_bytes: bytes, manifest) -> float:
    """Max difference between the ONNX model and the manifest's native outputs (see ``parity_gap``); BuildError
    over 1e-5 naming the worst row, or if the model does not run."""
    schema = _schema(manifest)
    data = parity_data(manifest, schema)
    try:
        gap, worst, got = parity_gap(onnx_bytes, schema, data)
    except BuildError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception classes
        raise BuildError(f"the converted ONNX model of {manifest.name} does not run: {exc}") from None
    if not gap <= PARITY_TOLERANCE:
        raise BuildError(_parity_message(manifest, schema, data, gap, worst, got))
    return gap


# --- runtime pure ------------------------------------------------------------------------------------------------

#: ai.onnx.ml operators whose outputs (or attributes) are float32: a program using one is a float32 graph.
FLOAT32_OPS = frozenset(("Scaler", "Imputer", "Normalizer", "LinearClassifier", "LinearRegressor",
                         "TreeEnsembleClassifier", "TreeEnsembleRegressor"))


def program_precision(program: bytes) -> str:
    """"float64" when every number of the program is a double (inputs, constants, operators), else "float32"."""
    doc = json.loads(program)
    if any(i["type"] == "float" for i in doc["inputs"]) or any(
            c["type"] == "float" for c in doc["initializers"].values()):
        return "float32"
    for node in doc["nodes"]:
        if node["op"] in FLOAT32_OPS or (node["op"] == "Cast" and node["attrs"].get("to") == 1):
            return "float32"
    return "float64"


def _pure_compiled(manifest, out_dir: Path) -> tuple[Path, str, float, str, str]:
    """(path, sha256, parity gap, how, tolerance note) of the manifest's pure program, from the cache or compiled
    now; BuildError with the reason when no conversion compiles and reproduces the model. Nothing here depends on
    the machine: the same inputs give the same program and the same reason everywhere."""
    manifest_file = manifest.directory / "model.json"
    manifest_bytes = manifest_file.read_bytes() if manifest_file.is_file() else json.dumps(
        manifest.to_dict(), sort_keys=True).encode()
    key = hashlib.sha256(json.dumps({
        "converter": MODEL_CONVERTER_VERSION, "manifest": hashlib.sha256(manifest_bytes).hexdigest(),
        "artifact": manifest.sha256, "tools": _tool_versions(manifest),
        "serving": _serving_code_hash(("predictors.py", "schema.py", *(f"pure/{m}.py" for m in PURE_MODULES))),
    }, sort_keys=True).encode()).hexdigest()[:16]
    cache = out_dir / "models" / manifest.name
    record = cache / f"pure-{key}.json"
    info = json.loads(record.read_text()) if record.is_file() else None
    if info is not None and info.get("failure"):
        raise BuildError(info["failure"])
    path = cache / f"{info['sha256']}.pure.json" if info else None
    if info is None or path is None or not path.is_file() or sha256_file(path) != info["sha256"]:
        def convert() -> tuple[bytes, dict[str, Any]]:
            schema = _schema(manifest)
            program, gap, how, note = pure_checked(manifest, schema, parity_data(manifest, schema))
            return program, {"parity_max_abs_diff": gap, "how": how, "note": note}

        path, info = _cached_conversion(cache, record, ".pure.json", convert)
    return path, info["sha256"], info["parity_max_abs_diff"], info["how"], info["note"]


def pure_gap(program: bytes, schema, batch, expected) -> tuple[float, int, Any]:
    """(max difference, worst row, outputs) of the pure program through the shipped predictor, measured as
    ``parity_gap`` measures ONNX."""
    import numpy as np

    from functions.predictors import PurePredictor

    got = np.asarray(PurePredictor(program, schema).predict(batch), dtype=np.float64)
    if got.shape != expected.shape:
        raise BuildError(f"pure outputs have shape {got.shape}; expected {expected.shape}")
    return _worst_gap(schema, got, expected)


def pure_checked(manifest, schema, data: ParityData) -> tuple[bytes, float, str, str]:
    """(program, parity gap, how, tolerance note) of the first ONNX candidate that compiles to a pure program and
    reproduces the manifest (PURE_TOLERANCE for a float64 program, PARITY_TOLERANCE for a float32 one) and the
    native model on the probes; else ConversionFailed with the reason of the candidate that came closest."""
    from functions.pure import PureError
    from smodels.packager.convert import compile_pure

    probes = None
    failures: list[tuple[int, str]] = []
    for cand in candidates(manifest, schema):
        try:
            onnx_bytes = cand.make()
        except Exception as exc:
            failures.append((0, f"{cand.converter} cannot convert {cand.what}: {_one_line(exc)}"))
            continue
        if not onnx_bytes:
            continue
        try:
            program = compile_pure(onnx_bytes)
        except PureError as exc:
            failures.append((1, f"the pure evaluator cannot run the ONNX graph of {cand.what} ({cand.how}): {exc}"))
            continue
        precision = program_precision(program)
        tol = PURE_TOLERANCE if precision == "float64" else PARITY_TOLERANCE
        try:
            gap, worst, got = pure_gap(program, schema, data.batch, data.expected)
        except Exception as exc:
            failures.append((1, f"the pure program of {cand.what} ({cand.how}) does not run: {_one_line(exc)}"))
            continue
        if not gap <= tol:
            failures.append((2, f"pure parity failed for {manifest.name} ({cand.how}, {precision}): max difference "
                                f"{gap:.3g} > {tol:g} at {data.labels[worst]} (pure {_fmt(got[worst])}, manifest "
                                f"{_fmt(data.expected[worst])})"))
            continue
        if probes is None:
            probes = native_probes(manifest, schema, data)
        if probes is not None:
            batch, expected, labels = probes
            pgap, pworst, pgot = pure_gap(program, schema, batch, expected)
            if not pgap <= tol:
                failures.append((3, f"the pure program of {cand.what} differs from the native model on "
                                    f"{labels[pworst]} (pure {_fmt(pgot[pworst])}, native {_fmt(expected[pworst])})"))
                continue
        note = "" if precision == "float64" else f" (float32 graph: ONNX tolerance {PARITY_TOLERANCE:g})"
        return program, gap, f"{cand.how}, compiled to a pure program", note
    if not failures:
        raise ConversionFailed(f"no conversion applies to {manifest.name}")
    best = max(f[0] for f in failures)
    raise ConversionFailed(next(reason for stage, reason in failures if stage == best))
