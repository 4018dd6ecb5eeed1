"""The pure runtime: a model's ONNX graph, compiled at build time into plain data (JSON), evaluated here with the
standard library alone (no numpy, nothing compiled), so a package is the interpreter, this file and the program.

The program (written by smodels.packager.convert.compile_pure, read by :func:`load_program`):

    {"format": "smodels-pure", "version": 1,
     "inputs": [{"name": "x", "type": "double" | "float" | "int64" | "string", "width": 11 | null}],
     "output": "prob",                                  # the tensor the predictor answers with
     "metadata": {"smodels.inputs": "{...}"},           # ONNX metadata_props the predictor reads
     "initializers": {"W": {"type": "double", "shape": [11, 1], "data": [[...], ...]}},   # nested lists
     "nodes": [{"op": "MatMul", "domain": "", "inputs": ["x", "W"], "outputs": ["z0"], "attrs": {...}}]}

Tensors are (type, shape, flat row-major list). Arithmetic is float64; a tensor of ONNX type float is rounded to
float32 (``array('f')``) wherever the graph produces one (a float input, a Cast to float, the float outputs of
the ai.onnx.ml operators), so tree thresholds are compared exactly as onnxruntime and the native libraries
compare them. An operator outside :data:`OPS` is refused when the program is compiled (the build then falls back
to another runtime), never at serving time.
"""

from __future__ import annotations

import json
import math
import operator
from array import array
from collections.abc import Callable
from itertools import cycle
from typing import Any

FORMAT = "smodels-pure"
VERSION = 1
NAN = float("nan")
INF = float("inf")

# ONNX TensorProto element types the programs use, by name.
ONNX_TYPES = {1: "float", 11: "double", 7: "int64", 8: "string", 9: "bool", 6: "int32"}


class PureError(ValueError):
    """The program is not one this evaluator runs (unknown operator or attribute, wrong shapes)."""


class T:
    """A tensor: ONNX element type name, shape, flat row-major values."""

    __slots__ = ("type", "shape", "data", "cols", "rows")

    def __init__(self, type_: str, shape: tuple[int, ...], data: list[Any]) -> None:
        self.type, self.shape, self.data = type_, shape, data
        self.cols: list[list[Any]] | None = None  # a constant matrix's columns (computed when the program loads)
        self.rows: list[list[Any]] | None = None  # a constant matrix's rows, for a transposed Gemm operand


def _columns(b: T, m: int) -> list[list[Any]]:
    """The columns of matrix ``b`` (m wide); cached on the tensor (weights are constants of the program)."""
    if b.cols is None:
        b.cols = [b.data[j::m] for j in range(m)]
    return b.cols


def _const_rows(b: T) -> list[list[Any]]:
    """The rows of constant matrix ``b``; cached on the tensor."""
    if b.rows is None:
        b.rows = _rows(b)
    return b.rows


def f32(values: list[float]) -> list[float]:
    """Round every value to the nearest float32 (overflow to +-inf, NaN stays NaN), as a cast to float does."""
    try:
        return array("f", values).tolist()
    except OverflowError:  # some CPython builds refuse out-of-range doubles: round one by one
        out = []
        for v in values:
            try:
                out.append(array("f", (v,))[0])
            except OverflowError:
                out.append(INF if v > 0 else -INF)
        return out


