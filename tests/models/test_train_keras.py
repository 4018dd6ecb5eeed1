"""models.train_keras: a short training run gives a valid manifest; the committed model.keras reproduces it.

Training and these native runs use the jax backend (the dev venv's; CPU-only wheels). The committed model was
trained with torch and its manifest says so: it must still load and reproduce its samples under jax.

Also pins the structure of model.keras (zip entries, weight dataset paths) that the ONNX converter in
smodels/packager reads without keras, and checks a plain numpy forward pass over those weights.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from manifest_close import assert_same_manifest  # noqa: E402

from smodels.manifest import Manifest, load_manifest  # noqa: E402

# Keras 3 names the h5 groups by class and position within the model (dense, dense_1, ...), not by the
# layers' own names (dense_1 .. output in config.json). vars/0 is the kernel (in, out), vars/1 the bias.
DENSE = ("dense", "dense_1", "dense_2", "dense_3")
# keras 3.15 + numpy 2 (torch and jax backends): noisy, harmless "__array__ ... copy keyword" warnings.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
SHAPES = {"dense": (10, 64), "dense_1": (64, 64), "dense_2": (64, 64), "dense_3": (64, 1)}


@pytest.fixture(scope="module")
def committed(repo_root: Path) -> Manifest:
    return load_manifest(repo_root / "models" / "keras")


def _load_keras(path: Path):
    import keras

    assert keras.backend.backend() == "jax"
    return keras.saving.load_model(path, compile=False)


def _numpy_forward(artifact: Path, rows: np.ndarray) -> np.ndarray:
    """The model from its h5 weights alone: Dense+relu x3, Dense+sigmoid (Dropout is identity at inference)."""
    import h5py

    with zipfile.ZipFile(artifact) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        h = rows.astype(np.float32)
        for name in DENSE:
            w, b = f[f"layers/{name}/vars/0"][()], f[f"layers/{name}/vars/1"][()]
            assert w.shape == SHAPES[name] and b.shape == (SHAPES[name][1],)
            h = h @ w + b
            h = np.maximum(h, 0) if name != "dense_3" else 1 / (1 + np.exp(-h))
    return h.reshape(-1)


def _check_artifact(m: Manifest, atol: float) -> None:
    model = _load_keras(m.artifact_path)
    got = model.predict(np.asarray(m.sample_rows(), dtype=np.float32), verbose=0).reshape(-1)
    assert np.max(np.abs(got - np.asarray([s.output for s in m.samples]))) <= atol
    par = model.predict(np.asarray(m.parity.rows, dtype=np.float32), verbose=0).reshape(-1)
    assert np.max(np.abs(par - np.asarray(m.parity.outputs))) <= atol


def _check_structure(artifact: Path) -> None:
    import h5py

    with zipfile.ZipFile(artifact) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
        layers = [(layer["class_name"], layer["config"]["name"]) for layer in config["config"]["layers"]]
        assert layers == [
            ("InputLayer", "x"), ("Dense", "dense_1"), ("Dropout", "dropout_1"), ("Dense", "dense_2"),
            ("Dropout", "dropout_2"), ("Dense", "dense_3"), ("Dense", "output"),
        ]
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            assert "optimizer" not in f  # inference-only artifact
            datasets: list[str] = []
            f.visititems(lambda n, o: datasets.append(n) if isinstance(o, h5py.Dataset) else None)
    assert sorted(datasets) == sorted(f"layers/{n}/vars/{i}" for n in DENSE for i in (0, 1))


@pytest.mark.slow
def test_short_training_run(data_csv: Path, tmp_path: Path, committed: Manifest) -> None:
    from models import train_keras

    assert train_keras.main(["--data", str(data_csv), "--epochs", "2", "--out", str(tmp_path)]) == 0
    m = load_manifest(tmp_path)
    assert (m.framework, m.backend, m.format, m.artifact) == ("keras", "jax", "keras", "model.keras")
    assert m.training_data == committed.training_data
    assert m.holdout.rows == committed.holdout.rows and 0.6 < m.holdout.value <= 1.0
    assert m.size_bytes < 100_000
    _check_structure(m.artifact_path)
    _check_artifact(m, atol=1e-6)


@pytest.mark.slow
def test_committed_keras_reproduces_samples(committed: Manifest) -> None:
    # Trained with torch (the historical backend, recorded in its manifest); loaded here under jax.
    assert committed.framework == "keras" and committed.backend == "torch"
    _check_artifact(committed, atol=1e-6)


def test_committed_keras_structure_and_numpy_forward(committed: Manifest) -> None:
    _check_structure(committed.artifact_path)
    got = _numpy_forward(committed.artifact_path, np.asarray(committed.parity.rows, dtype=np.float32))
    assert np.max(np.abs(got - np.asarray(committed.parity.outputs))) <= 1e-5


def test_bad_epochs_is_a_usage_error(data_csv: Path, tmp_path: Path) -> None:
    from models import train_keras

    with pytest.raises(SystemExit) as exc:
        train_keras.main(["--data", str(data_csv), "--epochs", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_training_refuses_another_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import keras

    from models import train_keras
    from models.common import parse_games_csv

    csv = b"G1,G2,G3,G4,G5,G6,G7,G8,G9,G10,label\n1,0,0,0,0,0,0,0,0,0,1\n0,0,0,0,0,0,0,0,0,1,0\n"
    data = parse_games_csv(csv, "t.csv")
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError, match="trains with jax"):
        train_keras.train(data, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_refresh_manifest_rewrites_only_the_manifest(data_csv: Path, tmp_path: Path, repo_root: Path,
                                                     committed: Manifest) -> None:
    """`--refresh-manifest` on a copy of models/keras writes the committed model.json (floats to their last bits,
    which follow the CPU's kernels) and leaves the torch-trained model.keras as it was (retraining would give other
    weights)."""
    import shutil
    from dataclasses import replace

    from models import train_keras
    from smodels.manifest import write_manifest

    shutil.copyfile(committed.artifact_path, tmp_path / "model.keras")
    write_manifest(replace(committed, schema=1, profile=None, directory=tmp_path), tmp_path)
    assert train_keras.main(["--data", str(data_csv), "--out", str(tmp_path), "--refresh-manifest"]) == 0
    assert_same_manifest((tmp_path / "model.json").read_text(), (committed.directory / "model.json").read_text())
    assert (tmp_path / "model.keras").read_bytes() == committed.artifact_path.read_bytes()
    assert committed.profile["features"]["G1"]["frequencies"]["1"] < 0.3  # on the 80% it was fit on
