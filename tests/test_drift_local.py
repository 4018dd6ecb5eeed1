"""Drift end to end on the local stack, both clouds (issue 19's new-user run): the book's model served by two
endpoints; `pred` gets 300 requests in which G1 is always 1 (about 23% in training) and `smodels drift --local` says
G1 is in drift, no other feature is, and reports the output's PSI (exit status 3), and writes the HTML page;
`steady` gets 300 rows drawn from the training data and reads `ok` (exit status 0).

Everything the function counts goes through its real log lines: the packager ships the profile in the schema file,
each instance counts every request, `smodels drift` sums the local log files. The rows are drawn with a fixed seed;
nothing depends on timing (each wait is for an answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from local_servers import post_json

from models.common import FEATURES, load_games
from smodels.cli import main as smodels_main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
STACK = "drifttest"
ROWS = 300


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack

    root = tmp_path_factory.mktemp("drift")
    (root / "functions").symlink_to(REPO / "functions")
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    book = {"model": str(REPO / "models" / "logreg"), "runtime": "pure", "memory": 256}
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": ["aws", "gcp"], "serverless-models:endpoints": {"pred": book, "steady": book}}}))
    cfg = stack_config_for(root, STACK)
    with LocalStack(cfg, stack=STACK, port=0, pool_size=1, build_dir=REPO / ".build") as stack:
        yield {"root": root, "builds": stack.builds,
               "urls": {(ep.cloud, ep.name): ep.url for ep in stack.endpoints}}


def _rows(data_csv: Path, seed: int) -> list[dict[str, int]]:
    """ROWS requests drawn (seeded, without replacement) from the training data, as the book sends them."""
    data = load_games(str(data_csv))
    picked = data.x[np.random.default_rng(seed).choice(data.rows, ROWS, replace=False)]
    return [{f: int(v) for f, v in zip(FEATURES, row, strict=True)} for row in picked]


def _drift(project: dict[str, Any], endpoint: str, cloud: str, capsys: pytest.CaptureFixture[str],
           *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = smodels_main(["drift", endpoint, "--stack", STACK, "--local", "--cloud", cloud, "--json",
                         "--project-dir", str(project["root"]), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out)


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_g1_always_1_is_drift_and_the_page_is_written(project: dict[str, Any], data_csv: Path, cloud: str,
                                                      capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    build = project["builds"][(cloud, "pred")]
    assert build.drift_profile, build.drift_reason  # the package counts drift
    url = project["urls"][(cloud, "pred")]
    for row in _rows(data_csv, seed=19):
        status, body = post_json(url, {**row, "G1": 1}, timeout=60)  # the new user's 300 requests
        assert status == 200, body
    page = tmp_path / f"drift-{cloud}.html"
    code, report = _drift(project, "pred", cloud, capsys, "--html", str(page))
    assert code == 3
    (model,) = report["models"]
    assert (model["model"], model["version"], model["rows"], model["status"]) == (
        "games-logreg", build.model.sha256, ROWS, "drift")
    assert model["profile"] == build.drift_profile and model["clouds"] == [cloud]
    by_name = {f["name"]: f for f in model["features"]}
    assert model["features"][0]["name"] == "G1" and by_name["G1"]["status"] == "drift"
    assert {b["bin"]: b["live"] for b in by_name["G1"]["bins"]} == {"0": 0.0, "1": 1.0}
    assert [n for n, f in by_name.items() if f["status"] != "ok"] == ["G1"], [(n, f["psi"]) for n, f in by_name.items()]
    assert model["output"]["psi"] > 0 and model["output"]["status"] in ("ok", "watch", "drift")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 1 + len(FEATURES)
    assert "G1</b> PSI" in text and "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_traffic_from_the_training_distribution_is_ok(project: dict[str, Any], data_csv: Path, cloud: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = project["urls"][(cloud, "steady")]
    rows = _rows(data_csv, seed=7)
    for i in range(0, ROWS, 100):  # a batch counts its rows as the single requests would
        status, body = post_json(url, {"instances": rows[i:i + 100]}, timeout=60)
        assert status == 200, body
    code, report = _drift(project, "steady", cloud, capsys)
    assert code == 0
    (model,) = report["models"]
    assert (model["rows"], model["status"], model["output"]["status"]) == (ROWS, "ok", "ok"), model
    assert {f["status"] for f in model["features"]} == {"ok"}
