"""Shared fixtures: the repo root and the book's games CSV (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Keras reads its backend once, at import, from here or from ~/.keras/keras.json (which may name a backend
# that is not installed): the suite runs Keras on jax, the dev requirements' CPU backend, whatever the machine has.
os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_csv() -> Path:
    """Path of games-expand.csv: $SMODELS_DATA, else ../shared/data/ beside the repo; skips if absent."""
    env = os.environ.get("SMODELS_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "games-expand.csv"
    if not path.is_file():
        pytest.skip(f"games data not found at {path} (set SMODELS_DATA to the games-expand.csv path)")
    return path


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported while collecting lives for the whole run: freeze it out of the cyclic collector and let
    the collector run less often. Its passes otherwise walk those objects again and again: a third of a mock
    program run's time goes to them (the Pulumi SDK makes thousands of short-lived tasks and futures per run)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)

