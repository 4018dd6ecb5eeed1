"""Runtime auto: ONNX where a model converts and reproduces its manifest, native otherwise, and each package carries
only what its model needs.

The models are trained here (scikit-learn's bundled data sets, or generated; single-threaded, seeded) and written
with `smodels.save_model`. Which runtime auto picks, and why:

| model                                                  | format   | auto   | why                                   |
|--------------------------------------------------------|----------|--------|---------------------------------------|
| GradientBoostingRegressor, diabetes (regression)       | skops    | onnx   | skl2onnx, double + float32 cast       |
| RandomForestClassifier, iris species as strings        | skops    | onnx   | skl2onnx, double + float32 cast       |
| Pipeline: OneHot/Ordinal/Imputer/Scaler + LR, columns  | skops    | onnx   | skl2onnx, one input per feature       |
|   "home city", "spend €" (strings, nulls)              |          |        | (float: the double graph fails in ORT)|
| XGBoost Booster, binary:logistic                       | xgboost  | onnx   | onnxmltools                           |
| LightGBM LGBMRegressor                                 | lightgbm | onnx   | onnxmltools                           |
| Pipeline: StandardScaler + XGBClassifier (multiclass)  | skops    | onnx   | skl2onnx + onnxmltools' converter     |
| HistGradientBoostingClassifier, a column with nulls    | skops    | onnx   | skl2onnx, NaN in one matrix input     |
| Pipeline: OneHotEncoder(min_frequency) + LR            | skops    | native | skl2onnx: infrequent categories       |

Tests that install real packages (uv, the package index) are marked slow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from build_support import options, stack
from on_first_use import OnFirstUse, needs

import smodels.packager.model as model_mod
from functions import predictors
from functions.schema import ModelSchema
from smodels.manifest import load_manifest
from smodels.packager import BuildError, build_function, prepare_model, requirements_for
from smodels.packager.builder import _onnx_refused
from smodels.packager.deps import PINS

xgboost = OnFirstUse("xgboost")
lightgbm = OnFirstUse("lightgbm")


@pytest.fixture(autouse=True, scope="module")
def _zoo_libraries() -> Iterator[None]:
    yield from needs("xgboost", "lightgbm", "onnxmltools")


TOL = 1e-5


def _quiet(_: str) -> None:
    pass


def _shop(n: int = 500, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "home city": rng.choice(["Zürich", "Köln", "São Paulo", "Oslo"], n, p=[0.4, 0.3, 0.27, 0.03]),
        "spend €": np.round(rng.gamma(2.0, 30.0, n), 2),
        "plan": rng.choice(["basic", "pro"], n),
        "months active": rng.integers(1, 40, n),
    })
    frame.loc[rng.random(n) < 0.08, "spend €"] = np.nan
    score = 0.02 * frame["spend €"].fillna(60) - 0.04 * frame["months active"] + (frame["plan"] == "pro")
    return frame, np.where(score + rng.normal(0, 0.5, n) > 0.6, "churn", "stay")


def _train() -> dict[str, tuple]:
    """name -> (model, example with label, label)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    out: dict[str, tuple] = {}
    diabetes = load_diabetes(as_frame=True)
    out["diabetes-gbr"] = (GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0)
                           .fit(diabetes.data, diabetes.target), diabetes.data.assign(y=diabetes.target), "y")
    iris = load_iris(as_frame=True)
    species = pd.Series(np.asarray(iris.target_names)[iris.target], name="species")
    out["iris-rf"] = (RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0, n_jobs=1)
                      .fit(iris.data, species), iris.data.assign(species=species), "species")
    frame, churn = _shop()
    pre = ColumnTransformer([
        ("city", OneHotEncoder(handle_unknown="ignore"), ["home city"]),
        ("plan", OrdinalEncoder(), ["plan"]),
        ("spend", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["spend €"]),
        ("months", StandardScaler(), ["months active"]),
    ])
    out["shop-churn"] = (Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(frame, churn),
                         frame.assign(outcome=churn), "outcome")
    cancer = load_breast_cancer(as_frame=True)
    x = cancer.data.iloc[:, :8]
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 0},
                            xgboost.DMatrix(x.to_numpy(), label=cancer.target.to_numpy()), num_boost_round=20)
    out["cancer-xgb"] = (booster, x.assign(malignant=cancer.target), "malignant")
    out["diabetes-lgbm"] = (lightgbm.LGBMRegressor(n_estimators=30, num_leaves=8, n_jobs=1, deterministic=True,
                                                   random_state=0, verbose=-1).fit(diabetes.data, diabetes.target),
                            diabetes.data.assign(y=diabetes.target), "y")
    out["iris-xgb-pipe"] = (make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=10, max_depth=3,
                                                                                  n_jobs=1, random_state=0))
                            .fit(iris.data, iris.target), iris.data.assign(species=iris.target), "species")
    holes = cancer.data.iloc[:, :6].copy()
    holes.iloc[::9, 1] = np.nan  # HistGradientBoosting learns where missing values go
    out["cancer-hgb-nan"] = (HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(holes, cancer.target),
                             holes.assign(malignant=cancer.target), "malignant")
    infrequent = ColumnTransformer([("city", OneHotEncoder(min_frequency=30, handle_unknown="infrequent_if_exist"),
                                     ["home city"]),
                                    ("num", SimpleImputer(strategy="median"), ["spend €", "months active"])])
    out["shop-infrequent"] = (Pipeline([("pre", infrequent), ("clf", LogisticRegression(max_iter=500))])
                              .fit(frame, churn), frame.assign(outcome=churn), "outcome")
    return out


