"""Training profile (feature and output distributions), samples and the metric on the example."""

from __future__ import annotations

from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.inspection import _Model
from smodels.manifest import Feature

MAX_SAMPLES = 5
PROFILE_MAX_ROWS = 10_000  # outputs, samples, parity and the metric use the first rows of a larger example
QUANTILES = (0.01, 0.5, 0.99)
MAX_FREQUENCIES = 1000  # most frequent categories kept in the profile


def _feature_profile(series: Any, f: Feature) -> dict[str, Any]:
    import numpy as np

    n = len(series)
    out: dict[str, Any] = {"null_fraction": float(series.isna().sum()) / n}
    values = series.dropna()
    if f.type == "categorical":
        counts = values.astype(str).value_counts()
        out["frequencies"] = {str(k): float(v) / n for k, v in counts.head(MAX_FREQUENCIES).items()}
        return out
    nums = values.to_numpy(dtype=np.float64)
    if len(nums):
        out["min"], out["max"] = float(nums.min()), float(nums.max())
        out["quantiles"] = {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(nums, QUANTILES), strict=True)}
    else:
        out["min"] = out["max"] = None
        out["quantiles"] = {str(q): None for q in QUANTILES}
    return out


def _predicted_labels(out: Any, m: _Model) -> list[Any]:
    if m.task == "binary-classification":
        return [m.classes[1] if p > 0.5 else m.classes[0] for p in out]
    return [m.classes[int(i)] for i in out.argmax(axis=1)]


def _output_profile(out: Any, m: _Model) -> dict[str, Any]:
    import numpy as np

    def vec(a: Any) -> Any:
        return [float(x) for x in a] if m.task == "multiclass-classification" else float(a)

    prof: dict[str, Any] = {
        "mean": vec(out.mean(axis=0)), "min": vec(out.min(axis=0)), "max": vec(out.max(axis=0)),
        "quantiles": {str(q): vec(v) for q, v in zip(QUANTILES, np.quantile(out, QUANTILES, axis=0), strict=True)},
    }
    if m.task != "regression":
        labels = _predicted_labels(out, m)
        prof["frequencies"] = {str(c): labels.count(c) / len(labels) for c in m.classes}
    return prof


def _sample_indices(n: int, rows: list[list[Any]]) -> list[int]:
    import numpy as np

    picks = sorted({int(i) for i in np.linspace(0, n - 1, min(MAX_SAMPLES, n)).round()})
    with_null = next((i for i, r in enumerate(rows) if any(v is None for v in r)), None)
    if with_null is not None and not any(any(v is None for v in rows[i]) for i in picks):
        picks = sorted(set(picks[:-1]) | {with_null})
    return picks


def _metric(m: _Model, out: Any, y: Any) -> tuple[str, float, int] | None:
    """(metric, value, rows) of the native outputs against the label column; None if it cannot be computed."""
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    keep = ~y.isna().to_numpy()
    y, out = y[keep], out[keep]
    if len(y) < 2:
        return None
    if m.task == "regression":
        try:
            truth = y.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise AddModelError("label", f"label column {y.name!r} is not numeric (the model is a regressor)",
                                str(y.name)) from None
        return "r2", float(r2_score(truth, out)), len(y)
    values = [v.item() if hasattr(v, "item") else v for v in y.tolist()]
    unknown = sorted({repr(v) for v in values if v not in m.classes})
    if unknown:
        raise AddModelError("label", f"label column {y.name!r} has values {', '.join(unknown[:5])} that are not "
                            f"classes of the model ({', '.join(map(repr, m.classes))})", str(y.name))
    if m.task == "binary-classification" and len(set(values)) == 2:
        positive = [int(v == m.classes[1]) for v in values]
        return "roc_auc", float(roc_auc_score(positive, out)), len(y)
    predicted = _predicted_labels(out, m)
    return "accuracy", float(accuracy_score([m.classes.index(v) for v in values],
                                            [m.classes.index(v) for v in predicted])), len(y)
