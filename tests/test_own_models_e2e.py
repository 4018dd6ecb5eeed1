"""A data scientist's own models, end to end: a file, one `smodels add-model` each, the stack config, and the
local stack (`smodels serve`: Lambda under awslambdaric behind the API Gateway front, Cloud Functions under
functions-framework). Every answer equals the native model's; every invalid input gets its 400 naming the
field on both clouds; nothing answers 500.

The zoo (tests/zoo.py) is trained here on data that ships with scikit-learn or is generated: a regressor, a
multiclass classifier with string labels, a pipeline over categorical string columns whose names have spaces
and non-ASCII characters, an XGBoost and a LightGBM model, and an MLflow model directory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zoo
from local_servers import post_json

from smodels.cli import main as smodels_main
from smodels.config import load_stack_config
from smodels.manifest import load_manifest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
TOL = 1e-5


def _mlflow_model(root: Path) -> zoo.ZooModel:
    """A RandomForest regressor saved as an MLflow model directory (sklearn flavor, signature, input example)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import make_regression
    from sklearn.ensemble import RandomForestRegressor

    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    model = RandomForestRegressor(n_estimators=15, max_depth=5, random_state=0).fit(frame, y)
    path = root / "mlflow-forest"
    # cloudpickle, as most MLflow runs log it; pip_requirements given, so MLflow does not infer them in a subprocess
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(frame, model.predict(frame)),
                              input_example=frame.head(5), serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn"])
    return zoo.ZooModel("zoo-forest", model, frame.assign(target=y), "target", "regression")


@pytest.fixture(scope="module")
def zoo_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[zoo.ZooModel, Path]]:
    """Every zoo model turned into an endpoint directory by one `smodels add-model` each."""
    import joblib

    root = tmp_path_factory.mktemp("zoo")
    out: dict[str, tuple[zoo.ZooModel, Path]] = {}
    for key, make in zoo.ZOO.items():
        z = make()
        artifact = root / f"{z.name}.joblib"
        joblib.dump(z.model, artifact)
        csv = root / f"{z.name}.csv"
        z.example.to_csv(csv, index=False)
        model_dir = root / "models" / z.name
        assert smodels_main(["add-model", str(artifact), "--example", str(csv), "--name", z.name,
                             "--label", z.label, "--out", str(model_dir)]) == 0
        out[key] = (z, model_dir)
    z = _mlflow_model(root)
    model_dir = root / "models" / z.name
    assert smodels_main(["add-model", str(root / "mlflow-forest"), "--name", z.name, "--out", str(model_dir)]) == 0
    out["mlflow"] = (z, model_dir)
    return out


