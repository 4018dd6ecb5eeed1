"""functions/drift.py: counting rows and outputs against a drift profile (bins by bisect, categories by lookup,
NaN as missing, values outside the training range and unknown categories as unseen), the one-row and the batch
path giving the same counts, the profile's validation naming the field, the schema file carrying the profile into
Settings, the prediction log line carrying the counts, and the worst-case size of a 300-feature line."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from functions.app import ModelApp
from functions.contract import MODEL_FORMAT, MODEL_SCHEMA, MODEL_SHA256, MODEL_URI, SCHEMA_DRIFT_KEY
from functions.drift import MAX_BUCKETS, DriftCounter, DriftError, DriftProfile
from functions.http import Request
from functions.model_cache import ModelCache
from functions.schema import NAN, ModelSchema
from functions.settings import MisconfiguredError, Settings, read_env

NAN_OTHER = float("nan")  # a NaN that is not functions.schema.NAN (the counter must not rely on identity)

SCHEMA = {"task": "binary-classification", "classes": [0, 1], "features": [
    {"name": "x", "type": "numeric", "nullable": True, "low": 0.0, "high": 3.0},
    {"name": "c", "type": "categorical", "nullable": True, "categories": ["a", "b", "z"], "ignore_unknown": True},
    {"name": "f", "type": "binary"},
]}
# Slots: x bins 0 1 2, missing 3, unseen 4; c a 5, b 6, other 7, missing 8, unseen 9; f 0 10, 1 11, other 12,
# missing 13, unseen 14; output bins 15 16.
PROFILE = {"version": 1, "id": "0123456789ab", "features": [
    {"name": "x", "kind": "bins", "edges": [1.0, 2.0], "shares": [0.2, 0.5, 0.2], "missing": 0.1, "low": 0.0,
     "high": 3.0},
    {"name": "c", "kind": "categories", "categories": ["a", "b"], "shares": [0.5, 0.3, 0.2], "missing": 0.0},
    {"name": "f", "kind": "categories", "categories": ["0", "1"], "shares": [0.6, 0.4, 0.0], "missing": 0.0},
], "output": {"kind": "bins", "edges": [0.5], "shares": [0.7, 0.3]}}


def _counter(profile: dict[str, Any] = PROFILE, schema: dict[str, Any] = SCHEMA) -> DriftCounter:
    s = ModelSchema.from_json(schema)
    p = DriftProfile.from_json(profile, s.names, [f.type for f in s.features], s.task, s.classes)
    return DriftCounter(p, s)


def _parsed(fragment: str) -> tuple[int, Counter[int], str]:
    """(unseen, slot counts, profile id) of a count() fragment, read as the log line's JSON."""
    assert fragment.startswith(",")
    doc = json.loads("{" + fragment[1:] + "}")
    pairs = doc["drift"]["c"]
    counts = Counter(dict(zip(pairs[::2], pairs[1::2], strict=True)))
    assert len(counts) == len(pairs) // 2  # no slot twice
    return doc["unseen"], counts, doc["drift"]["p"]


@pytest.mark.parametrize(("row", "output", "slots", "unseen"), [
    ([1.5, "a", 1.0], 0.2, {1, 5, 11, 15}, 0),
    ([1.0, "b", 0.0], 0.5, {1, 6, 10, 16}, 0),  # a value on an edge is in the bin above it (bisect_right)
    ([2.0, "a", 0.0], 0.49, {2, 5, 10, 15}, 0),
    ([NAN, NAN, 0.0], 0.9, {3, 8, 10, 16}, 0),  # missing values
    ([NAN_OTHER, NAN_OTHER, 1.0], 0.1, {3, 8, 11, 15}, 0),
    ([5.0, "q", 0.0], 0.1, {2, 4, 9, 10, 15}, 2),  # above the range: the last bin and unseen; an unknown category
    ([-1.0, "z", 1.0], 0.1, {0, 4, 7, 11, 15}, 1),  # below the range; "z": a category of the model, not in the top
])
def test_one_row(row: list[Any], output: float, slots: set[int], unseen: int) -> None:
    got_unseen, counts, pid = _parsed(_counter().count([row], [output])[0])
    assert (got_unseen, pid) == (unseen, "0123456789ab")
    assert counts == Counter(dict.fromkeys(slots, 1))


