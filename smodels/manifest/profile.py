"""The training profile: observed feature ranges, quantiles, null fractions, the buckets drift is measured against
(decile ``bins`` of numbers, category ``frequencies``) and the output distribution."""

from __future__ import annotations

from typing import Any

from smodels.manifest.fields import _num, _prob, _unknown_keys
from smodels.manifest.model import Feature, ManifestError

#: Feature types profiled by decile bins, and by category frequencies (binary / boolean: "0" and "1").
NUMBER_TYPES = ("numeric", "integer")
CATEGORY_TYPES = ("categorical", "binary", "boolean")


def _opt_num(v: Any, field: str) -> Any:
    if v is not None:
        _num(v, field)
    return v


def _quantiles(raw: Any, field: str, check: Any) -> None:
    if not isinstance(raw, dict):
        raise ManifestError(field, "must be an object of quantile (\"0.5\") -> value")
    for q, v in raw.items():
        try:
            ok = 0.0 <= float(q) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            raise ManifestError(f"{field}.{q}", "the key must be a quantile in [0, 1] such as \"0.5\"")
        check(v, f"{field}.{q}")


def _bins(raw: Any, field: str) -> None:
    """``{"edges": [increasing finite numbers], "shares": [len(edges) + 1 fractions]}`` (open-ended buckets)."""
    if not isinstance(raw, dict):
        raise ManifestError(field, "must be an object with edges and shares")
    _unknown_keys(raw, {"edges", "shares"}, field)
    edges, shares = raw.get("edges"), raw.get("shares")
    if not isinstance(edges, list):
        raise ManifestError(f"{field}.edges", "must be a list of increasing numbers")
    for i, e in enumerate(edges):
        _num(e, f"{field}.edges[{i}]")
        if i and not e > edges[i - 1]:
            raise ManifestError(f"{field}.edges[{i}]", "edges must increase strictly")
    if not isinstance(shares, list) or len(shares) != len(edges) + 1:
        raise ManifestError(f"{field}.shares", f"must be a list of {len(edges) + 1} fractions (one per bucket)")
    for i, p in enumerate(shares):
        _prob(p, f"{field}.shares[{i}]")


def _frequencies(freq: Any, feature: Feature, field: str) -> None:
    """Category -> fraction of the example's rows; binary and boolean features name their values "0" and "1"."""
    if feature.type not in CATEGORY_TYPES:
        raise ManifestError(field, f"only for {', '.join(CATEGORY_TYPES)} features")
    if not isinstance(freq, dict):
        raise ManifestError(field, "must be an object of category -> fraction")
    for c, p in freq.items():
        if feature.type != "categorical" and c not in ("0", "1"):
            raise ManifestError(f"{field}.{c}", f"a {feature.type} feature's values are \"0\" and \"1\"")
        _prob(p, f"{field}.{c}")


def _require(stats: dict[str, Any], key: str, where: str, what: str) -> None:
    if key not in stats:
        raise ManifestError(f"{where}.{key}", f"is required in schema 3 ({what}, what drift is measured against)")


def _profile(raw: Any, features: tuple[Feature, ...], task: str, classes: tuple[Any, ...],
             drift: bool = False) -> dict[str, Any] | None:
    """The training profile: per feature observed range, quantiles, null fraction, decile bins (numbers) and category
    frequencies; the distribution of the outputs (multiclass: per class, in classes order). With ``drift`` (schema 3)
    a profile names every feature and has the buckets drift needs."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ManifestError("profile", f"must be null or an object, got {type(raw).__name__}")
    _unknown_keys(raw, {"features", "output"}, "profile")
    by_name = {f.name: f for f in features}
    feats = raw.get("features", {})
    if not isinstance(feats, dict):
        raise ManifestError("profile.features", "must be an object of feature name -> statistics")
    for name, stats in feats.items():
        where = f"profile.features.{name}"
        if name not in by_name:
            raise ManifestError(where, "is not a feature")
        if not isinstance(stats, dict):
            raise ManifestError(where, "must be an object")
        _unknown_keys(stats, {"min", "max", "quantiles", "null_fraction", "frequencies", "bins"}, where)
        lo, hi = _opt_num(stats.get("min"), f"{where}.min"), _opt_num(stats.get("max"), f"{where}.max")
        if lo is not None and hi is not None and lo > hi:
            raise ManifestError(f"{where}.min", f"{lo} is above max {hi}")
        if "quantiles" in stats:
            _quantiles(stats["quantiles"], f"{where}.quantiles", _opt_num)
        if "null_fraction" in stats:
            _prob(stats["null_fraction"], f"{where}.null_fraction")
        if "frequencies" in stats:
            _frequencies(stats["frequencies"], by_name[name], f"{where}.frequencies")
        if "bins" in stats:
            if by_name[name].type not in NUMBER_TYPES:
                raise ManifestError(f"{where}.bins", f"only for {', '.join(NUMBER_TYPES)} features")
            _bins(stats["bins"], f"{where}.bins")
        if drift:
            numeric = by_name[name].type in NUMBER_TYPES
            _require(stats, "bins" if numeric else "frequencies", where,
                     "decile bins" if numeric else "category frequencies")
            _require(stats, "null_fraction", where, "the missing rate")
    if drift:
        absent = [f.name for f in features if f.name not in feats]
        if absent:
            raise ManifestError(f"profile.features.{absent[0]}", "is required in schema 3 (every feature's profile)")
    out = raw.get("output")
    if out is not None:
        if not isinstance(out, dict):
            raise ManifestError("profile.output", "must be an object")
        _unknown_keys(out, {"mean", "min", "max", "quantiles", "frequencies", "bins"}, "profile.output")
        if task == "multiclass-classification":
            k = len(classes)

            def check(v: Any, field: str) -> None:
                if not isinstance(v, list) or len(v) != k:
                    raise ManifestError(field, f"must be a list of {k} numbers (one per class)")
                for i, x in enumerate(v):
                    _num(x, f"{field}[{i}]")
        else:
            def check(v: Any, field: str) -> None:
                _num(v, field)
        for key in ("mean", "min", "max"):
            if key in out:
                check(out[key], f"profile.output.{key}")
        if "quantiles" in out:
            _quantiles(out["quantiles"], "profile.output.quantiles", check)
        if "frequencies" in out:
            freq = out["frequencies"]
            labels = {str(c) for c in classes}
            if task == "regression" or not isinstance(freq, dict):
                raise ManifestError("profile.output.frequencies", "an object of class label -> fraction "
                                    "(classifiers only)")
            for c, p in freq.items():
                if c not in labels:
                    raise ManifestError(f"profile.output.frequencies.{c}", "is not a class label")
                _prob(p, f"profile.output.frequencies.{c}")
        if "bins" in out:
            if task == "multiclass-classification":
                raise ManifestError("profile.output.bins", "not for multiclass (its frequencies are the buckets)")
            _bins(out["bins"], "profile.output.bins")
    if drift:
        multiclass = task == "multiclass-classification"
        if not isinstance(out, dict):
            raise ManifestError("profile.output", "is required in schema 3 (the output's distribution)")
        _require(out, "frequencies" if multiclass else "bins", "profile.output",
                 "the predicted labels' frequencies" if multiclass else "decile bins")
    return raw
