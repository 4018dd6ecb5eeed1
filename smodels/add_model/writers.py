"""Artifact writers: skops, XGBoost JSON, LightGBM text or .keras, each reloaded and checked before writing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.inspection import _Model


def _write_artifact(m: _Model, directory: Path, check: Callable[[Any, str], None]) -> tuple[str, str]:
    """Write the model in its safe format into ``directory``; ``check(predict, format)`` must accept the reloaded
    model. Returns (file name, format)."""
    if m.kind == "sklearn":
        return _write_skops(m, directory, check)
    if m.kind in ("xgb-sklearn", "xgb-booster"):
        return _write_xgboost(m, directory, check)
    if m.kind in ("lgb-sklearn", "lgb-booster"):
        return _write_lightgbm(m, directory, check)
    return _write_keras(m, directory, check)


def _write_skops(m: _Model, directory: Path, check: Callable[[Any, str], None]) -> tuple[str, str]:
    import skops.io as sio

    from functions.predictors import PredictorError, skops_estimator, trusted_prefixes

    try:
        data = sio.dumps(m.obj)
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise AddModelError("model", f"unsupported estimator: skops cannot save it ({type(exc).__name__}: "
                            f"{exc})") from None
    for lib in ("xgboost", "lightgbm"):
        if any(t.startswith(f"{lib}.") for t in untrusted):
            m.requirements[lib] = __import__(lib).__version__
    try:
        reloaded = skops_estimator(data, trusted_prefixes(m.requirements))
    except PredictorError as exc:
        raise AddModelError("model", f"unsupported estimator: {exc}. Only scikit-learn, numpy, xgboost and "
                            "lightgbm types can be served safely (a custom transformer cannot)") from None
    original = m.obj
    m.obj = reloaded
    try:
        check(m, "skops")
    finally:
        m.obj = original
    (directory / "model.skops").write_bytes(data)
    return "model.skops", "skops"


def _write_xgboost(m: _Model, directory: Path, check: Callable[[Any, str], None]) -> tuple[str, str]:
    import xgboost

    booster = m.obj.get_booster() if m.kind == "xgb-sklearn" else m.obj
    try:
        best = m.obj.best_iteration if m.kind == "xgb-sklearn" else None
    except AttributeError:
        best = None
    if best is not None:
        booster = booster[: best + 1]  # the scikit-learn API predicts with the best iteration only
    copy = xgboost.Booster()
    copy.load_model(bytearray(booster.save_raw("json")))
    copy.feature_names = None  # served from a float matrix in model order; names live in the manifest
    copy.feature_types = None
    data = bytes(copy.save_raw("json"))
    served = xgboost.Booster()
    served.load_model(bytearray(data))
    check(_Model(served, "xgb-booster", m.framework, m.framework_version, m.task, m.classes, None,
                 m.n_features), "xgboost")
    (directory / "model.xgb.json").write_bytes(data)
    return "model.xgb.json", "xgboost"


def _write_lightgbm(m: _Model, directory: Path, check: Callable[[Any, str], None]) -> tuple[str, str]:
    import lightgbm

    booster = m.obj.booster_ if m.kind == "lgb-sklearn" else m.obj
    text = booster.model_to_string()  # num_iteration=None: the best iteration when there is one
    served = lightgbm.Booster(model_str=text)
    check(_Model(served, "lgb-booster", m.framework, m.framework_version, m.task, m.classes, None,
                 m.n_features), "lightgbm")
    (directory / "model.lgb.txt").write_text(text, encoding="utf-8")
    return "model.lgb.txt", "lightgbm"


def _write_keras(m: _Model, directory: Path, check: Callable[[Any, str], None]) -> tuple[str, str]:
    import keras

    path = directory / "model.keras"
    m.obj.save(path)
    original = m.obj
    try:
        m.obj = keras.saving.load_model(path, compile=False, safe_mode=True)
        check(m, "keras")
    except Exception:
        path.unlink(missing_ok=True)
        raise
    finally:
        m.obj = original
    return "model.keras", "keras"
