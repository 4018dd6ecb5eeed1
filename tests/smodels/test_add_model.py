"""smodels.add_model: models trained here (data shipped with scikit-learn, or generated) become endpoint
directories whose manifest the native model reproduces; clear errors name what is wrong."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from functions.predictors import skops_estimator, trusted_prefixes
from functions.schema import ModelSchema
from smodels import save_model
from smodels.add_model import AddModelError, add_model
from smodels.cli import build_parser, main
from smodels.manifest import SCHEMA_VERSION, Manifest, dumps_manifest, load_manifest, manifest_from_dict, sha256_file
from smodels.manifest.drift import drift_profile

EXACT = 1e-12  # the same library on the same values: same float operations


# --- helpers ---------------------------------------------------------------------------------------------


def _frame(m: Manifest, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Sample inputs as a DataFrame in model order (null -> NaN, booleans as they are)."""
    return pd.DataFrame([[r[n] for n in m.feature_names] for r in rows], columns=m.feature_names).fillna(np.nan)


def _expected(m: Manifest) -> np.ndarray:
    return np.asarray([s.output for s in m.samples], dtype=np.float64)


def _assert_consistent(m: Manifest, directory: Path) -> None:
    """The manifest round-trips, its input schema is what functions.schema reads, and the endpoint's parser
    accepts every sample and parity row."""
    assert m.schema == SCHEMA_VERSION == 3
    text = (directory / "model.json").read_text(encoding="utf-8")
    assert text == dumps_manifest(m)
    assert manifest_from_dict(json.loads(text), directory) == m
    assert load_manifest(directory) == m
    doc = m.input_schema()
    schema = ModelSchema.from_json(doc)
    assert schema.to_json() == doc
    assert list(schema.names) == m.feature_names and schema.task == m.task and list(schema.classes) == list(m.classes)
    batch = schema.parse({"instances": [s.input for s in m.samples]}, 1000)
    assert len(batch) == len(m.samples)
    assert len(schema.parse({"instances": [list(r) for r in m.parity.rows]}, 1000)) == len(m.parity.rows)
    assert 3 <= len(m.samples) <= 5 and 3 <= len(m.parity.rows) <= 250
    assert set(m.profile["features"]) == set(m.feature_names)
    profile, reason = drift_profile(m)  # the profile is what drift is measured against
    assert profile is not None, reason


def _close(got: Any, want: np.ndarray, tol: float = EXACT) -> None:
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= tol


# --- the zoo ---------------------------------------------------------------------------------------------