ROWS = [[1.5, "a", 1.0], [1.0, "b", 0.0], [NAN, NAN, 0.0], [5.0, "q", 0.0], [-1.0, "z", 1.0], [2.5, "a", 1.0],
        [NAN_OTHER, "q", 1.0], [0.0, "b", 0.0], [3.0, "a", 1.0]]
OUTPUTS = [0.2, 0.5, 0.9, 0.1, 0.1, 0.7, 0.3, 0.5, 0.0]


def test_a_batch_counts_what_its_rows_count_one_by_one() -> None:
    counter = _counter()
    total, unseen = Counter(), 0
    for row, out in zip(ROWS, OUTPUTS, strict=True):
        u, c, _ = _parsed(counter.count([row], [out])[0])
        total += c
        unseen += u
    batch_unseen, batch, _ = _parsed(counter.count(ROWS, OUTPUTS)[0])
    assert (batch, batch_unseen) == (total, unseen) == (batch, 4)
    # every feature (and the output) accounts for every row once: its buckets, missing and (categories) unseen
    assert sum(batch[k] for k in range(0, 4)) == len(ROWS)  # x: bins + missing (its unseen slot 4 is extra)
    assert sum(batch[k] for k in range(5, 10)) == sum(batch[k] for k in range(10, 15)) == len(ROWS)
    assert batch[15] + batch[16] == len(ROWS)
    assert counter.count(ROWS, OUTPUTS)[1] == 4


NUMBERS = {"task": "regression", "classes": [], "features": [
    {"name": "n", "type": "integer", "nullable": True, "low": 0.0, "high": 5.0},  # a small range: looked up
    {"name": "big", "type": "integer", "low": 0.0, "high": 10000.0},  # too many whole values: bisected
    {"name": "x", "type": "numeric", "nullable": True, "low": 0.0, "high": 1.0},
]}
# Slots: n bins 0 1 2, missing 3, unseen 4; big bins 5 6 7, missing 8, unseen 9; x bins 10 11, missing 12,
# unseen 13; output bins 14 15.
NUMBERS_PROFILE = {"version": 1, "id": "0123456789ab", "features": [
    {"name": "n", "kind": "bins", "edges": [1.5, 3.5], "shares": [0.3, 0.3, 0.3], "missing": 0.1, "low": 0.0,
     "high": 5.0},
    {"name": "big", "kind": "bins", "edges": [100.0, 5000.0], "shares": [0.2, 0.5, 0.3], "missing": 0.0, "low": 0.0,
     "high": 10000.0},
    {"name": "x", "kind": "bins", "edges": [0.5], "shares": [0.5, 0.5], "missing": 0.0, "low": 0.0, "high": 1.0},
], "output": {"kind": "bins", "edges": [0.5], "shares": [0.5, 0.5]}}


@pytest.mark.parametrize(("row", "slots", "unseen"), [
    ([1.0, 50.0, 0.2], {0, 5, 10, 14}, 0),
    ([2.0, 5000.0, 0.5], {1, 7, 11, 14}, 0),
    ([5.0, 10000.0, 1.0], {2, 7, 11, 14}, 0),
    ([7.0, 20000.0, 0.3], {2, 4, 7, 9, 10, 14}, 2),  # above both ranges
    ([-1.0, 0.0, -0.5], {0, 4, 5, 10, 13, 14}, 2),  # below
    ([NAN, 99.0, NAN], {3, 5, 12, 14}, 0),  # missing
])
def test_integer_features_by_lookup_and_by_bisect(row: list[float], slots: set[int], unseen: int) -> None:
    counter = _counter(NUMBERS_PROFILE, NUMBERS)
    got_unseen, counts, _ = _parsed(counter.count([row], [0.1])[0])
    assert (counts, got_unseen) == (Counter(dict.fromkeys(slots, 1)), unseen)
    twice_unseen, twice, _ = _parsed(counter.count([row, row], [0.1, 0.1])[0])  # the batch path
    assert (twice, twice_unseen) == (counts + counts, 2 * unseen)