EXPECTED = {  # name -> (runtime auto picks, what the reason or the conversion says)
    "diabetes-gbr": ("onnx", "double, float32 cast before the trees"),
    "iris-rf": ("onnx", "double, float32 cast before the trees"),
    "shop-churn": ("onnx", "one input per feature, float"),
    "cancer-xgb": ("onnx", "onnxmltools"),
    "diabetes-lgbm": ("onnx", "onnxmltools"),
    "iris-xgb-pipe": ("onnx", "float32 cast before the trees"),
    "cancer-hgb-nan": ("onnx", "one matrix input, double, float32 cast before the trees"),
    "shop-infrequent": ("native", "skl2onnx cannot convert Pipeline: Infrequent categories are not implemented"),
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, onnx_before_native) -> dict[str, tuple]:
    """name -> (manifest, model in memory, example frame without the label)."""
    from smodels import save_model

    root = tmp_path_factory.mktemp("zoo")
    out = {}
    for name, (model, example, label) in _train().items():
        manifest = save_model(model, root / name, example=example, label=label, name=name, say=_quiet)
        out[name] = (manifest, model, example.drop(columns=[label]))
    return out


@pytest.fixture(scope="module", autouse=True)
def onnx_before_native():
    """This module is about auto's ONNX step: pure (tried first by default) is tested in test_pure.py."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_mod, "AUTO_ORDER", ("onnx", "native"))
        yield


@pytest.fixture(scope="module")
def converted(zoo, tmp_path_factory, onnx_before_native) -> dict:
    out_dir = tmp_path_factory.mktemp("auto")
    return {name: prepare_model(m, "auto", out_dir) for name, (m, _, _) in zoo.items()}


def _schema(manifest) -> ModelSchema:
    return ModelSchema.from_json(manifest.input_schema())


def _probe_rows(manifest, frame: pd.DataFrame) -> list[list]:
    """The example's rows as a client sends them, plus rows the manifest does not hold: scaled numbers, and for
    each nullable feature a null, for each ignore-unknown category an unseen one."""
    schema = _schema(manifest)
    rows = [[None if isinstance(v, float) and np.isnan(v) else (v.item() if hasattr(v, "item") else v) for v in r]
            for r in frame[list(schema.names)].itertuples(index=False, name=None)][:300]
    extra = []
    for i, base in enumerate(rows[:20]):
        row = list(base)
        for j, f in enumerate(schema.features):
            if f.type == "numeric" and row[j] is not None:
                row[j] = row[j] * (0.5 + 0.05 * i)
            if f.nullable and i % 3 == 0:
                row[j] = None
            if f.type == "categorical" and f.ignore_unknown and i % 4 == 1:
                row[j] = "Reykjavík"
        extra.append(row)
    return rows + extra


def _native(manifest):
    return predictors.load(manifest.artifact_path.read_bytes(), manifest.format, _schema(manifest))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_auto_picks_onnx_where_it_converts_with_parity_else_native(name, zoo, converted) -> None:
    manifest, model, frame = zoo[name]
    art = converted[name]
    runtime, why = EXPECTED[name]
    assert art.runtime == runtime, art.runtime_reason
    assert art.runtime_reason.startswith("auto: ")
    if runtime == "onnx":
        assert art.format == "onnx" and art.converted and art.parity_max_abs_diff <= TOL
        assert art.runtime_reason == f"auto: parity {art.parity_max_abs_diff:.2g}"
        assert why in art.conversion
    else:
        assert art.format == manifest.format and art.path == manifest.artifact_path and why in art.runtime_reason
    # what the function will answer equals the native model's, on rows the manifest does not hold too
    schema = _schema(manifest)
    batch = schema.parse({"instances": _probe_rows(manifest, frame)}, 10_000)
    served = predictors.load(art.path.read_bytes(), art.format, schema).predict(batch)
    native = _native(manifest).predict(batch)
    scale = max(1.0, float(np.max(np.abs(native)))) if schema.task == "regression" else 1.0
    assert served.shape == native.shape
    assert float(np.max(np.abs(served - native))) / scale <= TOL


def test_the_native_predictor_is_the_model_in_memory(zoo) -> None:
    """The reference above is the model as trained: the native predictor reproduces the in-memory model."""
    manifest, model, frame = zoo["shop-churn"]
    schema = _schema(manifest)
    batch = schema.parse({"instances": _probe_rows(manifest, frame)}, 10_000)
    np.testing.assert_allclose(_native(manifest).predict(batch), model.predict_proba(batch.frame(schema))[:, 1],
                               atol=1e-12)
    manifest, model, frame = zoo["cancer-xgb"]
    batch = _schema(manifest).parse({"instances": _probe_rows(manifest, frame)}, 10_000)
    np.testing.assert_allclose(_native(manifest).predict(batch), model.predict(xgboost.DMatrix(batch.matrix())),
                               atol=1e-7)


def test_the_categorical_graph_maps_sanitised_input_names_back(converted, zoo) -> None:
    import onnx

    graph = onnx.load_from_string(converted["shop-churn"].path.read_bytes())
    inputs = [i.name for i in graph.graph.input]
    mapping = json.loads({p.key: p.value for p in graph.metadata_props}[predictors.ONNX_INPUTS_KEY])
    assert "spend €" not in inputs and mapping[inputs[1]] == "spend €" and mapping[inputs[0]] == "home city"
    assert [i.type.tensor_type.elem_type for i in graph.graph.input][:2] == [onnx.TensorProto.STRING,
                                                                             onnx.TensorProto.FLOAT]


def test_forced_runtimes(zoo, tmp_path) -> None:
    manifest = zoo["shop-churn"][0]
    native = prepare_model(manifest, "native", tmp_path)
    assert (native.runtime, native.format, native.runtime_reason) == ("native", "skops", "forced")
    forced = prepare_model(manifest, "onnx", tmp_path)
    assert forced.runtime == "onnx" and forced.runtime_reason.startswith("forced: parity ")
    with pytest.raises(BuildError, match="skl2onnx cannot convert Pipeline: Infrequent categories"):
        prepare_model(zoo["shop-infrequent"][0], "onnx", tmp_path)
    with pytest.raises(BuildError, match="runtime: expected one of auto, native, onnx"):
        prepare_model(manifest, "fast", tmp_path)


def _tampered(manifest, dest: Path, edit) -> Path:
    shutil.copytree(manifest.directory, dest)
    data = json.loads((dest / "model.json").read_text())
    edit(data)
    (dest / "model.json").write_text(json.dumps(data))
    return dest


def test_parity_failure_is_native_under_auto_and_an_error_naming_the_row_when_forced(zoo, tmp_path) -> None:
    def bump(d: dict) -> None:
        d["parity"]["outputs"][3] += 1.0  # diabetes targets are ~25..350: relative 1/346 > 1e-5

    bad = _tampered(zoo["diabetes-gbr"][0], tmp_path / "bad", bump)
    art = prepare_model(bad, "auto", tmp_path / "out")
    assert art.runtime == "native" and "ONNX parity failed" in art.runtime_reason
    with pytest.raises(BuildError, match=r"max abs difference 0\.00\d+ \(relative to max\(1, max \|output\|\) = "
                                         r"[\d.]+\) > 1e-05 at parity row 3 \(input \["):
        prepare_model(bad, "onnx", tmp_path / "out")

    def bump_probability(d: dict) -> None:
        probabilities = d["parity"]["outputs"][5]
        top = int(np.argmax(probabilities))
        probabilities[top] -= 0.01
        probabilities[(top + 1) % 3] += 0.01

    bad = _tampered(zoo["iris-rf"][0], tmp_path / "bad-iris", bump_probability)
    with pytest.raises(BuildError, match=r"max abs difference 0\.01 > 1e-05 at parity row 5 .*ONNX \[.*manifest \["):
        prepare_model(bad, "onnx", tmp_path / "out")


def test_a_null_or_unseen_category_the_manifest_lacks_is_checked_against_the_native_model(tmp_path) -> None:
    """The encoder learnt "missing" as a category; the graph cannot (a missing string is ""). The manifest's rows
    hold no null here, so only the probe against the native model sees the difference: auto goes native."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from smodels import save_model

    rng = np.random.default_rng(1)
    colour = rng.choice(["red", "green", "blue"], 400).astype(object)
    colour[300::7] = None  # after the rows the manifest keeps as parity rows
    frame = pd.DataFrame({"colour": colour, "size": rng.normal(size=400)})
    y = np.where(frame["colour"].isna() | ((frame["colour"] == "red") ^ (frame["size"] > 0)), "yes", "no")
    model = Pipeline([("ct", ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
                                               remainder="passthrough")),
                      ("lr", LogisticRegression())]).fit(frame, y)
    manifest = save_model(model, tmp_path / "m", example=frame.assign(y=y), label="y", name="colours", say=_quiet)
    assert manifest.features[0].nullable and not any(r[0] is None for r in manifest.parity.rows)

    def without_null_samples(d: dict) -> None:
        rows, outputs = d["parity"]["rows"], d["parity"]["outputs"]
        d["samples"] = [{"input": {"colour": r[0], "size": r[1]}, "output": o}
                        for r, o in zip(rows[:3], outputs[:3], strict=True)]

    lacking = _tampered(manifest, tmp_path / "lacking", without_null_samples)
    art = prepare_model(lacking, "auto", tmp_path / "out")
    assert art.runtime == "native"
    assert art.runtime_reason.startswith("auto: the ONNX conversion of Pipeline differs from the native model on a "
                                         "missing 'colour' (ONNX ")


