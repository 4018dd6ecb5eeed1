"""`smodels add-model` and ``smodels.save_model``: a trained model becomes an endpoint directory.

From a model (in memory, or a joblib/pickle, ``.skops`` or ``.keras`` file, or an MLflow model directory) and an
example of its input (a DataFrame or a CSV; an MLflow input example stands in), write ``model.json``
(manifest schema 2, docs/DESIGN.md) and the artifact in a safe format where one exists:

- scikit-learn estimators and Pipelines -> skops, checked against the serving side's trust list
  (``functions.predictors.skops_estimator``: sklearn/numpy types, plus xgboost/lightgbm inside a Pipeline);
- a bare XGBoost model -> XGBoost's own JSON (format ``xgboost``); a bare LightGBM model -> its text model
  (format ``lightgbm``); both non-executing and loadable without scikit-learn;
- Keras -> ``.keras`` (loaded back in safe mode).

It infers the input schema (names in model order, types, categories, whether unknown categories are ignored,
nullable where the example has missing values and the model takes them), a training profile, samples and parity
rows with the native model's outputs computed on the values exactly as the endpoint parses them
(``functions.schema``), the task and class labels, and a metric on the example when its label column is named.
Every artifact written is loaded back and must reproduce those outputs.

Frameworks are imported inside the functions that need them: ``smodels`` stays cheap to import.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smodels.manifest import (
    MIN_SAMPLES,
    SCHEMA_VERSION,
    Feature,
    Holdout,
    Manifest,
    ManifestError,
    Parity,
    Sample,
    TrainingData,
    default_output,
    load_manifest,
    sha256_file,
    write_manifest,
)

MAX_PARITY_ROWS = 250
MAX_SAMPLES = 5
PROFILE_MAX_ROWS = 10_000  # outputs, samples, parity and the metric use the first rows of a larger example
QUANTILES = (0.01, 0.5, 0.99)
MAX_FREQUENCIES = 1000  # most frequent categories kept in the profile
RELOAD_TOLERANCE = 1e-6  # written artifact vs model in memory (regression: relative to max(1, max |output|))
PICKLE_WARNING = ("warning: {path} is a pickle: loading it runs whatever code it holds. Load only files you "
                  "trust. smodels add-model writes a safe format where one exists, so the endpoint never unpickles.")

_NAME_SLUG = re.compile(r"[^a-z0-9]+")
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
_MLFLOW_FLAVORS = ("sklearn", "xgboost", "lightgbm", "keras")


class AddModelError(ValueError):
    """Why a model cannot be added; ``field`` names what is wrong (model, artifact, example, label, name, flavor)
    and ``column`` the example column, when one is to blame."""

    def __init__(self, field: str, message: str, column: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.column = column


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


# --- loading artifacts -----------------------------------------------------------------------------------


@dataclass
class Loaded:
    """A model read from a file or directory, and what came with it (an MLflow input example)."""

    model: Any
    source: str
    example: Any = None  # pandas DataFrame from an MLflow input example, or None


def load_artifact(path: str | Path, *, say: Callable[[str], None] = _stderr) -> Loaded:
    """Read ARTIFACT: a joblib/pickle file (with a warning), ``.skops``, ``.keras`` or an MLflow model directory."""
    p = Path(path)
    if p.is_dir():
        if (p / "MLmodel").is_file():
            return _load_mlflow(p, say)
        raise AddModelError("artifact", f"{p} is a directory without an MLmodel file (not an MLflow model)")
    if not p.is_file():
        raise AddModelError("artifact", f"file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        return Loaded(_load_pickle(p, say), p.name)
    if suffix == ".skops":
        return Loaded(_load_skops(p.read_bytes(), str(p)), p.name)
    if suffix == ".keras":
        return Loaded(_load_keras(p), p.name)
    raise AddModelError("artifact", f"{p.name}: unknown kind of artifact; give a .joblib/.pkl/.pickle file, a "
                        ".skops or .keras file, or an MLflow model directory")


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


# --- what the model is -----------------------------------------------------------------------------------


@dataclass
class _Model:
    """The native model and what it tells about itself."""

    obj: Any
    kind: str  # sklearn | xgb-sklearn | xgb-booster | lgb-sklearn | lgb-booster | keras
    framework: str
    framework_version: str
    task: str
    classes: list[Any]
    names: list[str] | None  # the model's own feature names, in its input order
    n_features: int | None
    requirements: dict[str, str] = field(default_factory=dict)
    backend: str | None = None

    @property
    def booster(self) -> bool:
        return self.kind in ("xgb-sklearn", "xgb-booster", "lgb-sklearn", "lgb-booster")


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def inspect_model(model: Any) -> _Model:
    """Classify ``model``: its kind, task, class labels and feature names; AddModelError if unsupported."""
    mod = _module(model)
    if mod.startswith("xgboost"):
        return _inspect_xgboost(model)
    if mod.startswith("lightgbm"):
        return _inspect_lightgbm(model)
    if mod.startswith(("keras", "tf_keras")):
        return _inspect_keras(model)
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        BaseEstimator = ()  # noqa: N806
    if isinstance(model, BaseEstimator):
        return _inspect_sklearn(model)
    raise AddModelError("model", f"unsupported estimator {type(model).__module__}.{type(model).__qualname__}: "
                        "give a scikit-learn estimator or Pipeline, an XGBoost or LightGBM model (scikit-learn "
                        "API or Booster) or a Keras model")


def _labels(raw: Any) -> list[Any]:
    """Class labels as JSON values: numpy scalars unwrapped, whole floats as ints, booleans as 0/1."""
    out: list[Any] = []
    for c in list(raw):
        v = c.item() if hasattr(c, "item") else c
        if isinstance(v, bool):
            v = int(v)
        elif isinstance(v, float):
            if not v.is_integer():
                raise AddModelError("classes", f"class label {v!r} is not a whole number: train on string or "
                                    "integer labels")
            v = int(v)
        elif not isinstance(v, (int, str)):
            v = str(v)
        out.append(v)
    return out


def _task(classes: list[Any]) -> str:
    if len(classes) < 2:
        raise AddModelError("classes", f"the classifier knows {len(classes)} class(es); it needs at least 2")
    return "binary-classification" if len(classes) == 2 else "multiclass-classification"


def _names(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    names = [str(n) for n in list(raw)]
    return names or None


def _inspect_sklearn(model: Any) -> _Model:
    import sklearn
    from sklearn.base import is_classifier, is_regressor

    what = type(model).__name__
    if is_classifier(model) or hasattr(model, "classes_"):
        if not hasattr(model, "predict_proba"):
            raise AddModelError("model", f"unsupported estimator: the classifier {what} has no predict_proba "
                                "(e.g. SVC needs probability=True)")
        classes = _labels(getattr(model, "classes_", []))
        task = _task(classes)
    elif is_regressor(model):
        classes, task = [], "regression"
    else:
        raise AddModelError("model", f"unsupported estimator {what}: neither a classifier nor a regressor")
    return _Model(model, "sklearn", "scikit-learn", sklearn.__version__, task, classes,
                  _names(getattr(model, "feature_names_in_", None)), getattr(model, "n_features_in_", None),
                  {"scikit-learn": sklearn.__version__})


def _wrapper_task(model: Any, classifier: type, regressor: type) -> tuple[list[Any], str]:
    """(classes, task) of a boosting library's scikit-learn wrapper: its classifier or its regressor class."""
    if isinstance(model, classifier):
        classes = _labels(model.classes_)
        return classes, _task(classes)
    if isinstance(model, regressor):
        return [], "regression"
    raise AddModelError("model", f"unsupported estimator {type(model).__name__} ({classifier.__name__} and "
                        f"{regressor.__name__} are)")


