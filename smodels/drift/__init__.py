"""`smodels drift`: the drift of an endpoint's inputs and output against its training profile, from the counts its
prediction log lines carry (functions/drift.py). Parts: psi (the index and statuses), merge (summing lines),
report (the JSON and text report), html (the page), sources (profiles from the stack config), cli."""

from __future__ import annotations

from smodels.drift.cli import DESCRIPTION, cmd_drift, register
from smodels.drift.html import render_html
from smodels.drift.merge import GarbledCounts, Merge, VersionCounts, parse_counts
from smodels.drift.psi import DRIFT, FLOOR, MIN_ROWS, WATCH, psi, psi_terms, shares, status, worst
from smodels.drift.report import build_report, feature_report, output_report, render_text, version_report
from smodels.drift.sources import DriftSetupError, endpoint_config, endpoint_profiles, garbled_local_lines

__all__ = [
    "DESCRIPTION", "DRIFT", "FLOOR", "MIN_ROWS", "WATCH", "DriftSetupError", "GarbledCounts", "Merge", "VersionCounts",
    "build_report", "cmd_drift", "endpoint_config", "endpoint_profiles", "feature_report", "garbled_local_lines",
    "output_report", "parse_counts", "psi", "psi_terms", "register", "render_html", "render_text", "shares",
    "status", "version_report", "worst",
]