def test_conversions_are_deterministic_and_cached_failures_included(zoo, tmp_path, monkeypatch) -> None:
    first = {}
    for name in ("shop-churn", "cancer-xgb", "diabetes-lgbm", "iris-xgb-pipe"):
        a = first[name] = prepare_model(zoo[name][0], "auto", tmp_path / "a")
        b = prepare_model(zoo[name][0], "auto", tmp_path / "b")
        assert a.runtime == "onnx" and a.path != b.path, name
        assert a.sha256 == b.sha256 and a.path.read_bytes() == b.path.read_bytes(), name
    native = prepare_model(zoo["shop-infrequent"][0], "auto", tmp_path / "a")

    def boom(_):
        raise AssertionError("converted again although the result is cached")

    monkeypatch.setattr(model_mod, "convert_checked", boom)
    again = prepare_model(zoo["shop-churn"][0], "auto", tmp_path / "a")
    assert (again.sha256, again.runtime_reason, again.conversion) == (
        first["shop-churn"].sha256, first["shop-churn"].runtime_reason, first["shop-churn"].conversion)
    cached_failure = prepare_model(zoo["shop-infrequent"][0], "auto", tmp_path / "a")
    assert cached_failure.runtime_reason == native.runtime_reason


def test_the_book_models_still_choose_onnx_under_auto(logreg_dir, keras_dir, tmp_path) -> None:
    logreg = prepare_model(logreg_dir, "auto", tmp_path)
    assert logreg.runtime == "onnx" and logreg.conversion == "3-node sigmoid graph"
    assert logreg.parity_max_abs_diff <= 1e-12
    book = {f"G{i}": 1 if i == 1 else 0 for i in range(1, 11)}
    manifest = load_manifest(logreg_dir)
    schema = _schema(manifest)
    got = predictors.load(logreg.path.read_bytes(), "onnx", schema).predict(schema.parse(book, 1))
    assert got[0] == pytest.approx(0.06745113592634559, abs=1e-15)
    keras = prepare_model(keras_dir, "auto", tmp_path)
    assert keras.runtime == "onnx" and keras.parity_max_abs_diff <= TOL


