"""MLflow's scoring format over a model endpoint: ``POST <endpoint>/invocations``, as ``mlflow models serve`` takes it.

JSON bodies (``application/json``) with exactly one of ``dataframe_split`` (``{"columns", "data", "index"?}``),
``dataframe_records`` (a list of row objects), ``instances`` or ``inputs`` (a list of row objects or of rows in
feature order, or an object of column lists), beside an optional ``params`` (accepted, not used); or CSV
(``text/csv``) with a header row. Each is read into the rows today's request parser takes
(:meth:`functions.schema.ModelSchema.parse`), so every value passes the same checks, and the answer is today's
batch contract (``{"predictions": [...]}``, classifiers with ``probabilities`` beside). Standard library only.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from functions.http import ApiError, refuse_unknown_fields
from functions.schema import ModelSchema

#: The JSON keys MLflow 2 and 3 define for a scoring body (exactly one per request).
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PATH_SUFFIX = "/invocations"
_CSV = re.compile(r"^text/csv\s*(?:;.*)?$", re.IGNORECASE)


def is_invocations(path: str) -> bool:
    """True for ``.../invocations``: MLflow's scoring path below an endpoint's URL."""
    return (path or "").rstrip("/").endswith(PATH_SUFFIX) or (path or "").rstrip("/") == "invocations"


def is_csv(content_type: str | None) -> bool:
    """True for a ``text/csv`` body (MLflow's other scoring content type)."""
    return bool(content_type) and _CSV.match(content_type.strip()) is not None  # type: ignore[union-attr]


class Invocation:
    """A scoring body read into ``payload`` (``{"instances": rows}``) and how to name a row's field in an error."""

    __slots__ = ("payload", "format", "_columns")

    def __init__(self, payload: dict[str, Any], fmt: str, columns: list[str] | None = None) -> None:
        self.payload, self.format, self._columns = payload, fmt, columns

    def rename(self, err: ApiError) -> ApiError:
        """The parser's ``instances[i].<feature>`` restated as the place in this body the value came from."""
        m = re.match(r"instances\[(\d+)\](?:\.(.+))?$", err.field or "")
        if m is None or self.format == "instances":
            return err
        row, feature = int(m[1]), m[2]
        if self.format == "dataframe_split" and feature and self._columns and feature in self._columns:
            field = f"dataframe_split.data[{row}][{self._columns.index(feature)}]"
        elif self.format == "inputs" and feature and self._columns is not None:
            field = f"inputs.{feature}[{row}]"
        elif self.format == "csv":
            field = f"csv row {row + 1}" + (f", column {feature}" if feature else "")
        else:
            field = f"{self.format}[{row}]" + (f".{feature}" if feature else "")
        return ApiError(err.status, err.code, err.message.replace(err.field, field, 1), field, err.headers)


def parse_json(doc: Any, schema: ModelSchema, max_rows: int) -> Invocation:
    """A JSON scoring body as rows; ApiError (400/413) naming the field."""
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_request", "an MLflow scoring body is a JSON object with one of "
                       f"{', '.join(FORMATS)}")
    given = [k for k in FORMATS if k in doc]
    extra = sorted(k for k in doc if k not in FORMATS and k != "params")
    if extra:
        raise ApiError(400, "unknown_field", f"unexpected field {extra[0][:60]!r}; an MLflow scoring body has one of "
                       f"{', '.join(FORMATS)} (and optional params)", extra[0])
    if len(given) != 1:
        raise ApiError(400, "invalid_request", f"an MLflow scoring body has exactly one of {', '.join(FORMATS)}; "
                       f"got {', '.join(given) or 'none'}", given[1] if len(given) > 1 else None)
    if "params" in doc and not isinstance(doc["params"], dict):
        raise ApiError(400, "invalid_request", "'params' must be an object", "params")
    fmt = given[0]
    raw = doc[fmt]
    if fmt == "dataframe_split":
        return _split(raw, schema, max_rows)
    if isinstance(raw, dict) and fmt in ("inputs", "instances"):
        return _columnar(raw, fmt, schema, max_rows)
    if not isinstance(raw, list):
        raise ApiError(400, "invalid_request", f"'{fmt}' must be a list of rows"
                       + (" or an object of columns" if fmt != "dataframe_records" else ""), fmt)
    if fmt == "dataframe_records" and not all(isinstance(r, dict) for r in raw):
        i = next(i for i, r in enumerate(raw) if not isinstance(r, dict))
        raise ApiError(400, "invalid_request", f"dataframe_records[{i}] must be an object of column -> value",
                       f"dataframe_records[{i}]")
    _within(len(raw), max_rows, fmt)
    return Invocation({"instances": raw}, fmt)


