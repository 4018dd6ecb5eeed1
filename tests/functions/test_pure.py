"""functions/pure/: every operator it runs against onnxruntime on random inputs, the compiler's refusals, and the
pure predictor (plain lists, no numpy) as the app uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from functions import predictors, pure
from functions.schema import Batch, ModelSchema

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from smodels.packager.convert import compile_pure  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
D, F, S, I64 = TensorProto.DOUBLE, TensorProto.FLOAT, TensorProto.STRING, TensorProto.INT64
NP = {D: np.float64, F: np.float32, S: object, I64: np.int64}


def _model(nodes, inputs, output: tuple[str, int, list], inits=(), ml: bool = False) -> bytes:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(*output)], initializer=list(inits))
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if ml else [])
    return helper.make_model(graph, opset_imports=opsets, ir_version=8).SerializeToString()


def _both(model: bytes, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(onnxruntime's output, the pure program's output reshaped alike)."""
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    program = pure.load_program(compile_pure(model))
    tfeeds = {}
    for spec in program.inputs:
        arr = feeds[spec["name"]]
        tfeeds[spec["name"]] = pure.T(spec["type"], arr.shape, arr.reshape(-1).tolist())
    got = program.run(tfeeds)
    index = [o.name for o in sess.get_outputs()].index(program.output)
    return np.asarray(want[index]), np.asarray(got.data, dtype=np.float64).reshape(got.shape)


RNG = np.random.default_rng(15)


@pytest.fixture(autouse=True)
def _seeded_rng() -> None:
    """Each test starts the same seeded stream: its inputs do not depend on which tests ran before it."""
    global RNG
    RNG = np.random.default_rng(15)


def _init(name: str, arr: np.ndarray):
    return numpy_helper.from_array(arr, name)


def _close(want: np.ndarray, got: np.ndarray, tol: float = 1e-12) -> None:
    assert want.shape == got.shape
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    assert float(np.max(np.abs(want.astype(np.float64) - got))) <= tol * scale, (want, got)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("cshape", [(3,), (1, 3), (4, 1), (4, 3), ()])
def test_broadcasting_arithmetic_matches_onnxruntime(op, cshape) -> None:
    x = RNG.normal(size=(4, 3))
    c = RNG.normal(size=cshape) + 2.0
    m = _model([helper.make_node(op, ["x", "c"], ["y"])], [("x", D, [None, 3])], ("y", D, None), [_init("c", c)])
    _close(*_both(m, {"x": x}))


@pytest.mark.parametrize("op", ["Sigmoid", "Relu", "Tanh", "Abs", "Identity", "Softmax"])
def test_unary_operators_match_onnxruntime(op) -> None:
    x = RNG.normal(size=(5, 4)) * 30
    m = _model([helper.make_node(op, ["x"], ["y"])], [("x", D, [None, 4])], ("y", D, None))
    _close(*_both(m, {"x": x}))


def test_matmul_gemm_and_float_rounding_match_onnxruntime() -> None:
    x = RNG.normal(size=(6, 5))
    w, b = RNG.normal(size=(5, 3)), RNG.normal(size=(3,))
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("x", D, [None, 5])], ("y", D, None), [_init("w", w)])
    _close(*_both(m, {"x": x}))
    for attrs in ({}, {"transB": 1, "alpha": 0.5, "beta": 2.0}):
        wt = w.T.copy() if attrs else w
        m = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], **attrs)], [("x", D, [None, 5])],
                   ("y", D, None), [_init("w", wt), _init("b", b)])
        _close(*_both(m, {"x": x}))
    # float32 graph: the values are float32 either way; sums may round differently in the last place
    m = _model([helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
               [("x", F, [None, 5])], ("y", F, None),
               [_init("w", w.astype(np.float32)), _init("b", b.astype(np.float32))])
    _close(*_both(m, {"x": x.astype(np.float32)}), tol=1e-6)


def test_cast_concat_reshape_flatten_reducesum_match_onnxruntime() -> None:
    # Positive values: the row sums the Div divides by stay far from 0, so the summation order of onnxruntime's
    # kernels (which differs between CPUs) cannot move the quotient anywhere near the tolerance.
    x = np.abs(RNG.normal(size=(4, 3))) * 1e3 + 1.0
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=F), helper.make_node("Cast", ["xf"], ["xd"], to=D),
             helper.make_node("Concat", ["xd", "x"], ["c"], axis=1),
             helper.make_node("Reshape", ["c", "shape"], ["r"]), helper.make_node("Flatten", ["r"], ["fl"], axis=1),
             helper.make_node("ReduceSum", ["fl", "axes"], ["s"], keepdims=1),
             helper.make_node("Div", ["fl", "s"], ["y"])]
    m = _model(nodes, [("x", D, [None, 3])], ("y", D, None),
               [_init("shape", np.array([-1, 6], np.int64)), _init("axes", np.array([1], np.int64))])
    _close(*_both(m, {"x": x}))