def test_auto_goes_native_where_onnxruntime_cannot_run(zoo, tmp_path) -> None:
    cfg = stack({"pred": {"model": zoo["shop-churn"][0].directory}}, architecture="arm64")
    reason = _onnx_refused(cfg, "aws", options(tmp_path))
    assert reason and "arm64 Lambda" in reason and _onnx_refused(cfg, "gcp", options(tmp_path)) is None
    assert _onnx_refused(replace(cfg, architecture="x86_64"), "aws", options(tmp_path)) is None
    art = prepare_model(zoo["shop-churn"][0], "auto", tmp_path, onnx_refused=reason)
    assert art.runtime == "native" and art.runtime_reason == f"auto: {reason}"


# -- native dependencies per framework ---------------------------------------------------------------------------

def _names(spec) -> dict[str, str]:
    return dict(p.split("==") for p in spec.pins)


def test_native_requirements_carry_only_what_the_model_needs(zoo) -> None:
    xgb = _names(requirements_for("aws", "model", "native", zoo["cancer-xgb"][0]))
    assert xgb == {"xgboost-cpu": PINS["xgboost-cpu"], "numpy": PINS["numpy"], "scipy": PINS["scipy"]}
    lgb = requirements_for("gcp", "model", "native", zoo["diabetes-lgbm"][0])
    assert _names(lgb) == {"lightgbm": PINS["lightgbm"], "numpy": PINS["numpy"], "scipy": PINS["scipy"],
                           "functions-framework": PINS["functions-framework"]}
    assert "lightgbm" in lgb.imports and not any(i.startswith("sklearn") for i in lgb.imports)
    pipe = _names(requirements_for("aws", "model", "native", zoo["iris-xgb-pipe"][0]))
    assert set(pipe) == {"scikit-learn", "skops", "xgboost-cpu", "numpy", "scipy"}  # fitted on a frame, by position
    churn = requirements_for("aws", "model", "native", zoo["shop-churn"][0])
    assert set(_names(churn)) == {"scikit-learn", "skops", "pandas", "numpy", "scipy"}  # columns by name
    assert "pandas" in churn.imports
    rf = _names(requirements_for("aws", "model", "native", zoo["iris-rf"][0]))
    assert set(rf) == {"scikit-learn", "skops", "numpy", "scipy"}
    assert _names(requirements_for("aws", "model", "onnx", zoo["iris-rf"][0])) == {
        "numpy": PINS["numpy"], "onnxruntime": PINS["onnxruntime"]}
    with pytest.raises(BuildError, match="must be resolved"):
        requirements_for("aws", "model", "auto", zoo["iris-rf"][0])