def _split(raw: Any, schema: ModelSchema, max_rows: int) -> Invocation:
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_request", "'dataframe_split' must be an object with columns and data",
                       "dataframe_split")
    refuse_unknown_fields(raw, ("columns", "data", "index"), "dataframe_split")
    columns, data = raw.get("columns"), raw.get("data")
    if columns is None:  # pandas' split orient always writes them
        raise ApiError(400, "invalid_request", "dataframe_split needs its columns (the feature names, in the order of "
                       "each data row)", "dataframe_split.columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ApiError(400, "invalid_request", "dataframe_split.columns must be a list of column names",
                       "dataframe_split.columns")
    if len(set(columns)) != len(columns):
        raise ApiError(400, "invalid_request", "dataframe_split.columns has a name twice", "dataframe_split.columns")
    if not isinstance(data, list):
        raise ApiError(400, "invalid_request", "dataframe_split.data must be a list of rows", "dataframe_split.data")
    index = raw.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise ApiError(400, "invalid_request", f"dataframe_split.index must be a list of {len(data)} labels, one per "
                       "row", "dataframe_split.index")
    _within(len(data), max_rows, "dataframe_split.data")
    rows = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ApiError(400, "wrong_row_length", f"dataframe_split.data[{i}] must be a list of {len(columns)} "
                           f"values ({', '.join(columns)})", f"dataframe_split.data[{i}]")
        rows.append(dict(zip(columns, row, strict=True)))
    return Invocation({"instances": rows}, "dataframe_split", columns)


def _columnar(raw: dict[str, Any], fmt: str, schema: ModelSchema, max_rows: int) -> Invocation:
    """``{"inputs": {"G1": [..], ...}}``: one list per column, all of one length."""
    bad = next((k for k, v in raw.items() if not isinstance(v, list)), None)
    if bad is not None:
        raise ApiError(400, "invalid_request", f"{fmt}.{bad[:60]} must be a list (one value per row)", f"{fmt}.{bad}")
    lengths = {len(v) for v in raw.values()}
    if len(lengths) > 1:
        raise ApiError(400, "invalid_request", f"the columns of '{fmt}' have different lengths", fmt)
    n = lengths.pop() if lengths else 0
    _within(n, max_rows, fmt)
    names = list(raw)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*raw.values(), strict=True)]
    return Invocation({"instances": rows}, fmt, names)


def parse_csv(body: bytes, schema: ModelSchema, max_rows: int) -> Invocation:
    """A ``text/csv`` body with a header row: values as strings (numbers as the parser reads numeric strings), an
    empty cell is a missing value."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_csv", f"the CSV body is not valid UTF-8 (byte {exc.start})") from None
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ApiError(400, "invalid_csv", f"the CSV body cannot be read: {exc}") from None
    records = [r for r in records if r]
    if not records:
        raise ApiError(400, "invalid_csv", "the CSV body is empty; send a header row and at least one row")
    header, data = records[0], records[1:]
    if len(set(header)) != len(header):
        raise ApiError(400, "invalid_csv", "the CSV header names a column twice", "csv header")
    _within(len(data), max_rows, "csv")
    booleans = {f.name for f in schema.features if f.type == "boolean"}
    rows = []
    for i, row in enumerate(data):
        if len(row) != len(header):
            raise ApiError(400, "wrong_row_length", f"csv row {i + 1} has {len(row)} values; the header has "
                           f"{len(header)}", f"csv row {i + 1}")
        rows.append({k: _cell(v, k in booleans) for k, v in zip(header, row, strict=True)})
    return Invocation({"instances": rows}, "csv", header)


_BOOLEAN_CELLS = {"true": True, "false": False, "1": True, "0": False}


def _cell(value: str, boolean: bool) -> Any:
    """One CSV cell: empty is missing; a boolean feature's cell may read true/false (pandas writes True/False)."""
    if value == "":
        return None
    if boolean:
        return _BOOLEAN_CELLS.get(value.strip().lower(), value)
    return value


def _within(n: int, max_rows: int, field: str) -> None:
    if n > max_rows:
        raise ApiError(413, "batch_too_large", f"the request has {n} rows; the limit is {max_rows}", field)
