"""Artifact readers per framework: pickle/joblib (with a warning), skops (trust-checked) and Keras (safe mode)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smodels.add_model.errors import AddModelError

PICKLE_WARNING = ("warning: {path} is a pickle: loading it runs whatever code it holds. Load only files you "
                  "trust. smodels add-model writes a safe format where one exists, so the endpoint never unpickles.")
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


@dataclass
class Loaded:
    """A model read from a file or directory, and what came with it (an MLflow input example)."""

    model: Any
    source: str
    example: Any = None  # pandas DataFrame from an MLflow input example, or None

def _load_pickle(path: Path, say: Callable[[str], None]) -> Any:
    say(PICKLE_WARNING.format(path=path))
    try:
        import joblib  # reads plain pickles too

        return joblib.load(path)
    except Exception as exc:  # unpickling raises anything: missing modules, version skew, truncated files
        raise AddModelError("artifact", f"cannot load the pickle {path}: {type(exc).__name__}: {exc}") from None


def _load_skops(data: bytes, what: str, extra: Sequence[str] = ()) -> Any:
    from functions.predictors import TRUSTED_BY_REQUIREMENT, PredictorError, skops_estimator

    trusted = tuple(p for prefixes in TRUSTED_BY_REQUIREMENT.values() for p in prefixes)
    trusted += tuple(t for t in extra if t.startswith(trusted))
    try:
        return skops_estimator(data, trusted)
    except PredictorError as exc:
        raise AddModelError("artifact", f"{what}: {exc}") from None


def _load_keras(path: Path) -> Any:
    try:
        import keras

        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise AddModelError("artifact", f"keras cannot load {path} (in safe mode): {exc}") from None