def _inspect_xgboost(model: Any) -> _Model:
    import xgboost

    req = {"xgboost": xgboost.__version__}
    if isinstance(model, xgboost.XGBModel):
        classes, task = _wrapper_task(model, xgboost.XGBClassifier, xgboost.XGBRegressor)
        booster = model.get_booster()
        try:
            names = _names(model.feature_names_in_)
        except AttributeError:
            names = _names(booster.feature_names)
        return _Model(model, "xgb-sklearn", "xgboost", xgboost.__version__, task, classes, names,
                      booster.num_features(), req)
    if isinstance(model, xgboost.Booster):
        cfg = json.loads(model.save_config())["learner"]
        objective = cfg["objective"]["name"]
        if objective == "binary:logistic":
            classes, task = [0, 1], "binary-classification"
        elif objective == "multi:softprob":
            classes = list(range(int(cfg["learner_model_param"]["num_class"])))
            task = _task(classes)
        elif objective.startswith(("reg:", "count:", "survival:")) and objective != "survival:cox":
            classes, task = [], "regression"
        else:
            raise AddModelError("model", f"unsupported XGBoost objective {objective!r} (binary:logistic, "
                                "multi:softprob, reg:*)")
        return _Model(model, "xgb-booster", "xgboost", xgboost.__version__, task, classes,
                      _names(model.feature_names), model.num_features(), req)
    raise AddModelError("model", f"unsupported estimator {type(model).__module__}.{type(model).__name__}")


