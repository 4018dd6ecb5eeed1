"""Tensors of the pure runtime: (type, shape, flat row-major list), float32 rounding, broadcasting and the
scalar arithmetic every operator shares."""

from __future__ import annotations

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
