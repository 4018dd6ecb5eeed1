"""Local version numbers: one per configuration, as Lambda publishes one on every code or configuration change."""

from __future__ import annotations

import json
from pathlib import Path

from smodels.local.versions import assign_versions, fingerprint, read_versions

ENV = {"ENDPOINT_NAME": "pred", "MODEL_URI": "s3://b/models/pred/abc.json", "MODEL_TTL_SECONDS": "60"}


def test_same_config_same_number_and_changes_bump(tmp_path: Path) -> None:
    path = tmp_path / "versions.json"
    a = fingerprint("sha-a", ENV, {"memory": 512})
    assert assign_versions(path, {"aws/pred": a, "gcp/pred": a}) == {"aws/pred": 1, "gcp/pred": 1}
    assert assign_versions(path, {"aws/pred": a, "gcp/pred": a}) == {"aws/pred": 1, "gcp/pred": 1}, "a restart"

    new_model = fingerprint("sha-a", {**ENV, "MODEL_URI": "s3://b/models/pred/def.json"}, {"memory": 512})
    new_code = fingerprint("sha-b", ENV, {"memory": 512})
    new_memory = fingerprint("sha-a", ENV, {"memory": 1024})
    assert len({a, new_model, new_code, new_memory}) == 4
    assert assign_versions(path, {"aws/pred": new_model}) == {"aws/pred": 2}
    assert assign_versions(path, {"aws/pred": new_code, "gcp/pred": a}) == {"aws/pred": 3, "gcp/pred": 1}
    assert assign_versions(path, {"aws/pred": new_memory}) == {"aws/pred": 4}
    assert read_versions(path)["gcp/pred"] == [a], "a function not started keeps its history"


def test_going_back_to_an_old_config_is_a_new_number(tmp_path: Path) -> None:
    path = tmp_path / "versions.json"
    a, b = fingerprint("sha-a", ENV), fingerprint("sha-b", ENV)
    assert [assign_versions(path, {"aws/pred": fp})["aws/pred"] for fp in (a, b, b, a, a)] == [1, 2, 2, 3, 3]
    assert json.loads(path.read_text()) == {"aws/pred": [a, b, a]}


def test_emulator_addresses_and_env_order_do_not_count() -> None:
    base = fingerprint("sha", ENV)
    run2 = {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:41234", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5",
            "PORT": "8081", **dict(reversed(list(ENV.items())))}
    assert fingerprint("sha", run2) == base
    assert fingerprint("sha", {**ENV, "MODEL_POINTER_URI": "s3://b/endpoints/pred/live.json"}) != base


def test_a_missing_or_broken_file_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "versions.json"
    assert read_versions(path) == {}
    path.write_text("{not json")
    assert read_versions(path) == {}
    assert assign_versions(path, {"aws/pred": fingerprint("x", {})}) == {"aws/pred": 1}
    path.write_text(json.dumps(["a list"]))
    assert read_versions(path) == {}