def test_multiclass_output_counts_the_predicted_class() -> None:
    schema = {**SCHEMA, "task": "multiclass-classification", "classes": ["p", "q", "r"]}
    profile = {**PROFILE, "output": {"kind": "classes", "classes": ["p", "q", "r"], "shares": [0.2, 0.5, 0.3]}}
    counter = _counter(profile, schema)
    _, one, _ = _parsed(counter.count([[1.5, "a", 1.0]], [[0.1, 0.7, 0.2]])[0])
    assert one[16] == 1 and one[15] == one[17] == 0
    _, many, _ = _parsed(counter.count([[1.5, "a", 1.0]] * 3, [[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])[0])
    assert (many[15], many[16], many[17]) == (1, 1, 1)


def _break(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(PROFILE)
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[last] = value
    return doc


@pytest.mark.parametrize(("doc", "field"), [
    (_break("version", 2), "drift.version"),
    (_break("id", "xyz"), "drift.id"),
    (_break("features.0.edges", [2.0, 1.0]), "drift.features[0].edges[1]"),
    (_break("features.0.edges", [1.0, math.inf]), "drift.features[0].edges[1]"),
    (_break("features.0.shares", [0.2, 0.5]), "drift.features[0].shares"),
    (_break("features.0.missing", 0.5), "drift.features[0].shares"),  # shares + missing must sum to 1
    (_break("features.0.kind", "categories"), "drift.features[0].kind"),  # a numeric feature is binned
    (_break("features.1.categories", ["a", "a"]), "drift.features[1].categories"),
    (_break("features.1.categories", [f"k{i}" for i in range(MAX_BUCKETS)]), "drift.features[1].categories"),
    (_break("features.2.categories", ["no", "yes"]), "drift.features[2].categories"),
    (_break("features.2.extra", 1), "drift.features[2].extra"),
    (_break("features.1.name", "d"), "drift.features"),  # must name the schema's features in order
    (_break("output.kind", "classes"), "drift.output.kind"),
    (_break("output.shares", [0.7, 0.7]), "drift.output.shares"),
])
def test_a_bad_profile_names_the_field(doc: dict[str, Any], field: str) -> None:
    s = ModelSchema.from_json(SCHEMA)
    with pytest.raises(DriftError) as exc:
        DriftProfile.from_json(doc, s.names, [f.type for f in s.features], s.task, s.classes)
    assert str(exc.value).startswith(field + ":"), str(exc.value)


def test_the_schema_file_carries_the_profile_into_settings(tmp_path: Path) -> None:
    env = {MODEL_URI: "file:///m.json", MODEL_SHA256: "0" * 64, MODEL_FORMAT: "pure"}
    with_drift = read_env({**env, MODEL_SCHEMA: json.dumps({**SCHEMA, SCHEMA_DRIFT_KEY: PROFILE})})
    assert with_drift.drift is not None and with_drift.drift.id == "0123456789ab" and with_drift.drift.slots == 17
    assert read_env({**env, MODEL_SCHEMA: json.dumps(SCHEMA)}).drift is None  # no profile: no counting
    path = tmp_path / "model_schema.json"
    path.write_text(json.dumps({**SCHEMA, SCHEMA_DRIFT_KEY: _break("features.0.edges", [2.0, 1.0])}))
    with pytest.raises(MisconfiguredError, match=r"MODEL_SCHEMA: drift.features\[0\].edges\[1\]: edges must"):
        read_env({**env, MODEL_SCHEMA: str(path)})


class Half:
    """A model answering 0.7 for every row."""

    def predict(self, batch: Any) -> list[float]:
        return [0.7] * len(batch)


def _app(tmp_path: Path, drift: bool) -> ModelApp:
    path = tmp_path / "m.json"
    path.write_bytes(b"{}")
    sha = hashlib.sha256(b"{}").hexdigest()
    schema = ModelSchema.from_json(SCHEMA)
    profile = DriftProfile.from_json(PROFILE, schema.names) if drift else None
    settings = Settings(model_uri=path.as_uri(), model_sha256=sha, model_format="pure", features=schema.names,
                        schema=schema, endpoint="pred", model_name="m", drift=profile)
    return ModelApp(settings, cache=ModelCache(path.as_uri(), sha, lambda data: Half(), name="m"))


def _prediction_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"event":"prediction"' in line]


def test_the_prediction_line_carries_the_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path, drift=True)
    assert app.handle(Request("POST", json.dumps({"x": 5, "c": "q", "f": 1}).encode())).status == 200
    body = {"instances": [{"x": 1.5, "c": "a", "f": 0}, {"x": None, "c": None, "f": 1}]}
    assert app.handle(Request("POST", json.dumps(body).encode())).status == 200
    one, batch = _prediction_lines(capsys.readouterr().out)
    assert (one["unseen"], one["out_of_range"], one["rows"]) == (2, 1, 1)
    assert one["drift"] == {"p": "0123456789ab", "c": [9, 1, 11, 1, 2, 1, 4, 1, 16, 1]}
    assert batch["unseen"] == 0 and batch["rows"] == 2
    assert Counter(dict(zip(batch["drift"]["c"][::2], batch["drift"]["c"][1::2], strict=True))) == Counter(
        {5: 1, 8: 1, 10: 1, 11: 1, 1: 1, 3: 1, 16: 2})


def test_without_a_profile_the_line_has_no_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path, drift=False)
    assert app.handle(Request("POST", json.dumps({"x": 5, "c": "q", "f": 1}).encode())).status == 200
    (line,) = _prediction_lines(capsys.readouterr().out)
    assert "drift" not in line and "unseen" not in line and line["out_of_range"] == 1


