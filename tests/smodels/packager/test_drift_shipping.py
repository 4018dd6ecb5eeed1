"""The packager ships the drift profile in the schema file (its `drift` object, which turns counting on in the
function), with functions/drift.py; `drift: false` or a model without a drift-ready profile ships none and says why."""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

from build_support import options, stack

from functions.contract import SCHEMA_DRIFT_KEY, SCHEMA_FILE
from smodels.manifest import load_manifest, write_manifest
from smodels.manifest.drift import drift_profile
from smodels.packager import build_function


def _schema_in(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as zf:
        assert "functions/drift.py" in zf.namelist()
        return json.loads(zf.read(SCHEMA_FILE))


def _build(model_dir: Path, build_dir: Path, **settings) -> object:
    cfg = stack({"pred": {"model": model_dir, "runtime": "pure", **settings}}, clouds=("gcp",))
    return build_function(cfg, cfg.endpoints[0], "gcp", options(build_dir))


def test_the_profile_ships_in_the_schema_file(logreg_dir: Path, build_dir: Path) -> None:
    build = _build(logreg_dir, build_dir)
    profile, reason = drift_profile(load_manifest(logreg_dir))
    assert reason == "" and build.drift_profile == profile.id and build.drift_reason == ""
    doc = _schema_in(build.archive)
    assert doc[SCHEMA_DRIFT_KEY] == profile.to_json()
    assert [f["name"] for f in doc[SCHEMA_DRIFT_KEY]["features"]] == [f["name"] for f in doc["features"]]


def test_drift_false_ships_no_profile(logreg_dir: Path, build_dir: Path) -> None:
    build = _build(logreg_dir, build_dir, drift=False)
    assert SCHEMA_DRIFT_KEY not in _schema_in(build.archive)
    assert build.drift_profile == "" and "drift: false" in build.drift_reason


def test_a_model_without_a_profile_ships_none(logreg_dir: Path, build_dir: Path, tmp_path: Path) -> None:
    m = load_manifest(logreg_dir)
    old = tmp_path / "old"
    old.mkdir()
    shutil.copyfile(m.artifact_path, old / m.artifact)
    write_manifest(replace(m, schema=1, profile=None, directory=old), old)  # the book's manifest before drift
    build = _build(old, build_dir)
    assert SCHEMA_DRIFT_KEY not in _schema_in(build.archive)
    assert build.drift_profile == "" and "no profile: drift unavailable" in build.drift_reason
