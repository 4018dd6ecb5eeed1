"""ONNX converters for tabular models: each model gives a short list of candidate conversions, which the packager
runs in order and accepts the first that reproduces the manifest's outputs (smodels/packager/model.py).

- scikit-learn estimators and Pipelines: skl2onnx, with the onnxmltools converters for XGBoost and LightGBM
  registered so that a booster inside a Pipeline converts too. A model fitted on a DataFrame that selects
  columns by name, or with categorical (string) features, gets one [N, 1] input per feature (string for
  categories, double/float for numbers); skl2onnx names the inputs after the columns but sanitises them ("spend €"
  becomes "spend__"), so the graph records {input: feature} in its metadata (``functions.predictors.ONNX_INPUTS_KEY``).
  Other models get one [N, F] matrix input ``x``.
  First candidate: double inputs, with a float32 cast just before a tree ensemble (scikit-learn, XGBoost and
  LightGBM's scikit-learn API all compare float32 features, and onnxruntime's tree ensembles declare float
  outputs); second: float inputs throughout.
- XGBoost boosters (format ``xgboost``) and LightGBM boosters (format ``lightgbm``): onnxmltools, float input
  ``x`` (both libraries' converters take float32 only; XGBoost itself compares float32).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ONNX_OPSET = 17
ML_OPSET = 3  # ai.onnx.ml: TreeEnsembleClassifier/Regressor as onnxruntime runs them
ONNXMLTOOLS_OPSET = 15  # the highest main-domain opset onnxmltools 1.16 converts boosters to
PRODUCER = "smodels"
# Estimators compared in float32 by the library itself: a float32 cast before them keeps their leaves exact.
TREE_MARKERS = ("Forest", "Tree", "GradientBoosting", "XGB", "LGBM")


@dataclass(frozen=True)
class Candidate:
    """One way to convert the model: ``make()`` returns ONNX bytes or raises (converter errors are reasons)."""

    how: str  # e.g. "skl2onnx, double inputs"
    converter: str  # the tool, for the reason given when it fails: "skl2onnx", "onnxmltools"
    what: str  # the model's class name
    make: Callable[[], bytes]


def finish(onx: Any, name: str, version: str, inputs: dict[str, str] | None = None) -> bytes:
    """Deterministic bytes: graph named after the model (skl2onnx uses a random uuid), our producer, and the
    {graph input: feature} map when there is one input per feature."""
    from functions.predictors import ONNX_INPUTS_KEY

    onx.graph.name = name
    onx.producer_name = PRODUCER
    onx.producer_version = version
    del onx.metadata_props[:]
    if inputs is not None:
        prop = onx.metadata_props.add()
        prop.key, prop.value = ONNX_INPUTS_KEY, json.dumps(inputs, ensure_ascii=False, sort_keys=True)
    return onx.SerializeToString(deterministic=True)


_registered = False


def register_booster_converters() -> None:
    """Let skl2onnx convert XGBoost/LightGBM scikit-learn models (inside Pipelines too) with onnxmltools'
    converters, where those libraries are installed."""
    global _registered
    if _registered:
        return
    import importlib

    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    # (library, its onnxmltools converter, alias prefix, classifier, regressor, the regressor's options)
    boosters = (("xgboost", "onnxmltools.convert.xgboost.operator_converters.XGBoost", "convert_xgboost",
                 "XGBoost", "XGBClassifier", "XGBRegressor", None),
                ("lightgbm", "onnxmltools.convert.lightgbm.operator_converters.LightGbm", "convert_lightgbm",
                 "LightGbm", "LGBMClassifier", "LGBMRegressor", {"split": None}))
    for library, module, function, alias, classifier, regressor, regressor_options in boosters:
        try:
            lib = importlib.import_module(library)
            convert = getattr(importlib.import_module(module), function)
        except ImportError:
            continue
        update_registered_converter(getattr(lib, classifier), alias + classifier,
                                    calculate_linear_classifier_output_shapes, convert, options=classifier_options)
        update_registered_converter(getattr(lib, regressor), alias + regressor,
                                    calculate_linear_regressor_output_shapes, convert, options=regressor_options)
    _registered = True


def _is_trees(est: Any) -> bool:
    return any(marker in type(est).__name__ for marker in TREE_MARKERS)


def cast_before_trees(est: Any) -> Any | None:
    """``est`` with a float32 cast inserted before its final tree ensemble (a new Pipeline; ``est`` is untouched),
    or None if it does not end in one."""
    from skl2onnx.sklapi import CastTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        name, last = est.steps[-1]
        inner = cast_before_trees(last) if isinstance(last, Pipeline) else None
        if inner is not None:
            return Pipeline([*est.steps[:-1], (name, inner)])
        if _is_trees(last):
            return Pipeline([*est.steps[:-1], ("smodels_float32", CastTransformer()), (name, last)])
        return None
    if _is_trees(est):
        return Pipeline([("smodels_float32", CastTransformer()), ("model", est)])
    return None


def sklearn_candidates(est: Any, schema: Any, name: str, version: str) -> list[Candidate]:
    """skl2onnx conversions of a scikit-learn estimator for ``schema`` (functions.schema.ModelSchema); nothing is
    imported until a candidate runs."""
    from functions.predictors import selects_by_name
    from functions.schema import NUMERIC_TYPES

    # skl2onnx resolves column names against input names, and strings need their own inputs; any other estimator
    # takes one matrix (numbers, NaN for missing): skl2onnx refuses several inputs for it.
    per_feature = any(f.type not in NUMERIC_TYPES for f in schema.features) or selects_by_name(est)
    what = type(est).__name__

    def make(number: str, cast: bool) -> Callable[[], bytes]:
        def run() -> bytes:
            from skl2onnx import convert_sklearn
            from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

            register_booster_converters()
            model = (cast_before_trees(est) or est) if cast else est
            tensor = DoubleTensorType if number == "double" else FloatTensorType
            if per_feature:
                initial = [(f.name, (StringTensorType if f.type not in NUMERIC_TYPES else tensor)([None, 1]))
                           for f in schema.features]
            else:
                initial = [("x", tensor([None, len(schema.features)]))]
            options = {id(model): {"zipmap": False}} if schema.task != "regression" else None
            onx = convert_sklearn(model, initial_types=initial, options=options,
                                  target_opset={"": ONNX_OPSET, "ai.onnx.ml": ML_OPSET})
            inputs = None
            if per_feature:
                names = [i.name for i in onx.graph.input]
                if len(names) != len(schema.features):
                    raise RuntimeError(f"the graph has {len(names)} inputs for {len(schema.features)} features")
                inputs = dict(zip(names, schema.names, strict=True))
            return finish(onx, name, version, inputs)

        return run

    layout = "one input per feature" if per_feature else "one matrix input"
    trees = ", float32 cast before the trees" if _ends_in_trees(est) else ""
    return [Candidate(f"skl2onnx, {layout}, double{trees}", "skl2onnx", what, make("double", bool(trees))),
            Candidate(f"skl2onnx, {layout}, float", "skl2onnx", what, make("float", False))]


def _ends_in_trees(est: Any) -> bool:
    while hasattr(est, "steps"):
        est = est.steps[-1][1]
    return _is_trees(est)


def booster_candidates(fmt: str, data: bytes, schema: Any, name: str, version: str) -> list[Candidate]:
    """onnxmltools conversions of an XGBoost (JSON) or LightGBM (text) booster with a float matrix input ``x``."""
    width = len(schema.features)

    def xgb() -> bytes:
        import xgboost
        from onnxmltools import convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType

        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        onx = convert_xgboost(booster, initial_types=[("x", FloatTensorType([None, width]))],
                              target_opset=ONNXMLTOOLS_OPSET)
        return finish(onx, name, version)

    def lgb() -> bytes:
        import lightgbm
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType

        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
        onx = convert_lightgbm(booster, initial_types=[("x", FloatTensorType([None, width]))],
                               target_opset=ONNXMLTOOLS_OPSET, zipmap=False)
        return finish(onx, name, version)

    if fmt == "xgboost":
        return [Candidate("onnxmltools, float", "onnxmltools", "XGBoost Booster", xgb)]
    if fmt == "lightgbm":
        return [Candidate("onnxmltools, float", "onnxmltools", "LightGBM Booster", lgb)]
    raise ValueError(f"no booster format {fmt!r}")


# --- runtime pure: an ONNX graph as a plain-data program (functions/pure/) --------------------------------------


def _plain(value: Any) -> Any:
    """JSON-safe: NaN/inf as strings (functions.pure reads them back), bytes as UTF-8 text."""
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def compile_pure(onnx_bytes: bytes) -> bytes:
    """The ONNX graph as a functions.pure program: deterministic JSON bytes (sorted keys). Only the nodes the
    predictor's output needs are kept; an operator, attribute or type functions.pure does not run raises
    functions.pure.PureError (the build then falls back to another runtime)."""
    import onnx
    from onnx import helper, numpy_helper

    from functions import pure
    from functions.predictors import pick_output

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    if any(n.op_type in ("Loop", "If", "Scan") for n in graph.node):
        raise pure.PureError("control flow operators are not supported")
    inits = {i.name: i for i in graph.initializer}
    inputs = []
    for inp in graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        kind = pure.ONNX_TYPES.get(tt.elem_type)
        if kind not in pure.INPUT_TYPES:
            raise pure.PureError(f"input {inp.name!r} has element type {tt.elem_type}")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        inputs.append({"name": inp.name, "type": kind, "width": dims[1] if len(dims) == 2 else None})
    outputs = [(o.name, pure.ONNX_TYPES.get(o.type.tensor_type.elem_type, "")) for o in graph.output]
    output = pick_output(outputs)
    constants: dict[str, Any] = {}
    for name, init in inits.items():
        constants[name] = _pure_tensor(numpy_helper.to_array(init), init.data_type)
    needed, nodes = {output}, []
    for node in reversed(graph.node):
        if not needed.intersection(node.output):
            continue
        needed.update(i for i in node.input if i)
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            (attr,) = node.attribute
            if attr.name != "value":
                raise pure.PureError(f"Constant with {attr.name} is not supported")
            constants[node.output[0]] = _pure_tensor(numpy_helper.to_array(attr.t), attr.t.data_type)
            continue
        domain = "" if node.domain == "ai.onnx" else node.domain
        if (domain, node.op_type) not in pure.OPS:
            raise pure.PureError(f"operator {node.op_type}{f' ({domain})' if domain else ''} is not supported")
        attrs = {}
        for attr in node.attribute:
            value = helper.get_attribute_value(attr)
            if isinstance(value, onnx.TensorProto):
                value = numpy_helper.to_array(value).reshape(-1).tolist()
            elif not isinstance(value, (int, float, bytes, str, list)):
                raise pure.PureError(f"{node.op_type} attribute {attr.name} ({type(value).__name__}) is not supported")
            attrs[attr.name] = _plain(value)
        nodes.append({"op": node.op_type, "domain": domain, "inputs": list(node.input),
                      "outputs": list(node.output), "attrs": attrs})
    nodes.reverse()
    feeds = {i["name"] for i in inputs}
    doc = {
        "format": pure.FORMAT, "version": pure.VERSION, "inputs": [i for i in inputs if i["name"] in needed],
        "output": output,
        "metadata": {p.key: p.value for p in model.metadata_props},
        "initializers": {k: v for k, v in sorted(constants.items()) if k in needed and k not in feeds},
        "nodes": nodes,
    }
    if len(doc["inputs"]) != len(inputs):  # every input feeds the predictor, even one the output ignores
        doc["inputs"] = inputs
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    pure.load_program(data)  # refuses what the evaluator cannot run, now rather than at serving time
    return data


def pure_work(program: bytes) -> int:
    """Scalar operations one row costs in the pure evaluator, estimated from the program alone (deterministic:
    the same program gives the same figure on every machine, unlike a timing): a weight tensor costs its size (a
    multiply-add per entry), a tree ensemble its node count, any other node one operation per constant entry."""
    doc = json.loads(program)
    inits = doc["initializers"]

    def size(name: str) -> int:
        t = inits.get(name)
        if t is None:
            return 0
        data, n = t.get("data", []), 0
        todo = [data]
        while todo:
            x = todo.pop()
            if isinstance(x, list):
                todo.extend(x)
            else:
                n += 1
        return n

    work = 0
    for node in doc["nodes"]:
        if node["op"].startswith("TreeEnsemble"):
            work += len(node["attrs"].get("nodes_nodeids", ())) or 1
        else:
            work += max(1, sum(size(i) for i in node["inputs"]))
    return work


def _pure_tensor(arr: Any, data_type: int) -> dict[str, Any]:
    from functions import pure

    kind = pure.ONNX_TYPES.get(data_type)
    if kind is None:
        raise pure.PureError(f"initializer element type {data_type} is not supported")
    if kind == "string":  # flat, row-major (the evaluator flattens nested lists anyway)
        data: Any = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.reshape(-1).tolist()]
    else:
        data = _plain(arr.tolist())
    return {"type": kind, "shape": list(arr.shape), "data": data}
