"""Fixtures for the packager tests: one session build dir (each real package is built once), the two book models
(committed manifests when present, else trained into a temp dir), and the target interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smodels.packager import find_interpreter

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    """One build dir for the whole session, so each package is installed once."""
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def py313() -> str:
    """A working CPython 3.13 (the default Lambda/GCP target); skip with how to get one."""
    found = find_interpreter("3.13")
    if not found:
        pytest.skip("no working python3.13 found: `pyenv install 3.13` (or set SMODELS_PYTHON313 to one)")
    return found


def _train(module: str, data_csv: Path, out: Path, *extra: str) -> Path:
    res = subprocess.run(
        [sys.executable, "-m", module, "--data", str(data_csv), "--out", str(out), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def logreg_dir(tmp_path_factory, data_csv) -> Path:
    """The book's LogisticRegression manifest dir: models/logreg if committed, else trained into a temp dir."""
    committed = REPO / "models" / "logreg"
    if (committed / "model.json").is_file():
        return committed
    return _train("models.train_sklearn", data_csv, tmp_path_factory.mktemp("logreg"))


@pytest.fixture(scope="session")
def keras_dir(tmp_path_factory, data_csv) -> Path:
    """The book's Keras manifest dir: models/keras if committed, else a 1-epoch model trained into a temp dir."""
    committed = REPO / "models" / "keras"
    if (committed / "model.json").is_file():
        return committed
    return _train("models.train_keras", data_csv, tmp_path_factory.mktemp("keras"), "--epochs", "1")
