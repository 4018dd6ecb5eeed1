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


def _valid() -> dict[str, Any]:
    rows = [[(i >> j) & 1 for j in range(10)] for i in range(200)]
    return {
        "schema": 1,
        "name": "games-logreg",
        "description": "test manifest",
        "framework": "scikit-learn",
        "framework_version": "1.9.1",
        "backend": None,
        "python_version": "3.11.7",
        "format": "skops",
        "artifact": "model.skops",
        "sha256": hashlib.sha256(ARTIFACT_BYTES).hexdigest(),
        "size_bytes": len(ARTIFACT_BYTES),
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
    (_set("schema", 2), "schema"),
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