def test_ml_preprocessing_operators_match_onnxruntime() -> None:
    cities = np.array([["Lyon"], ["Zürich"], ["nowhere"], [""]], dtype=object)
    spend = np.array([[1.5], [np.nan], [3.25], [-7.0]], dtype=np.float32)
    nodes = [
        helper.make_node("OneHotEncoder", ["city"], ["oh"], domain="ai.onnx.ml", cats_strings=["Lyon", "Zürich"],
                         zeros=1),
        helper.make_node("Reshape", ["oh", "shape"], ["oh2"]),
        helper.make_node("Imputer", ["spend"], ["imp"], domain="ai.onnx.ml", imputed_value_floats=[2.5],
                         replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imp"], ["sc"], domain="ai.onnx.ml", offset=[1.25], scale=[0.75]),
        helper.make_node("Concat", ["oh2", "sc"], ["cat"], axis=1),
        helper.make_node("Normalizer", ["cat"], ["y"], domain="ai.onnx.ml", norm="L2"),
    ]
    m = _model(nodes, [("city", S, [None, 1]), ("spend", F, [None, 1])], ("y", F, None),
               [_init("shape", np.array([-1, 2], np.int64))], ml=True)
    _close(*_both(m, {"city": cities, "spend": spend}), tol=1e-6)


def test_label_encoder_matches_onnxruntime() -> None:
    x = np.array([["a"], ["c"], ["zz"]], dtype=object)
    nodes = [helper.make_node("LabelEncoder", ["x"], ["e"], domain="ai.onnx.ml", keys_strings=["a", "b", "c"],
                              values_floats=[0.0, 1.0, 2.0], default_float=-1.0)]
    m = _model(nodes, [("x", S, [None, 1])], ("e", F, None), ml=True)
    _close(*_both(m, {"x": x}))


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("classes", [2, 3])
def test_linear_classifier_and_regressor_match_onnxruntime(post, classes) -> None:
    x = RNG.normal(size=(7, 4)).astype(np.float32)
    n_coef = 1 if classes == 2 and post != "SOFTMAX" else classes
    coef = RNG.normal(size=n_coef * 4).astype(np.float32).tolist()
    nodes = [helper.make_node("LinearClassifier", ["x"], ["label", "p"], domain="ai.onnx.ml", coefficients=coef,
                              intercepts=RNG.normal(size=n_coef).astype(np.float32).tolist(),
                              classlabels_ints=list(range(classes)), post_transform=post)]
    m = _model(nodes, [("x", F, [None, 4])], ("p", F, None), ml=True)
    _close(*_both(m, {"x": x}), tol=1e-6)
    nodes = [helper.make_node("LinearRegressor", ["x"], ["y"], domain="ai.onnx.ml", coefficients=coef[:4],
                              intercepts=[0.5])]
    m = _model(nodes, [("x", F, [None, 4])], ("y", F, None), ml=True)
    _close(*_both(m, {"x": x}), tol=1e-6)


def _trees(modes: list[str], kind: str, post: str, classes: int = 3, extra: dict | None = None) -> bytes:
    """Two trees of depth 2 on 3 features, one node mode per tree level, missing values to the true side at the root."""
    nodes, leaves = {}, []
    for t in range(2):
        ids = dict(nodes_treeids=[t] * 7, nodes_nodeids=list(range(7)),
                   nodes_featureids=[t, 1, 2, 0, 0, 0, 0], nodes_values=[0.1 * t, -0.2, 0.3, 0, 0, 0, 0],
                   nodes_modes=[modes[0], modes[1], modes[1], "LEAF", "LEAF", "LEAF", "LEAF"],
                   nodes_truenodeids=[1, 3, 5, 0, 0, 0, 0], nodes_falsenodeids=[2, 4, 6, 0, 0, 0, 0],
                   nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0])
        for k, v in ids.items():
            nodes.setdefault(k, []).extend(v)
        for leaf in range(3, 7):
            for c in range(classes if kind == "classifier" else 1):
                leaves.append((t, leaf, c, float(np.float32(RNG.normal()))))
    prefix = "class" if kind == "classifier" else "target"
    attrs = {**nodes, f"{prefix}_treeids": [v[0] for v in leaves], f"{prefix}_nodeids": [v[1] for v in leaves],
             f"{prefix}_ids": [v[2] for v in leaves], f"{prefix}_weights": [v[3] for v in leaves],
             "post_transform": post, **(extra or {})}
    if kind == "classifier":
        node = helper.make_node("TreeEnsembleClassifier", ["xf"], ["label", "y"], domain="ai.onnx.ml",
                                classlabels_int64s=list(range(max(classes, 2))), **attrs)
    else:
        node = helper.make_node("TreeEnsembleRegressor", ["xf"], ["y"], domain="ai.onnx.ml", n_targets=1, **attrs)
    return _model([helper.make_node("Cast", ["x"], ["xf"], to=F), node], [("x", D, [None, 3])], ("y", F, None),
                  ml=True)


