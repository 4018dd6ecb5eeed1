"""What a model outputs: the class labels of each task, the check of one output, and its meaning in words."""

from __future__ import annotations

import math
from typing import Any

from smodels.manifest.fields import _num, _prob
from smodels.manifest.model import ManifestError
from smodels.manifest.schema import PROBABILITY_SUM_TOLERANCE


def _classes(raw: Any, task: str) -> tuple[Any, ...]:
    if task == "regression":
        if raw not in (None, []):
            raise ManifestError("classes", "a regressor has no classes (null or [])")
        return ()
    if not isinstance(raw, list):
        raise ManifestError("classes", f"a classifier needs its class labels as a list, got {type(raw).__name__}")
    want = "exactly 2" if task == "binary-classification" else "at least 2"
    if (task == "binary-classification" and len(raw) != 2) or len(raw) < 2:
        raise ManifestError("classes", f"{task} needs {want} classes, got {len(raw)}")
    for i, c in enumerate(raw):
        if isinstance(c, bool) or not isinstance(c, (str, int)) or c == "":
            raise ManifestError(f"classes[{i}]", f"must be a non-empty string or an integer, got {c!r}")
    if len({type(c) for c in raw}) != 1:
        raise ManifestError("classes", "labels must be all strings or all integers")
    if len(set(raw)) != len(raw):
        raise ManifestError("classes", "labels must be distinct")
    return tuple(raw)


def _output_checker(task: str, k: int) -> Any:
    """The validator of one task output: regression a number, binary a probability, multiclass K of them."""
    if task == "regression":
        return _num
    if task == "binary-classification":
        return _prob

    def multi(v: Any, field: str) -> tuple[float, ...]:
        if not isinstance(v, list) or len(v) != k:
            raise ManifestError(field, f"must be a list of {k} probabilities (one per class)")
        ps = tuple(_prob(p, f"{field}[{i}]") for i, p in enumerate(v))
        if abs(math.fsum(ps) - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise ManifestError(field, f"probabilities must sum to 1, got {math.fsum(ps)}")
        return tuple(v)

    return multi


def default_output(task: str, classes: tuple[Any, ...] | list[Any], label: str | None) -> str:
    """What the output means, in words (the manifest's ``output`` when none is given)."""
    what = label or "the label"
    if task == "regression":
        return f"the predicted value of {what}"
    if task == "binary-classification":
        return f"probability that {what} == {classes[1]!r}" if len(classes) == 2 else "probability of classes[1]"
    return f"probability of each class of {what}, in classes order"
