"""The model canary on the local stack, both clouds: two iris classifiers (same schema, different models) added
with `smodels add-model`, `canary: {percent: 30}`; 200 requests without a key split about 30/70 between the two
versions, and with an `X-Request-Key` each key is answered by one model every time."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from smodels.cli import main as smodels_main
from smodels.config import load_stack_config

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _iris_model(root: Path, name: str, c: float) -> Path:
    """An iris LogisticRegression (regularisation `c`) as an endpoint directory made by `smodels add-model`."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris(as_frame=True)
    X, y = data.data, pd.Series(data.target, name="species")
    model = LogisticRegression(C=c, max_iter=500).fit(X, y)
    artifact, csv = root / f"{name}.joblib", root / f"{name}.csv"
    joblib.dump(model, artifact)
    X.assign(species=y).to_csv(csv, index=False)
    out = root / "models" / name
    assert smodels_main(["add-model", str(artifact), "--example", str(csv), "--name", name, "--label", "species",
                         "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from smodels.local.stack import LocalStack

    root = tmp_path_factory.mktemp("canary")
    stable, canary = _iris_model(root, "iris-stable", 1.0), _iris_model(root, "iris-canary", 0.05)
    endpoints = {"iris": {"model": str(stable), "runtime": "pure", "memory": 256,
                          "canary": {"model": str(canary), "percent": 30}}}
    cfg = load_stack_config({"serverless-models:clouds": json.dumps(["aws", "gcp"]),
                             "serverless-models:endpoints": json.dumps(endpoints)}, REPO)
    with LocalStack(cfg, stack="canary", port=0, run_dir=root / "run", build_dir=REPO / ".build") as s:
        yield {"urls": {ep.cloud: ep.url for ep in s.endpoints}, "builds": s.builds}


def _post(url: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Request-Key"] = key
    row = {"sepal length (cm)": 5.9, "sepal width (cm)": 3.0, "petal length (cm)": 4.2, "petal width (cm)": 1.5}
    req = urllib.request.Request(url, data=json.dumps(row).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_canary_split_and_sticky_keys(stack: dict[str, Any], cloud: str) -> None:
    url = stack["urls"][cloud]
    build = stack["builds"][(cloud, "iris")]
    assert build.canary is not None and build.canary.sha256 != build.model.sha256
    versions = {build.model.sha256: "iris-stable", build.canary.sha256: "iris-canary"}

    meta = json.loads(urllib.request.urlopen(url, timeout=60).read())
    assert meta["model"]["name"] == "iris-stable" and meta["canary"]["name"] == "iris-canary"
    assert meta["canary"]["percent"] == 30

    answers = [_post(url)["model"] for _ in range(200)]
    for m in answers:
        assert versions[m["version"]] == m["name"]
    counts = Counter(m["name"] for m in answers)
    assert set(counts) == {"iris-stable", "iris-canary"}  # both versions answer
    # Per process the sequence is exact; requests spread over a few workers stay close to 30%.
    assert 0.20 <= counts["iris-canary"] / 200 <= 0.40, counts

    keys = [f"user-{i}" for i in range(40)]
    first = {k: _post(url, k)["model"]["version"] for k in keys}
    assert set(first.values()) == set(versions)  # 40 keys at 30%: both models
    for _ in range(2):
        assert {k: _post(url, k)["model"]["version"] for k in keys} == first  # each key is sticky
