"""Comparing a rewritten manifest with the committed one: the same document, floats to the last few bits.

The profile's output figures come from the model's own predictions (BLAS for scikit-learn, XLA for Keras), whose
last bits depend on the CPU's kernels; the structure, the counts and every non-float value must be identical.
"""

from __future__ import annotations

import json
import math
from typing import Any

REL = 1e-9


def assert_same_manifest(got_text: str, want_text: str) -> None:
    """`got_text` is the JSON document `want_text` is, its floats equal within REL (relative) / 1e-12 (absolute)."""
    _close(json.loads(got_text), json.loads(want_text), "$")


def _close(got: Any, want: Any, where: str) -> None:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=REL, abs_tol=1e-12), f"{where}: {got!r} != {want!r}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"
