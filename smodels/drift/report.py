"""The drift report: per model version its rows, per feature and for the output the PSI of the live counts against
the training profile, the live vs training share of the top bins, a status; as a dict (``--json``) and as text."""

from __future__ import annotations

import math
from typing import Any

from functions.drift import DriftProfile, FeatureBuckets, OutputBuckets
from smodels.drift.merge import VersionCounts
from smodels.drift.psi import MIN_ROWS, STATUSES, psi_terms, shares, status, worst

TOP_BINS = 3  # buckets shown per feature: the largest contributions to its PSI
MISSING, UNSEEN, OTHER = "(missing)", "(unseen)", "(other)"
SPECIAL = (MISSING, UNSEEN, OTHER)  # buckets left out of the bins shown when empty in training and live


def _buckets(train: list[float], counts: list[int], labels: list[str], rows: int) -> dict[str, Any]:
    """PSI, status, the bins (training vs live share) and the top bins of one feature or the output."""
    live = shares(counts)
    terms = psi_terms(train, live)
    value = math.fsum(terms)  # correctly rounded: the same for any bucket order
    bins = [{"bin": label, "training": t, "live": v, "psi": round(x, 6)}
            for label, t, v, x in zip(labels, train, live, terms, strict=True)
            if label not in SPECIAL or t > 0 or v > 0]
    top = sorted(range(len(bins)), key=lambda i: (-bins[i]["psi"], i))[:TOP_BINS]
    return {"psi": round(value, 6), "status": status(value, rows), "bins": bins,
            "top_bins": [bins[i] for i in top]}


def feature_report(f: FeatureBuckets, counts: dict[int, int], rows: int) -> dict[str, Any]:
    """One feature: its PSI over its buckets and missing values (categories: and unknown ones), the live and
    training missing rates, and how many values were outside the training range / unknown categories."""
    bucket_counts = [counts.get(f.base + i, 0) for i in range(f.buckets)]
    missing, unseen = counts.get(f.missing_slot, 0), counts.get(f.unseen_slot, 0)
    labels = [*f.labels(), MISSING]
    train = [*f.shares, f.missing]
    live = [*bucket_counts, missing]
    if f.kind == "categories":  # an unknown category is a bucket of its own (training share 0)
        labels.append(UNSEEN)
        train.append(0.0)
        live.append(unseen)
    out = {"name": f.name, "kind": f.kind, **_buckets(train, live, labels, rows)}
    return {**out, "missing_rate": missing / rows if rows else 0.0, "training_missing_rate": f.missing,
            "unseen": unseen, "unseen_rate": unseen / rows if rows else 0.0}


def output_report(o: OutputBuckets, counts: dict[int, int], rows: int) -> dict[str, Any]:
    """The output: PSI of its bins (regression, binary) or predicted classes (multiclass)."""
    live = [counts.get(o.base + i, 0) for i in range(o.buckets)]
    return {"kind": o.kind, **_buckets(list(o.shares), live, o.labels(), rows)}


def version_report(vc: VersionCounts, profile: DriftProfile) -> dict[str, Any]:
    """One model version: rows, status (too_few below MIN_ROWS, else its worst feature's or output's), the output
    and the features sorted by PSI, worst first."""
    output = output_report(profile.output, vc.counts, vc.rows)
    features = sorted((feature_report(f, vc.counts, vc.rows) for f in profile.features),
                      key=lambda r: (-r["psi"], r["name"]))
    overall = "too_few" if vc.rows < MIN_ROWS else worst([output["status"], *(r["status"] for r in features)])
    return {"model": vc.model, "version": vc.version, "profile": vc.profile, "arms": sorted(vc.arms),
            "clouds": sorted(vc.clouds), "lines": vc.lines, "rows": vc.rows, "status": overall, "output": output,
            "features": features}


def _worst_psi(model: dict[str, Any]) -> float:
    return max([model["output"]["psi"], *(f["psi"] for f in model["features"])])


def build_report(endpoint: str, versions: list[tuple[VersionCounts, DriftProfile]], **about: Any) -> dict[str, Any]:
    """The ``--json`` document: ``{"endpoint", ..., "models": [...]}``, the worst model first."""
    models = [version_report(vc, p) for vc, p in versions]
    models.sort(key=lambda m: (STATUSES.index(m["status"]), -_worst_psi(m), m["model"], m["version"]))
    return {"endpoint": endpoint, **about, "min_rows": MIN_ROWS, "models": models}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _top(item: dict[str, Any]) -> str:
    return "; ".join(f"{b['bin']} {_pct(b['training'])} -> {_pct(b['live'])}" for b in item["top_bins"])


def render_text(report: dict[str, Any], heading: str) -> str:
    """The report as text: per model version a line, the output, then a table of its features."""
    lines = [heading]
    for m in report["models"]:
        where = ", ".join(m["clouds"])
        lines += ["", f"model {m['model']}  version {m['version'][:12]}  ({'/'.join(m['arms'])}"
                      f"{'; ' + where if where else ''})  {m['rows']} rows  status {m['status'].upper()}"
                      + ("" if m["rows"] >= report["min_rows"] else f" (fewer than {report['min_rows']} rows)")]
        out = m["output"]
        lines.append(f"  output: psi {out['psi']:.3f} {out['status']}; top bins (training -> live): {_top(out)}")
        width = max(len("FEATURE"), *(len(f["name"]) for f in m["features"]))
        lines.append(f"  {'FEATURE':<{width}}  {'PSI':>7}  {'STATUS':<7}  {'MISSING':>7}  {'UNSEEN':>6}  "
                     "TOP BINS (training -> live)")
        for f in m["features"]:
            lines.append(f"  {f['name']:<{width}}  {f['psi']:>7.3f}  {f['status']:<7}  {_pct(f['missing_rate']):>7}  "
                         f"{f['unseen']:>6}  {_top(f)}")
    return "\n".join(lines)