def test_a_300_feature_line_stays_far_under_the_log_event_limits() -> None:
    """The worst case docs/DESIGN.md states: 300 categorical features of 10 listed categories each (13 slots:
    10 categories, other, missing, unseen), a batch of 1000 rows reaching every slot of every feature."""
    values = [f"k{i}" for i in range(10)]
    schema = {"task": "binary-classification", "classes": [0, 1], "features": [
        {"name": f"feature_{j:03d}", "type": "categorical", "nullable": True, "categories": [*values, "rare"],
         "ignore_unknown": True} for j in range(300)]}
    profile = {"version": 1, "id": "0123456789ab", "features": [
        {"name": f"feature_{j:03d}", "kind": "categories", "categories": values, "shares": [0.1] * 10 + [0.0],
         "missing": 0.0} for j in range(300)],
        "output": {"kind": "bins", "edges": [i / 10 for i in range(1, 10)], "shares": [0.1] * 10}}
    cycle = [*values, "rare", NAN, "never seen"]
    rows = [[cycle[(i + j) % len(cycle)] for j in range(300)] for i in range(1000)]
    fragment, unseen = _counter(profile, schema).count(rows, [(i % 10) / 10 + 0.05 for i in range(1000)])
    _, counts, _ = _parsed(fragment)
    assert len(counts) == 300 * 13 + 10  # every slot reached
    assert sum(counts.values()) == 300 * 1000 + 1000 and unseen == sum(counts[f * 13 + 12] for f in range(300))
    assert len(fragment) < 40_000  # Cloud Logging: 256 KB per entry; CloudWatch Logs: 1 MB per event
