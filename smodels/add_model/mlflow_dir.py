"""MLflow model directories: the MLmodel file's flavor, model file, signature and input example."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.readers import Loaded, _load_keras, _load_pickle, _load_skops

_MLFLOW_FLAVORS = ("sklearn", "xgboost", "lightgbm", "keras")


def _load_mlflow(directory: Path, say: Callable[[str], None]) -> Loaded:
    """An MLflow model directory: its MLmodel names the flavor, the model file, the signature and an example."""
    import yaml

    try:
        meta = yaml.safe_load((directory / "MLmodel").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AddModelError("artifact", f"{directory}/MLmodel is not readable YAML: {exc}") from None
    flavors = meta.get("flavors") or {}
    flavor = next((f for f in _MLFLOW_FLAVORS if f in flavors), None)
    if flavor is None:
        raise AddModelError("flavor", f"the MLflow model has flavors {', '.join(sorted(flavors)) or 'none'}; "
                            f"supported: {', '.join(_MLFLOW_FLAVORS)}")
    conf = flavors[flavor] or {}
    source = f"{directory.name} (MLflow {flavor})"

    def file(key: str) -> Path:
        rel = conf.get(key)
        target = (directory / str(rel)).resolve() if rel else None
        if target is None or not target.exists() or directory.resolve() not in (target, *target.parents):
            raise AddModelError("artifact", f"MLflow flavor {flavor}: {key} {rel!r} is not a file in {directory}")
        return target

    if flavor == "sklearn":
        model = _mlflow_serialized(file("pickled_model"), conf, say)
    elif flavor == "xgboost":
        model = _mlflow_xgboost(file("data"), str(conf.get("model_class") or "xgboost.core.Booster"))
    elif flavor == "lightgbm":
        path = file("data")
        if str(conf.get("model_class", "")).endswith(".Booster") or path.suffix in (".lgb", ".txt"):
            import lightgbm

            try:
                model = lightgbm.Booster(model_file=str(path))
            except Exception as exc:
                raise AddModelError("artifact", f"LightGBM cannot read {path}: {exc}") from None
        else:
            model = _mlflow_serialized(path, conf, say)
    else:  # keras
        data = file("data")
        found = sorted(data.rglob("*.keras")) if data.is_dir() else [data]
        if not found or found[0].suffix != ".keras":
            raise AddModelError("artifact", f"MLflow keras flavor: no .keras file under {data} (older Keras save "
                                "formats are not supported)")
        model = _load_keras(found[0])
    return Loaded(model, source, _mlflow_example(directory, meta))


def _mlflow_serialized(path: Path, conf: dict[str, Any], say: Callable[[str], None]) -> Any:
    fmt = str(conf.get("serialization_format") or "cloudpickle")
    if fmt == "skops":
        extra = [str(t) for t in conf.get("skops_trusted_types") or ()]
        return _load_skops(path.read_bytes(), str(path), extra)
    if fmt in ("pickle", "cloudpickle"):
        return _load_pickle(path, say)
    raise AddModelError("artifact", f"MLflow serialization_format {fmt!r} is not supported (skops, pickle, "
                        "cloudpickle)")


def _mlflow_xgboost(path: Path, model_class: str) -> Any:
    import xgboost

    allowed = {"xgboost.sklearn.XGBClassifier": xgboost.XGBClassifier,
               "xgboost.sklearn.XGBRegressor": xgboost.XGBRegressor,
               "xgboost.sklearn.XGBRFClassifier": xgboost.XGBRFClassifier,
               "xgboost.sklearn.XGBRFRegressor": xgboost.XGBRFRegressor,
               "xgboost.core.Booster": xgboost.Booster}
    cls = allowed.get(model_class)
    if cls is None:
        raise AddModelError("model", f"MLflow xgboost model_class {model_class!r} is not supported "
                            f"({', '.join(sorted(allowed))})")
    model = cls()
    try:
        model.load_model(str(path))
    except Exception as exc:
        raise AddModelError("artifact", f"XGBoost cannot read {path}: {exc}") from None
    return model


_SIGNATURE_DTYPES = {"double": "float64", "float": "float64", "long": "int64", "integer": "int64",
                     "boolean": "bool", "string": "object"}


def _mlflow_example(directory: Path, meta: dict[str, Any]) -> Any:
    """The saved input example as a DataFrame (columns typed by the signature), or None."""
    import pandas as pd

    info = meta.get("saved_input_example_info") or {}
    rel = info.get("artifact_path")
    if not rel or not (directory / rel).is_file():
        return None
    try:
        doc = json.loads((directory / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AddModelError("example", f"MLflow input example {rel} is not JSON: {exc}") from None
    columns = _signature_columns(meta)
    if isinstance(doc, dict) and "columns" in doc and "data" in doc:
        frame = pd.DataFrame(doc["data"], columns=doc["columns"])
    elif isinstance(doc, list) and all(isinstance(r, dict) for r in doc):
        frame = pd.DataFrame(doc)
    elif isinstance(doc, dict) and isinstance(doc.get("inputs"), list) and columns:
        frame = pd.DataFrame(doc["inputs"], columns=[c for c, _ in columns])
    else:
        raise AddModelError("example", f"MLflow input example {rel}: unsupported layout (type "
                            f"{info.get('type')!r}); pass --example")
    for name, kind in columns:
        if name in frame.columns and kind in _SIGNATURE_DTYPES and not frame[name].isna().any():
            try:
                frame[name] = frame[name].astype(_SIGNATURE_DTYPES[kind])
            except (TypeError, ValueError):
                pass
    return frame


def _signature_columns(meta: dict[str, Any]) -> list[tuple[str, str]]:
    raw = (meta.get("signature") or {}).get("inputs")
    try:
        cols = json.loads(raw) if isinstance(raw, str) else (raw or [])
    except ValueError:
        return []
    return [(str(c["name"]), str(c.get("type"))) for c in cols if isinstance(c, dict) and c.get("name")]
