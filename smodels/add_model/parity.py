"""Parity: the native model's outputs on example rows parsed exactly as the endpoint parses them."""

from __future__ import annotations

from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.inference import _is_missing
from smodels.add_model.inspection import _Model
from smodels.manifest import Feature

MAX_PARITY_ROWS = 250
RELOAD_TOLERANCE = 1e-6  # written artifact vs model in memory (regression: relative to max(1, max |output|))


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
