"""Summing the drift counts of many ``prediction`` lines into one count per model version (order never matters:
counts add), and saying what could not be counted: lines without counts, counts against an unknown profile,
garbled counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from functions.drift import DriftProfile


@dataclass
class VersionCounts:
    """The summed counts of one model version, counted against one drift profile."""

    model: str
    version: str
    profile: str
    lines: int = 0
    rows: int = 0
    counts: Counter[int] = field(default_factory=Counter)
    arms: set[str] = field(default_factory=set)
    clouds: set[str] = field(default_factory=set)

    def add(self, rows: int, pairs: dict[int, int], arm: str = "stable", cloud: str = "") -> None:
        """Add one line's rows and slot counts."""
        self.lines += 1
        self.rows += rows
        self.counts.update(pairs)
        self.arms.add(arm)
        if cloud:
            self.clouds.add(cloud)


@dataclass
class Problem:
    """Lines of one kind that could not be counted: how many, and the first one's reason."""

    count: int = 0
    first: str = ""

    def add(self, reason: str) -> None:
        """Count one more line, keeping the first reason."""
        self.count += 1
        self.first = self.first or reason


class GarbledCounts(ValueError):
    """A line's ``drift`` object is not what a function writes (the message says what is wrong)."""


def _slot_groups(profile: DriftProfile) -> list[int]:
    """Per slot, the group whose slots partition every row: the feature's index (its buckets, missing and, for
    categories, unseen), len(features) for the output; -1 for a binned feature's unseen slot (also in a bin)."""
    groups = [0] * profile.slots
    for i, f in enumerate(profile.features):
        for k in range(f.base, f.base + f.slots):
            groups[k] = i
        if f.kind == "bins":
            groups[f.unseen_slot] = -1
    for k in range(profile.output.base, profile.slots):
        groups[k] = len(profile.features)
    return groups


def parse_counts(drift: Any, rows: Any, profile: DriftProfile, groups: list[int]) -> dict[int, int]:
    """The slot -> count pairs of one line's ``drift`` object, checked against its profile: every slot known, every
    count a positive whole number, and each feature's (and the output's) counts adding up to the line's rows."""
    pairs = drift.get("c")
    if not isinstance(pairs, list) or len(pairs) % 2:
        raise GarbledCounts("drift.c is not a list of slot, count pairs")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise GarbledCounts(f"rows is {rows!r}, not a positive whole number")
    out: dict[int, int] = {}
    for i in range(0, len(pairs), 2):
        slot, n = pairs[i], pairs[i + 1]
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (slot, n)) or n < 1:
            raise GarbledCounts(f"drift.c[{i}:{i + 2}] = {pairs[i:i + 2]!r} is not a slot and a positive count")
        if not 0 <= slot < profile.slots or slot in out:
            raise GarbledCounts(f"drift.c names slot {slot} {'twice' if slot in out else 'outside the profile'}")
        out[slot] = n
    totals = Counter()
    for slot, n in out.items():
        totals[groups[slot]] += n
    for g in range(len(profile.features) + 1):
        if totals[g] != rows:
            what = profile.features[g].name if g < len(profile.features) else "the output"
            raise GarbledCounts(f"the counts of {what!r} add up to {totals[g]}, not the line's {rows} rows")
    return out


class Merge:
    """Sums prediction lines per (model, version, profile); ``profiles`` maps a profile id to its profile."""

    def __init__(self, profiles: dict[str, DriftProfile]) -> None:
        self.profiles = profiles
        self._groups = {pid: _slot_groups(p) for pid, p in profiles.items()}
        self.versions: dict[tuple[str, str, str], VersionCounts] = {}
        self.without_counts: dict[tuple[str, str], Problem] = {}
        self.unknown_profile: dict[tuple[str, str, str], Problem] = {}
        self.garbled = Problem()
        self.predictions = 0

    def add(self, record: dict[str, Any]) -> None:
        """Count one parsed log line (other events than ``prediction`` are ignored)."""
        if record.get("event") != "prediction":
            return
        self.predictions += 1
        model, version = str(record.get("model") or "?"), str(record.get("model_version") or "?")
        drift = record.get("drift")
        if drift is None:
            self.without_counts.setdefault((model, version), Problem()).add("no drift counts")
            return
        pid = drift.get("p") if isinstance(drift, dict) else None
        if not isinstance(pid, str):
            self.garbled.add(f"model {model} version {version[:12]}: drift is not an object with a profile id p")
            return
        profile = self.profiles.get(pid)
        if profile is None:
            self.unknown_profile.setdefault((model, version, pid), Problem()).add(pid)
            return
        try:
            pairs = parse_counts(drift, record.get("rows"), profile, self._groups[pid])
        except GarbledCounts as exc:
            self.garbled.add(f"model {model} version {version[:12]}: {exc}")
            return
        key = (model, version, pid)
        if key not in self.versions:
            self.versions[key] = VersionCounts(model, version, pid)
        self.versions[key].add(record["rows"], pairs, str(record.get("arm") or "stable"), str(record.get("_cloud", "")))

    def add_all(self, records: Any) -> Merge:
        """Count every record; returns self."""
        for record in records:
            self.add(record)
        return self
