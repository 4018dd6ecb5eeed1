"""models.train_sklearn: retraining reproduces the committed manifest, and the committed artifact loads safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from manifest_close import assert_same_manifest

from models import train_sklearn
from models.common import load_games
from smodels.manifest import load_manifest

SKLEARN_OR_NUMPY = ("sklearn.", "numpy.", "builtins.")


@pytest.fixture(scope="module")
def committed(repo_root: Path):
    return load_manifest(repo_root / "models" / "logreg")


def test_retrain_matches_committed_manifest(data_csv: Path, tmp_path: Path, committed) -> None:
    assert train_sklearn.main(["--data", str(data_csv), "--out", str(tmp_path)]) == 0
    fresh = load_manifest(tmp_path)
    assert fresh.training_data == committed.training_data
    assert abs(fresh.samples[0].output - train_sklearn.BOOK_REQUEST_PROBABILITY) <= 1e-9
    assert fresh.holdout.value == pytest.approx(committed.holdout.value, abs=1e-6)
    assert 0.7 < fresh.holdout.value < 0.9
    assert fresh.feature_names == committed.feature_names
    assert np.allclose(fresh.parity.outputs, committed.parity.outputs, rtol=0, atol=1e-12)
    assert fresh.size_bytes < 64_000


def test_committed_artifact_reproduces_every_sample(committed) -> None:
    import skops.io

    data = committed.artifact_path.read_bytes()
    untrusted = skops.io.get_untrusted_types(data=data)
    # What a serving side would accept: only sklearn/numpy types may be trusted explicitly.
    assert all(t.startswith(SKLEARN_OR_NUMPY) for t in untrusted), untrusted
    model = skops.io.loads(data, trusted=untrusted)
    rows = np.asarray(committed.sample_rows(), dtype=np.float64)
    got = model.predict_proba(rows)[:, 1]
    want = np.asarray([s.output for s in committed.samples])
    assert np.max(np.abs(got - want)) <= 1e-12
    assert abs(got[0] - train_sklearn.BOOK_REQUEST_PROBABILITY) <= 1e-9
    par = model.predict_proba(np.asarray(committed.parity.rows, dtype=np.float64))[:, 1]
    assert np.max(np.abs(par - np.asarray(committed.parity.outputs))) <= 1e-12


def test_committed_model_has_no_feature_names(committed) -> None:
    import warnings

    import skops.io

    data = committed.artifact_path.read_bytes()
    model = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    assert not hasattr(model, "feature_names_in_")
    assert model.solver == "liblinear"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict_proba(np.zeros((1, 10)))


def test_holdout_is_an_honest_estimate(data_csv: Path, committed) -> None:
    # Recompute the holdout AUC independently of the script, to catch a leak of the holdout into training.
    from sklearn.metrics import roc_auc_score

    from models.common import holdout_split

    data = load_games(str(data_csv))
    tr, ho = holdout_split(data.rows)
    m = train_sklearn.make_model().fit(data.x[tr], data.y[tr])
    assert roc_auc_score(data.y[ho], m.predict_proba(data.x[ho])[:, 1]) == pytest.approx(
        committed.holdout.value, abs=1e-6)


def test_bad_data_exits_2_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("G1,label\n1,0\n")
    assert train_sklearn.main(["--data", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "missing column" in err and "G10" in err
    assert not (tmp_path / "out").exists()


def test_refresh_manifest_rewrites_only_the_manifest(data_csv: Path, tmp_path: Path, repo_root: Path) -> None:
    """`--refresh-manifest` on a copy of models/logreg writes the committed model.json (the profile is reproducible;
    floats to their last bits, which follow the CPU's BLAS kernels) and leaves model.skops as it was."""
    import shutil

    committed = repo_root / "models" / "logreg"
    shutil.copyfile(committed / "model.skops", tmp_path / "model.skops")
    old = load_manifest(committed)
    from dataclasses import replace

    from smodels.manifest import write_manifest

    write_manifest(replace(old, schema=1, profile=None, directory=tmp_path), tmp_path)  # as it was before drift
    assert train_sklearn.main(["--data", str(data_csv), "--out", str(tmp_path), "--refresh-manifest"]) == 0
    assert_same_manifest((tmp_path / "model.json").read_text(), (committed / "model.json").read_text())
    assert (tmp_path / "model.skops").read_bytes() == (committed / "model.skops").read_bytes()


def test_the_committed_profile_is_the_training_data(data_csv: Path, committed) -> None:
    data = load_games(str(data_csv))
    features = committed.profile["features"]
    for j, name in enumerate(committed.feature_names):
        freq = features[name]["frequencies"]
        assert freq["1"] == pytest.approx(data.x[:, j].mean(), abs=1e-15) and freq["0"] + freq["1"] == 1.0
        assert features[name]["null_fraction"] == 0.0
    bins = committed.profile["output"]["bins"]
    assert len(bins["shares"]) == len(bins["edges"]) + 1 and sum(bins["shares"]) == pytest.approx(1.0, abs=1e-12)
    outputs = set(committed.parity.outputs)  # the model's outputs are few distinct values: none sits on an edge
    assert not outputs & set(bins["edges"])


def test_refresh_refuses_other_data(tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.copytree(repo_root / "models" / "logreg", tmp_path / "m")
    other = tmp_path / "other.csv"
    other.write_text("G1,G2,G3,G4,G5,G6,G7,G8,G9,G10,label\n" + "1,0,0,0,0,0,0,0,0,0,1\n0,0,0,0,0,0,0,0,0,1,0\n")
    assert train_sklearn.main(["--data", str(other), "--out", str(tmp_path / "m"), "--refresh-manifest"]) == 2
    assert "is not the data" in capsys.readouterr().err
