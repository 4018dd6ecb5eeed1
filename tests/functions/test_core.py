"""The serving core without an adapter: predictors per format, value/row parsing, settings, JSON parsing, echo."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fn_cases import BOOK, FEATURES

from functions import echo, predictors
from functions.app import ModelApp
from functions.http import ApiError, Request, check_content_type, parse_json_bytes
from functions.schema import Batch, ModelSchema
from functions.schema import parse_number as parse_value
from functions.settings import MisconfiguredError, Settings, read_env

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_ROW = np.array([[1.0] + [0.0] * 9])


def as_batch(rows: np.ndarray) -> Batch:
    """A numeric matrix as the parsed batch predictors take."""
    return Batch(np.asarray(rows, dtype=np.float64).tolist(), True)


def parse_rows(payload, features, max_rows):
    """The request parser on a numeric schema: (matrix, is_batch)."""
    batch = ModelSchema.simple(features).parse(payload, max_rows)
    return batch.matrix(), batch.is_batch


# -- predictors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,tol", [("skops", 1e-12), ("joblib", 1e-12), ("onnx64", 1e-12), ("onnx32", 1e-6)])
def test_sklearn_formats_match_predict_proba(models, name: str, tol: float) -> None:
    art = getattr(models, name)
    pred = predictors.load(art.data, art.fmt)
    rows = models.X[:2000]
    np.testing.assert_allclose(pred.predict(as_batch(rows)), models.clf.predict_proba(rows)[:, 1], rtol=0,
                               atol=tol)
    book = pred.predict(as_batch(BOOK_ROW))[0]
    assert abs(book - models.clf.predict_proba(BOOK_ROW)[0][1]) <= 1e-9 or name == "onnx32"


def test_onnx_input_dtype_follows_model(models) -> None:
    assert predictors.load(models.onnx64.data, "onnx").dtype is np.float64
    p32 = predictors.load(models.onnx32.data, "onnx")
    assert p32.dtype is np.float32 and p32.output_name == "probabilities"


def test_pickle_format(models) -> None:
    import pickle

    pred = predictors.load(pickle.dumps(models.clf), "pickle")
    assert pred.predict(as_batch(BOOK_ROW))[0] == models.clf.predict_proba(BOOK_ROW)[0][1]


def test_keras_format_matches_model(models) -> None:
    pred = predictors.load(models.keras.data, "keras")
    rows = models.X[:100]
    expected = np.asarray(models.keras_model.predict(rows.astype(np.float32), verbose=0))[:, 0]
    np.testing.assert_allclose(pred.predict(as_batch(rows)), expected, rtol=0, atol=1e-6)


def test_skops_refuses_foreign_types() -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    data = sio.dumps(FunctionTransformer(func=math.sqrt))
    assert any(not t.startswith(("sklearn.", "numpy.")) for t in sio.get_untrusted_types(data=data))
    with pytest.raises(predictors.PredictorError, match="refused: .*sqrt"):
        predictors.load(data, "skops")


@pytest.mark.parametrize("fmt,data", [("skops", b"junk"), ("onnx", b"junk"), ("keras", b"junk"),
                                      ("joblib", b"junk"), ("pickle", b"junk"), ("h5", b"")])
def test_broken_bytes_raise_predictor_error(fmt: str, data: bytes) -> None:
    with pytest.raises(predictors.PredictorError):
        predictors.load(data, fmt)


def test_app_probe_rejects_wrong_feature_count(models, tmp_path) -> None:
    settings = Settings(model_uri=models.skops.uri, model_sha256=models.skops.sha256, model_format="skops",
                        features=("a", "b", "c"))
    resp = ModelApp(settings).handle(Request("POST", b'{"a": 1, "b": 2, "c": 3}'))
    body = json.loads(resp.body_text())
    assert resp.status == 503 and "3 features" in body["error"]["message"]


@pytest.mark.slow
def test_onnx_package_does_not_import_sklearn(models, tmp_path) -> None:
    """Lazy imports: serving an ONNX model never imports scikit-learn; echo never imports numpy."""
    code = f"""
import json, os, sys
os.environ.update(MODEL_URI={models.onnx64.uri!r}, MODEL_SHA256={models.onnx64.sha256!r}, MODEL_FORMAT="onnx",
                  MODEL_FEATURES={json.dumps(FEATURES)!r})
from functions import aws
assert "numpy" not in sys.modules
assert aws.echo_handler({{"msg": "x"}}, None)["statusCode"] == 200
assert "numpy" not in sys.modules, "echo imported numpy"
out = aws.lambda_handler({json.dumps(BOOK)}, None)
assert out["statusCode"] == 200, out
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy", "skops", "keras", "torch", "jax",
             "pulumi", "smodels", "boto3", "flask", "pandas"))