def _typed(type_: str, shape: tuple[int, ...], data: list[Any]) -> T:
    return T(type_, shape, f32(data) if type_ == "float" else data)


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _flatten(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    todo = [value]
    while todo:  # depth-first, keeping order
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(reversed(item))
        else:
            out.append(item)
    return out


def _number(v: Any) -> Any:
    """JSON cannot hold NaN/inf: the compiler writes them as strings."""
    if isinstance(v, str):
        return {"nan": NAN, "inf": INF, "-inf": -INF}.get(v, v)
    return v


# --- broadcasting elementwise arithmetic -------------------------------------------------------------------------


def _broadcast(a: T, b: T, fn: Callable[[Any, Any], Any]) -> tuple[tuple[int, ...], list[Any]]:
    if a.shape == b.shape:
        return a.shape, list(map(fn, a.data, b.data))
    shape = _bshape(a.shape, b.shape)
    if len(b.data) == 1:
        y = b.data[0]
        return shape, [fn(x, y) for x in a.data]
    if len(a.data) == 1:
        x = a.data[0]
        return shape, [fn(x, y) for y in b.data]
    if shape == a.shape and _trailing(b.shape, shape):  # b repeats along a's leading axes (a bias row)
        return shape, list(map(fn, a.data, cycle(b.data))) if a.data else []
    if shape == b.shape and _trailing(a.shape, shape):
        return shape, list(map(fn, cycle(a.data), b.data)) if b.data else []
    rank = len(shape)
    sa, sb = _strides(a.shape, rank, shape), _strides(b.shape, rank, shape)
    out = []
    for flat in range(_size(shape)):
        ia = ib = 0
        rest = flat
        for d in range(rank - 1, -1, -1):
            rest, i = divmod(rest, shape[d])
            ia += i * sa[d]
            ib += i * sb[d]
        out.append(fn(a.data[ia], b.data[ib]))
    return shape, out


def _trailing(small: tuple[int, ...], full: tuple[int, ...]) -> bool:
    """Whether ``small`` (leading 1s aside) is the trailing part of ``full``: its values repeat in flat order."""
    i = 0
    while i < len(small) and small[i] == 1:
        i += 1
    tail = small[i:]
    return len(tail) <= len(full) and full[len(full) - len(tail):] == tail


_BSHAPES: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[int, ...]] = {}


