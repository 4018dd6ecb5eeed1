"""The Open Inference Protocol and MLflow scoring readers: each body shape clients send becomes the rows today's
parser takes, the envelope's mistakes are named, and the parser's own errors are restated for the tensor or column
they came from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions import mlflow_scoring, oip
from functions.http import ApiError
from functions.schema import ModelSchema

BOOK = ModelSchema.simple([f"G{i}" for i in range(1, 11)], ["binary"] * 10)
MIXED = ModelSchema.from_json({"task": "multiclass-classification", "classes": ["a", "b", "c"], "features": [
    {"name": "x", "type": "numeric"}, {"name": "color", "type": "categorical", "categories": ["red", "blue"]},
    {"name": "ok", "type": "boolean"}, {"name": "n", "type": "integer", "nullable": True}]})
ROW = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def rows_of(schema: ModelSchema, payload: dict[str, Any]) -> list[list[Any]]:
    return schema.parse(payload, 100).rows


def matrix(data: Any, shape: list[int], datatype: str = "FP64", name: str = "input-0") -> dict[str, Any]:
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


# --- OIP ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,want", [
    ("/v2/models/pred", ("model", "pred", None, "")),
    ("/v2/models/pred/ready", ("model", "pred", None, "ready")),
    ("/v2/models/pred/infer", ("model", "pred", None, "infer")),
    ("/v2/models/pred/versions/abc/infer", ("model", "pred", "abc", "infer")),
    ("/stage/v2/models/pred/infer/", ("model", "pred", None, "infer")),
    ("/v2/health/live", ("health", "live", None, "")),
    ("/v2/health/ready", ("health", "ready", None, "")),
])
def test_oip_routes(path: str, want: tuple) -> None:
    r = oip.route(path)
    assert r is not None
    kind, name, version, action = want
    assert (r.health if kind == "health" else r.model) == name and r.version == version and r.action == action


@pytest.mark.parametrize("path", ["/", "/pred", "/pred/invocations", "/v2/models", "/v2/models/pred/explain",
                                  "/v3/models/pred", "/v2/health/started"])
def test_other_paths_are_not_oip(path: str) -> None:
    assert oip.route(path) is None


@pytest.mark.parametrize("body", [
    matrix(ROW, [1, 10]), matrix([ROW], [1, 10]), matrix([float(v) for v in ROW], [1, 10], "FP32"),
    matrix([bool(v) for v in ROW], [1, 10], "BOOL"),
    {"inputs": [{"name": f"G{i}", "shape": [1], "datatype": "INT64", "data": [v]} for i, v in enumerate(ROW, 1)]},
    {"inputs": [{"name": f"G{i}", "shape": [1, 1], "datatype": "INT32", "data": [[v]]}
                for i, v in reversed(list(enumerate(ROW, 1)))]},
])
def test_oip_tabular_shapes_give_the_books_row(body: dict) -> None:
    req = oip.parse_infer(body, {}, BOOK, 100)
    assert rows_of(BOOK, req.payload) == [[float(v) for v in ROW]]
    assert req.outputs == ("prediction", "label", "probabilities") and req.id is None


def test_oip_per_feature_tensors_with_categories_and_nulls() -> None:
    body = {"id": "r-1", "inputs": [
        {"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
        {"name": "x", "shape": [2], "datatype": "FP64", "data": [0.5, -2]},
        {"name": "ok", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        {"name": "n", "shape": [2], "datatype": "INT64", "data": [3, None]}],
        "outputs": [{"name": "probabilities"}]}
    req = oip.parse_infer(body, {}, MIXED, 100)
    rows = rows_of(MIXED, req.payload)
    assert rows[0] == [0.5, "red", 1.0, 3.0] and rows[1][:3] == [-2.0, "blue", 0.0] and rows[1][3] != rows[1][3]
    assert req.id == "r-1" and req.outputs == ("probabilities",)


@pytest.mark.parametrize("body,status,field,words", [
    (matrix(ROW, [1, 9]), 400, "inputs[0].data", "holds 9 values"),
    (matrix(ROW[:9], [1, 9]), 400, "inputs[0].shape", "[N, 10]"),
    (matrix(ROW, [10]), 400, "inputs[0].shape", "[N, 10]"),
    (matrix(["1"] * 10, [1, 10]), 400, "inputs[0].data[0]", "takes numbers, got str"),
    (matrix([True] * 10, [1, 10], "INT64"), 400, "inputs[0].data[0]", "got a boolean"),
    (matrix([1.5] + ROW[1:], [1, 10], "INT64"), 400, "inputs[0].data[0]", "takes integers"),
    (matrix(ROW, [1, 10], "FP8"), 400, "inputs[0].datatype", "not one of"),
    ({"inputs": [{"name": "G1", "shape": [1], "datatype": "INT64"}]}, 400, "inputs[0].data", "lacks 'data'"),
    ({"inputs": []}, 400, "inputs", "non-empty"),
    ({"instances": [ROW]}, 400, "instances", "unexpected field 'instances'"),
    ({"inputs": [{"name": f"G{i}", "shape": [1], "datatype": "INT64", "data": [0]} for i in range(1, 10)]},
     400, "inputs", "G10"),
    ({"inputs": [{"name": f"H{i}", "shape": [1], "datatype": "INT64", "data": [0]} for i in range(1, 11)]},
     400, "inputs[0].name", "not a feature"),
    (dict(matrix(ROW, [1, 10]), outputs=[{"name": "score"}]), 400, "outputs[0].name", "not an output"),
    (matrix(ROW * 101, [101, 10]), 413, "inputs[0].shape", "limit is 100"),
    (dict(matrix(ROW, [1, 10]), id=3), 400, "id", "string"),
    (dict(matrix(ROW, [1, 10]), input=[]), 400, "input", "unexpected field 'input'"),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "data": ROW, "dtype": "f"}]}, 400,
     "inputs[0].dtype", "unexpected field"),
    (dict(matrix(ROW, [1, 10]), outputs=[{"name": "label", "nme": 1}]), 400, "outputs[0].nme", "unexpected"),
    (dict(matrix(ROW, [1, 10]), parameters=[]), 400, "parameters", "object"),
])
def test_oip_envelope_mistakes_name_the_field(body: dict, status: int, field: str, words: str) -> None:
    with pytest.raises(ApiError) as err:
        oip.parse_infer(body, {}, BOOK, 100)
    assert err.value.status == status and err.value.field == field and words in err.value.message


def test_oip_value_errors_are_restated_for_the_tensor() -> None:
    req = oip.parse_infer(matrix([0] * 10 + [0, 2] + [0] * 8, [2, 10], "INT64"), {}, BOOK, 100)
    with pytest.raises(ApiError) as err:
        BOOK.parse(req.payload, 100)
    renamed = req.rename(err.value)
    assert renamed.field == "inputs[0].data[11]" and "row 1, feature G2" in renamed.message
    assert "binary feature" in renamed.message
    body = {"inputs": [{"name": n, "shape": [1], "datatype": d, "data": [v]} for n, d, v in
                       [("x", "FP64", 1), ("color", "BYTES", "green"), ("ok", "BOOL", True), ("n", "INT64", 1)]]}
    req = oip.parse_infer(body, {}, MIXED, 100)
    with pytest.raises(ApiError) as err:
        MIXED.parse(req.payload, 100)
    renamed = req.rename(err.value)
    assert renamed.field == "inputs[1].data[0]" and renamed.code == "unknown_category"


@pytest.mark.parametrize("body,headers", [
    (matrix(ROW, [1, 10]), {"inference-header-content-length": "120"}),
    ({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 80},
                  "data": ROW}]}, {}),
    (dict(matrix(ROW, [1, 10]), outputs=[{"name": "prediction", "parameters": {"binary_data": True}}]), {}),
    (dict(matrix(ROW, [1, 10]), parameters={"binary_data_output": True}), {}),
    (dict(matrix(ROW, [1, 10]), parameters={"binary_data_output": 0}), {}),
])
def test_oip_binary_extension_is_refused_clearly(body: dict, headers: dict) -> None:
    with pytest.raises(ApiError) as err:
        oip.parse_infer(body, headers, BOOK, 100)
    assert err.value.status == 400 and "binary tensor data extension is not supported" in err.value.message


def test_oip_metadata_and_answers_per_task() -> None:
    meta = oip.metadata(MIXED, "shop", "ab" * 32, "smodels-pure")
    assert [i["name"] for i in meta["inputs"]] == ["x", "color", "ok", "n"]
    assert [i["datatype"] for i in meta["inputs"]] == ["FP64", "BYTES", "BOOL", "INT64"]
    assert [o["name"] for o in meta["outputs"]] == ["prediction", "probabilities"]
    assert meta["outputs"][0]["datatype"] == "BYTES" and meta["versions"] == ["ab" * 32]
    req = oip.InferRequest({}, "q", ("prediction", "probabilities"), {})
    out = oip.infer_response(MIXED, [[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], req, "shop", "v1")
    assert out["id"] == "q" and out["model_name"] == "shop" and out["model_version"] == "v1"
    assert out["outputs"][0] == {"name": "prediction", "datatype": "BYTES", "shape": [2], "data": ["b", "a"]}
    assert out["outputs"][1]["shape"] == [2, 3] and out["outputs"][1]["data"] == [0.1, 0.7, 0.2, 0.5, 0.2, 0.3]
    assert out["outputs"][1]["parameters"] == {"classes": ["a", "b", "c"]}
    req = oip.InferRequest({}, None, oip.output_names(BOOK), {})
    out = oip.infer_response(BOOK, [0.25], req, "pred", "v")
    assert [(o["name"], o["datatype"], o["data"]) for o in out["outputs"]] == [
        ("prediction", "FP64", [0.25]), ("label", "INT64", [0]), ("probabilities", "FP64", [0.75, 0.25])]
    assert "id" not in out
    json.dumps(out, allow_nan=False)


# --- MLflow --------------------------------------------------------------------------------------------------


def test_invocations_paths() -> None:
    assert mlflow_scoring.is_invocations("/pred/invocations") and mlflow_scoring.is_invocations("/invocations/")
    assert not mlflow_scoring.is_invocations("/pred") and not mlflow_scoring.is_invocations("/invocationsx")
    assert mlflow_scoring.is_csv("text/csv; charset=utf-8") and not mlflow_scoring.is_csv("application/json")


NAMES = [f"G{i}" for i in range(1, 11)]


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": NAMES, "data": [ROW]}},
    {"dataframe_split": {"columns": list(reversed(NAMES)), "data": [list(reversed(ROW))], "index": [0]}},
    {"dataframe_records": [dict(zip(NAMES, ROW, strict=True))]},
    {"instances": [dict(zip(NAMES, ROW, strict=True))]},
    {"instances": [ROW]},
    {"inputs": {n: [v] for n, v in zip(NAMES, ROW, strict=True)}},
    {"inputs": [ROW], "params": {"threshold": 0.5}},
])
def test_mlflow_bodies_give_the_books_row(body: dict) -> None:
    inv = mlflow_scoring.parse_json(body, BOOK, 100)
    assert rows_of(BOOK, inv.payload) == [[float(v) for v in ROW]]


def test_mlflow_csv_with_a_header() -> None:
    text = "x,color,ok,n\n0.5,red,True,3\n-2,blue,false,\n"
    inv = mlflow_scoring.parse_csv(text.encode(), MIXED, 100)
    rows = rows_of(MIXED, inv.payload)
    assert rows[0] == [0.5, "red", 1.0, 3.0] and rows[1][:3] == [-2.0, "blue", 0.0] and rows[1][3] != rows[1][3]


@pytest.mark.parametrize("body,status,field", [
    ({}, 400, None),
    ({"dataframe_split": {"columns": NAMES, "data": [ROW]}, "instances": [ROW]}, 400, "instances"),
    ({"dataframe_split": {"columns": NAMES, "data": [ROW[:9]]}}, 400, "dataframe_split.data[0]"),
    ({"dataframe_split": {"columns": NAMES, "data": [ROW], "dtypes": {}}}, 400, "dataframe_split.dtypes"),
    ({"dataframe_records": [ROW]}, 400, "dataframe_records[0]"),
    ({"dataframe_split": {"data": [ROW]}}, 400, "dataframe_split.columns"),
    ({"inputs": {"G1": [1, 0], "G2": [0]}}, 400, "inputs"),
    ({"instances": [ROW] * 101}, 413, "instances"),
    ({"instances": [ROW], "extra": 1}, 400, "extra"),
    ([ROW], 400, None),
])
def test_mlflow_envelope_mistakes_name_the_field(body: Any, status: int, field: str | None) -> None:
    with pytest.raises(ApiError) as err:
        mlflow_scoring.parse_json(body, BOOK, 100)
    assert err.value.status == status and err.value.field == field


def test_mlflow_value_errors_are_restated_for_the_body() -> None:
    inv = mlflow_scoring.parse_json({"dataframe_split": {"columns": NAMES, "data": [ROW, [0, 2] + ROW[2:]]}},
                                    BOOK, 100)
    with pytest.raises(ApiError) as err:
        BOOK.parse(inv.payload, 100)
    assert inv.rename(err.value).field == "dataframe_split.data[1][1]"
    inv = mlflow_scoring.parse_json({"inputs": {n: [2 if n == "G3" else 0] for n in NAMES}}, BOOK, 100)
    with pytest.raises(ApiError) as err:
        BOOK.parse(inv.payload, 100)
    assert inv.rename(err.value).field == "inputs.G3[0]"
    inv = mlflow_scoring.parse_csv(b"G1\n1\n", BOOK, 100)
    with pytest.raises(ApiError) as err:
        BOOK.parse(inv.payload, 100)
    assert err.value.code == "missing_feature" and inv.rename(err.value).field.startswith("csv row 1")