def test_regressor_through_the_cli_from_joblib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import joblib

    x, y = load_diabetes(return_X_y=True, as_frame=True)
    model = HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(x, y)
    joblib.dump(model, tmp_path / "model.joblib")
    x.assign(progression=y).to_csv(tmp_path / "diabetes.csv", index=False)
    monkeypatch.chdir(tmp_path)

    code = main(["add-model", "model.joblib", "--example", "diabetes.csv", "--name", "diabetes",
                 "--label", "progression"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "pickle" in captured.err and "runs" in captured.err  # the warning before unpickling
    m = load_manifest(tmp_path / "models" / "diabetes")  # default --out: models/NAME
    _assert_consistent(m, tmp_path / "models" / "diabetes")
    assert (m.task, m.classes, m.format, m.framework) == ("regression", (), "skops", "scikit-learn")
    assert m.feature_names == list(x.columns) and "progression" not in m.feature_names
    assert all(f.type == "numeric" for f in m.features)
    assert m.training_data.sha256 == sha256_file(tmp_path / "diabetes.csv") and m.training_data.rows == len(x)
    assert m.holdout.metric == "r2" and 0.3 < m.holdout.value <= 1.0 and m.holdout.fraction is None
    assert "not on a held-out split" in m.holdout.note
    assert len(m.parity.rows) == 250
    _close(model.predict(_frame(m, [s.input for s in m.samples])), _expected(m))
    stats = m.profile["features"]["bmi"]
    assert stats["min"] == x["bmi"].min() and stats["max"] == x["bmi"].max()
    assert set(stats["quantiles"]) == {"0.01", "0.5", "0.99"} and stats["null_fraction"] == 0.0
    assert m.input_schema()["features"][2] == {"name": "bmi", "type": "numeric", "low": x["bmi"].min(),
                                               "high": x["bmi"].max()}


def test_multiclass_with_string_labels(tmp_path: Path) -> None:
    iris = load_iris(as_frame=True)
    x = iris.data
    y = np.asarray(iris.target_names)[iris.target]
    model = RandomForestClassifier(n_estimators=8, max_depth=3, random_state=0).fit(x, y)
    m = save_model(model, tmp_path, example=x.assign(species=y), label="species", name="iris-species")
    _assert_consistent(m, tmp_path)
    assert m.task == "multiclass-classification" and m.classes == ("setosa", "versicolor", "virginica")
    assert all(isinstance(s.output, tuple) and len(s.output) == 3 for s in m.samples)
    _close(model.predict_proba(_frame(m, [s.input for s in m.samples])), _expected(m))
    _close(model.predict_proba(_frame(m, [dict(zip(m.feature_names, r, strict=True)) for r in m.parity.rows])),
           np.asarray(m.parity.outputs))
    assert m.holdout.metric == "accuracy" and m.holdout.value > 0.9
    assert m.profile["output"]["frequencies"].keys() == {"setosa", "versicolor", "virginica"}
    assert len(m.profile["output"]["mean"]) == 3
    # the file is what the skops trust check of the serving side accepts
    skops_estimator(m.artifact_path.read_bytes(), trusted_prefixes(m.requirements))


def _shop(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "spend €": rng.normal(50.0, 10.0, n).round(2),
        "home city": rng.choice(["Zürich", "Genève", "Bern", "Lausanne"], n),
        "visits": rng.integers(0, 30, n),
        "member": rng.random(n) > 0.5,
        "newsletter": rng.integers(0, 2, n),
    })
    frame.loc[[3, 17], "spend €"] = np.nan
    frame.loc[[5, 40], "home city"] = None
    score = frame["spend €"].fillna(50.0) / 10 + (frame["home city"] == "Bern") * 2 + frame["member"] * 1.0
    return frame, np.where(score > 6.0, "buys", "browses")


def _shop_pipeline() -> Pipeline:
    pre = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         ["home city"]),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["spend €", "visits", "member", "newsletter"]),
    ])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


def test_pipeline_with_categorical_non_ascii_columns(tmp_path: Path) -> None:
    x, y = _shop()
    model = _shop_pipeline().fit(x, y)
    m = save_model(model, tmp_path / "shop", example=x.assign(outcome=y), label="outcome")
    _assert_consistent(m, tmp_path / "shop")
    assert m.name == "shop"  # from the directory
    by = {f.name: f for f in m.features}
    assert m.feature_names == ["spend €", "home city", "visits", "member", "newsletter"]
    assert (by["spend €"].type, by["spend €"].nullable) == ("numeric", True)
    city = by["home city"]
    assert (city.type, city.nullable, city.ignore_unknown) == ("categorical", True, True)
    assert set(city.categories) == {"Zürich", "Genève", "Bern", "Lausanne"}
    assert (by["visits"].type, by["member"].type, by["newsletter"].type) == ("integer", "boolean", "binary")
    assert not by["visits"].nullable and not by["member"].nullable
    assert m.task == "binary-classification" and m.classes == ("browses", "buys")
    assert m.holdout.metric == "roc_auc"
    assert any(v is None for s in m.samples for v in s.input.values())  # a sample with a missing value
    assert any(isinstance(s.input["member"], bool) for s in m.samples)
    _close(model.predict_proba(_frame(m, [s.input for s in m.samples]))[:, 1], _expected(m))
    freq = m.profile["features"]["home city"]["frequencies"]
    assert abs(sum(freq.values()) + m.profile["features"]["home city"]["null_fraction"] - 1.0) < 1e-12
    # the endpoint's parser takes an unknown city (the encoder ignores it), and a null where nullable
    schema = ModelSchema.from_json(m.input_schema())
    row = {**m.samples[0].input, "home city": "Basel", "spend €": None}
    assert schema.parse(row, 1).rows[0][1] == "Basel"
    assert model.predict_proba(_frame(m, [row])).shape == (1, 2)
    text = (tmp_path / "shop" / "model.json").read_text(encoding="utf-8")
    assert "spend €" in text and "Zürich" in text  # written as UTF-8, not escaped


