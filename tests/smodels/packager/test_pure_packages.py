"""Runtime pure: every zoo model and the book's two compiled to a plain-data program, checked against the native
model; auto's choice and reason; the built package (no numpy, nothing compiled) answering the book's request under
python3.13 -I with only the package on the path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from build_support import BOOK_PROBABILITY, BOOK_REQUEST, options, run_lambda, stack

import smodels.packager.model as model_mod
from functions import predictors
from smodels.packager import build_function, prepare_model, requirements_for
from smodels.packager.model import (
    PARITY_TOLERANCE,
    PURE_TOLERANCE,
    _schema,
    parity_data,
    program_precision,
)

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))
import zoo  # noqa: E402
from on_first_use import needs  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _zoo_libraries() -> Iterator[None]:
    yield from needs("onnxmltools", "xgboost", "lightgbm")


@pytest.fixture(scope="module")
def zoo_dirs(tmp_path_factory) -> dict[str, Path]:
    """Every zoo model as an endpoint directory (`smodels add-model`)."""
    import joblib

    from smodels.cli import main

    root = tmp_path_factory.mktemp("pure-zoo")
    out = {}
    for key, make in zoo.ZOO.items():
        z = make()
        artifact, csv = root / f"{z.name}.joblib", root / f"{z.name}.csv"
        joblib.dump(z.model, artifact)
        z.example.to_csv(csv, index=False)
        assert main(["add-model", str(artifact), "--example", str(csv), "--name", z.name, "--label", z.label,
                     "--out", str(root / z.name)]) == 0
        out[key] = root / z.name
    return out


def _native_vs_pure(model_dir: Path, build_dir: Path) -> tuple[float, float, object]:
    """(max difference of the pure program to the native model on the parity rows and samples, its tolerance, the
    artifact); regression relative to max(1, max |output|)."""
    art = prepare_model(model_dir, "pure", build_dir)
    manifest = art.manifest
    schema = _schema(manifest)
    data = parity_data(manifest, schema)
    got = np.asarray(predictors.load(art.path.read_bytes(), "pure", schema).predict(data.batch), dtype=np.float64)
    if manifest.format == "keras":
        native = data.expected  # the manifest's outputs are the Keras model's own
    else:
        native = np.asarray(predictors.load(manifest.artifact_path.read_bytes(), manifest.format, schema)
                            .predict(data.batch), dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(native)))) if schema.task == "regression" else 1.0
    tol = PURE_TOLERANCE if program_precision(art.path.read_bytes()) == "float64" else PARITY_TOLERANCE
    return float(np.max(np.abs(got - native))) / scale, tol, art


@pytest.mark.parametrize("key", list(zoo.ZOO))
def test_every_zoo_model_runs_pure_within_its_tolerance(zoo_dirs, build_dir, key) -> None:
    gap, tol, art = _native_vs_pure(zoo_dirs[key], build_dir)
    assert art.runtime == "pure" and art.format == "pure"
    assert gap <= tol, (key, gap)
    assert "compiled to a pure program" in art.conversion
    assert art.runtime_reason.startswith("forced: parity ") and " operations per row" in art.runtime_reason


def test_the_book_models_run_pure(logreg_dir, keras_dir, build_dir) -> None:
    gap, tol, art = _native_vs_pure(logreg_dir, build_dir)
    assert tol == PURE_TOLERANCE and gap <= 1e-12
    gap, tol, art = _native_vs_pure(keras_dir, build_dir)
    assert tol == PARITY_TOLERANCE and gap <= tol  # a float32 graph: about 1e-7
    assert "(float32 graph: ONNX tolerance 1e-05)" in art.runtime_reason


def test_auto_sends_the_book_logistic_regression_to_pure(logreg_dir, build_dir) -> None:
    art = prepare_model(logreg_dir, "auto", build_dir)
    assert art.runtime == "pure"
    assert art.runtime_reason.startswith("auto: parity ")
    work, pure_us, onnx_us = _weighed(art.runtime_reason)
    assert work == 12  # MatMul of 10 weights, the bias, the sigmoid: estimated from the program, on every machine
    assert (pure_us, onnx_us) == tuple(round(x) for x in model_mod.warm_estimates(work))
    assert pure_us <= model_mod.PURE_MAX_RATIO * onnx_us
    schema = _schema(art.manifest)
    out = predictors.load(art.path.read_bytes(), "pure", schema).predict(schema.parse(BOOK_REQUEST, 1))
    assert out == [pytest.approx(BOOK_PROBABILITY, abs=1e-12)]
    # deterministic bytes, pinned by sha256
    again = prepare_model(logreg_dir, "pure", build_dir)
    assert again.sha256 == art.sha256 and art.key.endswith(f"/{art.sha256}.json")
    json.loads(art.path.read_bytes())


def test_onnx_and_native_stay_forceable(logreg_dir, build_dir) -> None:
    assert prepare_model(logreg_dir, "onnx", build_dir).runtime == "onnx"
    assert prepare_model(logreg_dir, "native", build_dir).runtime == "native"


def test_a_pure_package_needs_no_pins(logreg_dir) -> None:
    from smodels.manifest import load_manifest

    manifest = load_manifest(logreg_dir)
    assert requirements_for("aws", "model", "pure", manifest).pins == ()
    (gcp,) = requirements_for("gcp", "model", "pure", manifest).pins
    assert gcp.startswith("functions-framework==")


@pytest.mark.slow
@pytest.mark.target
def test_the_pure_package_answers_the_book_request_under_python313(logreg_dir, build_dir, py313) -> None:
    cfg = stack({"pred": {"model": logreg_dir}})
    build = build_function(cfg, cfg.endpoints[0], "aws", options(build_dir))
    assert build.runtime == "pure" and build.requirements == ()
    with zipfile.ZipFile(build.archive) as zf:
        names = zf.namelist()
        assert "functions/pure/program.py" in names and not any("numpy" in n for n in names)
    assert build.unzipped_bytes + build.model.size_bytes < 1_000_000
    (out,) = run_lambda(py313, build.archive, build.model, [BOOK_REQUEST])
    body = json.loads(out["body"])
    assert out["statusCode"] == 200, body
    assert body["prediction"] == pytest.approx(BOOK_PROBABILITY, abs=1e-12)


@pytest.mark.slow
@pytest.mark.target
def test_the_pure_package_imports_no_numpy_under_python313(logreg_dir, build_dir, py313, tmp_path) -> None:
    cfg = stack({"pred": {"model": logreg_dir}})
    build = build_function(cfg, cfg.endpoints[0], "aws", options(build_dir))
    with zipfile.ZipFile(build.archive) as zf:
        zf.extractall(tmp_path)
    env = {"PATH": "/usr/bin:/bin", **{k: str(v) for k, v in
                                         build.function_env(build.model.path.resolve().as_uri(), 0).items()}}
    event = {"body": json.dumps({"instances": [BOOK_REQUEST, BOOK_REQUEST]}), "isBase64Encoded": False,
             "requestContext": {"http": {"method": "POST"}}, "headers": {"content-type": "application/json"}}
    code = (f"import sys, json; sys.path.insert(0, {str(tmp_path)!r})\n"
            "from functions.aws import lambda_handler as h\n"
            "print('RESULT ' + json.dumps(h(json.loads(sys.argv[1]), None)))\n"
            "print('NUMPY', 'numpy' in sys.modules)\n")
    res = subprocess.run([py313, "-I", "-c", code, json.dumps(event)], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    body = json.loads(json.loads(next(x[7:] for x in lines if x.startswith("RESULT ")))["body"])
    assert body["predictions"] == [pytest.approx(BOOK_PROBABILITY, abs=1e-12)] * 2
    assert "NUMPY False" in lines


def _weighed(reason: str) -> tuple[int, int, int]:
    """(operations per row, pure's and onnx's estimated warm request in us) as runtime_reason says them."""
    m = re.search(r"([\d,]+) operations per row \(estimated warm request: pure ([\d,]+) us, onnx ([\d,]+) us\)",
                  reason)
    assert m, reason
    return tuple(int(g.replace(",", "")) for g in m.groups())  # type: ignore[return-value]


def test_auto_weighs_the_book_keras_mlp_to_onnx(keras_dir, build_dir) -> None:
    """9,094 operations per row: pure's estimated warm request is several times onnx's, so auto serves onnx and
    says both estimates; `runtime: pure` still forces pure."""
    art = prepare_model(keras_dir, "auto", build_dir)
    assert art.runtime == "onnx" and art.format == "onnx", art.runtime_reason
    work, pure_us, onnx_us = _weighed(art.runtime_reason)
    assert work == 9094 and pure_us > model_mod.PURE_MAX_RATIO * onnx_us
    assert f"pure serves only within {model_mod.PURE_MAX_RATIO:g}x onnx's estimate" in art.runtime_reason
    forced = prepare_model(keras_dir, "pure", build_dir)
    assert forced.runtime == "pure" and forced.runtime_reason.startswith("forced: parity ")


def test_warm_estimates_are_monotonic_and_cross_once() -> None:
    """Pure's estimate grows faster than onnx's: below one work figure pure is within the ratio, above it not."""
    within = [model_mod.warm_estimates(w)[0] <= model_mod.PURE_MAX_RATIO * model_mod.warm_estimates(w)[1]
              for w in range(0, 5000, 50)]
    assert within[0] and not within[-1] and within == sorted(within, reverse=True)