assert not bad, bad
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(tmp_path), env={"PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr


# -- values, rows, settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [("1", 1.0), ("0", 0.0), (1, 1.0), (0.5, 0.5), ("-2.5e3", -2500.0),
                                            (".5", 0.5), ("3.", 3.0)])
def test_parse_value_accepts(value, expected) -> None:
    assert parse_value(value, "G1") == expected


@pytest.mark.parametrize("value", [True, False, None, "", " 1", "1 ", "nan", "inf", "-Infinity", "1_000", "0x10",
                                   "1e999", 10**400, float("nan"), float("inf"), [1], {"a": 1}, "١", "1\n", "1" * 101])
def test_parse_value_rejects(value) -> None:
    with pytest.raises(ApiError) as err:
        parse_value(value, "G7")
    assert err.value.status == 400 and err.value.field == "G7"


def test_parse_rows_single_and_batch() -> None:
    rows, batch = parse_rows(dict(BOOK), tuple(FEATURES), 10)
    assert not batch and rows.tolist() == [[1.0] + [0.0] * 9]
    rows, batch = parse_rows({"instances": [dict(BOOK), [0] * 10]}, tuple(FEATURES), 10)
    assert batch and rows.shape == (2, 10) and rows[0, 0] == 1 and rows[1].sum() == 0
    with pytest.raises(ApiError) as err:
        parse_rows({"instances": [[0] * 10] * 3}, tuple(FEATURES), 2)
    assert err.value.status == 413


def test_read_env_lists_every_problem() -> None:
    with pytest.raises(MisconfiguredError) as err:
        read_env({"MODEL_URI": "http://x/y", "MODEL_SHA256": "abc", "MODEL_FORMAT": "h5",
                           "MODEL_FEATURES": '["a", "a"]', "MAX_BATCH_ROWS": "0", "MODEL_TTL_SECONDS": "x"})
    msg = str(err.value)
    for name in ("MODEL_URI", "MODEL_SHA256", "MODEL_FORMAT", "MODEL_FEATURES", "MAX_BATCH_ROWS", "MODEL_TTL_SECONDS"):
        assert name in msg


def test_read_env_defaults() -> None:
    s = read_env({"MODEL_URI": "gs://b/k", "MODEL_SHA256": "A" * 64, "MODEL_FORMAT": "ONNX",
                           "MODEL_FEATURES": json.dumps(FEATURES), "MODEL_TTL_SECONDS": "0"})
    assert (s.model_sha256, s.model_format, s.ttl_seconds, s.max_batch_rows, s.max_body_bytes) == (
        "a" * 64, "onnx", 0.0, 1000, 1048576)


# -- JSON parsing -----------------------------------------------------------------------------------------

def test_depth_limit_counts_structure_not_strings() -> None:
    assert parse_json_bytes(b'{"instances": [[1, 2]], "s": "[[[[[[[[[[[[[[[[[["}')["s"].startswith("[[")
    with pytest.raises(ApiError, match="deeper"):
        parse_json_bytes(b"[" * 9 + b"]" * 9)
    assert parse_json_bytes(b"[" * 8 + b"]" * 8) == [[[[[[[[]]]]]]]]


def test_parse_json_edge_cases() -> None:
    assert parse_json_bytes('\ufeff{"a": 1}'.encode()) == {"a": 1}
    for bad in (b'{"a": 1} x', b"1" * 5000, b'{"a": "\\ud800"', b"   "):
        with pytest.raises(ApiError):
            parse_json_bytes(bad)
    with pytest.raises(ApiError) as err:
        parse_json_bytes(b"{}" + b" " * 11, max_bytes=12)
    assert err.value.status == 413


@pytest.mark.parametrize("ct,ok", [(None, True), ("application/json", True), ("Application/JSON; charset=utf-8",
                                   True), ("application/vnd.api+json", True), ("text/json", False),
                                   ("application/x-www-form-urlencoded", False), ("application/json; charset=utf-16",
                                   False)])
def test_content_type(ct: str | None, ok: bool) -> None:
    req = Request("POST", b"{}", {"content-type": ct} if ct else {})
    if ok:
        check_content_type(req)
    else:
        with pytest.raises(ApiError) as err:
            check_content_type(req)
        assert err.value.status == 415


# -- echo -------------------------------------------------------------------------------------------------

def test_echo_handle() -> None:
    resp = echo.handle(Request("POST", b'{"msg": "hi"}'))
    assert (resp.status, resp.body) == (200, {"response": "hi", "success": True})
    resp = echo.handle(Request("POST", b"{}"))
    assert resp.status == 400 and resp.body["error"]["field"] == "msg"



# -- archive module sets (DESIGN.md) ----------------------------------------------------------------------