def test_the_profile_holds_the_drift_buckets(tmp_path: Path) -> None:
    """Numbers: decile bins (edges between the example's values, shares of every row, missing apart); booleans and
    binaries: "0"/"1" frequencies; categories: frequencies; the output: bins of P(classes[1]) and the labels."""
    from bisect import bisect_right

    x, y = _shop()
    m = save_model(_shop_pipeline().fit(x, y), tmp_path / "shop", example=x.assign(outcome=y), label="outcome")
    stats = m.profile["features"]
    for name in ("spend €", "visits"):
        bins, values = stats[name]["bins"], x[name].dropna().to_numpy(dtype=float)
        edges = bins["edges"]
        assert edges == sorted(set(edges)) and 2 <= len(edges) <= 9 and not set(edges) & set(values)
        counts = np.bincount([bisect_right(edges, v) for v in values], minlength=len(edges) + 1)
        assert bins["shares"] == [int(c) / len(x) for c in counts]
        assert sum(bins["shares"]) + stats[name]["null_fraction"] == pytest.approx(1.0, abs=1e-12)
    assert stats["spend €"]["null_fraction"] == 2 / len(x)
    assert stats["visits"]["bins"]["edges"] == [e for e in stats["visits"]["bins"]["edges"] if e % 1 == 0.5]
    assert stats["member"]["frequencies"] == {"0": float((~x["member"]).mean()), "1": float(x["member"].mean())}
    assert stats["newsletter"]["frequencies"]["1"] == x["newsletter"].mean()
    assert "bins" not in stats["home city"] and set(stats["home city"]["frequencies"]) == set(x["home city"].dropna())
    out = m.profile["output"]
    assert sum(out["bins"]["shares"]) == pytest.approx(1.0, abs=1e-12) and set(out["frequencies"]) == {"browses",
                                                                                                       "buys"}
    doc = drift_profile(m)[0].to_json()
    city = doc["features"][1]
    assert city["kind"] == "categories" and len(city["categories"]) == 4 and city["shares"][-1] == 0.0  # no other


def test_decile_bins_of_few_values() -> None:
    from smodels.add_model.profile import decile_bins

    assert decile_bins([], 3) == {"edges": [], "shares": [0.0]}  # all missing
    assert decile_bins([7.0] * 5, 5) == {"edges": [], "shares": [1.0]}  # one value: one bucket
    got = decile_bins([0.0] * 7 + [1.0] * 3, 10)  # a 0/1 number: one edge between them
    assert got == {"edges": [0.5], "shares": [0.7, 0.3]}
    assert decile_bins(list(range(100)), 100)["edges"] == [9.5, 19.5, 29.5, 39.5, 49.5, 59.5, 69.5, 79.5, 89.5]


