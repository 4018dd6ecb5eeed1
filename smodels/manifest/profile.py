"""The training profile: observed feature ranges, quantiles, null fractions and output distribution."""

from __future__ import annotations

from typing import Any

from smodels.manifest.fields import _num, _prob, _unknown_keys
from smodels.manifest.model import Feature, ManifestError


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


def _profile(raw: Any, features: tuple[Feature, ...], task: str, classes: tuple[Any, ...]) -> dict[str, Any] | None:
    """The training profile: per feature observed range, quantiles, null fraction and category frequencies; the
    distribution of the outputs (multiclass: per class, in classes order)."""
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
        _unknown_keys(stats, {"min", "max", "quantiles", "null_fraction", "frequencies"}, where)
        lo, hi = _opt_num(stats.get("min"), f"{where}.min"), _opt_num(stats.get("max"), f"{where}.max")
        if lo is not None and hi is not None and lo > hi:
            raise ManifestError(f"{where}.min", f"{lo} is above max {hi}")
        if "quantiles" in stats:
            _quantiles(stats["quantiles"], f"{where}.quantiles", _opt_num)
        if "null_fraction" in stats:
            _prob(stats["null_fraction"], f"{where}.null_fraction")
        if "frequencies" in stats:
            freq = stats["frequencies"]
            if by_name[name].type != "categorical":
                raise ManifestError(f"{where}.frequencies", "only for categorical features")
            if not isinstance(freq, dict):
                raise ManifestError(f"{where}.frequencies", "must be an object of category -> fraction")
            for c, p in freq.items():
                _prob(p, f"{where}.frequencies.{c}")
    out = raw.get("output")
    if out is not None:
        if not isinstance(out, dict):
            raise ManifestError("profile.output", "must be an object")
        _unknown_keys(out, {"mean", "min", "max", "quantiles", "frequencies"}, "profile.output")
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
    return raw