@pytest.fixture(scope="module")
def stack(zoo_models: dict[str, tuple[zoo.ZooModel, Path]], tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[dict[tuple[str, str], str]]:
    """The local stack with one endpoint per zoo model on both clouds (runtime auto); URLs by (cloud, key)."""
    from smodels.local.stack import LocalStack

    endpoints = {key: {"model": str(path), "memory": 512} for key, (_, path) in zoo_models.items()}
    cfg = load_stack_config({"serverless-models:clouds": json.dumps(["aws", "gcp"]),
                             "serverless-models:endpoints": json.dumps(endpoints)}, REPO)
    run = tmp_path_factory.mktemp("zoo-stack")
    with LocalStack(cfg, stack="zoo", port=0, run_dir=run / "run", build_dir=REPO / ".build") as s:
        yield {(ep.cloud, ep.name): ep.url for ep in s.endpoints}


def _post(url: str, payload: Any) -> tuple[int, dict[str, Any]]:
    return post_json(url, payload, timeout=60)


def _jsonable(value: Any) -> Any:
    """A DataFrame cell as a client sends it: NaN becomes null, numpy scalars plain numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _rows(z: zoo.ZooModel, n: int = 12) -> pd.DataFrame:
    return z.features.iloc[np.linspace(0, len(z.features) - 1, n).astype(int)]


def _native(z: zoo.ZooModel, rows: pd.DataFrame) -> list[Any]:
    """What the native model answers, in the endpoint's contract (value, P(classes[1]), or label + probabilities)."""
    if z.task == "regression":
        return z.model.predict(rows).tolist()
    return z.model.predict_proba(rows).tolist()


CLOUDS = ("aws", "gcp")
KEYS = (*zoo.ZOO, "mlflow")


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("key", KEYS)
def test_answers_equal_the_native_model(stack, zoo_models, cloud: str, key: str) -> None:
    z, model_dir = zoo_models[key]
    manifest = load_manifest(model_dir)
    classes = [str(c) for c in getattr(z.model, "classes_", [])]
    rows = _rows(z)
    expected = _native(z, rows)
    instances = [{c: _jsonable(v) for c, v in row.items()} for _, row in rows.iterrows()]
    status, body = _post(stack[(cloud, key)], {"instances": instances})
    assert status == 200, body
    assert body["model"]["version"]
    if z.task == "regression":
        scale = max(1.0, max(abs(v) for v in expected))
        assert max(abs(a - b) for a, b in zip(body["predictions"], expected, strict=True)) <= TOL * scale
    elif z.task == "binary-classification":
        got = body["predictions"]
        assert max(abs(a - b[1]) for a, b in zip(got, expected, strict=True)) <= TOL
        assert [list(m) for m in body["probabilities"]] == [classes] * len(got)
    else:
        for m, exp in zip(body["probabilities"], expected, strict=True):
            assert list(m) == classes
            assert max(abs(m[c] - p) for c, p in zip(classes, exp, strict=True)) <= TOL
        labels = [classes[int(np.argmax(p))] for p in expected]
        assert [str(p) for p in body["predictions"]] == labels
    # One row, the single-row contract.
    status, one = _post(stack[(cloud, key)], instances[0])
    assert status == 200, one
    if z.task == "multiclass-classification":
        assert str(one["prediction"]) == labels[0] and set(one["probabilities"]) == set(classes)
    elif z.task == "binary-classification":
        assert abs(one["prediction"] - expected[0][1]) <= TOL and str(one["label"]) in classes
        assert one["response"] == str(one["prediction"])
    assert manifest.name == z.name


def _invalid_cases(z: zoo.ZooModel, manifest: Any) -> list[tuple[str, dict[str, Any], str, str]]:
    """(what, row, expected code, expected field) for every kind of mistake this model's schema can show."""
    good = {c: _jsonable(v) for c, v in z.features.iloc[0].items()}
    feats = {f.name: f for f in manifest.features}
    first = next(iter(feats))
    cases = [
        ("missing feature", {k: v for k, v in good.items() if k != first}, "missing_feature", first),
        ("unknown feature", {**good, "nope": 1}, "unknown_feature", "nope"),
    ]
    for f in feats.values():
        if f.type in ("numeric", "integer"):
            cases.append(("string for a number", {**good, f.name: "abc"}, "invalid_value", f.name))
            cases.append(("non-finite number", {**good, f.name: "1e999"}, "invalid_value", f.name))
            if not f.nullable:
                cases.append(("null where not nullable", {**good, f.name: None}, "invalid_value", f.name))
            break
    for f in feats.values():
        if f.type == "binary":
            cases.append(("binary not 0/1", {**good, f.name: 2}, "invalid_value", f.name))
            break
    for f in feats.values():
        if f.type == "categorical" and not f.ignore_unknown:
            cases.append(("unseen category", {**good, f.name: "never-seen"}, "unknown_category", f.name))
        if f.type == "categorical":
            cases.append(("number for a category", {**good, f.name: 3}, "invalid_value", f.name))
    return cases


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("key", KEYS)
def test_invalid_inputs_get_400_naming_the_field(stack, zoo_models, cloud: str, key: str) -> None:
    z, model_dir = zoo_models[key]
    manifest = load_manifest(model_dir)
    for what, row, code, field in _invalid_cases(z, manifest):
        status, body = _post(stack[(cloud, key)], row)
        assert status == 400, (what, body)
        assert (body["error"]["code"], body["error"]["field"]) == (code, field), (what, body)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_unseen_category_is_answered_as_the_native_model_does(stack, zoo_models, cloud: str) -> None:
    """The pipeline's OneHotEncoder ignores unknown categories: the endpoint answers as the model would."""
    z, _ = zoo_models["categorical"]
    row = z.features.iloc[[3]].copy()
    row["home city"] = "Reykjavík"
    status, body = _post(stack[(cloud, "categorical")], {c: _jsonable(v) for c, v in row.iloc[0].items()})
    assert status == 200, body
    assert abs(body["prediction"] - z.model.predict_proba(row)[0][1]) <= TOL