def _inspect_lightgbm(model: Any) -> _Model:
    import lightgbm

    req = {"lightgbm": lightgbm.__version__}
    if isinstance(model, lightgbm.LGBMModel):
        classes, task = _wrapper_task(model, lightgbm.LGBMClassifier, lightgbm.LGBMRegressor)
        booster = model.booster_
        names = _names(booster.feature_name()) if getattr(model, "_fitted_with_feature_names", True) else None
        return _Model(model, "lgb-sklearn", "lightgbm", lightgbm.__version__, task, classes,
                      names, booster.num_feature(), req)
    if isinstance(model, lightgbm.Booster):
        dump = model.dump_model(num_iteration=0)
        objective = str(dump.get("objective", "")).split(" ")[0]
        if objective in ("binary", "cross_entropy", "xentropy"):
            classes, task = [0, 1], "binary-classification"
        elif objective in ("multiclass", "softmax"):
            classes = list(range(int(dump["num_class"])))
            task = _task(classes)
        elif objective in ("regression", "regression_l2", "l2", "regression_l1", "l1", "huber", "fair",
                           "poisson", "quantile", "mape", "gamma", "tweedie"):
            classes, task = [], "regression"
        else:
            raise AddModelError("model", f"unsupported LightGBM objective {objective!r}")
        names = _names(model.feature_name())
        if names == [f"Column_{i}" for i in range(len(names or []))]:
            names = None  # LightGBM's placeholder names: the model was trained without names
        return _Model(model, "lgb-booster", "lightgbm", lightgbm.__version__, task, classes, names,
                      model.num_feature(), req)
    raise AddModelError("model", f"unsupported estimator {type(model).__module__}.{type(model).__name__}")