def _tree_rows() -> np.ndarray:
    x = RNG.normal(size=(200, 3)) * 0.5
    x[::7, 0] = np.nan
    x[1::9, 1] = -0.2  # exactly on a threshold
    x[2::9, 2] = float(np.float32(0.3)) + 1e-12  # above the float32 threshold in float64, equal after the cast
    return x


@pytest.mark.parametrize("modes", [("BRANCH_LEQ", "BRANCH_LT"), ("BRANCH_GTE", "BRANCH_GT"),
                                   ("BRANCH_EQ", "BRANCH_NEQ")])
@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
def test_tree_ensemble_classifier_matches_onnxruntime(modes, post) -> None:
    m = _trees(list(modes), "classifier", post, extra={"base_values": [0.1, -0.2, 0.3]})
    _close(*_both(m, {"x": _tree_rows()}), tol=1e-6)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC"])
@pytest.mark.parametrize("base", [None, [0.25]])
def test_binary_tree_classifier_with_one_score_matches_onnxruntime(post, base) -> None:
    extra = {"base_values": base} if base else {}
    m = _trees(["BRANCH_LEQ", "BRANCH_LT"], "classifier", post, classes=1, extra=extra)
    _close(*_both(m, {"x": _tree_rows()}), tol=1e-6)


@pytest.mark.parametrize("agg", ["SUM", "AVERAGE"])
def test_tree_ensemble_regressor_matches_onnxruntime(agg) -> None:
    m = _trees(["BRANCH_LEQ", "BRANCH_GT"], "regressor", "NONE",
               extra={"aggregate_function": agg, "base_values": [1.5]})
    _close(*_both(m, {"x": _tree_rows()}), tol=1e-6)


def test_an_unsupported_operator_is_refused_when_compiling() -> None:
    m = _model([helper.make_node("Sin", ["x"], ["y"])], [("x", D, [None, 2])], ("y", D, None))
    with pytest.raises(pure.PureError, match="operator Sin is not supported"):
        compile_pure(m)
    doc = json.loads(compile_pure(_model([helper.make_node("Relu", ["x"], ["y"])], [("x", D, [None, 2])],
                                         ("y", D, None))))
    doc["nodes"][0]["op"] = "Sin"
    with pytest.raises(pure.PureError, match="not supported"):
        pure.load_program(json.dumps(doc).encode())


