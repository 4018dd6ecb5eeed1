"""What the model is: its kind, framework, task, class labels and feature names (_Model, inspect_model)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from smodels.add_model.errors import AddModelError


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
