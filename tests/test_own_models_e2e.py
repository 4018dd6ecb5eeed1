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
    endpoints["book"] = {"model": str(REPO / "models" / "logreg")}  # the book's model, for the protocol clients
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


# --- the protocols model clients already speak: Triton's OIP client, MLflow's scoring bodies -------------------


def _triton(url: str) -> Any:
    """tritonclient's HTTP client on the endpoint's OIP base, signing every request for the private local stack
    (SigV4 covers the body, and a tritonclient plugin sees only the headers: the client's two send methods sign)."""
    import tritonclient.http as httpclient

    from smodels.client import sign_for_local

    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url  # the AWS API's root / the function's origin

    class Signed(httpclient.InferenceServerClient):
        def _get(self, request_uri: str, headers: Any, query_params: Any) -> Any:
            signed = sign_for_local("GET", f"{base}/{request_uri}", b"", headers or {})
            return super()._get(request_uri, signed, query_params)

        def _post(self, request_uri: str, request_body: Any, headers: Any, query_params: Any) -> Any:
            body = request_body if isinstance(request_body, bytes) else str(request_body).encode()
            signed = sign_for_local("POST", f"{base}/{request_uri}", body, headers or {})
            return super()._post(request_uri, request_body, signed, query_params)

    return Signed(url=base.split("://", 1)[1], network_timeout=60.0, connection_timeout=60.0)


def _oip_inputs(z: zoo.ZooModel | None, rows: pd.DataFrame, manifest: Any) -> list[Any]:
    """One tensor per feature (MLServer's pandas codec): BYTES for a category, FP64 for a number."""
    import tritonclient.http as httpclient

    inputs = []
    for f in manifest.features:
        column = rows[f.name].to_numpy()
        if f.type == "categorical":
            t = httpclient.InferInput(f.name, [len(rows)], "BYTES")
            t.set_data_from_numpy(column.astype(object), binary_data=False)
        else:
            t = httpclient.InferInput(f.name, [len(rows)], "FP64")
            t.set_data_from_numpy(column.astype(np.float64), binary_data=False)
        inputs.append(t)
    return inputs


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("key", ["book", "multiclass", "categorical"])
def test_triton_client_metadata_ready_and_infer_equal_todays_answers(stack, zoo_models, data_csv, cloud: str,
                                                                      key: str) -> None:
    import tritonclient.http as httpclient

    url = stack[(cloud, key)]
    model_dir = REPO / "models" / "logreg" if key == "book" else zoo_models[key][1]
    manifest = load_manifest(model_dir)
    if key == "book":
        frame = pd.read_csv(data_csv).head(200)
        rows = frame[list(manifest.feature_names)].iloc[::20]
    else:
        rows = _rows(zoo_models[key][0]).dropna()
    client = _triton(url)
    assert client.is_model_ready(key)
    meta = client.get_model_metadata(key)
    assert meta["name"] == key and [i["name"] for i in meta["inputs"]] == list(manifest.feature_names)
    outputs = [httpclient.InferRequestedOutput(o["name"], binary_data=False) for o in meta["outputs"]]
    result = client.infer(key, _oip_inputs(None, rows, manifest), outputs=outputs, request_id="r-7")
    answer = result.get_response()
    assert answer["id"] == "r-7" and answer["model_name"] == key
    instances = [{c: _jsonable(v) for c, v in row.items()} for _, row in rows.iterrows()]
    status, today = _post(url, {"instances": instances})
    assert status == 200, today
    assert answer["model_version"] == today["model"]["version"]
    probabilities = result.as_numpy("probabilities")
    classes = list(today["probabilities"][0])
    assert probabilities.shape == (len(rows), len(classes))
    assert probabilities.tolist() == [[m[c] for c in classes] for m in today["probabilities"]]
    prediction = result.as_numpy("prediction").tolist()
    if manifest.task == "multiclass-classification":
        assert [p.decode() if isinstance(p, bytes) else str(p) for p in prediction] == [str(p) for p in
                                                                                          today["predictions"]]
    else:
        assert prediction == today["predictions"]
    # One [N, F] tensor in feature order: the same answers (numbers only: the book's flags).
    if key == "book":
        matrix = httpclient.InferInput("input-0", [len(rows), len(manifest.feature_names)], "FP64")
        matrix.set_data_from_numpy(rows.to_numpy(np.float64), binary_data=False)
        again = client.infer(key, [matrix], outputs=outputs[:1])
        assert again.as_numpy("prediction").tolist() == today["predictions"]


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("key", ["book", "categorical"])
def test_mlflow_scoring_bodies_as_mlflows_client_writes_them(stack, zoo_models, data_csv, cloud: str,
                                                              key: str) -> None:
    """pandas' split / records bodies, as mlflow's scoring client sends them, and the body mlflow itself writes
    for a DataFrame (`convert_input_example_to_serving_input`), answered as today's batch."""
    url = stack[(cloud, key)]
    if key == "book":
        rows = pd.read_csv(data_csv).head(50)
        rows = rows[list(load_manifest(REPO / "models" / "logreg").feature_names)].iloc[::10]
    else:
        rows = _rows(zoo_models[key][0]).dropna()
    instances = [{c: _jsonable(v) for c, v in row.items()} for _, row in rows.iterrows()]
    status, today = _post(url, {"instances": instances})
    assert status == 200
    split = json.loads(rows.to_json(orient="split"))
    records = json.loads(rows.to_json(orient="records"))
    from mlflow.models.utils import convert_input_example_to_serving_input

    mlflows_own = json.loads(convert_input_example_to_serving_input(rows))  # what `mlflow models` tooling writes
    assert set(mlflows_own) == {"dataframe_split"}
    for body in ({"dataframe_split": split}, {"dataframe_records": records}, mlflows_own):
        status, answer = _post(f"{url}/invocations", body)
        assert status == 200 and answer == today, body
