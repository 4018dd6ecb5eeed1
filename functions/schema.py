"""A model's input schema and task, and turning a request body into a batch of typed rows.

The schema is what the manifest declared (smodels writes it for the function, see functions.contract): the
features in model input order, each with its type, whether it may be null and, for a categorical one, the
categories seen in training; the task and the class labels as trained. Parsing checks every value against
it and raises ApiError (400) naming the field; values outside the observed range are served and counted.

Rows come out row-major, one Python value per feature: a float for numeric, integer, binary and boolean
features, a str for a categorical one, and float("nan") for a missing value of either. Predictors turn a
:class:`Batch` into what their runtime takes (a float64 matrix, a pandas DataFrame, ONNX feeds).
Standard library only: numpy and pandas are imported by the batch methods that need them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from functions.contract import FEATURE_TYPES
from functions.http import ApiError

TASKS = ("binary-classification", "multiclass-classification", "regression")
NUMERIC_TYPES = frozenset(("numeric", "integer", "binary", "boolean"))
NAN = float("nan")

# Plain decimal numbers only: float() would also take "nan", "inf", "1_000" and surrounding blanks.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PLAIN = frozenset("0123456789.+-eE")
_BINARY = frozenset((0, 1, "0", "1"))  # 0.0 and 1.0 hash equal to 0 and 1; booleans are refused separately
_BINARY_VALUE = {0: 0.0, 1: 1.0, "0": 0.0, "1": 1.0}  # the same values, as the floats the model takes


class SchemaError(ValueError):
    """The schema document itself is invalid (a deployment mistake, not a client's)."""


class Feature(NamedTuple):
    """One model input: name, type, whether null is accepted, and what training saw."""

    name: str
    type: str = "numeric"
    nullable: bool = False
    categories: tuple[str, ...] = ()  # categorical: every value seen in training
    ignore_unknown: bool = False  # categorical: the model encodes an unseen category itself (no 400)
    low: float | None = None  # numeric/integer: observed range; outside it is served and counted
    high: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The compact JSON form (defaults left out)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.nullable:
            out["nullable"] = True
        if self.type == "categorical":
            out["categories"] = list(self.categories)
            if self.ignore_unknown:
                out["ignore_unknown"] = True
        if self.low is not None:
            out["low"], out["high"] = self.low, self.high
        return out


class ModelSchema:
    """Features in model input order, the task and the class labels (classifiers, in probability order)."""

    __slots__ = ("features", "task", "classes", "names", "_index", "_keys", "_numeric", "_binary", "_narrow",
                 "_ranged", "_all_binary")

    def __init__(self, features: tuple[Feature, ...], task: str = "binary-classification",
                 classes: tuple[Any, ...] = (0, 1)) -> None:
        self.features = tuple(features)
        self.task = task
        self.classes = tuple(classes)
        self.names: tuple[str, ...] = tuple(f.name for f in self.features)  # model input order
        self._index = {f.name: i for i, f in enumerate(self.features)}
        self._keys = frozenset(self._index)
        # Precomputed for the per-request hot path.
        self._numeric = all(f.type in NUMERIC_TYPES and not f.nullable for f in self.features)
        self._binary = tuple(j for j, f in enumerate(self.features) if f.type == "binary")
        self._narrow = tuple(j for j, f in enumerate(self.features) if f.type in ("integer", "boolean"))
        self._ranged = any(f.low is not None for f in self.features)
        self._all_binary = len(self._binary) == len(self.features) and not self._ranged

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSchema) and (self.features, self.task, self.classes) == (
            other.features, other.task, other.classes)

    def __hash__(self) -> int:
        return hash((self.features, self.task, self.classes))

    def __repr__(self) -> str:
        return f"ModelSchema(features={self.features!r}, task={self.task!r}, classes={self.classes!r})"

    @property
    def numeric(self) -> bool:
        """True when every feature is a non-nullable number: the rows form a float64 matrix as they are."""
        return self._numeric

    @classmethod
    def simple(cls, names: Sequence[str], types: Sequence[str] = ()) -> ModelSchema:
        """A schema from names (and types; default numeric), binary classification with classes 0 and 1."""
        types = list(types) or ["numeric"] * len(names)
        return cls.from_json({"features": [{"name": n, "type": t} for n, t in zip(names, types, strict=True)]})

    @classmethod
    def from_json(cls, doc: Any) -> ModelSchema:
        """Validate a schema document; SchemaError names what is wrong."""
        if not isinstance(doc, dict) or not isinstance(doc.get("features"), list) or not doc["features"]:
            raise SchemaError("schema: expected {\"features\": [...], \"task\": ..., \"classes\": [...]}")
        feats: list[Feature] = []
        for i, raw in enumerate(doc["features"]):
            where = f"schema.features[{i}]"
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
                raise SchemaError(f"{where}: needs a non-empty name")
            ftype = raw.get("type", "numeric")
            if ftype not in FEATURE_TYPES:
                raise SchemaError(f"{where}.type: {ftype!r} is not one of {', '.join(FEATURE_TYPES)}")
            cats = raw.get("categories", [])
            if ftype == "categorical" and (not isinstance(cats, list) or not all(isinstance(c, str) for c in cats)):
                raise SchemaError(f"{where}.categories: a list of strings")
            low, high = raw.get("low"), raw.get("high")
            feats.append(Feature(raw["name"], ftype, bool(raw.get("nullable", False)), tuple(cats),
                                 bool(raw.get("ignore_unknown", False)),
                                 None if low is None else float(low), None if high is None else float(high)))
        if len({f.name for f in feats}) != len(feats):
            raise SchemaError("schema.features: names must be distinct")
        task = doc.get("task", "binary-classification")
        if task not in TASKS:
            raise SchemaError(f"schema.task: {task!r} is not one of {', '.join(TASKS)}")
        classes = tuple(doc.get("classes") or (() if task == "regression" else (0, 1)))
        if task == "binary-classification" and len(classes) != 2:
            raise SchemaError("schema.classes: a binary classifier has exactly 2 classes")
        if task == "multiclass-classification" and len(classes) < 2:
            raise SchemaError("schema.classes: a multiclass classifier has at least 2 classes")
        if len({(type(c), c) for c in classes}) != len(classes):
            raise SchemaError("schema.classes: labels must be distinct")
        return cls(tuple(feats), task, classes)

    def to_json(self) -> dict[str, Any]:
        """The JSON document ``from_json`` reads."""
        return {"task": self.task, "classes": list(self.classes), "features": [f.to_json() for f in self.features]}

    # --- request parsing ---------------------------------------------------------------------------------

    def parse(self, payload: Any, max_rows: int) -> Batch:
        """A request body (one row object, or ``{"instances": [...]}`` of objects or lists in feature order)
        as a batch; ApiError naming the field for anything the schema does not accept."""
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_request", "body must be a JSON object: the features "
                           '({"G1": 1, ...}) or {"instances": [...]}')
        batch = Batch([], False)
        if "instances" not in payload:
            batch.rows.append(self._row(payload, "", batch))
            return batch
        extra = sorted(k for k in payload if k != "instances")
        if extra:
            raise ApiError(400, "unknown_field", f"unexpected field {extra[0]!r} beside 'instances'", extra[0])
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise ApiError(400, "invalid_request", "'instances' must be a list of rows", "instances")
        if not instances:
            raise ApiError(400, "empty_batch", "'instances' is empty; send at least one row", "instances")
        if len(instances) > max_rows:
            raise ApiError(413, "batch_too_large", f"'instances' has {len(instances)} rows; the limit is "
                           f"{max_rows}", "instances")
        batch.is_batch = True
        batch.rows.extend(self._row(item, f"instances[{i}]", batch) for i, item in enumerate(instances))
        return batch

    def _row(self, item: Any, prefix: str, batch: Batch) -> list[Any]:
        features = self.features
        if isinstance(item, dict):
            if item.keys() != self._keys:
                self._missing_or_unknown(item, prefix)
            values = list(map(item.__getitem__, self.names))

            def where(j: int) -> str:
                return f"{prefix}.{features[j].name}" if prefix else features[j].name
        elif isinstance(item, list) and prefix:
            if len(item) != len(features):
                raise ApiError(400, "wrong_row_length", f"{prefix} has {len(item)} values; expected "
                               f"{len(features)} ({', '.join(self.names)})", prefix)
            values = item

            def where(j: int) -> str:
                return f"{prefix}[{j}]"
        else:
            raise ApiError(400, "invalid_request", f"{prefix or 'body'} must be an object of features"
                           + (" or a list of values in feature order" if prefix else ""), prefix or None)
        if self._all_binary:  # the book's 0/1 flags: one lookup per value; anything else takes the careful path
            try:
                flags = list(map(_BINARY_VALUE.__getitem__, values))
            except (KeyError, TypeError):  # TypeError: an unhashable value (a list, an object)
                flags = None
            if flags is not None and bool not in set(map(type, values)):  # True == 1, but a boolean is refused
                return flags
        if self._numeric:
            fast = _fast_floats(values)
            if fast is not None:
                for j in self._binary:  # the book's 0/1 flags: a set lookup each, no call
                    v = values[j]
                    if type(v) is bool or v not in _BINARY:
                        _check_number_type(v, fast[j], features[j], where, j)
                for j in self._narrow:
                    _check_number_type(values[j], fast[j], features[j], where, j)
                if self._ranged:
                    self._count_range(fast, batch)
                return fast
        out = [_parse_value(v, f, where, j) for j, (v, f) in enumerate(zip(values, features, strict=True))]
        if self._ranged:
            self._count_range(out, batch)
        return out

    def _missing_or_unknown(self, item: dict[str, Any], prefix: str) -> None:
        missing = [n for n in self.names if n not in item]
        if missing:
            raise ApiError(400, "missing_feature", f"missing feature(s) {', '.join(missing)}; expected "
                           f"{', '.join(self.names)}", f"{prefix}.{missing[0]}" if prefix else missing[0])
        unknown = [k for k in item if k not in self._index]
        raise ApiError(400, "unknown_feature", f"unknown feature {unknown[0][:60]!r}; expected "
                       f"{', '.join(self.names)}", f"{prefix}.{unknown[0]}" if prefix else unknown[0])

    def _count_range(self, row: list[Any], batch: Batch) -> None:
        for f, v in zip(self.features, row, strict=True):
            if f.low is not None and type(v) is float and (v < f.low or v > f.high):  # type: ignore[operator]
                batch.out_of_range += 1


