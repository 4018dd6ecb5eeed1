"""Drift counting inside the function: per request, where each input value and each output falls in the training
profile's buckets, as a compact fragment of the ``prediction`` log line (docs/DESIGN.md, "Drift").

The profile (the ``drift`` object of the schema file the packager ships, ``functions.contract.SCHEMA_FILE``) gives,
per feature in model input order, fixed buckets and their training shares: numeric and integer features the decile
edges of the training example (``kind: "bins"``: bisect on the edges; open ends), categorical, binary and boolean
features their most frequent categories (``kind: "categories"``: a dict lookup; the rest of the training categories
share one ``other`` bucket); and the output's buckets (regression and binary: bins of the value / probability;
multiclass: the predicted label's class). Every bucket has a global *slot* number; each feature also has a
``missing`` slot and an ``unseen`` slot (numeric: outside the training range, also counted in its end bin;
categorical: a category the model does not know, which only an ``ignore_unknown`` feature lets through).

Per request :meth:`DriftCounter.count` turns the parsed rows (``functions.schema.Batch.rows``: floats, category
strings, NaN for missing) and the outputs into ``,"unseen":U,"drift":{"p":"<profile id>","c":[slot,count,...]}``:
only the non-zero slots, so a line has at most ``min(rows, slots)`` pairs per feature whatever the batch. Counts
merge by addition (``smodels drift`` sums them over lines). Everything is prepared at load; standard library only.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from operator import add, gt, itemgetter, lt
from typing import Any, NamedTuple

DRIFT_VERSION = 1
#: Buckets one feature (or the output of a regression / binary model) may have in a profile the function accepts:
#: the bound that keeps every log line small (the packager writes at most 11, docs/DESIGN.md).
MAX_BUCKETS = 32
#: Classes of a multiclass output the profile may list (one slot each).
MAX_CLASSES = 10_000
_ID_RE = re.compile(r"^[0-9a-f]{12}$")
KINDS = ("bins", "categories")
#: The feature types whose values are categories (binary and boolean: the parsed 0.0 / 1.0, named "0" and "1").
CATEGORY_TYPES = ("categorical", "binary", "boolean")
BIN_TYPES = ("numeric", "integer")
SHARE_TOLERANCE = 1e-6  # the shares of a feature (buckets + missing) sum to 1 within this


class DriftError(ValueError):
    """The drift profile is invalid; the message names the field (``drift.features[2].edges``)."""


class FeatureBuckets(NamedTuple):
    """One feature's buckets: training shares per bucket and its first slot.

    ``bins``: ``len(edges) + 1`` buckets, ``v < edges[0]``, ``edges[i-1] <= v < edges[i]``, ``v >= edges[-1]``;
    ``categories``: one bucket per listed category, then ``other``. ``missing`` is the training share of missing
    values; ``low``/``high`` the training range (bins; None when training saw no value)."""

    name: str
    kind: str
    edges: tuple[float, ...]
    categories: tuple[str, ...]
    shares: tuple[float, ...]
    missing: float
    low: float | None
    high: float | None
    base: int

    @property
    def buckets(self) -> int:
        """How many buckets (not counting the missing and unseen slots)."""
        return len(self.shares)

    # After the buckets, two slots: missing values, then unseen ones (outside the training range for bins, a
    # category the model does not know for categories).
    missing_slot = property(lambda self: self.base + len(self.shares), doc="The slot of missing values.")
    unseen_slot = property(lambda self: self.base + len(self.shares) + 1, doc="The slot of unseen values.")
    slots = property(lambda self: len(self.shares) + 2, doc="Slots this feature takes: buckets, missing, unseen.")

    def labels(self) -> list[str]:
        """A readable name per bucket: ``< 0.5``, ``[0.5, 2)``, ``>= 2``; a category; ``(other)``."""
        if self.kind == "categories":
            return [*self.categories, "(other)"]
        return bin_labels(self.edges)


class OutputBuckets(NamedTuple):
    """The output's buckets: ``bins`` of the value (regression) or probability (binary), or ``classes`` (multiclass:
    the predicted label, in the model's class order)."""

    kind: str
    edges: tuple[float, ...]
    classes: tuple[str, ...]
    shares: tuple[float, ...]
    base: int

    @property
    def buckets(self) -> int:
        """How many buckets."""
        return len(self.shares)

    def labels(self) -> list[str]:
        """A readable name per bucket."""
        return list(self.classes) if self.kind == "classes" else bin_labels(self.edges)


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Names of the buckets of ``edges`` (open ends): ``< e0``, ``[e0, e1)``, ..., ``>= e_last``."""
    if not edges:
        return ["all"]
    e = [f"{x:.4g}" for x in edges]
    return [f"< {e[0]}", *(f"[{a}, {b})" for a, b in zip(e, e[1:], strict=False)), f">= {e[-1]}"]


class DriftProfile:
    """A validated drift profile and its slot layout (features in model order, then the output)."""

    __slots__ = ("id", "features", "output", "slots", "_doc")

    def __init__(self, profile_id: str, features: tuple[FeatureBuckets, ...], output: OutputBuckets,
                 doc: dict[str, Any]) -> None:
        self.id = profile_id
        self.features = features
        self.output = output
        self.slots = output.base + output.buckets
        self._doc = doc

    def to_json(self) -> dict[str, Any]:
        """The document ``from_json`` read."""
        return self._doc

    @classmethod
    def from_json(cls, doc: Any, names: Sequence[str] | None = None, types: Sequence[str] | None = None,
                  task: str | None = None, classes: Sequence[Any] | None = None) -> DriftProfile:
        """Validate a profile document; with ``names``/``types``/``task``/``classes`` (the input schema's) it must
        match them. DriftError names the field."""
        if not isinstance(doc, dict):
            raise DriftError("drift: expected an object")
        _keys(doc, {"version", "id", "features", "output"}, "drift")
        if doc.get("version") != DRIFT_VERSION:
            raise DriftError(f"drift.version: expected {DRIFT_VERSION}, got {doc.get('version')!r}")
        pid = doc.get("id")
        if not isinstance(pid, str) or not _ID_RE.match(pid):
            raise DriftError("drift.id: expected 12 lowercase hex digits")
        raw_features = doc.get("features")
        if not isinstance(raw_features, list) or not raw_features:
            raise DriftError("drift.features: expected a non-empty list")
        if names is not None and [f.get("name") if isinstance(f, dict) else None for f in raw_features] != list(names):
            raise DriftError(f"drift.features: must name the schema's features in order ({', '.join(names)})")
        features: list[FeatureBuckets] = []
        base = 0
        for i, raw in enumerate(raw_features):
            f = _feature(raw, f"drift.features[{i}]", base, None if types is None else types[i])
            features.append(f)
            base += f.slots
        output = _output(doc.get("output"), base, task, classes)
        return cls(pid, tuple(features), output, doc)


def _keys(d: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise DriftError(f"{where}.{extra[0]}: unknown key")


def _share(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise DriftError(f"{where}: expected a share in [0, 1], got {v!r}")
    return float(v)


def _shares(raw: Any, n: int, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != n:
        raise DriftError(f"{where}: expected a list of {n} shares")
    return tuple(_share(v, f"{where}[{i}]") for i, v in enumerate(raw))


def _edges(raw: Any, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_BUCKETS - 1:
        raise DriftError(f"{where}: expected a list of at most {MAX_BUCKETS - 1} numbers")
    edges: list[float] = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DriftError(f"{where}[{i}]: expected a finite number, got {v!r}")
        if edges and not v > edges[-1]:
            raise DriftError(f"{where}[{i}]: edges must increase strictly")
        edges.append(float(v))
    return tuple(edges)


def _bound(v: Any, where: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise DriftError(f"{where}: expected a finite number or null, got {v!r}")
    return float(v)


def _feature(raw: Any, where: str, base: int, ftype: str | None) -> FeatureBuckets:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise DriftError(f"{where}: expected an object with a name")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DriftError(f"{where}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if ftype is not None and kind != ("categories" if ftype in CATEGORY_TYPES else "bins"):
        raise DriftError(f"{where}.kind: a {ftype} feature is counted by "
                         f"{'categories' if ftype in CATEGORY_TYPES else 'bins'}, not {kind}")
    missing = _share(raw.get("missing", 0.0), f"{where}.missing")
    if kind == "bins":
        _keys(raw, {"name", "kind", "edges", "shares", "missing", "low", "high"}, where)
        edges = _edges(raw.get("edges"), f"{where}.edges")
        shares = _shares(raw.get("shares"), len(edges) + 1, f"{where}.shares")
        low, high = _bound(raw.get("low"), f"{where}.low"), _bound(raw.get("high"), f"{where}.high")
        if (low is None) != (high is None) or (low is not None and high is not None and low > high):
            raise DriftError(f"{where}.low: low and high are both null or low <= high")
        categories: tuple[str, ...] = ()
    else:
        _keys(raw, {"name", "kind", "categories", "shares", "missing"}, where)
        cats = raw.get("categories")
        if (not isinstance(cats, list) or len(cats) > MAX_BUCKETS - 1 or not all(isinstance(c, str) for c in cats)
                or len(set(cats)) != len(cats)):
            raise DriftError(f"{where}.categories: expected at most {MAX_BUCKETS - 1} distinct strings")
        if ftype in ("binary", "boolean") and cats != ["0", "1"]:
            raise DriftError(f"{where}.categories: a {ftype} feature has the categories [\"0\", \"1\"]")
        categories = tuple(cats)
        edges, low, high = (), None, None
        shares = _shares(raw.get("shares"), len(cats) + 1, f"{where}.shares")
    if abs(math.fsum(shares) + missing - 1.0) > SHARE_TOLERANCE:
        raise DriftError(f"{where}.shares: with missing they must sum to 1, got {math.fsum(shares) + missing!r}")
    return FeatureBuckets(raw["name"], kind, edges, categories, shares, missing, low, high, base)


def _output(raw: Any, base: int, task: str | None, classes: Sequence[Any] | None) -> OutputBuckets:
    where = "drift.output"
    if not isinstance(raw, dict):
        raise DriftError(f"{where}: expected an object")
    kind = raw.get("kind")
    want = None if task is None else ("classes" if task == "multiclass-classification" else "bins")
    if kind not in ("bins", "classes") or (want is not None and kind != want):
        raise DriftError(f"{where}.kind: expected {want or 'bins or classes'}, got {kind!r}")
    if kind == "bins":
        _keys(raw, {"kind", "edges", "shares"}, where)
        edges = _edges(raw.get("edges"), f"{where}.edges")
        shares = _shares(raw.get("shares"), len(edges) + 1, f"{where}.shares")
        labels: tuple[str, ...] = ()
    else:
        _keys(raw, {"kind", "classes", "shares"}, where)
        got = raw.get("classes")
        if not isinstance(got, list) or not 2 <= len(got) <= MAX_CLASSES or not all(isinstance(c, str) for c in got):
            raise DriftError(f"{where}.classes: expected the class labels as strings")
        if classes is not None and got != [str(c) for c in classes]:
            raise DriftError(f"{where}.classes: must be the schema's classes in order")
        labels, edges = tuple(got), ()
        shares = _shares(raw.get("shares"), len(got), f"{where}.shares")
    if abs(math.fsum(shares) - 1.0) > SHARE_TOLERANCE:
        raise DriftError(f"{where}.shares: must sum to 1, got {math.fsum(shares)!r}")
    return OutputBuckets(kind, edges, labels, shares, base)


class DriftCounter:
    """Counts requests against a profile; built once at load with every lookup prepared.

    ``schema`` is the endpoint's ``functions.schema.ModelSchema``: a categorical feature's categories the profile
    does not list (beyond its most frequent ones) count as ``other``, a value the schema does not know either
    (``ignore_unknown``) as ``unseen``.

    One row (the book's request) is counted by C-level ``map``s over the row: a dict lookup per value for the
    categorical, binary and boolean features and for integer features of a small training range (every whole value
    in it maps to its bin), straight to the row's ``"slot,1"`` text; a missing or unseen value falls back to the
    careful path. Other numbers are bisected on their edges. A batch is counted column by column with ``Counter``
    (a value seen twice is looked up once). Both paths give the same counts."""

    def __init__(self, profile: DriftProfile, schema: Any) -> None:
        self.profile = profile
        # One row reaches each slot at most once: its pairs are these "slot,1" texts, joined.
        self._pair = pair = tuple(f"{k},1" for k in range(profile.slots))
        cat_j: list[int] = []
        cat_lookups: list[dict[Any, int]] = []
        bin_j: list[int] = []
        look_j: list[int] = []  # one-row lookups: categories and small-range integers, in model order
        look_pairs: list[dict[Any, str]] = []
        for j, (f, sf) in enumerate(zip(profile.features, schema.features, strict=True)):
            if f.kind == "categories":
                lookup = _category_slots(f, sf)
                cat_j.append(j)
                cat_lookups.append(lookup)
                look_j.append(j)
                look_pairs.append({v: pair[k] for v, k in lookup.items()})
                continue
            bin_j.append(j)
            whole = _whole_values(f, sf)
            if whole is not None:
                look_j.append(j)
                look_pairs.append({float(v): pair[f.base + bisect_right(f.edges, v)] for v in whole})
        self._features = profile.features
        self._cat_j = tuple(cat_j)
        self._lookups = tuple(cat_lookups)
        self._look_j = tuple(look_j)
        self._look_values = _picker(look_j)
        self._look_pairs = tuple(look_pairs)
        self._all_lookups = len(look_j) == len(profile.features)
        self._bins = _columns(profile, bin_j)
        self._rest = _columns(profile, [j for j in bin_j if j not in set(look_j)])  # bisected on one row
        out = profile.output
        self._out_edges = out.edges
        self._out_base = out.base
        self._classes = out.kind == "classes"
        self._tail = f'"drift":{{"p":"{profile.id}","c":['
        self._seen = f',"unseen":0,{self._tail}'

    def count(self, rows: Sequence[Sequence[Any]], outputs: Sequence[Any]) -> tuple[str, int]:
        """The log fragment ``,"unseen":U,"drift":{...}`` for these rows and outputs ([N] floats, or [N][K]
        probabilities for multiclass) and ``U``: values outside the training range plus unknown categories."""
        if len(rows) == 1:
            pairs, unseen = self._one(rows[0], outputs[0])
        elif not rows:
            return f"{self._seen}]}}", 0
        else:
            counts, unseen = self._many(rows, outputs)
            pairs = ",".join([f"{k},{n}" for k, n in counts.items()])
        if not unseen:
            return f"{self._seen}{pairs}]}}", 0
        return f',"unseen":{unseen},{self._tail}{pairs}]}}', unseen

    def slots_of(self, j: int, v: Any) -> list[int]:
        """The slots value ``v`` of feature ``j`` reaches (the careful path, and the rule the fast ones follow):
        missing; a category, ``other`` or ``unseen``; a bin, plus ``unseen`` outside the training range."""
        f = self._features[j]
        if v != v:  # NaN: missing
            return [f.missing_slot]
        if f.kind == "categories":
            got = self._lookups[self._cat_j.index(j)].get(v)
            return [f.unseen_slot] if got is None else [got]
        slots = [f.base + bisect_right(f.edges, v)]
        if f.low is None or v < f.low or v > f.high:  # type: ignore[operator]
            slots.append(f.unseen_slot)
        return slots

    def _unseen_in(self, j: int, slots: list[int]) -> int:
        return int(self._features[j].unseen_slot in slots)

    def _one(self, row: Sequence[Any], output: Any) -> tuple[str, int]:
        """The ``slot,1`` pairs of the slots one row and its output reach, and how many of its values are unseen."""
        pair = self._pair
        last = pair[self._out_base + (output.index(max(output)) if self._classes
                                      else bisect_right(self._out_edges, output))]
        if self._all_lookups:  # e.g. the book's 0/1 flags: one lookup per value, joined in C
            try:
                return f'{",".join(map(dict.get, self._look_pairs, row))},{last}', 0
            except TypeError:  # a value without a pair (missing, unseen, outside the range): the careful path
                pass
        unseen = 0
        values = self._look_values(row)
        pairs: list[Any] = list(map(dict.get, self._look_pairs, values))
        if None in pairs:
            for i, p in enumerate(pairs):
                if p is None:
                    j = self._look_j[i]
                    slots = self.slots_of(j, values[i])
                    pairs[i] = ",".join(map(pair.__getitem__, slots))
                    unseen += self._unseen_in(j, slots)
        rest = self._rest
        if rest.j:
            values = rest.values(row)
            total = sum(values)
            if total - total == 0.0:  # every value finite: none missing
                pairs += map(pair.__getitem__, map(add, rest.bases, map(bisect_right, rest.edges, values)))
                if any(map(lt, values, rest.lows)) or any(map(gt, values, rest.highs)):
                    outside = [pair[u] for v, lo, hi, u in zip(values, rest.lows, rest.highs, rest.unseen,
                                                               strict=True) if v < lo or v > hi]
                    pairs += outside
                    unseen += len(outside)
            else:
                for j, v in zip(rest.j, values, strict=True):
                    slots = self.slots_of(j, v)
                    pairs += map(pair.__getitem__, slots)
                    unseen += self._unseen_in(j, slots)
        pairs.append(last)
        return ",".join(pairs), unseen

    def _many(self, rows: Sequence[Sequence[Any]], outputs: Sequence[Any]) -> tuple[Counter[int], int]:
        """Slot counts of a batch, column by column, and how many values are unseen."""
        counts: Counter[int] = Counter()
        unseen = 0
        columns = list(zip(*rows, strict=True))
        for i, j in enumerate(self._cat_j):
            lookup = self._lookups[i]
            for v, n in Counter(columns[j]).items():
                s = lookup.get(v)
                if s is None:
                    slots = self.slots_of(j, v)
                    s = slots[0]
                    unseen += n * self._unseen_in(j, slots)
                counts[s] += n
        bins = self._bins
        for i, j in enumerate(bins.j):
            col = columns[j]
            total = sum(col)
            if total - total == 0.0:
                base, low, high = bins.bases[i], bins.lows[i], bins.highs[i]
                for b, n in Counter(map(bisect_right, repeat(bins.edges[i]), col)).items():
                    counts[base + b] += n
                if min(col) < low or max(col) > high:
                    outside = sum(1 for v in col if v < low or v > high)
                    counts[bins.unseen[i]] += outside
                    unseen += outside
            else:
                for v in col:
                    slots = self.slots_of(j, v)
                    counts.update(slots)
                    unseen += self._unseen_in(j, slots)
        base = self._out_base
        if self._classes:
            picked = Counter([p.index(max(p)) for p in outputs])
        else:
            picked = Counter(map(bisect_right, repeat(self._out_edges), outputs))
        for b, n in picked.items():
            counts[base + b] += n
        return counts, unseen


class _Columns(NamedTuple):
    """Binned features prepared for the C-level maps: their indices, a row picker, edges, first slots, training
    ranges (no training value: every value outside) and unseen slots."""

    j: tuple[int, ...]
    values: Any
    edges: tuple[tuple[float, ...], ...]
    bases: tuple[int, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    unseen: tuple[int, ...]


def _columns(profile: DriftProfile, js: Sequence[int]) -> _Columns:
    feats = [profile.features[j] for j in js]
    return _Columns(tuple(js), _picker(js), tuple(f.edges for f in feats), tuple(f.base for f in feats),
                    tuple(math.inf if f.low is None else f.low for f in feats),
                    tuple(-math.inf if f.high is None else f.high for f in feats),
                    tuple(f.unseen_slot for f in feats))


#: An integer feature whose training range holds at most this many whole values is counted by a lookup.
MAX_WHOLE_LOOKUP = 512


def _category_slots(f: FeatureBuckets, sf: Any) -> dict[Any, int]:
    """Value -> slot of a categories feature: its listed categories, the schema's others as ``other``; binary and
    boolean features take the parsed 0.0 and 1.0."""
    if sf.type != "categorical":
        return {0.0: f.base, 1.0: f.base + 1}
    lookup: dict[Any, int] = dict.fromkeys(sf.categories, f.base + len(f.categories))  # other
    lookup.update({c: f.base + i for i, c in enumerate(f.categories)})
    return lookup


def _whole_values(f: FeatureBuckets, sf: Any) -> range | None:
    """The whole values in an integer feature's training range, when few enough to look up; else None."""
    if sf.type != "integer" or f.low is None or f.high is None:
        return None
    values = range(math.ceil(f.low), math.floor(f.high) + 1)
    return values if len(values) <= MAX_WHOLE_LOOKUP else None


def _picker(indices: Sequence[int]) -> Any:
    """A callable giving a row's values at ``indices`` as a tuple (``itemgetter`` gives a bare value for one)."""
    if len(indices) == 1:
        j = indices[0]
        return lambda row: (row[j],)
    return itemgetter(*indices) if indices else (lambda row: ())
