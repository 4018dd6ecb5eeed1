"""The standard ONNX operators the pure runtime runs (arithmetic, MatMul/Gemm, activations, shape operators)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from functions.pure.tensor import (
    INF,
    ONNX_TYPES,
    PureError,
    T,
    _as_matrix,
    _broadcast,
    _columns,
    _const_rows,
    _div,
    _matmul,
    _rows,
    _sigmoid,
    _size,
    _softmax,
    _sum,
    _typed,
)


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


#: The standard operators: (domain, op type) -> the function run.
CORE_OPS: dict[tuple[str, str], Callable[[dict[str, Any], list[T]], list[T]]] = {
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
}