@pytest.mark.parametrize(("name", "library", "dist"), [("cancer-xgb", "xgboost", "xgboost-cpu"),
                                                        ("diabetes-lgbm", "lightgbm", "lightgbm"),
                                                        ("iris-rf", "scikit-learn", "scikit-learn")])
def test_a_version_the_package_would_not_install_is_a_build_error(zoo, tmp_path, name, library, dist) -> None:
    def older(d: dict) -> None:
        d["requirements"][library] = "1.0.0"
        if d["framework"] == library:
            d["framework_version"] = "1.0.0"

    bad = load_manifest(_tampered(zoo[name][0], tmp_path / name, older))
    with pytest.raises(BuildError, match=rf"needs {library} 1\.0\.0 .* would install {dist} {PINS[dist]}"):
        requirements_for("aws", "model", "native", bad)


def test_new_pins_match_the_dev_venv() -> None:
    for name in ("scikit-learn", "xgboost-cpu", "lightgbm", "pandas"):
        assert PINS[name] == version(name), name


def test_gcp_requirements_follow_the_chosen_runtime(zoo, build_dir) -> None:
    """GCP archives carry requirements.txt only (nothing is installed here): auto -> onnx, native -> the booster."""
    for runtime, want in (("auto", {"numpy", "onnxruntime", "functions-framework"}),
                          ("native", {"xgboost-cpu", "numpy", "scipy", "functions-framework"})):
        cfg = stack({"xgb": {"model": zoo["cancer-xgb"][0].directory, "runtime": runtime}}, clouds=("gcp",))
        build = build_function(cfg, cfg.endpoints[0], "gcp", options(build_dir))
        with zipfile.ZipFile(build.archive) as zf:
            reqs = zf.read("requirements.txt").decode().split()
            assert "model_schema.json" in zf.namelist()
        assert {r.split("==")[0] for r in reqs} == want
        assert build.runtime == ("onnx" if runtime == "auto" else "native")
        assert build.runtime_reason.startswith("auto: parity " if runtime == "auto" else "forced")


