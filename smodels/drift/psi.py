"""The population stability index (PSI) of live counts against training shares, and the status it reads as.

PSI = sum over buckets of (live_i - train_i) * ln(live_i / train_i), with live_i and train_i the *shares* of the
bucket (Yurdakul 2018; docs/DESIGN.md, "Drift"). A share below ``FLOOR`` is raised to it on both sides first, so an
empty bucket counts (a big shift into or out of it) without a division by zero; no renormalisation. Readings from
credit scoring (Siddiqi 2006): below 0.1 ``ok``, 0.1 to 0.25 ``watch``, 0.25 and above ``drift``; fewer than
``MIN_ROWS`` live rows is ``too_few`` whatever the PSI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FLOOR = 1e-4  # the smallest share a bucket is given (both sides): an empty bucket is 0.01%
WATCH = 0.1
DRIFT = 0.25
#: Below this many rows a model version is ``too_few``: under no drift N * PSI is about chi-square with (buckets - 1)
#: degrees of freedom, so at 200 rows a 10-bucket feature's PSI averages ~0.045, exceeds 0.1 about once in a hundred
#: features and 0.25 (``drift``) about once in ten million; 5 requests never raise an alarm.
MIN_ROWS = 200
STATUSES = ("drift", "watch", "ok", "too_few")  # worst first


def shares(counts: Sequence[int]) -> list[float]:
    """Each count's share of their total (all zero for a total of zero)."""
    total = sum(counts)
    return [c / total for c in counts] if total else [0.0] * len(counts)


def psi_terms(train: Sequence[float], live: Sequence[float]) -> list[float]:
    """Each bucket's contribution (live - train) * ln(live / train), both shares floored at FLOOR."""
    if len(train) != len(live):
        raise ValueError(f"{len(train)} training shares but {len(live)} live shares")
    out = []
    for t, v in zip(train, live, strict=True):
        t, v = max(t, FLOOR), max(v, FLOOR)
        out.append((v - t) * math.log(v / t))
    return out


def psi(train: Sequence[float], live: Sequence[float]) -> float:
    """The PSI of ``live`` shares against ``train`` shares (fsum: the same for any bucket order)."""
    return math.fsum(psi_terms(train, live))


def status(value: float, rows: int) -> str:
    """``too_few`` below MIN_ROWS rows, else ``ok`` (< 0.1), ``watch`` (< 0.25) or ``drift``."""
    if rows < MIN_ROWS:
        return "too_few"
    return "ok" if value < WATCH else "watch" if value < DRIFT else "drift"


def worst(statuses: Sequence[str]) -> str:
    """The worst of some statuses (drift > watch > ok > too_few); ``ok`` for none."""
    return min(statuses, key=STATUSES.index) if statuses else "ok"