class Batch:
    """Parsed rows (row-major, one value per feature) and whether the request was a batch."""

    __slots__ = ("rows", "is_batch", "out_of_range")

    def __init__(self, rows: list[list[Any]], is_batch: bool, out_of_range: int = 0) -> None:
        self.rows = rows
        self.is_batch = is_batch
        self.out_of_range = out_of_range  # values outside the training range, served and counted in the log line

    def __len__(self) -> int:
        return len(self.rows)

    def matrix(self, dtype: Any = None) -> Any:
        """The rows as a numpy [N, F] array (float64 unless ``dtype``); only for numeric schemas."""
        import numpy as np

        return np.array(self.rows, dtype=dtype or np.float64).reshape(len(self.rows), -1)

    def objects(self) -> Any:
        """The rows as a numpy object array [N, F] (strings stay strings, missing values are NaN)."""
        import numpy as np

        out = np.empty((len(self.rows), len(self.rows[0]) if self.rows else 0), dtype=object)
        out[:] = self.rows
        return out

    def frame(self, schema: ModelSchema) -> Any:
        """The rows as a pandas DataFrame with the schema's column names: float64 numbers, object categories."""
        import pandas as pd

        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(schema.features)
        data = {f.name: pd.Series(col, dtype="float64" if f.type in NUMERIC_TYPES else "object")
                for f, col in zip(schema.features, columns, strict=True)}
        return pd.DataFrame(data, columns=list(schema.names))