def test_build_prints_the_runtime_and_why(zoo, tmp_path, monkeypatch, capsys) -> None:
    from smodels.cli import main
    from smodels.packager import FunctionBuild

    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  serverless-models:clouds: [gcp]\n  serverless-models:endpoints:\n"
        f"    churn:\n      model: {zoo['shop-churn'][0].directory}\n"
        f"    rare:\n      model: {zoo['shop-infrequent'][0].directory}\n"
    )

    def fake_stack(cfg, opts):
        out = {}
        for ep in cfg.endpoints:
            art = prepare_model(ep.manifest, ep.runtime, tmp_path / ".build")
            out[("gcp", ep.name)] = FunctionBuild(
                cloud="gcp", endpoint=ep.name, kind="model", runtime=art.runtime, runtime_reason=art.runtime_reason,
                archive=tmp_path / "x.zip", archive_sha256="0" * 64, zipped_bytes=1, unzipped_bytes=1, seconds=0.0,
                cached=False, object_name="x", entry_point="pred", model=art)
        return out

    monkeypatch.setattr("smodels.packager.build_stack", fake_stack)
    assert main(["build", "--project-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "  runtime   onnx (auto: parity " in text
    assert "  runtime   native (auto: skl2onnx cannot convert Pipeline: Infrequent categories" in text
    assert main(["build", "--project-dir", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["runtime"], r["runtime_reason"].split(":")[0]) for r in rows] == [("onnx", "auto"), ("native", "auto")]
    assert rows[0]["model"]["conversion"].startswith("skl2onnx, one input per feature")


# -- real packages (uv installs for cp313 manylinux x86_64), run under python3.13 as Lambda runs them -----------

def _run_package(py: str, build, rows: list) -> list[dict]:
    """Unzip the Lambda package, call functions.aws.lambda_handler with the build's own environment on one
    batch request of `rows` and on the first row alone, under `py` with only the package on sys.path."""
    with tempfile.TemporaryDirectory(prefix="smodels-auto-") as tmp:
        with zipfile.ZipFile(build.archive) as zf:
            zf.extractall(tmp)
        env = {"PATH": "/usr/bin:/bin", **{k: str(v) for k, v in
                                             build.function_env(build.model.path.resolve().as_uri(), 0).items()}}
        events = [{"body": json.dumps({"instances": rows}), "isBase64Encoded": False,
                   "requestContext": {"http": {"method": "POST"}}, "headers": {"content-type": "application/json"}}]
        code = (
            f"import sys, json; sys.path.insert(0, {tmp!r})\n"
            "from functions.aws import lambda_handler as h\n"
            "for ev in json.loads(sys.argv[1]):\n"
            "    print('RESULT ' + json.dumps(h(ev, None)))\n"
            "print('MODULES ' + json.dumps(sorted(m for m in sys.modules if '.' not in m)))\n"
        )
        res = subprocess.run([py, "-I", "-c", code, json.dumps(events)], env=env, capture_output=True, text=True,
                             timeout=300, cwd=tmp)
        assert res.returncode == 0, res.stderr[-3000:]
        lines = res.stdout.splitlines()
        out = [json.loads(line[7:]) for line in lines if line.startswith("RESULT ")]
        modules = json.loads(next(line[8:] for line in lines if line.startswith("MODULES ")))
        return [*out, {"modules": modules}]


@pytest.mark.slow
@pytest.mark.target
@pytest.mark.parametrize(("name", "runtime", "shipped", "absent"), [
    ("cancer-xgb", "native", {"xgboost-cpu", "numpy", "scipy"}, {"scikit-learn", "xgboost", "pandas"}),
    ("diabetes-lgbm", "native", {"lightgbm", "numpy", "scipy"}, {"scikit-learn", "pandas"}),
    ("shop-churn", "native", {"scikit-learn", "skops", "pandas", "numpy", "scipy"}, {"onnxruntime"}),
    ("shop-churn", "auto", {"onnxruntime", "numpy"}, {"scikit-learn", "pandas"}),
])
def test_packages_answer_as_the_native_model(zoo, build_dir, py313, name, runtime, shipped, absent) -> None:
    manifest, _, frame = zoo[name]
    cfg = stack({"ep": {"model": manifest.directory, "runtime": runtime}})
    build = build_function(cfg, cfg.endpoints[0], "aws", options(build_dir))
    dists = {r.split("==")[0].lower().replace("_", "-") for r in build.requirements}
    assert shipped <= dists and not (absent & dists), dists
    assert build.runtime == ("onnx" if runtime == "auto" else "native")
    rows = _probe_rows(manifest, frame)[:100] + _probe_rows(manifest, frame)[-20:]
    *responses, info = _run_package(py313, build, rows)
    body = json.loads(responses[0]["body"])
    assert responses[0]["statusCode"] == 200, body
    schema = _schema(manifest)
    native = _native(manifest).predict(schema.parse({"instances": rows}, 10_000))
    if schema.task == "multiclass-classification":
        got = np.asarray([[p[str(c)] for c in schema.classes] for p in body["probabilities"]])
    else:
        got = np.asarray(body["predictions"], dtype=np.float64)  # the value, or P(classes[1])
    scale = max(1.0, float(np.max(np.abs(native)))) if schema.task == "regression" else 1.0
    assert float(np.max(np.abs(got - native))) / scale <= TOL
    if runtime == "native" and manifest.format in ("xgboost", "lightgbm"):
        assert "sklearn" not in info["modules"]  # nothing installed it, nothing imported it
