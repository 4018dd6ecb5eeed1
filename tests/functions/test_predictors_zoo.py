"""Predictors beyond the book: XGBoost and LightGBM boosters (no scikit-learn), ONNX graphs with one input per
feature (categories as strings, missing values, names a converter sanitises), multiclass and regression outputs,
and the skops trust list for a Pipeline around a booster. Models are trained here on data that ships with
scikit-learn or is generated; single-threaded, so nothing depends on timing or summation order across runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from on_first_use import OnFirstUse

from functions import predictors
from functions.schema import Batch, ModelSchema

xgboost = OnFirstUse("xgboost")
lightgbm = OnFirstUse("lightgbm")

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-5


def schema(names, task="binary-classification", classes=(0, 1), types=None, **extra) -> ModelSchema:
    feats = [{"name": n, "type": (types or {}).get(n, "numeric"), **extra.get(n, {})} for n in names]
    return ModelSchema.from_json({"task": task, "classes": list(classes), "features": feats})


def batch(rows) -> Batch:
    return Batch([list(r) for r in np.asarray(rows, dtype=object).tolist()], True)


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return x[:, :6], y


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)


def _xgb(x, y, params) -> bytes:
    booster = xgboost.train({**params, "max_depth": 3, "nthread": 1, "seed": 0}, xgboost.DMatrix(x, label=y),
                            num_boost_round=15)
    return bytes(booster.save_raw("json"))


def _lgb(x, y, params) -> str:
    booster = lightgbm.train({**params, "num_leaves": 8, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1,
                              "deterministic": True, "seed": 0}, lightgbm.Dataset(x, label=y), num_boost_round=15)
    return booster.model_to_string()


# -- XGBoost ----------------------------------------------------------------------------------------------------

def test_xgboost_binary_multiclass_and_regression(cancer, iris, diabetes) -> None:
    x, y = cancer
    data = _xgb(x, y, {"objective": "binary:logistic"})
    want = xgboost.Booster(model_file=bytearray(data)).predict(xgboost.DMatrix(x))
    pred = predictors.load(data, "xgboost", schema([f"f{i}" for i in range(6)]))
    got = pred.predict(batch(x))
    assert got.shape == (len(x),) and pred.input_limit == predictors.FLOAT32_MAX
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)

    xi, yi = iris
    data = _xgb(xi, yi, {"objective": "multi:softprob", "num_class": 3})
    s = schema(list("abcd"), "multiclass-classification", ["setosa", "versicolor", "virginica"])
    got = predictors.load(data, "xgboost", s).predict(batch(xi))
    assert got.shape == (150, 3)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, xgboost.Booster(model_file=bytearray(data)).predict(xgboost.DMatrix(xi)),
                               atol=1e-7)

    xd, yd = diabetes
    data = _xgb(xd, yd, {"objective": "reg:squarederror"})
    got = predictors.load(data, "xgboost", schema([f"f{i}" for i in range(10)], "regression", [])).predict(batch(xd))
    np.testing.assert_allclose(got, xgboost.Booster(model_file=bytearray(data)).predict(xgboost.DMatrix(xd)),
                               rtol=1e-6)


def test_xgboost_takes_missing_values_as_nan(cancer) -> None:
    x, y = cancer
    x = x.copy()
    x[::7, 2] = np.nan
    data = _xgb(x, y, {"objective": "binary:logistic"})
    s = schema([f"f{i}" for i in range(6)], f2={"nullable": True})
    got = predictors.load(data, "xgboost", s).predict(batch(x))
    want = xgboost.Booster(model_file=bytearray(data)).predict(xgboost.DMatrix(x))
    np.testing.assert_allclose(got, want, atol=1e-7)


def test_xgboost_refuses_a_mismatched_task_width_or_bytes(cancer) -> None:
    x, y = cancer
    data = _xgb(x, y, {"objective": "binary:logistic"})
    with pytest.raises(predictors.PredictorError, match="binary:logistic.*regression"):
        predictors.load(data, "xgboost", schema([f"f{i}" for i in range(6)], "regression", []))
    with pytest.raises(predictors.PredictorError, match="takes 6 features; the schema has 2"):
        predictors.load(data, "xgboost", schema(["a", "b"]))
    reg = _xgb(x, y, {"objective": "reg:squarederror"})
    with pytest.raises(predictors.PredictorError, match="gives regression.*binary:logistic"):
        predictors.load(reg, "xgboost", schema([f"f{i}" for i in range(6)]))
    with pytest.raises(predictors.PredictorError, match="categorical"):
        predictors.load(data, "xgboost", schema([f"f{i}" for i in range(6)], types={"f0": "categorical"},
                                                f0={"categories": ["a"]}))
    with pytest.raises(predictors.PredictorError, match="xgboost cannot load"):
        predictors.load(b"{not json", "xgboost")


# -- LightGBM ---------------------------------------------------------------------------------------------------

def test_lightgbm_binary_multiclass_and_regression(cancer, iris, diabetes) -> None:
    x, y = cancer
    text = _lgb(x, y, {"objective": "binary"})
    got = predictors.load(text.encode(), "lightgbm", schema([f"f{i}" for i in range(6)])).predict(batch(x))
    np.testing.assert_allclose(got, lightgbm.Booster(model_str=text).predict(x), atol=1e-12)

    xi, yi = iris
    text = _lgb(xi, yi, {"objective": "multiclass", "num_class": 3})
    s = schema(list("abcd"), "multiclass-classification", ["setosa", "versicolor", "virginica"])
    got = predictors.load(text.encode(), "lightgbm", s).predict(batch(xi))
    assert got.shape == (150, 3)
    np.testing.assert_allclose(got, lightgbm.Booster(model_str=text).predict(xi), atol=1e-12)

    xd, yd = diabetes
    text = _lgb(xd, yd, {"objective": "regression"})
    pred = predictors.load(text.encode(), "lightgbm", schema([f"f{i}" for i in range(10)], "regression", []))
    np.testing.assert_allclose(pred.predict(batch(xd)), lightgbm.Booster(model_str=text).predict(xd), rtol=1e-12)
    assert pred.input_limit is None
    with pytest.raises(predictors.PredictorError, match="regression.*binary"):
        predictors.load(text.encode(), "lightgbm", schema([f"f{i}" for i in range(10)]))
    with pytest.raises(predictors.PredictorError, match="lightgbm cannot load"):
        predictors.load(b"not a model", "lightgbm")


def _blocked_sklearn_run(code: str) -> subprocess.CompletedProcess:
    """Run `code` with scikit-learn (and pandas) made unimportable, as in a booster-only package."""
    prelude = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('sklearn', 'pandas'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xgboost", "lightgbm"])
def test_boosters_load_and_predict_without_scikit_learn(fmt, cancer, tmp_path) -> None:
    x, y = cancer
    data = _xgb(x, y, {"objective": "binary:logistic"}) if fmt == "xgboost" else _lgb(
        x, y, {"objective": "binary"}).encode()
    (tmp_path / "m").write_bytes(data)
    np.save(tmp_path / "x.npy", x[:20])
    code = (
        "import json, numpy as np\n"
        "from functions import predictors\n"
        "from functions.schema import Batch, ModelSchema\n"
        f"s = ModelSchema.simple([f'f{{i}}' for i in range(6)])\n"
        f"p = predictors.load(open({str(tmp_path / 'm')!r}, 'rb').read(), {fmt!r}, s)\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "print(json.dumps(p.predict(Batch(x.tolist(), True)).tolist()))\n"
        "assert 'sklearn' not in sys.modules and 'pandas' not in sys.modules\n"
    )
    res = _blocked_sklearn_run(code)
    assert res.returncode == 0, res.stderr[-2000:]
    got = np.asarray(json.loads(res.stdout))
    want = predictors.load(data, fmt, ModelSchema.simple([f"f{i}" for i in range(6)])).predict(batch(x[:20]))
    np.testing.assert_allclose(got, want, atol=1e-12)


# -- ONNX: one input per feature, multiclass, regression -------------------------------------------------------

@pytest.fixture(scope="module")
def shop():
    """A churn-like table with categorical string columns whose names have spaces and non-ASCII characters."""
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({
        "home city": rng.choice(["Zürich", "Köln", "São Paulo"], n),
        "spend €": np.round(rng.gamma(2.0, 30.0, n), 2),
        "plan": rng.choice(["basic", "pro"], n),
        "months active": rng.integers(1, 40, n).astype(float),
    })
    frame.loc[rng.random(n) < 0.1, "spend €"] = np.nan
    y = np.where(0.02 * frame["spend €"].fillna(60) - 0.04 * frame["months active"]
                 + (frame["plan"] == "pro") + rng.normal(0, 0.5, n) > 0.6, "churn", "stay")
    s = ModelSchema.from_json({"task": "binary-classification", "classes": ["churn", "stay"], "features": [
        {"name": "home city", "type": "categorical", "categories": ["Köln", "São Paulo", "Zürich"],
         "ignore_unknown": True},
        {"name": "spend €", "type": "numeric", "nullable": True},
        {"name": "plan", "type": "categorical", "categories": ["basic", "pro"]},
        {"name": "months active", "type": "integer"}]})
    return frame, y, s


def _pipeline(frame, y):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    pre = ColumnTransformer([
        ("city", OneHotEncoder(handle_unknown="ignore"), ["home city"]),
        ("plan", OrdinalEncoder(), ["plan"]),
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["spend €", "months active"]),
    ])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(frame, y)


def _rows(frame) -> list[list]:
    return [[None if isinstance(v, float) and np.isnan(v) else v for v in r]
            for r in frame.itertuples(index=False, name=None)]


def test_onnx_one_input_per_feature_with_sanitised_names(shop) -> None:
    from smodels.packager.convert import sklearn_candidates

    frame, y, s = shop
    model = _pipeline(frame, y)
    cands = sklearn_candidates(model, s, "shop", "test")
    data = None
    for cand in cands:  # the double graph of this pipeline does not load in onnxruntime; the float one does
        try:
            data = cand.make()
            pred = predictors.load(data, "onnx", s)
            break
        except Exception:
            continue
    assert data is not None
    inputs = [i.name for i in pred.session.get_inputs()]
    assert inputs != list(s.names) and "spend__" in inputs  # skl2onnx renamed them; the metadata maps them back
    mapping = json.loads(pred.session.get_modelmeta().custom_metadata_map[predictors.ONNX_INPUTS_KEY])
    assert sorted(mapping.values()) == sorted(s.names)
    rows = _rows(frame) + [["Oslo", None, "pro", 3.0]]  # an unseen city (ignored by the encoder), a missing spend
    b = s.parse({"instances": rows}, 1000)
    got = pred.predict(b)
    want = model.predict_proba(b.frame(s))[:, 1]
    assert float(np.max(np.abs(got - want))) <= TOL
    assert pred.input_limit == predictors.FLOAT32_MAX  # float inputs


def test_onnx_inputs_matched_by_name_without_metadata(shop) -> None:
    """A graph whose inputs carry the feature names needs no metadata; an input that is no feature is refused."""
    from onnx import TensorProto, helper

    s = ModelSchema.from_json({"task": "regression", "features": [{"name": "a"}, {"name": "b", "nullable": True}]})

    def graph(names: list[str]) -> bytes:
        node = helper.make_node("Sum", names, ["variable"])
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.DOUBLE, [None, 1])
                                            for n in names],
                              [helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1])])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()

    pred = predictors.load(graph(["b", "a"]), "onnx", s)
    got = pred.predict(s.parse({"instances": [[1, 2], [3, None]]}, 10))
    np.testing.assert_array_equal(got[:1], [3.0])
    assert np.isnan(got[1])  # NaN reaches the graph for a missing value
    with pytest.raises(predictors.PredictorError, match="input 'c' is not a feature"):
        predictors.load(graph(["a", "c"]), "onnx", s)


def test_onnx_multiclass_and_regression_outputs(iris, diabetes) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.linear_model import LogisticRegression, Ridge

    x, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = LogisticRegression(max_iter=1000).fit(x, labels)
    onx = convert_sklearn(clf, initial_types=[("x", DoubleTensorType([None, 4]))],
                          options={id(clf): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    s = schema(list("abcd"), "multiclass-classification", list(clf.classes_))
    pred = predictors.load(onx.SerializeToString(), "onnx", s)
    assert pred.output_name == "probabilities"
    got = pred.predict(batch(x))
    assert got.shape == (150, 3)
    np.testing.assert_allclose(got, clf.predict_proba(x), atol=1e-12)

    xd, yd = diabetes
    reg = Ridge().fit(xd, yd)
    onx = convert_sklearn(reg, initial_types=[("x", DoubleTensorType([None, 10]))], target_opset=17)
    pred = predictors.load(onx.SerializeToString(), "onnx", schema([f"f{i}" for i in range(10)], "regression", []))
    assert pred.output_name == "variable"
    np.testing.assert_allclose(pred.predict(batch(xd)), reg.predict(xd), rtol=1e-12)
    with pytest.raises(predictors.PredictorError, match="takes 10 columns; the schema has 2"):
        predictors.load(onx.SerializeToString(), "onnx", schema(["a", "b"], "regression", []))


def test_matrix_onnx_refuses_a_categorical_schema(iris) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.linear_model import Ridge

    x, y = iris
    onx = convert_sklearn(Ridge().fit(x[:, :2], y), initial_types=[("x", DoubleTensorType([None, 2]))])
    s = schema(["a", "b"], "regression", [], types={"b": "categorical"}, b={"categories": ["u"]})
    with pytest.raises(predictors.PredictorError, match="'b' is categorical"):
        predictors.load(onx.SerializeToString(), "onnx", s)


# -- skops: a Pipeline around a booster -------------------------------------------------------------------------

def test_skops_pipeline_around_boosters_is_trusted_only_for_their_libraries(cancer) -> None:
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = cancer
    for est, lib in ((xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1), "xgboost"),
                     (lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, n_jobs=1, verbose=-1), "lightgbm")):
        model = make_pipeline(StandardScaler(), est).fit(x, y)
        data = sio.dumps(model)
        with pytest.raises(predictors.PredictorError, match=f"refused: .*{lib}\\."):
            predictors.skops_estimator(data)  # sklearn/numpy only
        with pytest.raises(predictors.PredictorError, match="refused"):
            predictors.sklearn_estimator(data, "skops", predictors.trusted_prefixes({"scikit-learn": "1"}))
        loaded = predictors.sklearn_estimator(data, "skops", predictors.trusted_prefixes({lib: "1"}))
        np.testing.assert_allclose(loaded.predict_proba(x)[:, 1], model.predict_proba(x)[:, 1], atol=1e-12)
        # in a function package the installed boosting libraries are the manifest's: load() trusts them
        got = predictors.load(data, "skops", schema([f"f{i}" for i in range(6)])).predict(batch(x))
        np.testing.assert_allclose(got, model.predict_proba(x)[:, 1], atol=1e-12)