# --- values --------------------------------------------------------------------------------------------------


def parse_number(value: Any, field: str) -> float:
    """One numeric value: a JSON number or a numeric string, finite; booleans are rejected."""
    if isinstance(value, bool):
        raise ApiError(400, "invalid_value", f"{field} must be a number, not a boolean", field)
    if isinstance(value, int):
        try:
            out = float(value)
        except OverflowError:
            raise ApiError(400, "invalid_value", f"{field} is too large", field) from None
    elif isinstance(value, float):
        out = value
    elif isinstance(value, str):
        if len(value) > 100 or not _NUMBER.fullmatch(value):
            raise ApiError(400, "invalid_value", f"{field} must be numeric, got {value[:40]!r}", field)
        out = float(value)
    else:
        raise ApiError(400, "invalid_value", f"{field} must be a number or a numeric string, "
                       f"got {type(value).__name__ if value is not None else 'null'}", field)
    if not math.isfinite(out):
        raise ApiError(400, "invalid_value", f"{field} must be finite", field)
    return out


def _fast_floats(values: list[Any]) -> list[float] | None:
    """The hot path: every value a finite JSON number or a plain decimal string; None sends the row to the
    careful parser, which names the field. Same acceptance as ``parse_number``, without its per-value cost."""
    out: list[float] = []
    for v in values:
        t = type(v)
        if t is float or t is int:
            f = float(v) if t is int and -(2**53) <= v <= 2**53 else v if t is float else None
        elif t is str and 0 < len(v) <= 100 and _PLAIN.issuperset(v):
            try:
                f = float(v)
            except ValueError:
                return None
        else:
            return None
        if f is None or f - f != 0.0:  # None, inf or nan
            return None
        out.append(f)
    return out