ECHO_SET = ("__init__.py", "contract.py", "http.py", "apps.py", "echo.py")
MODEL_SET = ("__init__.py", "contract.py", "settings.py", "http.py", "apps.py", "schema.py", "store.py",
             "predictors.py", "model_cache.py", "app.py")


def _interpreters() -> list[str]:
    """This interpreter, plus CPython 3.13 from pyenv when it runs (the default Lambda/GCF target)."""
    import shutil

    found = [sys.executable]
    pyenv = shutil.which("pyenv")
    if pyenv:
        prefix = subprocess.run([pyenv, "prefix", "3.13.0"], capture_output=True, text=True).stdout.strip()
        cand = Path(prefix) / "bin" / "python3.13" if prefix else None
        if cand and cand.is_file() and subprocess.run([str(cand), "--version"], capture_output=True).returncode == 0:
            found.append(str(cand))
    return found


def _package(tmp: Path, modules: tuple[str, ...], adapter: str) -> Path:
    pkg = tmp / "functions"
    pkg.mkdir(parents=True)
    for name in (*modules, adapter):
        (pkg / name).write_bytes((REPO_ROOT / "functions" / name).read_bytes())
    return tmp


@pytest.mark.slow
@pytest.mark.parametrize("python", _interpreters(), ids=lambda p: Path(p).name)
@pytest.mark.parametrize("adapter", ["aws.py", "gcp.py"])
def test_echo_archive_runs_on_stdlib_alone(tmp_path, python: str, adapter: str) -> None:
    """An echo archive holds only __init__, http, echo + adapter, and runs with nothing but the stdlib
    (``-I``, the package alone on sys.path; flask is stood in by a minimal module for gcp)."""
    root = _package(tmp_path, ECHO_SET, adapter)
    (root / "flask.py").write_text(
        "class Response:\n"
        "    def __init__(self, body, status, headers, mimetype):\n"
        "        self.body, self.status, self.headers, self.mimetype = body, status, headers, mimetype\n")
    code = f"""
import io, json, sys
sys.path[:] = [{str(root)!r}] + [p for p in sys.path if "site-packages" not in p]
if {adapter!r} == "aws.py":
    from functions.aws import echo_handler
    out = echo_handler({{"msg": "hi"}}, None)
    assert out["statusCode"] == 200 and json.loads(out["body"]) == {{"response": "hi", "success": True}}, out
    out = echo_handler({{"nope": 1}}, None)
    assert out["statusCode"] == 400, out
else:
    from functions.gcp import echo
    class Req:
        method, path, content_length = "POST", "/", 13
        headers = {{"Content-Type": "application/json"}}
        stream = io.BytesIO(b'{{"msg": "hi"}}')
    resp = echo(Req())
    assert resp.status == 200 and json.loads(resp.body) == {{"response": "hi", "success": True}}, resp.body
assert "numpy" not in sys.modules
"""
    proc = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_model_archive_runs_without_echo(models, tmp_path) -> None:
    root = _package(tmp_path, MODEL_SET, "aws.py")
    code = f"""
import json, os, sys
sys.path.insert(0, {str(root)!r})
os.environ.update(MODEL_URI={models.onnx64.uri!r}, MODEL_SHA256={models.onnx64.sha256!r}, MODEL_FORMAT="onnx",
                  MODEL_FEATURES={json.dumps(FEATURES)!r})
from functions.aws import lambda_handler
out = lambda_handler({json.dumps(BOOK)}, None)
assert out["statusCode"] == 200, out
assert "functions.echo" not in sys.modules
"""
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("art,batch", [("onnx32", False), ("onnx32", True), ("keras", False)])
def test_float32_models_reject_values_they_cannot_hold(models, art: str, batch: bool) -> None:
    """1e39 is finite as float64 but inf as float32: a 400 naming the field, not a NaN prediction / 500."""
    a = getattr(models, art)
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES))
    row = dict(BOOK, G7="1e39")
    body = {"instances": [dict(BOOK), row]} if batch else row
    resp = ModelApp(settings).handle(Request("POST", json.dumps(body).encode()))
    assert resp.status == 400, resp.body
    assert resp.body["error"]["field"] == ("instances[1].G7" if batch else "G7")
    ok = ModelApp(settings).handle(Request("POST", json.dumps(dict(BOOK, G7="3e38")).encode()))
    assert ok.status == 200, ok.body


def test_float64_models_accept_large_finite_values(models) -> None:
    a = models.onnx64
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES))
    resp = ModelApp(settings).handle(Request("POST", json.dumps(dict(BOOK, G7=1e300)).encode()))
    assert resp.status == 200 and 0.0 <= resp.body["prediction"] <= 1.0


