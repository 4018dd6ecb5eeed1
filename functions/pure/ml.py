"""The ai.onnx.ml operators the pure runtime runs (Scaler, Imputer, encoders, linear models), with what each
builds from its attributes once, when the program loads."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import cycle
from typing import Any

from functions.pure.tensor import PureError, T, _as_matrix, _div, _dot, _rows, _sigmoid, _softmax, _sum, _typed


def _per_column(values: list[Any], k: int, what: str) -> list[Any]:
    """A per-column attribute for a k-column input: one value repeated, else its first k values."""
    if len(values) == 1:
        return values * k
    if len(values) < k:
        raise PureError(f"{what} has {len(values)} values for {k} columns")
    return values[:k]


def _by_width(attrs: dict[str, Any], key: Any, make: Callable[[Any], Any]) -> Any:
    """What ``make(key)`` builds from the attributes for an input of ``key`` (its width: fixed for a program, so
    built once, at the first request), remembered on the prepared attributes."""
    cache = attrs["_by_width"]
    got = cache.get(key)
    if got is None:
        got = cache[key] = make(key)
    return got


def _prepare_scaler(attrs: dict[str, Any]) -> dict[str, Any]:
    offset, scale = attrs.get("offset", [0.0]), attrs.get("scale", [1.0])
    return {**attrs, "_by_width": {},
            "_columns": lambda k: (_per_column(offset, k, "Scaler offset"), _per_column(scale, k, "Scaler scale"))}


def _scaler(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    offset, scale = _by_width(attrs, a.shape[-1], attrs["_columns"])
    out = [(v - o) * s for v, o, s in zip(a.data, cycle(offset), cycle(scale))] if offset else []
    return [_typed("float", a.shape, out)]


def _prepare_imputer(attrs: dict[str, Any]) -> dict[str, Any]:
    floats, ints = attrs.get("imputed_value_floats", []), attrs.get("imputed_value_int64s", [])
    return {**attrs, "_by_width": {}, "_values": lambda key: (floats if key[0] else ints) * key[1]
            if len(floats if key[0] else ints) == 1 else (floats if key[0] else ints)[:key[1]]}


def _imputer(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    k = a.shape[-1]
    number = a.type in ("float", "double")
    replaced = attrs.get("replaced_value_float", 0.0) if number else attrs.get("replaced_value_int64", 0)
    values = _by_width(attrs, (number, k), attrs["_values"])
    if len(values) < k:  # too few values: an error only where one is needed, as before
        out = [values[i % k] if (v != v if replaced != replaced else v == replaced) else v
               for i, v in enumerate(a.data)]
    elif replaced != replaced:
        out = [w if v != v else v for v, w in zip(a.data, cycle(values))]
    else:
        out = [w if v == replaced else v for v, w in zip(a.data, cycle(values))]
    return [_typed(a.type, a.shape, out)]


def _prepare_one_hot(attrs: dict[str, Any]) -> dict[str, Any]:
    index = {kind: None if cats is None else {c: i for i, c in enumerate(cats)}
             for kind, cats in (("string", attrs.get("cats_strings")), ("int64", attrs.get("cats_int64s")))}
    return {**attrs, "_index": index}


def _one_hot(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    index = attrs["_index"]["string" if a.type == "string" else "int64"]
    if index is None:
        raise PureError("OneHotEncoder: the categories do not match the input type")
    zeros = attrs.get("zeros", 1)
    width = len(index)
    out: list[float] = []
    for v in a.data:
        row = [0.0] * width
        j = index.get(v if a.type == "string" else int(v)) if v == v else None
        if j is None:
            if not zeros:
                raise PureError(f"OneHotEncoder: unknown category {v!r}")
        else:
            row[j] = 1.0
        out.extend(row)
    return [T("float", a.shape + (width,), out)]


def _prepare_label_encoder(attrs: dict[str, Any]) -> dict[str, Any]:
    keys = next((attrs[k] for k in ("keys_strings", "keys_int64s", "keys_floats") if k in attrs), None)
    for name, kind in (("values_strings", "string"), ("values_int64s", "int64"), ("values_floats", "float")):
        if name in attrs:
            values, type_ = attrs[name], kind
            break
    else:
        raise PureError("LabelEncoder without values")
    if keys is None or len(keys) != len(values):
        raise PureError("LabelEncoder: keys and values differ in length")
    default = {"string": attrs.get("default_string", "_Unused"), "int64": attrs.get("default_int64", -1),
               "float": attrs.get("default_float", -0.0)}[type_]
    table = dict(zip(keys, values, strict=True))
    nan_value = next((v for k, v in table.items() if isinstance(k, float) and k != k), default)
    return {**attrs, "_table": (table, nan_value, default, type_)}


def _label_encoder(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    table, nan_value, default, type_ = attrs["_table"]
    out = [nan_value if isinstance(v, float) and v != v else table.get(v, default) for v in a.data]
    return [_typed(type_, a.shape, out)]


def _normalizer(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    norm = attrs.get("norm", "MAX")
    out: list[float] = []
    for row in _rows(a):
        if norm == "MAX":
            d = max(row)
        elif norm == "L1":
            d = _sum(abs(v) for v in row)
        elif norm == "L2":
            d = math.sqrt(_sum(v * v for v in row))
        else:
            raise PureError(f"Normalizer norm {norm!r}")
        out.extend(_div(v, d) for v in row)
    return [_typed("float", a.shape, out)]


def _post(kind: str, scores: list[float]) -> list[float]:
    if kind == "NONE":
        return scores
    if kind == "LOGISTIC":
        return [_sigmoid(s) for s in scores]
    if kind == "SOFTMAX":
        return _softmax(scores)
    if kind == "SOFTMAX_ZERO":
        nz = [s for s in scores if s != 0.0]
        if not nz:
            return scores
        top = max(nz)
        exps = [0.0 if s == 0.0 else math.exp(s - top) for s in scores]
        total = _sum(exps)
        return [e / total for e in exps]
    raise PureError(f"post_transform {kind!r} is not supported")


def _weight_rows(coefs: list[float], k: int) -> list[list[float]]:
    """The coefficients (class- or target-major) as one row of k weights per class or target."""
    return [coefs[c * k:(c + 1) * k] for c in range(len(coefs) // k)]


def _prepare_linear(attrs: dict[str, Any]) -> dict[str, Any]:
    coefs, intercepts = attrs["coefficients"], attrs.get("intercepts", [])
    return {**attrs, "_by_width": {}, "_weights": lambda k: [
        (wc, intercepts[c] if intercepts else 0.0) for c, wc in enumerate(_weight_rows(coefs, k))]}


def _linear_classifier(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    labels = attrs.get("classlabels_strings") or attrs.get("classlabels_ints") or []
    n, k = _as_matrix(a, "LinearClassifier")
    w = _by_width(attrs, k, attrs["_weights"])
    classes = len(w)
    post = attrs.get("post_transform", "NONE")
    scores_out: list[float] = []
    label_out: list[Any] = []
    for row in _rows(a):
        s = [_dot(row, wc) + b for wc, b in w]
        if classes == 1 and len(labels) == 2:  # one score for two classes
            label_out.append(labels[1] if s[0] > 0 else labels[0])
            if post == "LOGISTIC":
                p = _sigmoid(s[0])
                s = [1.0 - p, p]
            elif post == "NONE":  # onnxruntime: the complement, as for a probability
                s = [1.0 - s[0], s[0]]
            else:
                s = _post(post, [-s[0], s[0]])
        else:
            label_out.append(labels[max(range(len(s)), key=s.__getitem__)] if labels else 0)
            s = _post(post, s)
        scores_out.extend(s)
    width = len(scores_out) // max(n, 1) if n else classes
    ltype = "string" if attrs.get("classlabels_strings") else "int64"
    return [T(ltype, (n,), label_out), _typed("float", (n, width), scores_out)]


def _prepare_linear_regressor(attrs: dict[str, Any]) -> dict[str, Any]:
    coefs, intercepts = attrs["coefficients"], attrs.get("intercepts", [])
    targets = attrs.get("targets", 1)
    return {**attrs, "_by_width": {}, "_weights": lambda k: [
        (coefs[t * k:(t + 1) * k], intercepts[t] if intercepts else 0.0) for t in range(targets)]}


def _linear_regressor(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    targets = attrs.get("targets", 1)
    n, k = _as_matrix(a, "LinearRegressor")
    w = _by_width(attrs, k, attrs["_weights"])
    post = attrs.get("post_transform", "NONE")
    out: list[float] = []
    for row in _rows(a):
        s = [_dot(row, wt) + b for wt, b in w]
        out.extend(_post(post, s))
    return [_typed("float", (n, targets), out)]


def _array_feature_extractor(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    a, idx = xs
    k = a.shape[-1]
    picks = [int(i) for i in idx.data]
    out = [row[i] for row in _rows(a) for i in picks] if len(a.shape) > 1 else [a.data[i] for i in picks]
    shape = a.shape[:-1] + (len(picks),) if len(a.shape) > 1 else (len(picks),)
    if k == 0:
        raise PureError("ArrayFeatureExtractor on an empty tensor")
    return [T(a.type, shape, out)]


#: (domain, op type) -> (the function run, what is built from its attributes at load).
ML_OPS = {
    ("ai.onnx.ml", "Scaler"): (_scaler, _prepare_scaler),
    ("ai.onnx.ml", "Imputer"): (_imputer, _prepare_imputer),
    ("ai.onnx.ml", "OneHotEncoder"): (_one_hot, _prepare_one_hot),
    ("ai.onnx.ml", "LabelEncoder"): (_label_encoder, _prepare_label_encoder),
    ("ai.onnx.ml", "Normalizer"): (_normalizer, None),
    ("ai.onnx.ml", "LinearClassifier"): (_linear_classifier, _prepare_linear),
    ("ai.onnx.ml", "LinearRegressor"): (_linear_regressor, _prepare_linear_regressor),
    ("ai.onnx.ml", "ArrayFeatureExtractor"): (_array_feature_extractor, None),
}
