"""A pure program: the operator table, loading (attributes prepared, weights laid out, tensors numbered by
slot) and evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from functions.pure.ml import ML_OPS
from functions.pure.ops import CORE_OPS
from functions.pure.tensor import FORMAT, VERSION, PureError, T, _columns, _const_rows, _flatten, _number, _typed
from functions.pure.trees import TREE_OPS

Op = Callable[[dict[str, Any], list[T]], list[T]]
_TABLE: dict[tuple[str, str], tuple[Op, Callable[[dict[str, Any]], dict[str, Any]] | None]] = {
    **{key: (fn, None) for key, fn in CORE_OPS.items()}, **ML_OPS, **TREE_OPS}
#: (domain, op type) -> the function run.
OPS: dict[tuple[str, str], Op] = {key: fn for key, (fn, _) in _TABLE.items()}
#: (domain, op type) -> what is built from a node's attributes once, when the program loads (never per request).
_PREPARE = {key: prepare for key, (_, prepare) in _TABLE.items() if prepare is not None}
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