def test_json_checks_stay_linear() -> None:
    import time

    for body in (b"[" * 9 + b'"' + b'\\"' * 200_000, b"[" * 500_000, b'{"a": ' * 100_000):
        started = time.perf_counter()
        with pytest.raises(ApiError):
            parse_json_bytes(body, max_bytes=10**7)
        assert time.perf_counter() - started < 0.5


def test_non_finite_model_output_is_422(models) -> None:
    """A model that returns NaN for a valid row (a float32 overflow: inf - inf) gives 422 naming the row."""

    class NaNOnSecondRow:
        input_limit = None

        def predict(self, rows: np.ndarray) -> np.ndarray:
            out = np.full(len(rows), 0.5)
            out[1:] = np.nan
            return out

    a = models.skops
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES))
    app = ModelApp(settings, loader=lambda data: NaNOnSecondRow())
    resp = app.handle(Request("POST", json.dumps({"instances": [dict(BOOK), dict(BOOK)]}).encode()))
    assert resp.status == 422, resp.body
    assert resp.body["error"]["code"] == "non_finite_output" and resp.body["error"]["field"] == "instances[1]"
    assert app.handle(Request("POST", json.dumps({"instances": [dict(BOOK)]}).encode())).status == 200


@pytest.mark.parametrize("art", ["onnx32", "keras"])
def test_extreme_float32_inputs_are_never_500(models, art: str) -> None:
    a = getattr(models, art)
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES))
    app = ModelApp(settings)
    for sign in ("", "-"):
        row = {f: f"{sign}3.4e38" for f in FEATURES}
        resp = app.handle(Request("POST", json.dumps(row).encode()))
        assert resp.status in (200, 422), resp.body
        if resp.status == 200:
            assert 0.0 <= resp.body["prediction"] <= 1.0


def test_unexpected_exception_is_json_500_with_logged_traceback(models, capsys) -> None:
    class Exploding:
        input_limit = None

        def predict(self, rows: np.ndarray) -> np.ndarray:
            raise ZeroDivisionError("boom")

    a = models.skops
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES))
    resp = ModelApp(settings, loader=lambda data: Exploding()).handle(Request("POST", json.dumps(BOOK).encode()))
    assert resp.status == 500
    assert resp.body == {"success": False, "error": {"code": "internal", "field": None,
                                                     "message": "internal error; see the function's logs"}}
    logs = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    errors = [x for x in logs if x["event"] == "internal_error"]
    assert len(errors) == 1 and "ZeroDivisionError: boom" in errors[0]["traceback"]


# -- declared feature types -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "status"), [(1, 200), (0, 200), (1.0, 200), ("1", 200), ("0", 200), (-0.0, 200),
                                               (2, 400), (0.5, 400), ("1.0", 400), ("yes", 400), (True, 400),
                                               (None, 400), (1.7e308, 400), ([1], 400)])
def test_binary_features_take_only_0_or_1(models, value: Any, status: int) -> None:
    a = models.skops
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES),
                        feature_types=("binary",) * len(FEATURES))
    app = ModelApp(settings)
    single = app.handle(Request("POST", json.dumps({**BOOK, "G3": value}).encode()))
    batch = app.handle(Request("POST", json.dumps({"instances": [[0, 0, value] + [0] * 7]}).encode()))
    assert (single.status, batch.status) == (status, status), (single.body, batch.body)
    if status == 400:
        assert single.body["error"]["field"] == "G3" and batch.body["error"]["field"] == "instances[0][2]"


def test_numeric_features_take_any_finite_number(models) -> None:
    a = models.skops
    settings = Settings(model_uri=a.uri, model_sha256=a.sha256, model_format=a.fmt, features=tuple(FEATURES),
                        feature_types=("numeric",) * len(FEATURES))
    assert ModelApp(settings).handle(Request("POST", json.dumps({**BOOK, "G3": 2.5}).encode())).status == 200


def test_feature_types_must_match_the_features() -> None:
    env = {"MODEL_URI": "gs://b/k", "MODEL_SHA256": "a" * 64, "MODEL_FORMAT": "onnx",
           "MODEL_FEATURES": json.dumps(FEATURES)}
    assert read_env({**env, "MODEL_FEATURE_TYPES": json.dumps(["binary"] * 10)}).feature_types == ("binary",) * 10
    for bad in (json.dumps(["binary"] * 9), json.dumps(["flag"] * 10), "binary"):
        with pytest.raises(MisconfiguredError, match="MODEL_FEATURE_TYPES"):
            read_env({**env, "MODEL_FEATURE_TYPES": bad})


def test_an_empty_model_schema_variable_is_misconfigured_not_a_500() -> None:
    env = {"MODEL_URI": "gs://b/k", "MODEL_SHA256": "a" * 64, "MODEL_FORMAT": "onnx", "MODEL_SCHEMA": " "}
    with pytest.raises(MisconfiguredError, match="MODEL_SCHEMA"):
        read_env(env)
