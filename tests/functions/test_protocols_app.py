"""The model app speaking OIP v2 and MLflow scoring beside the book's contract: the same model, the same checks,
answers equal to today's, errors in each protocol's shape, and today's paths unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fn_cases import BOOK, FEATURES

from functions import app as app_module
from functions.http import Request

ROW = [int(BOOK[f]) for f in FEATURES]


@pytest.fixture
def book(models, configure):
    configure(models.skops.uri, models.skops.sha256, "skops")
    return models


def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    resp = app_module.handle(Request(method, data, {"content-type": "application/json", **(headers or {})}, path))
    return resp.status, json.loads(resp.body_text())


def today(rows: list[list[int]]) -> dict[str, Any]:
    status, body = call("POST", "/pred", {"instances": rows})
    assert status == 200
    return body


def test_oip_metadata_ready_and_health(book) -> None:
    status, meta = call("GET", "/v2/models/pred")
    assert status == 200 and meta["name"] == "pred" and meta["versions"] == [book.skops.sha256]
    assert [i["name"] for i in meta["inputs"]] == FEATURES and {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert [o["name"] for o in meta["outputs"]] == ["prediction", "label", "probabilities"]
    assert call("GET", "/v2/models/pred/ready") == (200, {"name": "pred", "ready": True})
    assert call("GET", "/v2/health/live") == (200, {"live": True})
    assert call("GET", "/v2/health/ready") == (200, {"ready": True})
    status, body = call("GET", "/v2/models/other")
    assert status == 404 and "not served here" in body["error"] and set(body) == {"error"}
    status, body = call("GET", f"/v2/models/pred/versions/{'0' * 64}")
    assert status == 404 and book.skops.sha256 in body["error"]
    assert call("GET", f"/v2/models/pred/versions/{book.skops.sha256}")[0] == 200


def test_oip_infer_answers_equal_todays(book) -> None:
    rows = book.X[:5].astype(int).tolist()
    want = today(rows)
    body = {"id": "q1", "inputs": [{"name": "x", "shape": [5, 10], "datatype": "FP64",
                                    "data": [float(v) for r in rows for v in r]}]}
    status, out = call("POST", "/v2/models/pred/infer", body)
    assert status == 200 and out["id"] == "q1" and out["model_name"] == "pred"
    assert out["model_version"] == book.skops.sha256
    got = {o["name"]: o for o in out["outputs"]}
    assert got["prediction"]["data"] == want["predictions"] and got["prediction"]["shape"] == [5]
    assert got["label"]["data"] == [1 if p >= 0.5 else 0 for p in want["predictions"]]
    assert got["probabilities"]["data"] == [v for m in want["probabilities"] for v in (m["0"], m["1"])]
    per_feature = {"inputs": [{"name": f, "shape": [5], "datatype": "INT64", "data": [r[j] for r in rows]}
                              for j, f in enumerate(FEATURES)], "outputs": [{"name": "prediction"}]}
    status, out = call("POST", "/v2/models/pred/infer", per_feature)
    assert status == 200 and [o["name"] for o in out["outputs"]] == ["prediction"]
    assert out["outputs"][0]["data"] == want["predictions"]


def test_oip_errors_are_its_shape_and_name_the_field(book, capsys) -> None:
    bad = {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "INT64", "data": [0, None] + ROW[2:]}]}
    status, body = call("POST", "/v2/models/pred/infer", bad)
    assert status == 400 and set(body) == {"error"} and "inputs[0].data[1] (row 0, feature G2)" in body["error"]
    assert "must not be null" in body["error"]
    status, body = call("POST", "/v2/models/pred/infer", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = call("GET", "/v2/models/pred/infer")
    assert status == 405 and set(body) == {"error"}
    status, body = call("POST", "/v2/models/pred/infer", {"inputs": bad["inputs"]},
                        {"inference-header-content-length": "10"})
    assert status == 400 and "binary tensor" in body["error"]
    failed = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"request_failed"' in x]
    assert len(failed) == 4 and {f["status"] for f in failed} == {400, 405}


def test_mlflow_invocations_answer_in_the_batch_contract(book) -> None:
    rows = book.X[:4].astype(int).tolist()
    want = today(rows)
    split = {"dataframe_split": {"columns": FEATURES, "data": rows, "index": [0, 1, 2, 3]}}
    records = {"dataframe_records": [dict(zip(FEATURES, r, strict=True)) for r in rows]}
    columns = {"inputs": {f: [r[j] for r in rows] for j, f in enumerate(FEATURES)}}
    for body in (split, records, columns, {"instances": rows}):
        status, out = call("POST", "/pred/invocations", body)
        assert status == 200 and out == want, body
    csv = ",".join(FEATURES) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    status, out = call("POST", "/pred/invocations", raw=csv.encode(), headers={"content-type": "text/csv"})
    assert status == 200 and out == want
    bad = {"dataframe_split": {"columns": FEATURES, "data": [[0, "x"] + ROW[2:]]}}
    status, out = call("POST", "/pred/invocations", bad)
    assert status == 400 and out["error"]["field"] == "dataframe_split.data[0][1]" and out["success"] is False
    assert call("GET", "/pred/invocations")[0] == 405


def test_todays_contract_is_unchanged_on_its_paths(book) -> None:
    for path in ("/pred", "/", "/pred/"):
        status, body = call("POST", path, dict(BOOK))
        assert status == 200 and body["prediction"] == pytest.approx(0.06745113592634559, abs=1e-9)
        assert call("GET", path)[1]["endpoint"] == "pred"
