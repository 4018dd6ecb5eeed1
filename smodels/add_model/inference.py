"""Schema inference: the example read, its columns in model order, feature types, categories, nullability."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.inspection import _Model
from smodels.manifest import MIN_SAMPLES, Feature, TrainingData, sha256_file


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
