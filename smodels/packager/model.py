"""The model object a function serves: the manifest's artifact as is (native), or converted to ONNX at build time.

scikit-learn models convert with skl2onnx (double input, no ZipMap: outputs `label` and `probabilities`),
except a binary LogisticRegression, which becomes a 3-node sigmoid graph (output `prob`).
Keras models convert without Keras: a `.keras` file is a zip of `config.json` + `model.weights.h5`, so the Dense
layers' kernels and biases are read with h5py and the graph is written with onnx.helper (Gemm + activation).
Every conversion is checked against the manifest's samples and parity rows before it is accepted, and cached
under `.build/models/<name>/` keyed by the manifest, the artifact and the converter versions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from functions.contract import FORMATS
from smodels.manifest import sha256_file
from smodels.packager.types import BuildError, ModelArtifact

PARITY_TOLERANCE = 1e-5
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
KERAS_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "linear": None, None: None}
MODEL_CONVERTER_VERSION = "4"


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


def prepare_model(model: Any, runtime: str, out_dir: Path | str = ".build") -> ModelArtifact:
    """The artifact to upload for `model` (manifest, dir or model.json) served with `runtime` ("native" | "onnx").

    native: the manifest's artifact as is. onnx: converted (or the artifact itself if it is ONNX already),
    parity-checked against the manifest (max abs difference <= 1e-5, else BuildError naming the worst row).
    """
    manifest = load_model_manifest(model)
    if runtime not in ("native", "onnx"):
        raise BuildError(f"runtime: expected native or onnx, got {runtime!r}")
    if runtime == "native" or manifest.format == "onnx":
        path = manifest.artifact_path
        return ModelArtifact(
            path=path,
            sha256=manifest.sha256,
            format=manifest.format,
            key=object_key(manifest.name, manifest.sha256, manifest.format),
            manifest=manifest,
            size_bytes=path.stat().st_size,
        )

    manifest_bytes = (manifest.directory / "model.json").read_bytes()
    key = hashlib.sha256(
        json.dumps(
            {
                "converter": MODEL_CONVERTER_VERSION,
                "manifest": hashlib.sha256(manifest_bytes).hexdigest(),
                "artifact": manifest.sha256,
                "tools": _tool_versions(manifest.framework),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    cache = Path(out_dir) / "models" / manifest.name
    record = cache / f"convert-{key}.json"
    if record.is_file():
        info = json.loads(record.read_text())
        path = cache / f"{info['sha256']}.onnx"
        if path.is_file() and sha256_file(path) == info["sha256"]:
            return _onnx_artifact(manifest, path, info["sha256"], info["parity_max_abs_diff"])

    if manifest.framework == "scikit-learn":
        onnx_bytes = _convert_sklearn(manifest)
    elif manifest.framework == "keras":
        onnx_bytes = convert_keras_file(manifest.artifact_path, len(manifest.features))
    else:
        raise BuildError(f"framework: no ONNX converter for {manifest.framework!r}")
    gap = check_parity(onnx_bytes, manifest)
    sha = hashlib.sha256(onnx_bytes).hexdigest()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{sha}.onnx"
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(onnx_bytes)
    os.replace(tmp, path)
    record.write_text(json.dumps({"sha256": sha, "parity_max_abs_diff": gap}, sort_keys=True))
    return _onnx_artifact(manifest, path, sha, gap)


def _onnx_artifact(manifest, path: Path, sha: str, gap: float) -> ModelArtifact:
    return ModelArtifact(
        path=path,
        sha256=sha,
        format="onnx",
        key=object_key(manifest.name, sha, "onnx"),
        manifest=manifest,
        size_bytes=path.stat().st_size,
        converted=True,
        parity_max_abs_diff=gap,
    )


def _tool_versions(framework: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ["onnx", "onnxruntime", "numpy"] + (["skl2onnx", "scikit-learn", "skops"] if framework != "keras" else [])
    names += ["h5py"] if framework == "keras" else []
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "missing"
    return out


def _load_sklearn(manifest) -> Any:
    """The manifest's scikit-learn estimator, read by the very loader the function ships (skops trust list
    included); its sha256 was verified when the manifest loaded, which is what makes joblib/pickle acceptable."""
    from functions.predictors import PredictorError, sklearn_estimator

    try:
        return sklearn_estimator(manifest.artifact_path.read_bytes(), manifest.format)
    except PredictorError as exc:
        raise BuildError(f"artifact: {exc}") from None


def _convert_sklearn(manifest) -> bytes:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType
    except ImportError as exc:
        raise BuildError(f"runtime onnx needs skl2onnx in the build environment: {exc}") from None
    clf = _load_sklearn(manifest)
    n = len(manifest.features)
    compact = _compact_binary_logistic(clf, n, manifest.name)
    if compact is not None:
        return compact
    try:
        onx = convert_sklearn(
            clf,
            initial_types=[("x", DoubleTensorType([None, n]))],
            options={id(clf): {"zipmap": False}},
            target_opset=ONNX_OPSET,
        )
    except Exception as exc:  # skl2onnx raises plain RuntimeError/NotImplementedError for unsupported models
        raise BuildError(f"skl2onnx cannot convert {type(clf).__name__}: {exc}") from None
    onx.graph.name = f"{manifest.name}"  # skl2onnx names the graph with a random uuid
    onx.producer_name = "smodels"
    onx.producer_version = MODEL_CONVERTER_VERSION
    return onx.SerializeToString(deterministic=True)


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
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="smodels",
        producer_version=MODEL_CONVERTER_VERSION,
        ir_version=ONNX_IR_VERSION,
    )
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
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="smodels",
        producer_version=MODEL_CONVERTER_VERSION,
        ir_version=ONNX_IR_VERSION,
    )
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

    return OnnxPredictor(onnx_bytes).predict(np.asarray(rows, dtype=np.float64))


def check_parity(onnx_bytes: bytes, manifest) -> float:
    """Max abs difference between the ONNX model and the manifest's native outputs; BuildError over 1e-5."""
    import numpy as np

    rows = [list(r) for r in manifest.parity.rows] + manifest.sample_rows()
    expected = np.asarray(list(manifest.parity.outputs) + [s.output for s in manifest.samples], dtype=np.float64)
    try:
        got = onnx_positive_probability(onnx_bytes, rows)
    except Exception as exc:  # onnxruntime raises its own exception classes
        raise BuildError(f"the converted ONNX model of {manifest.name} does not run: {exc}") from None
    diff = np.abs(got - expected)
    worst = int(np.argmax(diff))
    gap = float(diff[worst])
    if not gap <= PARITY_TOLERANCE:
        n_parity = len(manifest.parity.rows)
        where = f"parity row {worst}" if worst < n_parity else f"sample {worst - n_parity}"
        raise BuildError(
            f"ONNX parity failed for {manifest.name}: max abs difference {gap:.3g} > {PARITY_TOLERANCE} at "
            f"{where} (input {rows[worst]}: ONNX {got[worst]!r}, manifest {expected[worst]!r})"
        )
    return gap
