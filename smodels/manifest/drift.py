"""The drift profile a function counts against (``functions.drift``), derived from a manifest's training profile.

The packager ships it in the schema file (its ``drift`` object) and ``smodels drift`` derives it again from the
same manifest to read the counts: both call :func:`drift_document`, and the profile's ``id`` (a digest of the
document) ties each log line's counts to the buckets they were counted in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from smodels.manifest.model import Manifest
from smodels.manifest.profile import NUMBER_TYPES

#: Categories of a categorical feature that get their own bucket (the most frequent ones in the example); the rest
#: of the training categories share one ``other`` bucket. With the 10 decile bins of a number, this bounds a
#: feature at 13 slots (docs/DESIGN.md, "Drift": the worst-case log line).
MAX_DRIFT_CATEGORIES = 10
NO_PROFILE = "no profile: drift unavailable"


def profile_id(doc: dict[str, Any]) -> str:
    """The 12-hex-digit id of a drift document (sha256 of its canonical JSON without ``id``)."""
    body = {k: v for k, v in doc.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def drift_document(m: Manifest) -> tuple[dict[str, Any] | None, str]:
    """(the drift profile of ``m``, "") or (None, why drift is unavailable for it)."""
    profile = m.profile
    where = f"model {m.name}"
    if not profile:
        return None, (f"{where}: {NO_PROFILE} (its manifest, schema {m.schema}, records no training profile; "
                      "re-run `smodels add-model` or the training script to record one)")
    stats = profile.get("features") or {}
    features = []
    for f in m.features:
        s = stats.get(f.name)
        key = "bins" if f.type in NUMBER_TYPES else "frequencies"
        if not isinstance(s, dict) or key not in s:
            return None, (f"{where}: {NO_PROFILE} (its profile has no {key} for feature {f.name!r}; manifest schema "
                          f"{m.schema} predates drift: re-run `smodels add-model` or the training script)")
        missing = float(s.get("null_fraction") or 0.0)
        if key == "bins":
            features.append({"name": f.name, "kind": "bins", "edges": list(s["bins"]["edges"]),
                             "shares": list(s["bins"]["shares"]), "missing": missing,
                             "low": s.get("min"), "high": s.get("max")})
            continue
        freq = s["frequencies"]
        if f.type == "categorical":
            cats = sorted(freq, key=lambda c: (-freq[c], c))[:MAX_DRIFT_CATEGORIES]
        else:
            cats = ["0", "1"]
        shares = [float(freq.get(c, 0.0)) for c in cats]
        other = max(0.0, 1.0 - missing - sum(shares))
        features.append({"name": f.name, "kind": "categories", "categories": cats, "shares": [*shares, other],
                         "missing": missing})
    out = profile.get("output") or {}
    if m.task == "multiclass-classification":
        freq = out.get("frequencies")
        if not isinstance(freq, dict):
            return None, f"{where}: {NO_PROFILE} (its profile has no output frequencies)"
        labels = [str(c) for c in m.classes or ()]
        output: dict[str, Any] = {"kind": "classes", "classes": labels,
                                  "shares": [float(freq.get(c, 0.0)) for c in labels]}
    else:
        if not isinstance(out.get("bins"), dict):
            return None, f"{where}: {NO_PROFILE} (its profile has no output bins)"
        output = {"kind": "bins", "edges": list(out["bins"]["edges"]), "shares": list(out["bins"]["shares"])}
    doc: dict[str, Any] = {"version": 1, "features": features, "output": output}
    return {**doc, "id": profile_id(doc)}, ""


def drift_profile(m: Manifest) -> tuple[Any, str]:
    """(``functions.drift.DriftProfile`` of ``m``, "") checked against its input schema, or (None, why not)."""
    from functions.drift import DriftError, DriftProfile

    doc, reason = drift_document(m)
    if doc is None:
        return None, reason
    try:
        return DriftProfile.from_json(doc, m.feature_names, [f.type for f in m.features], m.task,
                                      m.classes), ""
    except DriftError as exc:
        return None, f"model {m.name}: drift unavailable: its profile does not make a drift profile ({exc})"
