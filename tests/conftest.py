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




# Test files whose tests load the model libraries (scikit-learn, Keras, MLflow, the converters) on the way.
_MODEL_ROOMS = ("tests/functions/", "tests/models/", "tests/smodels/packager/", "tests/smodels/test_add_model.py",
                "tests/smodels/test_drift_report.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`make test-fast` runs on xdist workers; this scheduler hands out a whole test file at a time and the program
    tests as one unit (they share their mock runs, see tests/infra/mockprogram.py), and keeps the files that load
    the model libraries on the worker that loaded them: each worker imports what its own files need, once."""
    from xdist.scheduler import LoadScopeScheduling

    def kind(scope: str) -> str:
        if scope.startswith("tests/infra/"):
            return "pulumi"
        return "models" if scope.startswith(_MODEL_ROOMS) else "light"

    preference = {"pulumi": ("pulumi", "light", "models"), "models": ("models", "light", "pulumi"),
                  "light": ("light", "models", "pulumi")}

    class RoomScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/infra/" if path.startswith("tests/infra/") else path

        def _assign_work_unit(self, node: object) -> None:
            assigned = self.assigned_work.get(node)
            if assigned:
                first = kind(next(iter(assigned)))
                for wanted in preference[first]:
                    scope = next((s for s in self.workqueue if kind(s) == wanted), None)
                    if scope is not None:
                        self.workqueue.move_to_end(scope, last=False)
                        break
            elif not self.assigned_work and "tests/infra/" in self.workqueue:  # the longest unit goes first
                self.workqueue.move_to_end("tests/infra/", last=False)
            super()._assign_work_unit(node)

    return RoomScheduling(config, log)