def test_missing_values_the_model_cannot_take_name_the_column(tmp_path: Path) -> None:
    x, y = _shop()
    model = Pipeline([
        ("pre", ColumnTransformer([("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                         OneHotEncoder(handle_unknown="ignore")), ["home city"]),
                                   ("num", StandardScaler(), ["spend €", "visits"])])),
        ("clf", LogisticRegression(max_iter=500)),
    ]).fit(x.fillna({"spend €": 50.0}), y)
    with pytest.raises(AddModelError) as exc:
        save_model(model, tmp_path, example=x, name="shop")
    assert exc.value.column == "spend €" and "spend €" in str(exc.value) and "imputer" in str(exc.value)
    # without missing values in that column the same model is fine
    m = save_model(model, tmp_path, example=x.fillna({"spend €": 50.0}), name="shop")
    assert not m.features[0].nullable and m.features[1].nullable


def _cancer(columns: int = 6) -> tuple[pd.DataFrame, pd.Series]:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return x.iloc[:, :columns].copy(), y


def test_xgboost_bare_model_is_saved_as_booster_json(tmp_path: Path) -> None:
    xgboost = pytest.importorskip("xgboost")
    x, y = _cancer()
    x.iloc[[2, 9], 0] = np.nan  # a booster takes missing values itself
    model = xgboost.XGBClassifier(n_estimators=6, max_depth=2, random_state=0, n_jobs=1).fit(x, y)
    m = save_model(model, tmp_path, example=x.assign(diagnosis=y), label="diagnosis", name="cancer-xgb")
    _assert_consistent(m, tmp_path)
    assert (m.framework, m.format, m.artifact) == ("xgboost", "xgboost", "model.xgb.json")
    assert m.requirements == {"xgboost": xgboost.__version__}
    assert m.feature_names == list(x.columns) and m.features[0].nullable and not m.features[1].nullable
    assert m.classes == (0, 1) and m.holdout.metric == "roc_auc"
    _close(model.predict_proba(_frame(m, [s.input for s in m.samples]))[:, 1], _expected(m))
    booster = xgboost.Booster()
    booster.load_model(bytearray(m.artifact_path.read_bytes()))
    rows = np.asarray([[np.nan if v is None else v for v in r] for r in m.parity.rows], dtype=np.float64)
    _close(booster.predict(xgboost.DMatrix(rows)), np.asarray(m.parity.outputs))


def test_lightgbm_bare_model_is_saved_as_booster_text(tmp_path: Path) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x = x.rename(columns={"bmi": "body mass index"})  # LightGBM stores it as body_mass_index
    model = lightgbm.LGBMRegressor(n_estimators=8, num_leaves=7, random_state=0, n_jobs=1, verbose=-1).fit(x, y)
    m = save_model(model, tmp_path, example=x, name="diabetes-lgb")
    _assert_consistent(m, tmp_path)
    assert (m.framework, m.format, m.artifact, m.task) == ("lightgbm", "lightgbm", "model.lgb.txt", "regression")
    assert m.feature_names == list(x.columns)  # the client's names, not LightGBM's
    assert m.holdout is None and m.training_data is None
    _close(model.predict(_frame(m, [s.input for s in m.samples]).set_axis(model.feature_name_, axis=1)),
           _expected(m))
    booster = lightgbm.Booster(model_file=str(m.artifact_path))
    _close(booster.predict(np.asarray(m.parity.rows, dtype=np.float64)), np.asarray(m.parity.outputs))


def test_lightgbm_multiclass_in_a_pipeline_is_skops_with_its_requirement(tmp_path: Path) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    iris = load_iris(as_frame=True)
    y = np.asarray(iris.target_names)[iris.target]
    model = make_pipeline(StandardScaler(), lightgbm.LGBMClassifier(n_estimators=5, random_state=0, n_jobs=1,
                                                                    verbose=-1)).fit(iris.data, y)
    m = save_model(model, tmp_path, example=iris.data, name="iris-lgb")
    assert (m.framework, m.format) == ("scikit-learn", "skops")
    assert set(m.requirements) == {"scikit-learn", "lightgbm"}
    _close(model.predict_proba(_frame(m, [s.input for s in m.samples])), _expected(m))
    with pytest.raises(Exception, match="refused"):
        skops_estimator(m.artifact_path.read_bytes())  # sklearn/numpy alone do not trust lightgbm's types
    skops_estimator(m.artifact_path.read_bytes(), trusted_prefixes(m.requirements))


@pytest.fixture(scope="module")
def mlflow_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """MLflow model directories, created with mlflow-skinny (only to create them: add-model reads MLmodel)."""
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    base = tmp_path_factory.mktemp("mlflow")
    x, y = _cancer(8)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    # pip_requirements given: else MLflow infers them by loading the model in a subprocess (slow)
    mlflow_sklearn.save_model(model, base / "skops", input_example=x.head(5), pip_requirements=["scikit-learn"])
    mlflow_sklearn.save_model(model, base / "cloudpickle", serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn"])
    x.assign(diagnosis=y).to_csv(base / "cancer.csv", index=False)
    return {"base": base, "model": model, "x": x}


def test_mlflow_sklearn_directory_with_its_input_example(mlflow_dirs: dict[str, Any], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cancer"
    code = main(["add-model", str(mlflow_dirs["base"] / "skops"), "--name", "cancer", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    m = load_manifest(out)
    _assert_consistent(m, out)
    assert (m.format, m.framework, m.task) == ("skops", "scikit-learn", "binary-classification")
    assert m.feature_names == list(mlflow_dirs["x"].columns)
    assert len(m.parity.rows) == 5  # the input example's rows
    assert "MLflow sklearn" in m.description
    _close(mlflow_dirs["model"].predict_proba(_frame(m, [s.input for s in m.samples]))[:, 1], _expected(m))


def test_mlflow_cloudpickle_directory_with_an_example_csv(mlflow_dirs: dict[str, Any], tmp_path: Path) -> None:
    said: list[str] = []
    m = add_model(mlflow_dirs["base"] / "cloudpickle", example=mlflow_dirs["base"] / "cancer.csv", name="cancer",
                  label="diagnosis", out=tmp_path, say=said.append)
    assert any("pickle" in s for s in said)
    assert m.format == "skops" and m.holdout.metric == "roc_auc" and len(m.parity.rows) == 250
    _close(mlflow_dirs["model"].predict_proba(_frame(m, [s.input for s in m.samples]))[:, 1], _expected(m))


def test_keras_softmax_model(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")  # on jax: tests/conftest.py
    iris = load_iris(as_frame=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)  # fixed weights instead of training: compiling a train step costs seconds
    model.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    m = save_model(model, tmp_path, example=iris.data.assign(species=iris.target), label="species", name="iris")
    _assert_consistent(m, tmp_path)
    assert (m.framework, m.format, m.task, m.classes) == ("keras", "keras", "multiclass-classification", (0, 1, 2))
    assert m.backend == keras.backend.backend() and "keras" in m.requirements
    got = keras.ops.convert_to_numpy(model(np.asarray(m.sample_rows(), dtype=np.float32), training=False))
    _close(got, _expected(m), 1e-6)
    model.save(tmp_path / "trained.keras")  # the same from a .keras file (loaded in safe mode)
    again = add_model(tmp_path / "trained.keras", example=iris.data, name="iris", out=tmp_path / "from-file")
    _close(_expected(again), _expected(m), 1e-6)


def test_skops_file_and_types_agree_with_the_function(tmp_path: Path) -> None:
    import skops.io

    from functions import schema as function_schema
    from smodels import manifest

    assert manifest.FEATURE_TYPES == function_schema.FEATURE_TYPES and manifest.TASKS == function_schema.TASKS
    model, x = _iris_model()
    skops.io.dump(model, tmp_path / "iris.skops")
    m = add_model(tmp_path / "iris.skops", example=x, name="iris", out=tmp_path / "out")
    assert m.format == "skops" and m.task == "multiclass-classification" and m.classes == (0, 1, 2)
    _close(model.predict_proba(_frame(m, [s.input for s in m.samples])), _expected(m))


# --- errors ----------------------------------------------------------------------------------------------


def _iris_model() -> tuple[LogisticRegression, pd.DataFrame]:
    x, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=500).fit(x, y), x


def test_unsupported_estimator(tmp_path: Path) -> None:
    from sklearn.cluster import KMeans

    x = load_iris(as_frame=True).data
    with pytest.raises(AddModelError) as exc:
        save_model(KMeans(n_clusters=2, n_init=1, random_state=0).fit(x), tmp_path, example=x, name="k")
    assert exc.value.field == "model" and "unsupported estimator" in str(exc.value)
    with pytest.raises(AddModelError, match="unsupported estimator"):
        save_model(object(), tmp_path, example=x, name="k")


def test_example_missing_a_column(tmp_path: Path) -> None:
    model, x = _iris_model()
    with pytest.raises(AddModelError) as exc:
        save_model(model, tmp_path, example=x.drop(columns="petal width (cm)"), name="iris")
    assert exc.value.field == "example" and exc.value.column == "petal width (cm)"
    assert "petal width (cm)" in str(exc.value)


def test_label_not_found(tmp_path: Path) -> None:
    model, x = _iris_model()
    with pytest.raises(AddModelError) as exc:
        save_model(model, tmp_path, example=x, label="species", name="iris")
    assert exc.value.field == "label" and "species" in str(exc.value)
    with pytest.raises(AddModelError) as exc:  # a label column whose values are not the model's classes
        save_model(model, tmp_path, example=x.assign(species="rose"), label="species", name="iris")
    assert exc.value.field == "label" and "'rose'" in str(exc.value)
    assert not (tmp_path / "model.json").exists()


def test_pickle_not_loadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x05this is not a pickle")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    code = main(["add-model", str(tmp_path / "broken.pkl"), "--example", str(tmp_path / "x.csv"), "--name", "x",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "artifact: cannot load the pickle" in err
    assert not (tmp_path / "out" / "model.json").exists()


def test_unknown_mlflow_flavor(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  pytorch:\n    model_data: data\n  python_function:\n"
                                      "    loader_module: mlflow.pytorch\n")
    with pytest.raises(AddModelError) as exc:
        add_model(tmp_path, example=None, name="torch", out=tmp_path / "out")
    assert exc.value.field == "flavor" and "pytorch" in str(exc.value)


def test_bad_name_unnamed_columns_and_strings_for_a_booster(tmp_path: Path) -> None:
    model, x = _iris_model()
    with pytest.raises(AddModelError) as exc:
        save_model(model, tmp_path, example=x, name="Iris Model")
    assert exc.value.field == "name"
    unnamed = LogisticRegression(max_iter=500).fit(x.to_numpy(), np.arange(len(x)) % 2)
    with pytest.raises(AddModelError, match="5.*--label"):
        save_model(unnamed, tmp_path, example=x.assign(target=1), name="iris")
    m = save_model(unnamed, tmp_path, example=x.assign(target=np.arange(len(x)) % 2), label="target", name="iris")
    assert m.feature_names == list(x.columns)  # a model without names takes the example's, in its order
    xgboost = pytest.importorskip("xgboost")
    frame, y = _shop()
    booster = xgboost.XGBClassifier(n_estimators=2).fit(frame[["spend €", "visits"]], y == "buys")
    with pytest.raises(AddModelError) as exc:
        save_model(booster, tmp_path, example=frame.assign(visits=frame["home city"]), name="x")
    assert exc.value.column == "visits" and "numeric matrix" in str(exc.value)


class Doubler(TransformerMixin, BaseEstimator):
    """A user's own transformer: its class is not scikit-learn's, so no safe format holds it."""

    def fit(self, x: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x, dtype=np.float64) * 2


def test_a_custom_transformer_is_refused(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    custom = make_pipeline(Doubler(), LogisticRegression(max_iter=500)).fit(x, y)
    with pytest.raises(AddModelError) as exc:
        save_model(custom, tmp_path, example=x, name="iris")
    assert exc.value.field == "model" and "Doubler" in str(exc.value)
    assert not (tmp_path / "model.json").exists()


def test_cli_is_registered() -> None:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert "add-model" in subparsers.choices


def test_the_pickle_path_is_never_needed_at_serving(tmp_path: Path) -> None:
    model, x = _iris_model()
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    said: list[str] = []
    m = add_model(tmp_path / "m.pkl", example=x, name="iris", out=tmp_path / "out", say=said.append)
    assert m.format == "skops" and m.artifact == "model.skops" and said[0].startswith("warning:")
