"""Training profile (feature and output distributions, with the buckets drift is measured against), samples and the
metric on the example.

``feature_profile`` and ``output_profile`` are also what the book's training scripts (models/common.py) call, so
every manifest's profile is made one way: per number its range, quantiles and decile ``bins`` (the distinct
deciles of the example as edges, open ends; shares of all rows, missing ones apart), per categorical, binary or
boolean feature its category ``frequencies`` (binary / boolean values named "0" and "1"), the null fraction; the
output's range, quantiles, decile ``bins`` (regression, binary: of P(classes[1])) and, for classifiers, the
frequencies of the predicted label.
"""

from __future__ import annotations

from typing import Any

from smodels.add_model.errors import AddModelError
from smodels.add_model.inspection import _Model
from smodels.manifest import Feature

MAX_SAMPLES = 5
PROFILE_MAX_ROWS = 10_000  # outputs, samples, parity and the metric use the first rows of a larger example
QUANTILES = (0.01, 0.5, 0.99)
MAX_FREQUENCIES = 1000  # most frequent categories kept in the profile
DECILES = tuple(i / 10 for i in range(1, 10))


def decile_bins(values: Any, total: int) -> dict[str, list[float]]:
    """Drift buckets of finite numbers ``values`` out of ``total`` rows (the others are missing): one edge per distinct
    decile and, per bucket (``v < e0``, ``e0 <= v < e1``, ..., ``v >= e_last``), its share of the ``total`` rows.

    Each edge sits halfway between the example's values on either side of its decile (the same split of the
    example), never on a value the example holds: a whole number, or an output the model gives to many rows, then
    falls in the same bucket however the serving runtime rounds it. A decile at the minimum has no edge."""
    import numpy as np

    nums = np.asarray(values, dtype=np.float64)
    if not len(nums):
        return {"edges": [], "shares": [0.0]}
    distinct = np.unique(nums)
    above = np.unique(np.searchsorted(distinct, np.quantile(nums, DECILES), side="left"))
    edges = np.unique([(distinct[i - 1] + distinct[i]) / 2 for i in above if 0 < i < len(distinct)])
    counts = np.bincount(np.searchsorted(edges, nums, side="right"), minlength=len(edges) + 1)
    return {"edges": [float(e) for e in edges], "shares": [int(c) / total for c in counts]}


def feature_profile(series: Any, f: Feature) -> dict[str, Any]:
    """One feature's profile from its example column (a pandas Series; missing values as NaN/None)."""
    import numpy as np

    n = len(series)
    out: dict[str, Any] = {"null_fraction": float(series.isna().sum()) / n}
    values = series.dropna()
    if f.type == "categorical":
        counts = values.astype(str).value_counts()
        out["frequencies"] = {str(k): float(v) / n for k, v in counts.head(MAX_FREQUENCIES).items()}
        return out
    nums = values.to_numpy(dtype=np.float64)
    if f.type in ("binary", "boolean"):
        out["frequencies"] = {"0": int(np.sum(nums == 0.0)) / n, "1": int(np.sum(nums == 1.0)) / n}
    else:
        out["bins"] = decile_bins(nums, n)
    if len(nums):
        out["min"], out["max"] = float(nums.min()), float(nums.max())
        out["quantiles"] = {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(nums, QUANTILES), strict=True)}
    else:
        out["min"] = out["max"] = None
        out["quantiles"] = {str(q): None for q in QUANTILES}
    return out


def _predicted_labels(out: Any, m: _Model) -> list[Any]:
    return predicted_labels(out, m.task, m.classes)


def predicted_labels(out: Any, task: str, classes: Any) -> list[Any]:
    """The label each output row predicts: binary P > 0.5 -> classes[1]; multiclass the most probable class."""
    if task == "binary-classification":
        return [classes[1] if p > 0.5 else classes[0] for p in out]
    return [classes[int(i)] for i in out.argmax(axis=1)]


def _output_profile(out: Any, m: _Model) -> dict[str, Any]:
    return output_profile(out, m.task, m.classes)


def output_profile(out: Any, task: str, classes: Any) -> dict[str, Any]:
    """The outputs' profile (a numpy [N] or [N, K] array of the task's outputs on the example)."""
    import numpy as np

    def vec(a: Any) -> Any:
        return [float(x) for x in a] if task == "multiclass-classification" else float(a)

    prof: dict[str, Any] = {
        "mean": vec(out.mean(axis=0)), "min": vec(out.min(axis=0)), "max": vec(out.max(axis=0)),
        "quantiles": {str(q): vec(v) for q, v in zip(QUANTILES, np.quantile(out, QUANTILES, axis=0), strict=True)},
    }
    if task != "multiclass-classification":
        prof["bins"] = decile_bins(out, len(out))
    if task != "regression":
        labels = predicted_labels(out, task, classes)
        prof["frequencies"] = {str(c): labels.count(c) / len(labels) for c in classes}
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