def test_compiling_is_deterministic_and_drops_what_the_output_does_not_need() -> None:
    nodes = [helper.make_node("Sigmoid", ["x"], ["prob"]), helper.make_node("ArgMax", ["x"], ["label"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", D, [None, 2])],
                              [helper.make_tensor_value_info("label", I64, None),
                               helper.make_tensor_value_info("prob", D, None)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    a, b = compile_pure(m), compile_pure(m)
    assert a == b and [n["op"] for n in json.loads(a)["nodes"]] == ["Sigmoid"]
    assert json.loads(a)["output"] == "prob"


def test_pure_predictor_returns_lists_in_the_task_shape() -> None:
    w = np.array([[1.0, -1.0, 0.5], [0.5, 0.25, -2.0]])
    m = _model([helper.make_node("MatMul", ["x", "w"], ["z"]), helper.make_node("Softmax", ["z"], ["probabilities"])],
               [("x", D, [None, 2])], ("probabilities", D, None), [_init("w", w)])
    schema = ModelSchema.from_json({"features": [{"name": "a"}, {"name": "b"}],
                                    "task": "multiclass-classification", "classes": ["x", "y", "z"]})
    p = predictors.load(compile_pure(m), "pure", schema)
    out = p.predict(Batch([[1.0, 2.0], [0.0, -1.0]], True))
    assert isinstance(out, list) and all(isinstance(r, list) and len(r) == 3 for r in out)
    onnx_out = predictors.load(m, "onnx", schema).predict(Batch([[1.0, 2.0], [0.0, -1.0]], True))
    _close(onnx_out, np.asarray(out))
    assert p.input_limit is None
    with pytest.raises(predictors.PredictorError, match="pure program"):
        predictors.load(b"{}", "pure", schema)


def test_the_pure_modules_import_without_numpy(tmp_path: Path) -> None:
    """functions.app, predictors and pure import in an interpreter where numpy cannot be imported."""
    code = ("import sys; sys.modules['numpy'] = None\n"
            "import functions.app, functions.predictors, functions.pure\n"
            "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def _tree_program(**changes) -> dict:
    """A compiled one-tree regressor (root 0 -> leaves 1, 2) with some of its node attributes changed."""
    doc = json.loads(compile_pure(_trees(["BRANCH_LEQ", "BRANCH_LT"], "regressor", "NONE")))
    node = next(n for n in doc["nodes"] if n["op"] == "TreeEnsembleRegressor")
    node["attrs"].update(changes)
    return doc


def test_tree_links_are_checked_once_when_the_program_loads() -> None:
    doc = _tree_program()
    attrs = next(n for n in doc["nodes"] if n["op"] == "TreeEnsembleRegressor")["attrs"]
    pure.load_program(json.dumps(doc).encode())  # the well-formed trees load
    # a branch pointing at a node id its tree does not have: refused at load, not at the first row reaching it
    outside = list(attrs["nodes_truenodeids"])
    outside[1] = 99
    with pytest.raises(pure.PureError, match="outside its tree"):
        pure.load_program(json.dumps(_tree_program(nodes_truenodeids=outside)).encode())
    # a branch back to the root: a walk would never end
    cycle = list(attrs["nodes_falsenodeids"])
    cycle[2] = 0
    with pytest.raises(pure.PureError, match="cycle"):
        pure.load_program(json.dumps(_tree_program(nodes_falsenodeids=cycle)).encode())


def test_prepared_attributes_give_the_same_answers_on_every_request() -> None:
    """What a node builds from its attributes at load (Scaler columns, one-hot index, label table, linear weight
    rows) serves every request alike: the same batch answers bit for bit the same, twice and row by row."""
    cities = np.array([["Lyon"], ["Zürich"], ["nowhere"]], dtype=object)
    spend = np.array([[1.5], [np.nan], [3.25]], dtype=np.float32)
    nodes = [
        helper.make_node("OneHotEncoder", ["city"], ["oh"], domain="ai.onnx.ml", cats_strings=["Lyon", "Zürich"]),
        helper.make_node("Reshape", ["oh", "shape"], ["oh2"]),
        helper.make_node("Imputer", ["spend"], ["imp"], domain="ai.onnx.ml", imputed_value_floats=[2.5],
                         replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imp"], ["sc"], domain="ai.onnx.ml", offset=[1.25], scale=[0.75]),
        helper.make_node("Concat", ["oh2", "sc"], ["cat"], axis=1),
        helper.make_node("LinearClassifier", ["cat"], ["label", "p"], domain="ai.onnx.ml",
                         coefficients=[0.5, -1.0, 2.0, -0.5, 0.25, 1.0], intercepts=[0.1, -0.1],
                         classlabels_ints=[0, 1], post_transform="SOFTMAX"),
    ]
    m = _model(nodes, [("city", S, [None, 1]), ("spend", F, [None, 1])], ("p", F, None),
               [_init("shape", np.array([-1, 2], np.int64))], ml=True)
    _close(*_both(m, {"city": cities, "spend": spend}), tol=1e-6)
    program = pure.load_program(compile_pure(m))

    def run(lo: int, hi: int) -> list[float]:
        return program.run({"city": pure.T("string", (hi - lo, 1), cities[lo:hi].reshape(-1).tolist()),
                            "spend": pure.T("float", (hi - lo, 1), spend[lo:hi].reshape(-1).tolist())}).data

    first = run(0, 3)
    assert run(0, 3) == first
    assert [v for i in range(3) for v in run(i, i + 1)] == first
