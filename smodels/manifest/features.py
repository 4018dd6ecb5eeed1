"""The features (model inputs) and the input values each feature accepts."""

from __future__ import annotations

from typing import Any

from smodels.manifest.fields import _bool, _choice, _num, _str, _unknown_keys
from smodels.manifest.model import Feature, ManifestError
from smodels.manifest.schema import _FEATURE_RE, _Rules


def _features(raw: Any, rules: _Rules) -> tuple[Feature, ...]:
    """The features in model input order; schema 1 names them like identifiers and has no nullable or
    categorical ones (its ``feature_keys`` and ``feature_types`` leave them out)."""
    if not isinstance(raw, list) or not raw:
        raise ManifestError("features", "must be a non-empty list")
    out: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = f"features[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f, "must be an object with name and type")
        _unknown_keys(item, rules.feature_keys, f)
        if rules.legacy:
            name = _str(item, "name", f"{f}.name")
            if not _FEATURE_RE.match(name):
                raise ManifestError(f"{f}.name", f"must be an identifier, got {name!r}")
        else:
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise ManifestError(f"{f}.name", f"must be a non-empty string, got {name!r}")
        if name in seen:
            raise ManifestError(f"{f}.name", f"duplicate feature {name!r}")
        seen.add(name)
        ftype = _choice(item, "type", f"{f}.type", rules.feature_types)
        nullable = _bool(item, "nullable", f"{f}.nullable")
        categories: tuple[str, ...] = ()
        ignore_unknown = False
        if ftype == "categorical":
            cats = item.get("categories")
            if not isinstance(cats, list) or not cats:
                raise ManifestError(f"{f}.categories", "a categorical feature needs a non-empty list of categories")
            for j, c in enumerate(cats):
                if not isinstance(c, str):
                    raise ManifestError(f"{f}.categories[{j}]", f"must be a string, got {type(c).__name__}")
            if len(set(cats)) != len(cats):
                raise ManifestError(f"{f}.categories", "categories must be distinct")
            categories = tuple(cats)
            ignore_unknown = _bool(item, "ignore_unknown", f"{f}.ignore_unknown")
        else:
            for key in ("categories", "ignore_unknown"):
                if key in item:
                    raise ManifestError(f"{f}.{key}", f"only for categorical features ({name!r} is {ftype})")
        out.append(Feature(name=name, type=ftype, nullable=nullable, categories=categories,
                           ignore_unknown=ignore_unknown))
    return tuple(out)


def _check_value_v1(v: Any, feature: Feature, field: str) -> Any:
    x = _num(v, field)
    if feature.type == "binary" and x not in (0.0, 1.0):
        raise ManifestError(field, f"binary feature {feature.name} must be 0 or 1, got {v!r}")
    return v  # keep int vs float as written, so load -> to_dict -> write round-trips byte for byte


def _check_value_v2(v: Any, feature: Feature, field: str) -> Any:
    """A value as a client sends it: checked against the feature, returned as written (int stays int)."""
    if v is None:
        if not feature.nullable:
            raise ManifestError(field, f"null, but feature {feature.name!r} is not nullable")
        return v
    t = feature.type
    if t == "categorical":
        if not isinstance(v, str):
            raise ManifestError(field, f"categorical feature {feature.name!r} takes a string, got {v!r}")
        if v not in feature.categories and not feature.ignore_unknown:
            raise ManifestError(field, f"{v!r} is not one of the categories of {feature.name!r}")
        return v
    if t == "boolean":
        if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
            return v
        raise ManifestError(field, f"boolean feature {feature.name!r} takes true or false, got {v!r}")
    x = _num(v, field)
    if t == "binary" and x not in (0.0, 1.0):
        raise ManifestError(field, f"binary feature {feature.name!r} must be 0 or 1, got {v!r}")
    if t == "integer" and not x.is_integer():
        raise ManifestError(field, f"integer feature {feature.name!r} must be a whole number, got {v!r}")
    return v


#: The input value checker of each schema version.
_CHECK_VALUE = {1: _check_value_v1, 2: _check_value_v2, 3: _check_value_v2}
