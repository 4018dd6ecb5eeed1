"""functions/schema.py: every feature type's rules, the 400s naming the field, batches, and the schema document."""

from __future__ import annotations

import math
from typing import Any

import pytest

from functions.http import ApiError
from functions.schema import ModelSchema, SchemaError

SCHEMA = ModelSchema.from_json({
    "task": "multiclass-classification",
    "classes": ["a", "b", "c"],
    "features": [
        {"name": "spend €", "type": "numeric", "nullable": True, "low": 0.0, "high": 100.0},
        {"name": "months", "type": "integer"},
        {"name": "flag", "type": "binary"},
        {"name": "active", "type": "boolean"},
        {"name": "home city", "type": "categorical", "categories": ["Lyon", "Oslo"]},
        {"name": "plan", "type": "categorical", "categories": ["basic"], "ignore_unknown": True},
    ],
})
GOOD = {"spend €": 12.5, "months": 3, "flag": "1", "active": True, "home city": "Oslo", "plan": "basic"}


def _err(payload: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        SCHEMA.parse(payload, 10)
    return err.value


def test_a_good_row_parses_to_typed_values() -> None:
    batch = SCHEMA.parse(GOOD, 10)
    assert not batch.is_batch and batch.rows == [[12.5, 3.0, 1.0, 1.0, "Oslo", "basic"]]
    assert batch.out_of_range == 0


@pytest.mark.parametrize(("field", "value", "code"), [
    ("spend €", "abc", "invalid_value"),
    ("spend €", "1e999", "invalid_value"),
    ("spend €", True, "invalid_value"),
    ("months", 2.5, "invalid_value"),
    ("months", "2.5", "invalid_value"),
    ("months", None, "invalid_value"),
    ("flag", 2, "invalid_value"),
    ("flag", "1.0", "invalid_value"),
    ("flag", True, "invalid_value"),
    ("active", "true", "invalid_value"),
    ("active", 2, "invalid_value"),
    ("home city", "Reykjavík", "unknown_category"),
    ("home city", 3, "invalid_value"),
    ("home city", None, "invalid_value"),
])
def test_each_type_refuses_what_it_does_not_take(field: str, value: Any, code: str) -> None:
    err = _err({**GOOD, field: value})
    assert (err.status, err.code, err.field) == (400, code, field)
    batch_err = _err({"instances": [GOOD, {**GOOD, field: value}]})
    assert (batch_err.code, batch_err.field) == (code, f"instances[1].{field}")


@pytest.mark.parametrize(("field", "value", "parsed"), [
    ("months", 4.0, 4.0), ("months", "7", 7.0), ("flag", 0, 0.0), ("flag", 1.0, 1.0),
    ("active", False, 0.0), ("active", 1, 1.0), ("plan", "enterprise", "enterprise"),
])
def test_each_type_accepts_its_values(field: str, value: Any, parsed: Any) -> None:
    row = SCHEMA.parse({**GOOD, field: value}, 10).rows[0]
    assert row[SCHEMA.names.index(field)] == parsed


def test_null_is_nan_where_the_model_takes_missing_values() -> None:
    row = SCHEMA.parse({**GOOD, "spend €": None}, 10).rows[0]
    assert math.isnan(row[0])


def test_values_outside_the_training_range_are_served_and_counted() -> None:
    batch = SCHEMA.parse({"instances": [{**GOOD, "spend €": 250.0}, {**GOOD, "spend €": -1}, GOOD]}, 10)
    assert len(batch) == 3 and batch.out_of_range == 2


def test_missing_unknown_and_positional_rows() -> None:
    assert (_err({k: v for k, v in GOOD.items() if k != "flag"}).code, _err({**GOOD, "x": 1}).field) == (
        "missing_feature", "x")
    positional = SCHEMA.parse({"instances": [list(GOOD.values())]}, 10)
    assert positional.is_batch and positional.rows[0][4] == "Oslo"
    assert _err({"instances": [list(GOOD.values())[:5]]}).code == "wrong_row_length"
    assert _err({"instances": []}).code == "empty_batch"
    assert _err({"instances": [GOOD] * 11}).status == 413


def test_the_frame_keeps_names_and_types() -> None:
    frame = SCHEMA.parse({"instances": [GOOD, {**GOOD, "spend €": None}]}, 10).frame(SCHEMA)
    assert list(frame.columns) == list(SCHEMA.names)
    assert str(frame["spend €"].dtype) == "float64" and frame["home city"].dtype == object
    assert math.isnan(frame["spend €"][1])


def test_the_schema_document_round_trips_and_is_validated() -> None:
    assert ModelSchema.from_json(SCHEMA.to_json()) == SCHEMA
    for bad in ({}, {"features": []}, {"features": [{"name": "a", "type": "text"}]},
                {"features": [{"name": "a"}, {"name": "a"}]},
                {"features": [{"name": "a"}], "task": "ranking"},
                {"features": [{"name": "a"}], "task": "binary-classification", "classes": [1, 2, 3]},
                {"features": [{"name": "a", "type": "categorical", "categories": [1]}]}):
        with pytest.raises(SchemaError):
            ModelSchema.from_json(bad)
    regression = ModelSchema.from_json({"features": [{"name": "x"}], "task": "regression"})
    assert regression.classes == () and regression.numeric


@pytest.mark.parametrize("value,ok", [(0, 0.0), (1, 1.0), ("0", 0.0), ("1", 1.0), (0.0, 0.0), (1.0, 1.0),
                                      (True, None), (False, None), ("1.0", None), (2, None), ([1], None),
                                      (None, None), (float("nan"), None)])
def test_all_binary_schema_takes_the_same_values_as_the_careful_parser(value, ok) -> None:
    """The book's all-binary schema has a lookup fast path; it accepts and refuses exactly what the careful
    per-value parser does (booleans hash equal to 0/1 and are still refused)."""
    schema = ModelSchema.from_json({"features": [{"name": "a", "type": "binary"}, {"name": "b", "type": "binary"}]})
    for row in ({"a": value, "b": 1}, {"a": 1, "b": value}):
        if ok is None:
            with pytest.raises(ApiError) as err:
                schema.parse(row, 10)
            assert err.value.status == 400 and err.value.field in ("a", "b")
        else:
            got = schema.parse(row, 10).rows[0]
            assert got == ([ok, 1.0] if row["a"] is value else [1.0, ok])
            assert all(type(v) is float for v in got)
