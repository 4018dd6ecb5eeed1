"""smodels.manifest: valid manifests load, round-trip stably, and every bad field is named in the error."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smodels.manifest import (
    MANIFEST_FILE,
    ManifestError,
    dumps_manifest,
    load_manifest,
    manifest_from_dict,
    write_manifest,
)

FEATURES = [f"G{i}" for i in range(1, 11)]
ARTIFACT_BYTES = b"not really a model, but bytes with a known hash"


def _artifact_fields() -> dict[str, Any]:
    """The manifest fields (in manifest order) that describe the test artifact, the same in schema 1 and 2."""
    return {
        "backend": None,
        "python_version": "3.11.7",
        "format": "skops",
        "artifact": "model.skops",
        "sha256": hashlib.sha256(ARTIFACT_BYTES).hexdigest(),
        "size_bytes": len(ARTIFACT_BYTES),
    }


def _valid() -> dict[str, Any]:
    rows = [[(i >> j) & 1 for j in range(10)] for i in range(200)]
    return {
        "schema": 1,
        "name": "games-logreg",
        "description": "test manifest",
        "framework": "scikit-learn",
        "framework_version": "1.9.1",
        **_artifact_fields(),
        "task": "binary-classification",
        "output": "probability that label == 1",
        "features": [{"name": f, "type": "binary"} for f in FEATURES],
        "label": "label",
        "training_data": {"source": "games-expand.csv", "sha256": "a" * 64, "rows": 22905},
        "holdout": {"fraction": 0.2, "seed": 42, "rows": 4581, "metric": "roc_auc", "value": 0.76,
                    "note": "n"},
        "samples": [{"input": {f: int(f == "G1") for f in FEATURES}, "output": 0.0674511359263456}] * 3,
        "parity": {"rows": rows, "outputs": [0.5] * len(rows)},
    }


def _write(tmp_path: Path, data: dict[str, Any], artifact: bytes = ARTIFACT_BYTES) -> Path:
    (tmp_path / "model.skops").write_bytes(artifact)
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(data))
    return tmp_path


def test_valid_manifest_loads_from_dir_and_file(tmp_path: Path) -> None:
    d = _write(tmp_path, _valid())
    m = load_manifest(d)
    assert m == load_manifest(d / MANIFEST_FILE)
    assert m.feature_names == FEATURES
    assert m.artifact_path == (tmp_path / "model.skops").resolve()
    assert m.sample_rows()[0] == [1] + [0] * 9
    assert m.to_dict() == _valid()


def test_write_is_stable_and_round_trips(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, _valid()))
    out = tmp_path / "copy"
    path = write_manifest(m, out)
    text = path.read_text()
    assert text.endswith("}\n") and text == dumps_manifest(m)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    (out / "model.skops").write_bytes(ARTIFACT_BYTES)
    assert load_manifest(out).to_dict() == m.to_dict()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            d = d[int(p)] if isinstance(d, list) else d[p]
        if isinstance(d, list):
            d[int(last)] = value
        else:
            d[last] = value

    return apply


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _keras_without_backend(d: dict[str, Any]) -> None:
    d.update(framework="keras", format="keras")


BAD = [
    (_set("schema", 4), "schema"),
    (_set("schema", True), "schema"),
    (_set("name", "Games_LogReg"), "name"),
    (_set("name", ""), "name"),
    (_set("framework", "pytorch"), "framework"),
    (_set("framework_version", "latest"), "framework_version"),
    (_set("backend", "torch"), "backend"),
    (_keras_without_backend, "backend"),
    (_set("python_version", "2.7"), "python_version"),
    (_set("format", "h5"), "format"),
    (_set("format", "keras"), "format"),
    (_set("artifact", "../model.skops"), "artifact"),
    (_set("sha256", "ABC"), "sha256"),
    (_set("size_bytes", 0), "size_bytes"),
    (_set("size_bytes", True), "size_bytes"),
    (_set("task", "regression"), "task"),
    (_set("output", 3), "output"),
    (_set("description", None), "description"),
    (_set("features", []), "features"),
    (_set("features.1.name", "G1"), "features[1].name"),
    (_set("features.0.type", "text"), "features[0].type"),
    (_set("label", "G3"), "label"),
    (_set("training_data.rows", -1), "training_data.rows"),
    (_set("training_data.sha256", "x"), "training_data.sha256"),
    (_set("training_data.source", ""), "training_data.source"),
    (_set("holdout.fraction", 1.5), "holdout.fraction"),
    (_set("holdout.metric", "accuracy"), "holdout.metric"),
    (_set("holdout.value", 1.2), "holdout.value"),
    (_set("holdout.rows", 30000), "holdout.rows"),
    (_set("samples", []), "samples"),
    (_set("samples.1", {"input": {"G1": 1}, "output": 0.1}), "samples[1].input"),
    (_set("samples.2", {"input": {f: 2 for f in FEATURES}, "output": 0.1}), "samples[2].input.G1"),
    (_set("samples.0", {"input": {f: 0 for f in FEATURES}, "output": float("nan")}), "samples[0].output"),
    (_set("parity.rows", [[0] * 10] * 5), "parity.rows"),
    (_set("parity.outputs", [0.5]), "parity.outputs"),
    (_set("parity.rows.3", [0] * 9), "parity.rows[3]"),
    (_set("parity.outputs.7", -0.1), "parity.outputs[7]"),
    (_set("extra", 1), "extra"),
    (_delete("features"), "features"),
]


@pytest.mark.parametrize(("mutate", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_each_bad_field_is_named(tmp_path: Path, mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    data = copy.deepcopy(_valid())
    mutate(data)
    # NaN needs json's non-standard output; the loader must still reject it (by field or as a constant).
    _write(tmp_path, data)
    with pytest.raises(ManifestError) as exc:
        load_manifest(tmp_path)
    assert exc.value.field in (field, "manifest"), str(exc.value)
    if exc.value.field == "manifest":
        assert "NaN" in str(exc.value)
    with pytest.raises(ManifestError) as exc2:
        manifest_from_dict(data, tmp_path)
    assert exc2.value.field == field, str(exc2.value)
    assert str(exc2.value).startswith(f"{field}: ")


def test_sha_mismatch(tmp_path: Path) -> None:
    _write(tmp_path, _valid(), artifact=ARTIFACT_BYTES[::-1])  # same size, different bytes
    with pytest.raises(ManifestError) as exc:
        load_manifest(tmp_path)
    assert exc.value.field == "sha256"
    assert load_manifest(tmp_path, verify_artifact=False).name == "games-logreg"


def test_size_mismatch_and_missing_artifact(tmp_path: Path) -> None:
    _write(tmp_path, _valid(), artifact=ARTIFACT_BYTES + b"!")
    with pytest.raises(ManifestError) as exc:
        load_manifest(tmp_path)
    assert exc.value.field == "size_bytes"
    (tmp_path / "model.skops").unlink()
    with pytest.raises(ManifestError) as exc:
        load_manifest(tmp_path)
    assert exc.value.field == "artifact" and "not found" in exc.value.message


def test_missing_and_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ManifestError) as exc:
        load_manifest(tmp_path)
    assert exc.value.field == "manifest" and "not valid JSON" in exc.value.message
    (tmp_path / MANIFEST_FILE).write_text("[1, 2]")
    with pytest.raises(ManifestError, match="JSON object"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("name", ["logreg", "keras"])
def test_committed_manifests_are_valid(repo_root: Path, name: str) -> None:
    m = load_manifest(repo_root / "models" / name)
    assert m.feature_names == FEATURES
    assert len(m.parity.rows) >= 200
    assert m.training_data.source == "games-expand.csv"  # nothing machine-specific
    assert (repo_root / "models" / name / MANIFEST_FILE).read_text() == dumps_manifest(m)


def test_schema_1_means_binary_classes_0_and_1(repo_root: Path) -> None:
    from dataclasses import replace

    from functions.schema import ModelSchema

    committed = load_manifest(repo_root / "models" / "logreg")
    assert committed.schema == 3 and committed.profile is not None  # the book's manifests carry a drift profile
    # What the book's manifest was before schema 3: schema 1, no classes, requirements or profile.
    legacy = replace(committed, schema=1, profile=None).to_dict()
    assert legacy["schema"] == 1 and not {"classes", "requirements", "profile"} & set(legacy)
    m = manifest_from_dict(legacy, committed.directory)
    assert (m.schema, m.task, m.classes, m.label) == (1, "binary-classification", (0, 1), "label")
    assert m.requirements == {"scikit-learn": m.framework_version}
    doc = m.input_schema()
    assert doc == {"task": "binary-classification", "classes": [0, 1],
                   "features": [{"name": f, "type": "binary"} for f in FEATURES]}
    assert ModelSchema.from_json(doc).to_json() == doc
    assert all(not f.nullable and not f.categories for f in m.features)


# --- schema 2 ---------------------------------------------------------------------------------------------

NAMES_V2 = ["mean radius", "home city", "visits", "member", "G1"]
PROBS = [0.25, 0.25, 0.5]


def _rows_v2(n: int) -> list[list[Any]]:
    return [[None if i % 4 == 0 else 10.5 + i, ["Bern", "Zürich", "Basel"][i % 3], i, i % 2 == 0, i % 2]
            for i in range(n)]


def _valid_v2() -> dict[str, Any]:
    rows = _rows_v2(6)
    return {
        "schema": 2,
        "name": "iris-species",
        "description": "test manifest, schema 2",
        "framework": "scikit-learn",
        "framework_version": "1.9.1",
        "requirements": {"scikit-learn": "1.9.1", "xgboost": "3.2.0"},
        **_artifact_fields(),
        "task": "multiclass-classification",
        "classes": ["setosa", "versicolor", "virginica"],
        "output": "probability of each class",
        "features": [
            {"name": "mean radius", "type": "numeric", "nullable": True},
            {"name": "home city", "type": "categorical", "nullable": False, "categories": ["Bern", "Zürich"],
             "ignore_unknown": True},
            {"name": "visits", "type": "integer", "nullable": False},
            {"name": "member", "type": "boolean", "nullable": False},
            {"name": "G1", "type": "binary", "nullable": False},
        ],
        "label": "species",
        "training_data": {"source": "iris.csv", "sha256": "b" * 64, "rows": 6},
        "holdout": {"fraction": None, "seed": None, "rows": 6, "metric": "accuracy", "value": 0.5, "note": "n"},
        "profile": {
            "features": {
                "mean radius": {"min": 11.5, "max": 15.5, "quantiles": {"0.01": 11.54, "0.5": 13.5, "0.99": 15.46},
                                "null_fraction": 0.333},
                "home city": {"null_fraction": 0.0, "frequencies": {"Bern": 0.5, "Zürich": 0.5}},
                "visits": {"min": 0, "max": 5, "null_fraction": 0.0},
            },
            "output": {"mean": PROBS, "min": PROBS, "max": PROBS, "quantiles": {"0.5": PROBS},
                       "frequencies": {"virginica": 1.0}},
        },
        "samples": [{"input": dict(zip(NAMES_V2, r, strict=True)), "output": PROBS} for r in rows[:3]],
        "parity": {"rows": rows, "outputs": [PROBS] * len(rows)},
    }


def test_schema_2_loads_round_trips_and_keeps_unicode(tmp_path: Path) -> None:
    d = _write(tmp_path, _valid_v2())
    m = load_manifest(d)
    assert m.to_dict() == _valid_v2()
    assert m.feature_names == NAMES_V2 and m.classes == ("setosa", "versicolor", "virginica")
    assert m.sample_rows()[0] == [None, "Bern", 0, True, 0]
    assert m.samples[0].output == tuple(PROBS) and m.holdout.fraction is None
    out = tmp_path / "copy"
    text = write_manifest(m, out).read_text(encoding="utf-8")
    assert "Zürich" in text and text == dumps_manifest(m)
    (out / "model.skops").write_bytes(ARTIFACT_BYTES)
    assert load_manifest(out).to_dict() == m.to_dict()


def test_schema_2_input_schema_is_what_the_function_reads(tmp_path: Path) -> None:
    from functions.schema import ModelSchema

    m = load_manifest(_write(tmp_path, _valid_v2()))
    doc = m.input_schema()
    assert doc == {
        "task": "multiclass-classification",
        "classes": ["setosa", "versicolor", "virginica"],
        "features": [
            {"name": "mean radius", "type": "numeric", "nullable": True, "low": 11.5, "high": 15.5},
            {"name": "home city", "type": "categorical", "categories": ["Bern", "Zürich"], "ignore_unknown": True},
            {"name": "visits", "type": "integer", "low": 0.0, "high": 5.0},
            {"name": "member", "type": "boolean"},
            {"name": "G1", "type": "binary"},
        ],
    }
    schema = ModelSchema.from_json(doc)
    assert schema.to_json() == doc
    assert schema.parse({"instances": [list(r) for r in m.parity.rows]}, 100).rows[0][0] != 0.0  # NaN for null


def _minimal(**changes: Any) -> dict[str, Any]:
    data = {k: v for k, v in _valid_v2().items() if k in ("schema", "name", "framework", "framework_version",
                                                             "format", "artifact", "sha256", "size_bytes", "task",
                                                             "classes", "features", "samples", "parity")}
    data.update(changes)
    return data


def test_schema_2_optional_keys_default(tmp_path: Path) -> None:
    m = manifest_from_dict(_minimal(), tmp_path, verify_artifact=False)
    assert (m.label, m.training_data, m.holdout, m.profile, m.backend, m.python_version) == (None,) * 6
    assert m.requirements == {"scikit-learn": "1.9.1"} and m.description == ""
    assert "class" in m.output
    again = manifest_from_dict(m.to_dict(), tmp_path, verify_artifact=False)
    assert again == m


@pytest.mark.parametrize(("task", "classes", "output"), [
    ("regression", [], 152.25),
    ("regression", None, -3),
    ("binary-classification", [0, 1], 0.25),
    ("binary-classification", ["no", "yes"], 1),
])
def test_schema_2_tasks(tmp_path: Path, task: str, classes: Any, output: Any) -> None:
    d = _minimal(task=task, classes=classes)
    d["samples"] = [{**s, "output": output} for s in d["samples"]]
    d["parity"] = {"rows": d["parity"]["rows"], "outputs": [output] * len(d["parity"]["rows"])}
    m = manifest_from_dict(d, tmp_path, verify_artifact=False)
    assert m.task == task and m.samples[0].output == output
    assert m.input_schema()["classes"] == (classes or [])


@pytest.mark.parametrize(("framework", "fmt", "backend"), [
    ("xgboost", "xgboost", None), ("lightgbm", "lightgbm", None), ("xgboost", "onnx", None),
    ("keras", "keras", "jax"), ("scikit-learn", "joblib", None),
])
def test_schema_2_frameworks_and_formats(tmp_path: Path, framework: str, fmt: str, backend: Any) -> None:
    d = _minimal(framework=framework, format=fmt, backend=backend, framework_version="3.2.0",
                 requirements={framework: "3.2.0"})
    m = manifest_from_dict(d, tmp_path, verify_artifact=False)
    assert (m.framework, m.format, m.requirements) == (framework, fmt, {framework: "3.2.0"})


def _feature(i: int, **item: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        d["features"][i] = item

    return apply


def _sample_value(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        d["samples"][1]["input"][name] = value

    return apply


def _parity_value(j: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        d["parity"]["rows"][2][j] = value

    return apply


BAD_V2 = [
    (_delete("classes"), "classes"),
    (_delete("samples"), "samples"),
    (_set("framework", "pytorch"), "framework"),
    (_set("format", "keras"), "format"),
    (_set("format", "xgboost"), "format"),
    (_set("backend", "jax"), "backend"),
    (_set("python_version", "3.x"), "python_version"),
    (_set("requirements", {"xgboost": "3.2.0"}), "requirements.scikit-learn"),
    (_set("requirements", {"scikit-learn": "1.9.1", "x y": "1"}), "requirements.x y"),
    (_set("requirements", {"scikit-learn": "1.9.1", "xgboost": 3}), "requirements.xgboost"),
    (_set("requirements", []), "requirements"),
    (_set("task", "ranking"), "task"),
    (lambda d: d.update(classes=["a", "b"], profile=None), "samples[0].output"),
    (_set("output", ""), "output"),
    (_set("classes", ["a", "a", "b"]), "classes"),
    (_set("classes", ["a", 1, "b"]), "classes"),
    (_set("classes", [True, False, 2]), "classes[0]"),
    (_set("classes", [0.5, 1, 2]), "classes[0]"),
    (_set("classes", "abc"), "classes"),
    (_set("description", 3), "description"),
    (_set("output", []), "output"),
    (_set("label", ""), "label"),
    (_set("label", "visits"), "label"),
    (_set("features", []), "features"),
    (_feature(0, name="", type="numeric"), "features[0].name"),
    (_feature(1, name="mean radius", type="numeric"), "features[1].name"),
    (_feature(0, name="mean radius", type="text"), "features[0].type"),
    (_feature(0, name="mean radius", type="numeric", nullable="yes"), "features[0].nullable"),
    (_feature(0, name="mean radius", type="numeric", categories=["a"]), "features[0].categories"),
    (_feature(0, name="mean radius", type="numeric", ignore_unknown=True), "features[0].ignore_unknown"),
    (_feature(1, name="home city", type="categorical"), "features[1].categories"),
    (_feature(1, name="home city", type="categorical", categories=["a", 1]), "features[1].categories[1]"),
    (_feature(1, name="home city", type="categorical", categories=["a", "a"]), "features[1].categories"),
    (_feature(1, name="home city", type="categorical", categories=["a"], ignore_unknown=1),
     "features[1].ignore_unknown"),
    (_feature(1, name="home city", type="categorical", categories=["Bern"], extra=1), "features[1].extra"),
    (_sample_value("home city", 3), "samples[1].input.home city"),
    (_sample_value("visits", 1.5), "samples[1].input.visits"),
    (_sample_value("visits", None), "samples[1].input.visits"),
    (_sample_value("member", "true"), "samples[1].input.member"),
    (_sample_value("member", 2), "samples[1].input.member"),
    (_sample_value("G1", 2), "samples[1].input.G1"),
    (_sample_value("G1", True), "samples[1].input.G1"),
    (_sample_value("mean radius", "1.5"), "samples[1].input.mean radius"),
    (_sample_value("mean radius", float("inf")), "samples[1].input.mean radius"),
    (_set("samples.0.output", [0.5, 0.5]), "samples[0].output"),
    (_set("samples.0.output", [0.5, 0.5, 0.5]), "samples[0].output"),
    (_set("samples.0.output", [1.5, -0.25, -0.25]), "samples[0].output[0]"),
    (_set("samples.0.output", 0.5), "samples[0].output"),
    (_set("parity.rows", [[1.0, "Bern", 1, True, 1]] * 2), "parity.rows"),
    (_set("parity.outputs", [PROBS]), "parity.outputs"),
    (_parity_value(1, None), "parity.rows[2][1]"),
    (_set("training_data", {"source": "x", "sha256": "c" * 64}), "training_data.rows"),
    (_set("holdout", {"metric": "r2", "value": 0.5, "rows": 6}), "holdout.metric"),
    (_set("holdout", {"metric": "accuracy", "value": 1.5, "rows": 6}), "holdout.value"),
    (_set("holdout", {"metric": "accuracy", "value": 0.5, "rows": 0}), "holdout.rows"),
    (_set("holdout", {"metric": "accuracy", "value": 0.5, "rows": 6, "fraction": 1.0}), "holdout.fraction"),
    (_set("holdout", {"metric": "accuracy", "value": 0.5, "rows": 6, "fraction": 0.2}), "holdout.rows"),
    (_set("holdout", {"metric": "accuracy", "value": 0.5, "rows": 3, "seed": -1}), "holdout.seed"),
    (_set("holdout", {"metric": "accuracy", "value": 0.5, "rows": 3, "when": 1}), "holdout.when"),
    (_set("holdout", "good"), "holdout"),
    (_set("profile", []), "profile"),
    (_set("profile.extra", {}), "profile.extra"),
    (_set("profile.features.nope", {}), "profile.features.nope"),
    (_set("profile.features.visits.min", 9), "profile.features.visits.min"),
    (_set("profile.features.visits.median", 9), "profile.features.visits.median"),
    (_set("profile.features.visits.null_fraction", 2), "profile.features.visits.null_fraction"),
    (_set("profile.features.visits.frequencies", {"1": 0.5}), "profile.features.visits.frequencies"),
    (_set("profile.features.mean radius.quantiles", {"median": 1.0}), "profile.features.mean radius.quantiles.median"),
    (_set("profile.features.mean radius.quantiles", {"0.5": "x"}), "profile.features.mean radius.quantiles.0.5"),
    (_set("profile.features.home city.frequencies", {"Bern": 1.5}), "profile.features.home city.frequencies.Bern"),
    (_set("profile.output.mean", 0.5), "profile.output.mean"),
    (_set("profile.output.quantiles", {"0.5": [1, 2]}), "profile.output.quantiles.0.5"),
    (_set("profile.output.frequencies", {"lily": 1.0}), "profile.output.frequencies.lily"),
    (_set("extra", 1), "extra"),
]




# --- schema 3: a profile drift is measured against ----------------------------------------------------------


def _valid_v3() -> dict[str, Any]:
    data = _valid_v2()
    data["schema"] = 3
    data["profile"]["features"] = {
        "mean radius": {**data["profile"]["features"]["mean radius"],
                        "bins": {"edges": [12.5, 14.5], "shares": [0.166, 0.334, 0.167]}},
        "home city": data["profile"]["features"]["home city"],
        "visits": {**data["profile"]["features"]["visits"], "bins": {"edges": [2.5], "shares": [0.5, 0.5]}},
        "member": {"null_fraction": 0.0, "frequencies": {"0": 0.5, "1": 0.5}},
        "G1": {"null_fraction": 0.0, "frequencies": {"0": 0.5, "1": 0.5}},
    }
    return data


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for p in parents:
            d = d[p]
        del d[last]

    return apply


def test_schema_3_loads_and_makes_a_drift_profile(tmp_path: Path) -> None:
    from smodels.manifest.drift import drift_document, drift_profile

    m = load_manifest(_write(tmp_path, _valid_v3()))
    assert m.schema == 3 and m.to_dict() == _valid_v3()
    doc, reason = drift_document(m)
    assert reason == "" and doc is not None
    kinds = [(f["name"], f["kind"]) for f in doc["features"]]
    assert kinds == [("mean radius", "bins"), ("home city", "categories"), ("visits", "bins"),
                     ("member", "categories"), ("G1", "categories")]
    assert doc["features"][0] == {"name": "mean radius", "kind": "bins", "edges": [12.5, 14.5],
                                  "shares": [0.166, 0.334, 0.167], "missing": 0.333, "low": 11.5, "high": 15.5}
    assert doc["features"][1]["categories"] == ["Bern", "Zürich"] and doc["features"][3]["categories"] == ["0", "1"]
    assert doc["output"] == {"kind": "classes", "classes": ["setosa", "versicolor", "virginica"],
                             "shares": [0.0, 0.0, 1.0]}
    profile, _ = drift_profile(m)
    assert profile.id == doc["id"] and profile.slots == (3 + 2) + (3 + 2) + (2 + 2) + (3 + 2) * 2 + 3


def test_older_manifests_load_and_say_drift_unavailable(tmp_path: Path) -> None:
    from smodels.manifest.drift import drift_document

    (tmp_path / "v2").mkdir()
    v2 = load_manifest(_write(tmp_path / "v2", _valid_v2()))  # a schema 2 profile: no bins
    doc, reason = drift_document(v2)
    assert doc is None and "no profile: drift unavailable" in reason and "'mean radius'" in reason
    v1 = load_manifest(_write(tmp_path, _valid()))
    assert v1.profile is None
    assert drift_document(v1) == (None, f"model {v1.name}: no profile: drift unavailable (its manifest, schema 1, "
                                  "records no training profile; re-run `smodels add-model` or the training script "
                                  "to record one)")


BAD_V3 = [
    (_drop("profile.features.visits.bins"), "profile.features.visits.bins"),
    (_drop("profile.features.member.frequencies"), "profile.features.member.frequencies"),
    (_drop("profile.features.G1"), "profile.features.G1"),
    (_drop("profile.features.G1.null_fraction"), "profile.features.G1.null_fraction"),
    (_drop("profile.output.frequencies"), "profile.output.frequencies"),
    (_set("profile.features.visits.bins", {"edges": [3, 2], "shares": [0.5, 0.25, 0.25]}),
     "profile.features.visits.bins.edges[1]"),
    (_set("profile.features.visits.bins", {"edges": [2.5], "shares": [1.0]}), "profile.features.visits.bins.shares"),
    (_set("profile.features.visits.bins", {"edges": [2.5], "shares": [0.5, 1.5]}),
     "profile.features.visits.bins.shares[1]"),
    (_set("profile.features.visits.bins", {"edges": [2.5], "shares": [0.5, 0.5], "n": 1}),
     "profile.features.visits.bins.n"),
    (_set("profile.features.home city.bins", {"edges": [], "shares": [1.0]}), "profile.features.home city.bins"),
    (_set("profile.features.member.frequencies", {"yes": 0.5}), "profile.features.member.frequencies.yes"),
    (_set("profile.output.bins", {"edges": [], "shares": [1.0]}), "profile.output.bins"),
]


BAD_V2_V3 = [(2, m, f) for m, f in BAD_V2] + [(3, m, f) for m, f in BAD_V3]


@pytest.mark.parametrize(("schema", "mutate", "field"), BAD_V2_V3,
                         ids=[f"v{v}-{f}-{i}" for i, (v, _, f) in enumerate(BAD_V2_V3)])
def test_each_bad_schema_2_or_3_field_is_named(tmp_path: Path, schema: int, mutate: Callable[[dict[str, Any]], None],
                                               field: str) -> None:
    data = copy.deepcopy(_valid_v2() if schema == 2 else _valid_v3())
    mutate(data)
    with pytest.raises(ManifestError) as exc:
        manifest_from_dict(data, tmp_path, verify_artifact=False)
    assert exc.value.field == field, str(exc.value)
    assert str(exc.value).startswith(f"{field}: ")