def _check_number_type(raw: Any, value: float, f: Feature, where: Callable[[int], str], j: int) -> None:
    """The narrower number types: integer (whole), binary (0/1 or "0"/"1"), boolean (true/false, or 0/1)."""
    if f.type == "binary" and not (type(raw) is not bool and raw in _BINARY):
        name = where(j)
        raise ApiError(400, "invalid_value", f"{name} is a binary feature: send 0 or 1 (or \"0\" / \"1\"), "
                       f"got {raw!r}"[:200], name)
    if f.type == "integer" and value != int(value):
        name = where(j)
        raise ApiError(400, "invalid_value", f"{name} is an integer feature, got {raw!r}"[:200], name)
    if f.type == "boolean" and not (raw is True or raw is False or (type(raw) in (int, float) and raw in (0, 1))):
        name = where(j)
        raise ApiError(400, "invalid_value", f"{name} is a boolean feature: send true or false, got {raw!r}"[:200],
                       name)


def _parse_value(raw: Any, f: Feature, where: Callable[[int], str], j: int) -> Any:
    """One value checked against its feature; the float, the category string, or NaN for an accepted null."""
    if raw is None:
        if f.nullable:
            return NAN
        raise ApiError(400, "invalid_value", f"{where(j)} must not be null (the model cannot take a missing "
                       "value here)", where(j))
    if f.type == "categorical":
        if not isinstance(raw, str):
            raise ApiError(400, "invalid_value", f"{where(j)} is a categorical feature: send one of its categories "
                           f"as a string, got {type(raw).__name__}", where(j))
        if not f.ignore_unknown and raw not in f.categories:
            shown = ", ".join(repr(c) for c in f.categories[:10]) + (", ..." if len(f.categories) > 10 else "")
            raise ApiError(400, "unknown_category", f"{where(j)}: {raw[:40]!r} is not a category the model was "
                           f"trained on ({shown})", where(j))
        return raw
    if f.type == "boolean" and isinstance(raw, bool):
        return 1.0 if raw else 0.0
    value = parse_number(raw, where(j))
    _check_number_type(raw, value, f, where, j)
    return value