def _bshape(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast shape of ``x`` and ``y`` (remembered: a program meets the same few pairs on every request)."""
    out = _BSHAPES.get((x, y))
    if out is None:
        out = _bshape_of(x, y)
        if len(_BSHAPES) < 4096:
            _BSHAPES[x, y] = out
    return out


def _bshape_of(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(x), len(y))
    x = (1,) * (rank - len(x)) + x
    y = (1,) * (rank - len(y)) + y
    out = []
    for p, q in zip(x, y, strict=True):
        if p != q and p != 1 and q != 1:
            raise PureError(f"shapes {x} and {y} do not broadcast")
        out.append(max(p, q) if p and q else 0)
    return tuple(out)


def _strides(shape: tuple[int, ...], rank: int, out: tuple[int, ...]) -> list[int]:
    full = (1,) * (rank - len(shape)) + shape
    strides = [0] * rank
    step = 1
    for d in range(rank - 1, -1, -1):
        strides[d] = 0 if full[d] == 1 and out[d] != 1 else step
        step *= full[d]
    return strides


def _div(x: float, y: float) -> float:
    try:
        return x / y
    except ZeroDivisionError:
        if x != x or x == 0:
            return NAN
        return math.copysign(INF, x) * math.copysign(1.0, y)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    if x != x:
        return x
    e = math.exp(x)
    return e / (1.0 + e)


def _sum(values: Any) -> float:
    """A float sum that is the same on every Python version: math.fsum, exactly rounded (``sum`` compensates from
    3.12 on and not before, and the program is checked under one Python and served under another). Where fsum
    refuses (inf + -inf, an intermediate overflow) the plain sum gives the non-finite answer the app reports."""
    vals = values if isinstance(values, list) else list(values)
    try:
        return math.fsum(vals)
    except (ValueError, OverflowError):
        return sum(vals)


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    if top != top or top == INF:
        if any(v != v for v in row) or sum(v == INF for v in row) != 1:
            return [NAN] * len(row)
        return [1.0 if v == INF else 0.0 for v in row]
    exps = [math.exp(v - top) for v in row]
    total = _sum(exps)
    return [e / total for e in exps]


def _rows(t: T) -> list[list[Any]]:
    """A tensor of rank >= 1 as rows along its last axis."""
    k = t.shape[-1] if t.shape else 1
    d = t.data
    if len(d) == k:  # one row: the data itself (rows are only read)
        return [d] if k else []
    return [d[i:i + k] for i in range(0, len(d), k)] if k else []


def _as_matrix(t: T, what: str) -> tuple[int, int]:
    if len(t.shape) == 2:
        return t.shape[0], t.shape[1]
    if len(t.shape) == 1:
        return 1, t.shape[0]
    raise PureError(f"{what} takes a matrix, got shape {t.shape}")


def _dot(row: list[float], col: list[float]) -> float:
    """``_sum`` of the products, without building their list (the fallback recomputes the same products)."""
    try:
        return math.fsum(map(operator.mul, row, col))
    except (ValueError, OverflowError):
        return sum(map(operator.mul, row, col))


def _matmul(a: list[list[float]], bt: list[list[float]]) -> list[float]:
    return [_dot(row, col) for row in a for col in bt]


# --- operators ---------------------------------------------------------------------------------------------------


def _elementwise(fn: Callable[[Any, Any], Any]) -> Callable[[dict[str, Any], list[T]], list[T]]:
    def op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
        a, b = xs
        shape, data = _broadcast(a, b, fn)
        return [_typed(a.type, shape, data)]
    return op


def _unary(fn: Callable[[float], float]) -> Callable[[dict[str, Any], list[T]], list[T]]:
    def op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
        (a,) = xs
        return [_typed(a.type, a.shape, [fn(v) for v in a.data])]
    return op


def _relu(v: float) -> float:
    return v if v > 0 or v != v else 0.0


def _identity(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    return [xs[0]]


def _cast(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    to = ONNX_TYPES[attrs["to"]]
    if to in ("float", "double"):
        if a.type == "string":
            raise PureError("Cast from string is not supported")
        return [_typed(to, a.shape, [float(v) for v in a.data])]
    if to in ("int64", "int32"):
        return [T(to, a.shape, [int(v) for v in a.data])]
    if to == "bool":
        return [T(to, a.shape, [bool(v) for v in a.data])]
    return [T(to, a.shape, [v if isinstance(v, str) else _str_number(v) for v in a.data])]


def _str_number(v: Any) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _matmul_op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    a, b = xs
    n, k = _as_matrix(a, "MatMul")
    k2, m = _as_matrix(b, "MatMul") if len(b.shape) == 2 else (b.shape[0], 0)
    if k != k2:
        raise PureError(f"MatMul: shapes {a.shape} and {b.shape} do not match")
    if len(b.shape) == 1:
        out = _matmul(_rows(a), [b.data])
        return [_typed(a.type, (n,), out)]
    return [_typed(a.type, (n, m) if len(a.shape) == 2 else (m,), _matmul(_rows(a), _columns(b, m)))]


def _gemm(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    a, b = xs[0], xs[1]
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    n, k = _as_matrix(a, "Gemm")
    rows = _rows(a) if len(a.shape) == 2 else [a.data]
    if attrs.get("transA", 0):
        rows = [list(r) for r in zip(*rows, strict=True)]
        n, k = k, n
    kb, m = _as_matrix(b, "Gemm")
    if attrs.get("transB", 0):
        bt = _const_rows(b)
        kb, m = m, kb
    else:
        bt = _columns(b, m)
    if k != kb:
        raise PureError(f"Gemm: shapes {a.shape} and {b.shape} do not match")
    out = _matmul(rows, bt)
    if alpha != 1.0:
        out = [alpha * v for v in out]
    y = T(a.type, (n, m), out)
    if len(xs) > 2 and xs[2] is not None:
        c = xs[2]
        if beta != 1.0:
            c = T(c.type, c.shape, [beta * v for v in c.data])
        shape, data = _broadcast(y, c, operator.add)
        y = T(a.type, shape, data)
    return [_typed(a.type, y.shape, y.data)]


def _softmax_op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    axis = attrs.get("axis", -1)
    if axis not in (-1, len(a.shape) - 1):
        raise PureError(f"Softmax over axis {axis} of shape {a.shape} is not supported")
    return [_typed(a.type, a.shape, [p for row in _rows(a) for p in _softmax(row)])]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _concat(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    rank = len(xs[0].shape)
    axis = _axis(attrs["axis"], rank)
    outer = _size(xs[0].shape[:axis])
    chunks = [(_size(x.shape[axis:]), x.data) for x in xs]
    data: list[Any] = []
    for i in range(outer):
        for width, d in chunks:
            data.extend(d[i * width:(i + 1) * width])
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    types = {x.type for x in xs}
    return [T(types.pop() if len(types) == 1 else "double", tuple(shape), data)]


def _reshape(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    a, spec = xs
    return [T(a.type, _new_shape(a.shape, [int(v) for v in spec.data], attrs.get("allowzero", 0)), a.data)]


def _new_shape(old: tuple[int, ...], spec: list[int], allowzero: int = 0) -> tuple[int, ...]:
    shape = [old[i] if v == 0 and not allowzero else v for i, v in enumerate(spec)]
    if -1 in shape:
        known = _size(tuple(d for d in shape if d != -1))
        shape[shape.index(-1)] = _size(old) // known if known else 0
    if _size(tuple(shape)) != _size(old):
        raise PureError(f"cannot reshape {old} to {spec}")
    return tuple(shape)


def _flatten_op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    axis = _axis(attrs.get("axis", 1), len(a.shape))
    return [T(a.type, (_size(a.shape[:axis]), _size(a.shape[axis:])), a.data)]


def _reduce(fn: Callable[[list[float]], float]) -> Callable[[dict[str, Any], list[T]], list[T]]:
    def op(attrs: dict[str, Any], xs: list[T]) -> list[T]:
        a = xs[0]
        axes = attrs.get("axes")
        if axes is None and len(xs) > 1 and xs[1] is not None:
            axes = [int(v) for v in xs[1].data]
        rank = len(a.shape)
        axes = [_axis(x, rank) for x in (axes if axes is not None else range(rank))]
        keep = attrs.get("keepdims", 1)
        if axes != [rank - 1]:
            if rank == 2 and sorted(axes) == [0, 1]:
                shape: tuple[int, ...] = (1, 1) if keep else ()
                return [T(a.type, shape, [fn(a.data)])]
            raise PureError(f"reductions over axes {axes} of shape {a.shape} are not supported")
        out = [fn(row) for row in _rows(a)]
        shape = a.shape[:-1] + ((1,) if keep else ())
        return [_typed(a.type, shape, out)]
    return op


def _argmax(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    rank = len(a.shape)
    if _axis(attrs.get("axis", 0), rank) != rank - 1:
        raise PureError("ArgMax over an axis other than the last is not supported")
    out = [max(range(len(row)), key=row.__getitem__) for row in _rows(a)]
    return [T("int64", a.shape[:-1] + ((1,) if attrs.get("keepdims", 1) else ()), out)]


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


# --- tree ensembles ----------------------------------------------------------------------------------------------

_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5,
          "LEAF": -1}


class _Trees:
    """Tree ensemble attributes as per-tree arrays (built once, when the program loads)."""

    def __init__(self, attrs: dict[str, Any], prefix: str) -> None:
        tree_ids, node_ids = attrs["nodes_treeids"], attrs["nodes_nodeids"]
        values = attrs.get("nodes_values") or attrs.get("nodes_values_as_tensor") or []
        modes = attrs["nodes_modes"]
        missing = attrs.get("nodes_missing_value_tracks_true") or [0] * len(tree_ids)
        where: dict[tuple[int, int], tuple[int, int]] = {}
        order: dict[int, int] = {}
        trees: list[dict[str, list[Any]]] = []
        for i, (t, nid) in enumerate(zip(tree_ids, node_ids, strict=True)):
            if t not in order:
                order[t] = len(trees)
                trees.append({"feature": [], "value": [], "mode": [], "true": [], "false": [], "missing": [],
                              "leaf": []})
            tree = trees[order[t]]
            where[(t, nid)] = (order[t], len(tree["mode"]))
            mode = _MODES.get(modes[i])
            if mode is None:
                raise PureError(f"tree node mode {modes[i]!r} is not supported")
            tree["feature"].append(attrs["nodes_featureids"][i])
            tree["value"].append(values[i] if values else 0.0)
            tree["mode"].append(mode)
            tree["missing"].append(bool(missing[i]))
            tree["leaf"].append([])
        for i, t in enumerate(tree_ids):
            tree = trees[order[t]]
            tree["true"].append(where.get((t, attrs["nodes_truenodeids"][i]), (0, -1))[1])
            tree["false"].append(where.get((t, attrs["nodes_falsenodeids"][i]), (0, -1))[1])
        weights = attrs.get(f"{prefix}_weights") or attrs.get(f"{prefix}_weights_as_tensor") or []
        ids = attrs[f"{prefix}_ids"]
        for t, nid, target, w in zip(attrs[f"{prefix}_treeids"], attrs[f"{prefix}_nodeids"], ids, weights,
                                     strict=True):
            ti, ni = where[(t, nid)]
            trees[ti]["leaf"][ni].append((target, w))
        for tr in trees:
            _check_links(tr["mode"], tr["true"], tr["false"])
        self.trees = [(tr["feature"], tr["value"], tr["mode"], tr["true"], tr["false"], tr["missing"], tr["leaf"])
                      for tr in trees]
        self.all_positive = all(w >= 0 for w in weights)
        self.targets_seen = set(ids)

    def scores(self, row: list[float], width: int) -> tuple[list[float], list[bool]]:
        """The sum of leaf weights per target for one row, and which targets any leaf gave a weight to."""
        out = [0.0] * width
        seen = [False] * width
        for feature, value, mode, true, false, missing, leaf in self.trees:
            i = 0
            while True:
                m = mode[i]
                if m < 0:
                    break
                x = row[feature[i]]
                t = value[i]
                if x != x:
                    go = missing[i] or m == 5
                elif m == 0:
                    go = x <= t
                elif m == 1:
                    go = x < t
                elif m == 2:
                    go = x >= t
                elif m == 3:
                    go = x > t
                elif m == 4:
                    go = x == t
                else:
                    go = x != t
                i = true[i] if go else false[i]  # in range and acyclic: checked at load (_check_links)
            for target, w in leaf[i]:
                out[target] += w
                seen[target] = True
        return out, seen


def _check_links(mode: list[int], true: list[int], false: list[int]) -> None:
    """Once, when the program loads: every branch node of a tree (walked from its root, node 0) points at nodes
    inside the tree, and no walk comes back to a node it passed, so every walk ends at a leaf."""
    n = len(mode)
    state = [0] * n  # 0 not seen, 1 on the path being walked, 2 done
    todo: list[tuple[int, bool]] = [(0, False)]
    while todo:
        i, leaving = todo.pop()
        if leaving:
            state[i] = 2
            continue
        if state[i] == 2:
            continue
        if state[i] == 1:
            raise PureError("tree nodes form a cycle")
        if mode[i] < 0:
            state[i] = 2
            continue
        state[i] = 1
        todo.append((i, True))
        for child in (true[i], false[i]):
            if not 0 <= child < n:
                raise PureError("tree node points outside its tree")
            todo.append((child, False))


def _tree_regressor(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    trees = attrs["_trees"]
    width = attrs.get("n_targets", 1)
    base = attrs["_base"]
    agg = attrs.get("aggregate_function", "SUM")
    n_trees = len(trees.trees)
    post = attrs.get("post_transform", "NONE")
    out: list[float] = []
    for row in _rows(a):
        s, _ = trees.scores(row, width)
        if agg == "AVERAGE":
            s = [v / n_trees for v in s]
        if base:
            s = [v + b for v, b in zip(s, base, strict=True)]
        out.extend(_post(post, s))
    return [_typed("float", (len(out) // width, width), out)]


def _tree_classifier(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    trees = attrs["_trees"]
    labels = attrs["_labels"]
    k = len(labels)
    base = attrs["_base"]
    post = attrs.get("post_transform", "NONE")
    scores_out: list[float] = []
    label_out: list[Any] = []
    for row in _rows(a):
        s, seen = trees.scores(row, max(k, 1))
        if k > 2:
            s = [v + (base[c] if c < len(base) else 0.0) for c, v in enumerate(s)]
            label_out.append(labels[max(range(k), key=s.__getitem__)])
            scores_out.extend(_post(post, s))
            continue
        # Two classes: onnxruntime's rules (tree_ensemble_aggregator.h, FinalizeScores / write_scores).
        if len(base) == 2:
            if seen[1]:
                s1 = base[1] + s[0]
                s = [-s1, s1]
            else:
                s = [s[0] + base[0], s[1] + base[1]]
            two = True
        else:
            if len(base) == 1:
                s[0] += base[0]
            two = seen[1]
        if two:
            label_out.append(labels[1] if s[1] > s[0] else labels[0])
            scores_out.extend(_post(post, s))
            continue
        p = s[0]
        if trees.all_positive:
            label_out.append(labels[1] if p > 0.5 else labels[0])
            pair = [1.0 - p, p]  # onnxruntime applies no post_transform here
        else:
            label_out.append(labels[1] if p > 0 else labels[0])
            pair = [_sigmoid(-p), _sigmoid(p)] if post == "LOGISTIC" else [-p, p]
        scores_out.extend(pair)
    n = len(label_out)
    ltype = "string" if attrs.get("classlabels_strings") else "int64"
    return [T(ltype, (n,), label_out), _typed("float", (n, len(scores_out) // n if n else k), scores_out)]


def _prepare_trees(prefix: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def prepare(attrs: dict[str, Any]) -> dict[str, Any]:
        if prefix == "target" and attrs.get("aggregate_function", "SUM") not in ("SUM", "AVERAGE"):
            raise PureError(f"aggregate_function {attrs['aggregate_function']!r} is not supported")
        return {**attrs, "_trees": _Trees(attrs, prefix),
                "_base": attrs.get("base_values") or attrs.get("base_values_as_tensor") or [],
                "_labels": attrs.get("classlabels_strings") or attrs.get("classlabels_int64s") or []}
    return prepare


#: (domain, op type) -> the function run, and an optional preparation of its attributes at load time.
OPS: dict[tuple[str, str], Callable[[dict[str, Any], list[T]], list[T]]] = {
    ("", "Identity"): _identity,
    ("", "Cast"): _cast,
    ("", "Add"): _elementwise(operator.add),
    ("", "Sub"): _elementwise(operator.sub),
    ("", "Mul"): _elementwise(operator.mul),
    ("", "Div"): _elementwise(_div),
    ("", "MatMul"): _matmul_op,
    ("", "Gemm"): _gemm,
    ("", "Sigmoid"): _unary(_sigmoid),
    ("", "Relu"): _unary(_relu),
    ("", "Tanh"): _unary(math.tanh),
    ("", "Abs"): _unary(abs),
    ("", "Neg"): _unary(operator.neg),
    ("", "Exp"): _unary(lambda v: math.exp(v) if v < 709.78 else INF),
    ("", "Softmax"): _softmax_op,
    ("", "Concat"): _concat,
    ("", "Reshape"): _reshape,
    ("", "Flatten"): _flatten_op,
    ("", "ReduceSum"): _reduce(_sum),
    ("", "ReduceMax"): _reduce(max),
    ("", "ArgMax"): _argmax,
    ("ai.onnx.ml", "Scaler"): _scaler,
    ("ai.onnx.ml", "Imputer"): _imputer,
    ("ai.onnx.ml", "OneHotEncoder"): _one_hot,
    ("ai.onnx.ml", "LabelEncoder"): _label_encoder,
    ("ai.onnx.ml", "Normalizer"): _normalizer,
    ("ai.onnx.ml", "LinearClassifier"): _linear_classifier,
    ("ai.onnx.ml", "LinearRegressor"): _linear_regressor,
    ("ai.onnx.ml", "ArrayFeatureExtractor"): _array_feature_extractor,
    ("ai.onnx.ml", "TreeEnsembleRegressor"): _tree_regressor,
    ("ai.onnx.ml", "TreeEnsembleClassifier"): _tree_classifier,
}
#: (domain, op type) -> what is built from a node's attributes once, when the program loads (never per request).
_PREPARE: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("ai.onnx.ml", "Scaler"): _prepare_scaler,
    ("ai.onnx.ml", "Imputer"): _prepare_imputer,
    ("ai.onnx.ml", "OneHotEncoder"): _prepare_one_hot,
    ("ai.onnx.ml", "LabelEncoder"): _prepare_label_encoder,
    ("ai.onnx.ml", "LinearClassifier"): _prepare_linear,
    ("ai.onnx.ml", "LinearRegressor"): _prepare_linear_regressor,
    ("ai.onnx.ml", "TreeEnsembleRegressor"): _prepare_trees("target"),
    ("ai.onnx.ml", "TreeEnsembleClassifier"): _prepare_trees("class")}
#: Operators whose float arithmetic is exact or rounded per value here; the compiler checks graphs against OPS.
INPUT_TYPES = ("double", "float", "int64", "string")


class Program:
    """A loaded program: run it on named input tensors, get the output tensor."""

    def __init__(self, doc: Any) -> None:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise PureError(f"not a {FORMAT} version {VERSION} program")
        self.inputs: list[dict[str, Any]] = doc["inputs"]
        for spec in self.inputs:
            if spec.get("type") not in INPUT_TYPES:
                raise PureError(f"input {spec.get('name')!r} has type {spec.get('type')!r}")
        self.output: str = doc["output"]
        self.metadata: dict[str, str] = dict(doc.get("metadata") or {})
        self.constants: dict[str, T] = {}
        for name, init in doc.get("initializers", {}).items():
            data = [_number(v) for v in _flatten(init["data"])]
            self.constants[name] = _typed(init["type"], tuple(init["shape"]), data)
        self.nodes: list[tuple[Callable[..., list[T]], dict[str, Any], list[str], list[str]]] = []
        for node in doc["nodes"]:
            key = (node.get("domain", ""), node["op"])
            fn = OPS.get(key)
            if fn is None:
                raise PureError(f"operator {'.'.join(k for k in key if k)} is not supported")
            attrs = {k: _attr(v) for k, v in node.get("attrs", {}).items()}
            if key in _PREPARE:
                attrs = _PREPARE[key](attrs)
            self.nodes.append((fn, attrs, list(node["inputs"]), list(node["outputs"])))
            _prepare_weights(key, attrs, [self.constants.get(i) for i in node["inputs"]])
        self._plan()

    def _plan(self) -> None:
        """Tensors by slot instead of by name, resolved once: slot 0 is the absent optional input (None), slot 1
        takes the outputs nobody names; a name no earlier node, input or constant gives is refused here."""
        slots: dict[str, int] = {}
        template: list[T | None] = [None, None]
        for name, t in self.constants.items():
            slots[name] = len(template)
            template.append(t)

        def slot(name: str) -> int:
            if name not in slots:
                slots[name] = len(template)
                template.append(None)
            return slots[name]

        self._feeds = [(slot(spec["name"]), spec["name"], spec["type"] == "float") for spec in self.inputs]
        known = set(slots)
        steps = []
        for fn, attrs, ins, outs in self.nodes:
            missing = [i for i in ins if i and i not in known]
            if missing:
                raise PureError(f"node input {missing[0]!r} is given by no earlier node, input or constant")
            steps.append((fn, attrs, [slots[i] if i else 0 for i in ins], [slot(o) if o else 1 for o in outs]))
            known.update(o for o in outs if o)
        if self.output not in known:
            raise PureError(f"output {self.output!r} is given by no node, input or constant")
        self._steps, self._template, self._output = steps, template, slots[self.output]

    def run(self, feeds: dict[str, T]) -> T:
        """Evaluate the nodes in order and return the output tensor."""
        values = self._template.copy()
        for i, name, is_float in self._feeds:
            t = feeds[name]
            values[i] = _typed("float", t.shape, t.data) if is_float else t
        for fn, attrs, ins, outs in self._steps:
            results = fn(attrs, [values[i] for i in ins])
            for i, value in zip(outs, results, strict=False):
                values[i] = value
        return values[self._output]  # type: ignore[return-value]


def _prepare_weights(key: tuple[str, str], attrs: dict[str, Any], consts: list[T | None]) -> None:
    """A constant weight matrix's columns (or rows, transposed) for MatMul and Gemm, built at load."""
    b = consts[1] if len(consts) > 1 else None
    if b is None or len(b.shape) != 2:
        return
    if key == ("", "MatMul") or key == ("", "Gemm") and not attrs.get("transB", 0):
        _columns(b, b.shape[1])
    elif key == ("", "Gemm"):
        _const_rows(b)


def _attr(v: Any) -> Any:
    if isinstance(v, list):
        return [_number(x) for x in v]
    return _number(v)


def load_program(data: bytes) -> Program:
    """Parse and load a program's JSON bytes; PureError if it is not one this evaluator runs."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise PureError(f"not JSON: {exc}") from None
    try:
        return Program(doc)
    except (KeyError, TypeError, IndexError) as exc:
        raise PureError(f"malformed program: {type(exc).__name__}: {exc}") from None