def _inspect_keras(model: Any) -> _Model:
    import keras

    if not isinstance(model, keras.Model):
        raise AddModelError("model", f"unsupported estimator {type(model).__name__} (a keras.Model is)")
    inputs = model.inputs
    if len(inputs) != 1 or len(inputs[0].shape) != 2:
        raise AddModelError("model", "the Keras model must take one input of shape [N, features]")
    units = model.outputs[0].shape[-1]
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", None)
    if units == 1 and activation == "sigmoid":
        classes, task = [0, 1], "binary-classification"
    elif units == 1 and activation == "linear":
        classes, task = [], "regression"
    elif units and units >= 2 and activation == "softmax":
        classes = list(range(units))
        task = _task(classes)
    else:
        raise AddModelError("model", f"unsupported Keras head: {units} unit(s) with activation {activation!r} "
                            "(sigmoid: 1 unit, softmax: K units, linear: 1 unit)")
    backend = keras.backend.backend()
    req = {"keras": keras.__version__}
    try:
        lib = __import__({"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}.get(backend, backend))
        req[backend] = str(lib.__version__)
    except ImportError:
        pass
    return _Model(model, "keras", "keras", keras.__version__, task, classes, None, int(inputs[0].shape[-1]),
                  req, backend)


# --- the example and the input schema --------------------------------------------------------------------


def read_example(example: Any) -> tuple[Any, TrainingData | None]:
    """The example as a DataFrame, and its provenance (sha256 and rows) when it is a CSV file."""
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        frame, training = example.reset_index(drop=True), None
    elif isinstance(example, (str, Path)):
        path = Path(example)
        if not path.is_file():
            raise AddModelError("example", f"CSV file not found: {path}")
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise AddModelError("example", f"cannot read {path} as CSV: {exc}") from None
        training = TrainingData(source=str(example), sha256=sha256_file(path), rows=max(1, len(frame)))
    else:
        raise AddModelError("example", f"must be a pandas DataFrame or a CSV path, got {type(example).__name__}")
    if len(frame) < MIN_SAMPLES:
        raise AddModelError("example", f"has {len(frame)} row(s); at least {MIN_SAMPLES} are needed for the samples")
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != len(frame.columns):
        raise AddModelError("example", "column names must be distinct")
    return frame, training


def _lgb_name(column: str) -> str:
    """LightGBM's stored form of a feature name (it replaces whitespace with underscores)."""
    return re.sub(r"\s", "_", column)


def feature_columns(m: _Model, columns: list[str], label: str | None) -> list[str]:
    """The example columns the model takes, in model order; AddModelError naming a missing column."""
    available = [c for c in columns if c != label]
    if m.names:
        if label is not None and label in m.names:
            raise AddModelError("label", f"{label!r} is one of the model's input features", label)
        out = []
        for name in m.names:
            if name in available:
                out.append(name)
                continue
            matches = [c for c in available if _lgb_name(c) == name] if m.kind.startswith("lgb") else []
            if len(matches) != 1:
                raise AddModelError("example", f"missing column {name!r}, which the model needs (model "
                                    f"columns: {', '.join(map(repr, m.names))})", name)
            out.append(matches[0])
        return out
    if m.n_features is not None and len(available) != m.n_features:
        hint = "" if label else "; name the label column with --label if the example has one"
        raise AddModelError("example", f"the model takes {m.n_features} unnamed columns, the example has "
                            f"{len(available)} ({', '.join(map(repr, available))}){hint}")
    return available


def _is_missing(v: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def infer_type(column: str, series: Any) -> str:
    """numeric, integer, binary (only 0/1 seen), boolean (bool dtype) or categorical (strings seen)."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pt

    values = series.dropna()
    if pt.is_bool_dtype(series.dtype):
        return "boolean"
    if pt.is_numeric_dtype(series.dtype):
        nums = values.to_numpy(dtype=np.float64)
        if not np.isfinite(nums).all():
            raise AddModelError("example", f"column {column!r} has infinite values", column)
        if len(nums) and np.isin(nums, (0.0, 1.0)).all():
            return "binary"
        return "integer" if pt.is_integer_dtype(series.dtype) else "numeric"
    if pt.is_datetime64_any_dtype(series.dtype) or pt.is_timedelta64_dtype(series.dtype):
        raise AddModelError("example", f"column {column!r} holds dates or durations: not a supported input type",
                            column)
    items = values.tolist()
    if isinstance(series.dtype, pd.CategoricalDtype) or all(isinstance(v, str) for v in items):
        if not all(isinstance(v, str) for v in items):
            raise AddModelError("example", f"categorical column {column!r} has non-string categories", column)
        return "categorical"
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        return "boolean"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in items):
        return infer_type(column, pd.to_numeric(series))
    raise AddModelError("example", f"column {column!r} mixes strings and other values", column)


def _encoders(model: Any, columns: list[str]) -> dict[str, list[tuple[list[str], bool]]]:
    """Per input column, the categories of each scikit-learn encoder that encodes it and whether it ignores
    unknown categories (OneHotEncoder handle_unknown="ignore"/"infrequent_if_exist", OrdinalEncoder
    "use_encoded_value", TargetEncoder): found through Pipelines, ColumnTransformers and FeatureUnions."""
    try:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder
    except ImportError:  # pragma: no cover
        return {}
    found: dict[str, list[tuple[list[str], bool]]] = {}

    def visit(est: Any, cols: list[str] | None) -> None:
        own = getattr(est, "feature_names_in_", None)
        if own is not None:
            cols = [str(c) for c in own]
        if isinstance(est, Pipeline):
            for _, step in est.steps:
                if step is None or isinstance(step, str):
                    continue
                visit(step, cols)
                if not isinstance(step, SimpleImputer):  # an imputer keeps its columns in place; others may not
                    cols = None
        elif isinstance(est, FeatureUnion):
            for _, part in est.transformer_list:
                if not isinstance(part, str):
                    visit(part, cols)
        elif isinstance(est, ColumnTransformer):
            indices = getattr(est, "_transformer_to_input_indices", {})
            for name, trans, spec in getattr(est, "transformers_", ()):
                if isinstance(trans, str):
                    continue
                if cols is not None and name in indices:
                    sel: list[str] | None = [cols[i] for i in indices[name]]
                elif isinstance(spec, str):
                    sel = [spec]
                elif isinstance(spec, (list, tuple)) and all(isinstance(c, str) for c in spec):
                    sel = list(spec)
                else:
                    sel = None
                visit(trans, sel)
        elif isinstance(est, (OneHotEncoder, OrdinalEncoder, TargetEncoder)):
            cats = getattr(est, "categories_", None)
            if cols is None or cats is None or len(cats) != len(cols):
                return
            if isinstance(est, OneHotEncoder):
                ignore = est.handle_unknown in ("ignore", "infrequent_if_exist")
            elif isinstance(est, OrdinalEncoder):
                ignore = est.handle_unknown == "use_encoded_value"
            else:
                ignore = True  # TargetEncoder encodes an unseen category as the target mean
            for col, values in zip(cols, cats, strict=True):
                found.setdefault(col, []).append(([v for v in values.tolist() if isinstance(v, str)], ignore))

    visit(model, list(columns))
    return found


def _categories(column: str, seen: list[str], encoded: list[tuple[list[str], bool]]) -> tuple[list[str], bool]:
    """A categorical column's categories (the encoders' first, then values only the example has) and whether
    unknown categories are ignored (every encoder of the column ignores them)."""
    if not encoded:
        return sorted(set(seen)), False
    ignore = all(i for _, i in encoded)
    strict = [cats for cats, i in encoded if not i]
    base = strict[0] if strict else encoded[0][0]
    extra = sorted(set(seen) - set(base)) if ignore else []
    return list(base) + extra, ignore


# --- predicting as the endpoint will ---------------------------------------------------------------------


def _client_value(v: Any, ftype: str) -> Any:
    """A value of the example as a client sends it in JSON."""
    if _is_missing(v):
        return None
    if ftype == "categorical":
        return str(v)
    if ftype == "boolean":
        return bool(v)
    if ftype in ("binary", "integer"):
        return int(v)
    return float(v)


def _schema_of(features: list[Feature], task: str, classes: list[Any]) -> Any:
    from functions.schema import ModelSchema

    doc = {"task": task, "classes": classes, "features": [
        {"name": f.name, "type": f.type, "nullable": f.nullable, "categories": list(f.categories),
         "ignore_unknown": f.ignore_unknown} for f in features]}
    return ModelSchema.from_json(doc)


def _batch(schema: Any, rows: list[list[Any]]) -> Any:
    """The rows parsed exactly as the endpoint parses a request; an error here is a bug in the inference."""
    from functions.http import ApiError

    try:
        return schema.parse({"instances": rows}, max_rows=max(1, len(rows)))
    except ApiError as exc:
        raise AddModelError("example", f"the endpoint would refuse an example row: {exc.message}") from None


def _task_output(raw: Any, m: _Model) -> Any:
    """The model's raw output as its task's, exactly as the function shapes it (functions.predictors.task_output
    reads only ``task`` and ``classes``, which ``m`` has)."""
    from functions.predictors import PredictorError, task_output

    try:
        return task_output(raw, m, "the model")  # type: ignore[arg-type]
    except PredictorError as exc:
        raise AddModelError("model", f"{exc}: multi-output models are not supported") from None


def _native_input(m: _Model, batch: Any, schema: Any) -> Any:
    """What the native model is called with: the served values, framed the way the model was trained."""
    import numpy as np
    import pandas as pd

    if m.kind == "sklearn":
        if m.names:
            return batch.frame(schema)
        if all(f.type != "categorical" for f in schema.features):
            return np.array(batch.rows, dtype=np.float64).reshape(len(batch.rows), -1)
        return batch.objects()
    x = np.array(batch.rows, dtype=np.float64).reshape(len(batch.rows), -1)
    if m.kind == "keras":
        return x.astype(np.float32)
    if m.kind in ("xgb-sklearn", "lgb-sklearn") and m.names:
        return pd.DataFrame(x, columns=m.names)
    return x


def native_predict(m: _Model, x: Any) -> Any:
    """The task's output of the native model on ``x`` (from ``_native_input``)."""
    obj = m.obj
    if m.kind in ("sklearn", "xgb-sklearn", "lgb-sklearn"):
        raw = obj.predict(x) if m.task == "regression" else obj.predict_proba(x)
    elif m.kind == "xgb-booster":
        import xgboost

        raw = obj.predict(xgboost.DMatrix(x, feature_names=obj.feature_names))
    elif m.kind == "lgb-booster":
        raw = obj.predict(x)
    else:  # keras
        import keras

        raw = keras.ops.convert_to_numpy(obj(x, training=False))
    return _task_output(raw, m)


def _predict_rows(m: _Model, schema: Any, rows: list[list[Any]]) -> Any:
    import numpy as np

    batch = _batch(schema, rows)
    out = native_predict(m, _native_input(m, batch, schema))
    return np.asarray(out, dtype=np.float64)


def _check_missing(m: _Model, features: list[Feature], rows: list[list[Any]], schema: Any) -> Any:
    """Outputs on the example rows; with missing values the model must take them: else the column is named."""
    import numpy as np

    try:
        out = _predict_rows(m, schema, rows)
        if np.isfinite(out).all():
            return out
        failure = "returns non-finite outputs"
    except AddModelError:
        raise
    except Exception as exc:  # whatever the framework raises on the input
        failure = f"raised {type(exc).__name__}: {str(exc)[:300]}"
    nullable = [j for j, f in enumerate(features) if f.nullable]
    fills = {j: next(r[j] for r in rows if r[j] is not None) for j in nullable
             if any(r[j] is not None for r in rows)}
    for j in nullable:
        subset = [[(fills.get(k) if (v is None and k != j) else v) for k, v in enumerate(r)]
                  for r in rows if r[j] is None][:20]
        if any(v is None for r in subset for k, v in enumerate(r) if k != j):
            continue  # another column has no value to fill with
        try:
            ok = bool(np.isfinite(_predict_rows(m, schema, subset)).all())
        except AddModelError:
            raise
        except Exception:
            ok = False
        if not ok:
            name = features[j].name
            raise AddModelError("example", f"column {name!r} has missing values, but the model cannot take them "
                                f"(on the example it {failure}); put an imputer in the pipeline, or give an "
                                "example without missing values in that column", name)
    raise AddModelError("model", f"the model fails on the example rows as the endpoint would pass them: it "
                        f"{failure}")


# --- profile, samples, metric ----------------------------------------------------------------------------


def _feature_profile(series: Any, f: Feature) -> dict[str, Any]:
    import numpy as np

    n = len(series)
    out: dict[str, Any] = {"null_fraction": float(series.isna().sum()) / n}
    values = series.dropna()
    if f.type == "categorical":
        counts = values.astype(str).value_counts()
        out["frequencies"] = {str(k): float(v) / n for k, v in counts.head(MAX_FREQUENCIES).items()}
        return out
    nums = values.to_numpy(dtype=np.float64)
    if len(nums):
        out["min"], out["max"] = float(nums.min()), float(nums.max())
        out["quantiles"] = {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(nums, QUANTILES), strict=True)}
    else:
        out["min"] = out["max"] = None
        out["quantiles"] = {str(q): None for q in QUANTILES}
    return out


def _predicted_labels(out: Any, m: _Model) -> list[Any]:
    if m.task == "binary-classification":
        return [m.classes[1] if p > 0.5 else m.classes[0] for p in out]
    return [m.classes[int(i)] for i in out.argmax(axis=1)]


def _output_profile(out: Any, m: _Model) -> dict[str, Any]:
    import numpy as np

    def vec(a: Any) -> Any:
        return [float(x) for x in a] if m.task == "multiclass-classification" else float(a)

    prof: dict[str, Any] = {
        "mean": vec(out.mean(axis=0)), "min": vec(out.min(axis=0)), "max": vec(out.max(axis=0)),
        "quantiles": {str(q): vec(v) for q, v in zip(QUANTILES, np.quantile(out, QUANTILES, axis=0), strict=True)},
    }
    if m.task != "regression":
        labels = _predicted_labels(out, m)
        prof["frequencies"] = {str(c): labels.count(c) / len(labels) for c in m.classes}
    return prof


def _sample_indices(n: int, rows: list[list[Any]]) -> list[int]:
    import numpy as np

    picks = sorted({int(i) for i in np.linspace(0, n - 1, min(MAX_SAMPLES, n)).round()})
    with_null = next((i for i, r in enumerate(rows) if any(v is None for v in r)), None)
    if with_null is not None and not any(any(v is None for v in rows[i]) for i in picks):
        picks = sorted(set(picks[:-1]) | {with_null})
    return picks


def _metric(m: _Model, out: Any, y: Any) -> tuple[str, float, int] | None:
    """(metric, value, rows) of the native outputs against the label column; None if it cannot be computed."""
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    keep = ~y.isna().to_numpy()
    y, out = y[keep], out[keep]
    if len(y) < 2:
        return None
    if m.task == "regression":
        try:
            truth = y.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise AddModelError("label", f"label column {y.name!r} is not numeric (the model is a regressor)",
                                str(y.name)) from None
        return "r2", float(r2_score(truth, out)), len(y)
    values = [v.item() if hasattr(v, "item") else v for v in y.tolist()]
    unknown = sorted({repr(v) for v in values if v not in m.classes})
    if unknown:
        raise AddModelError("label", f"label column {y.name!r} has values {', '.join(unknown[:5])} that are not "
                            f"classes of the model ({', '.join(map(repr, m.classes))})", str(y.name))
    if m.task == "binary-classification" and len(set(values)) == 2:
        positive = [int(v == m.classes[1]) for v in values]
        return "roc_auc", float(roc_auc_score(positive, out)), len(y)
    predicted = _predicted_labels(out, m)
    return "accuracy", float(accuracy_score([m.classes.index(v) for v in values],
                                            [m.classes.index(v) for v in predicted])), len(y)


# --- writing the artifact --------------------------------------------------------------------------------


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


# --- the public API --------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return _NAME_SLUG.sub("-", text.lower()).strip("-")


def save_model(model: Any, directory: str | Path, *, example: Any, label: str | None = None,
               name: str | None = None, say: Callable[[str], None] = _stderr) -> Manifest:
    """Write ``directory/model.json`` (manifest schema 2) and the model's artifact; return the loaded manifest.

    ``model``: a fitted scikit-learn estimator or Pipeline, XGBoost or LightGBM model (scikit-learn API or
    Booster), or Keras model; or the path of one (see ``load_artifact``). ``example``: a DataFrame or CSV path
    of inputs (the label column may be in it; name it with ``label`` to get a metric); None only for an MLflow
    directory with an input example. ``name``: the endpoint's model name ([a-z0-9-]); default from the directory.
    """
    out_dir = Path(directory)
    name = name if name is not None else _slug(out_dir.resolve().name)
    if not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", name or ""):
        raise AddModelError("name", f"must match [a-z0-9-]+ (lowercase letters, digits, single dashes), got {name!r}")
    source = f"a {type(model).__name__} object"
    if isinstance(model, (str, Path)):
        loaded = load_artifact(model, say=say)
        model, source = loaded.model, loaded.source
        if example is None and loaded.example is not None:
            say(f"using the MLflow input example ({len(loaded.example)} rows) as the example")
            example = loaded.example
    if example is None:
        raise AddModelError("example", "an example of the model's input is needed (a DataFrame or a CSV path; "
                            "--example)")
    m = inspect_model(model)
    frame, training = read_example(example)
    if label is not None and label not in frame.columns:
        raise AddModelError("label", f"column {label!r} is not in the example (columns: "
                            f"{', '.join(map(repr, frame.columns))})", label)
    columns = feature_columns(m, list(frame.columns), label)
    ignored = [c for c in frame.columns if c not in columns and c != label]
    if ignored:
        say(f"ignoring example columns the model does not take: {', '.join(map(repr, ignored))}")
    features = _infer_features(m, frame, columns)
    n = min(len(frame), PROFILE_MAX_ROWS)
    types = [f.type for f in features]
    rows = [[_client_value(v, t) for v, t in zip(r, types, strict=True)]
            for r in frame[columns].iloc[:n].itertuples(index=False, name=None)]
    schema = _schema_of(features, m.task, m.classes)
    out = _check_missing(m, features, rows, schema)

    def check(candidate: _Model, fmt: str) -> None:
        import numpy as np

        want = out[:MAX_PARITY_ROWS]
        got = _predict_rows(candidate, schema, rows[:MAX_PARITY_ROWS])
        scale = max(1.0, float(np.max(np.abs(want)))) if m.task == "regression" else 1.0
        gap = float(np.max(np.abs(got - want)))
        if not gap <= RELOAD_TOLERANCE * scale:
            raise AddModelError("model", f"the saved {fmt} artifact does not reproduce the model (max abs "
                                f"difference {gap:.3g} > {RELOAD_TOLERANCE * scale:.3g})")

    holdout = None
    if label is not None:
        scored = _metric(m, out, frame[label].iloc[:n])
        if scored is None:
            say(f"no metric: the label column {label!r} has fewer than 2 values")
        else:
            metric, value, k = scored
            holdout = Holdout(fraction=None, seed=None, rows=k, metric=metric, value=round(value, 6),
                              note=f"{metric} of the native model on {k} rows of the example given to add-model"
                              f"{' (its first ' + str(n) + ')' if n < len(frame) else ''}, not on a held-out "
                              "split: a fair estimate only if the model was not trained on these rows")
    if len(rows) < 200:
        say(f"note: the example has {len(rows)} rows, so the ONNX parity check covers only those; give 200 or more "
            "for a meaningful check")
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact, fmt = _write_artifact(m, out_dir, check)
    path = out_dir / artifact

    pick = _sample_indices(n, rows)

    def output(i: int) -> Any:
        return tuple(float(p) for p in out[i]) if m.task == "multiclass-classification" else float(out[i])

    manifest = Manifest(
        schema=SCHEMA_VERSION,
        name=name,
        description=f"{type(model).__name__} ({m.framework} {m.framework_version}) added by smodels add-model "
                    f"from {source}",
        framework=m.framework,
        framework_version=m.framework_version,
        requirements=dict(sorted(m.requirements.items())),
        backend=m.backend,
        python_version=platform.python_version(),
        format=fmt,
        artifact=artifact,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        task=m.task,
        classes=tuple(m.classes),
        output=default_output(m.task, m.classes, label),
        features=tuple(features),
        label=label,
        training_data=training,
        holdout=holdout,
        profile={"features": {f.name: _feature_profile(frame[c], f) for f, c in zip(features, columns, strict=True)},
                 "output": _output_profile(out, m)},
        samples=tuple(Sample(input={f.name: rows[i][j] for j, f in enumerate(features)}, output=output(i))
                      for i in pick),
        parity=Parity(rows=tuple(tuple(r) for r in rows[:MAX_PARITY_ROWS]),
                      outputs=tuple(output(i) for i in range(min(n, MAX_PARITY_ROWS)))),
        directory=out_dir.resolve(),
    )
    try:
        write_manifest(manifest, out_dir)
        return load_manifest(out_dir)
    except ManifestError as exc:  # a bug here, not the user's: say what it was
        raise AddModelError("manifest", f"the manifest written would be invalid: {exc}") from None


def _infer_features(m: _Model, frame: Any, columns: list[str]) -> list[Feature]:
    encoders = _encoders(m.obj, columns) if m.kind == "sklearn" else {}
    features = []
    for c in columns:
        series = frame[c]
        ftype = infer_type(c, series)
        if ftype == "categorical" and m.kind != "sklearn":
            raise AddModelError("example", f"column {c!r} holds strings, but a {m.framework} model takes one "
                                "numeric matrix; encode it in a scikit-learn Pipeline (e.g. OneHotEncoder or "
                                "OrdinalEncoder before the model)", c)
        nullable = bool(series.isna().any())
        if nullable and m.kind == "keras":
            raise AddModelError("example", f"column {c!r} has missing values, but a Keras model cannot take them",
                                c)
        cats: list[str] = []
        ignore = False
        if ftype == "categorical":
            seen = [str(v) for v in series.dropna().unique().tolist()]
            cats, ignore = _categories(c, seen, encoders.get(c, []))
        features.append(Feature(name=c, type=ftype, nullable=nullable, categories=tuple(cats),
                                ignore_unknown=ignore))
    return features


def add_model(artifact: str | Path, *, example: str | Path | None, name: str, label: str | None = None,
              out: str | Path | None = None, say: Callable[[str], None] = _stderr) -> Manifest:
    """`smodels add-model`: ``save_model`` of the model at ``artifact`` into ``out`` (default models/NAME)."""
    return save_model(artifact, Path(out) if out is not None else Path("models") / name, example=example,
                      label=label, name=name, say=say)


# --- CLI -------------------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `add-model` sub-command."""
    p = subparsers.add_parser(
        "add-model", help="turn a trained model into an endpoint directory (model.json + a safe artifact)",
        description="Write DIR/model.json (manifest schema 2) and the model in a safe format (skops, XGBoost "
                    "JSON, LightGBM text, .keras) from a trained model and an example of its input.")
    p.add_argument("artifact", metavar="ARTIFACT",
                   help="a .joblib/.pkl/.pickle file (loaded here: pickle runs code), a .skops or .keras file, or an "
                        "MLflow model directory (flavors sklearn, xgboost, lightgbm, keras)")
    p.add_argument("--example", metavar="CSV", help="example inputs (a CSV with a header); an MLflow input example "
                   "stands in when absent")
    p.add_argument("--name", required=True, help="the model's name, [a-z0-9-]+")
    p.add_argument("--label", metavar="COLUMN", help="the label column of the example: excluded from the features, "
                   "and a metric (roc_auc, accuracy or r2) is computed on the example")
    p.add_argument("--out", metavar="DIR", help="where to write (default models/NAME)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        m = add_model(args.artifact, example=args.example, name=args.name, label=args.label, out=args.out)
    except AddModelError as exc:
        print(f"smodels add-model: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("models") / args.name
    print(f"wrote {out / m.artifact} ({m.format}, {m.size_bytes} bytes) and {out / 'model.json'}")
    print(f"model {m.name}: {m.framework} {m.framework_version}, {m.task}"
          + (f", classes {list(m.classes)}" if m.classes else ""))
    for f in m.features:
        extra = " nullable" if f.nullable else ""
        if f.type == "categorical":
            extra += f" {len(f.categories)} categories" + (" (unknown ignored)" if f.ignore_unknown else "")
        print(f"  {f.name!r}: {f.type}{extra}")
    if m.holdout is not None:
        print(f"{m.holdout.metric} = {m.holdout.value} on {m.holdout.rows} example rows")
    print(f"serve it: add an endpoint with `model: {out}` under serverless-models:endpoints in "
          "Pulumi.<stack>.yaml, then `make serve` or `pulumi up`")
    return 0
