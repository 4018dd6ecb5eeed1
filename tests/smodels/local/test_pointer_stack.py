"""A local stack with a `refresh: pointer` endpoint on both clouds (the committed models/logreg, runtime pure): the
functions get MODEL_POINTER_URI, the model bucket exists, and writing the pointer object into each emulator is
delivered to that cloud's function (an S3 event to one Lambda worker, a Pub/Sub push to `/_refresh`).

The function side of the trigger (functions/aws.py, functions/gcp.py) is written separately: once it is there
each delivery must be answered with a 2xx; before, the function answers the event as a request it does not
understand, and the test only requires that the delivery reached it and was answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_servers import get_json

from functions.contract import MODEL_POINTER_URI, Pointer, pointer_key, published_key
from smodels.config import load_stack_config
from smodels.local.stack import LocalStack

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def _function_side_merged() -> bool:
    """True once the functions take the trigger (an S3 event on AWS, POST /_refresh on GCP)."""
    aws, gcp = (REPO / "functions" / "aws.py").read_text(), (REPO / "functions" / "gcp.py").read_text()
    return "aws:s3" in aws and "REFRESH_PATH" in gcp


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, list[str]]]:
    run = tmp_path_factory.mktemp("pointer") / "run"
    endpoints = {"pred": {"model": "models/logreg", "runtime": "pure", "memory": 256, "ttlSeconds": 60,
                          "refresh": "pointer"}}
    cfg = load_stack_config({"serverless-models:clouds": json.dumps(["aws", "gcp"]),
                             "serverless-models:endpoints": json.dumps(endpoints)}, REPO)
    lines: list[str] = []
    with LocalStack(cfg, stack="pointer", port=0, pool_size=2, run_dir=run, build_dir=REPO / ".build",
                    progress=lines.append, notify_interval=0.2) as s:
        yield s, lines


def test_functions_follow_the_local_pointer(served: tuple[LocalStack, list[str]]) -> None:
    stack, lines = served
    bucket = stack.bucket
    key = pointer_key("pred")
    assert stack.lambdas["pred"].env[MODEL_POINTER_URI] == f"s3://{bucket}/{key}"
    assert stack.gcp_functions["pred"].env[MODEL_POINTER_URI] == f"gs://{bucket}/{key}"
    for ep in stack.endpoints:
        status, meta = get_json(ep.url, timeout=60)  # GET: the endpoint's metadata (signed: the stack is private)
        assert status == 200, meta
        assert meta["model"]["name"]
        assert ep.as_output()["refresh"] == "pointer"
        assert ep.as_output()["pointer_uri"] == f"{'s3' if ep.cloud == 'aws' else 'gs'}://{bucket}/{key}"

    state = json.loads(stack.state_file.read_text())
    assert state["buckets"] == {"aws": bucket, "gcp": bucket}
    assert state["logs"] == str(stack.run_dir / "logs")
    for cloud in ("aws", "gcp"):
        entry = state["endpoints"][cloud]["pred"]
        assert entry["refresh"] == "pointer" and entry["pointer_uri"].endswith(f"{bucket}/{key}")
        assert isinstance(entry["version"], int) and entry["version"] >= 1
    header, *rows = stack.table().splitlines()
    assert header.split()[-1] == "REFRESH" and all(row.split()[-1] == "pointer" for row in rows)
    assert stack.notifier is not None and stack.notifier.deliveries == []
    assert any(line.startswith(f"  watching aws pred: {bucket}/{key}") for line in lines), lines


def test_a_published_pointer_reaches_each_cloud_once(served: tuple[LocalStack, list[str]]) -> None:
    stack, lines = served
    assert stack.s3 is not None and stack.gcs is not None and stack.notifier is not None
    key = pointer_key("pred")
    for n, (cloud, emulator) in enumerate((("aws", stack.s3), ("gcp", stack.gcs)), start=1):
        build = stack.builds[(cloud, "pred")]
        model: Any = build.model
        published = published_key("pred", model.sha256, model.format)
        scheme = "s3" if cloud == "aws" else "gs"
        # What `smodels publish --local` does: the artifact under its content address, then the pointer.
        emulator.put(stack.bucket, published, Path(model.path))
        pointer = Pointer(f"{scheme}://{stack.bucket}/{published}", model.sha256, model.format, model.manifest.name,
                          published_at="2026-01-01T00:00:00Z")
        emulator.put_bytes(stack.bucket, key, pointer.to_json("pred"))
        found = stack.notifier.wait_for(n, 60)
        assert len(found) == n, f"no delivery to {cloud}"
        d = found[-1]
        assert (d.cloud, d.endpoint, d.key) == (cloud, "pred", key)
        assert d.status is not None, f"the {cloud} function did not answer the event: {d}"
        if _function_side_merged():
            assert d.ok, f"the {cloud} function refused the trigger: {d}"
    assert len(stack.notifier.deliveries) == 2, "one write per cloud: one delivery each"
    assert any(line.startswith(f"trigger: aws pred <- {key} (etag ") for line in lines), lines
    assert any(line.startswith(f"trigger: gcp pred <- {key} (generation ") for line in lines), lines
    log = (stack.run_dir / "logs" / "triggers.log").read_text()
    assert log.count("trigger: ") == 2


def test_refresh_takes_the_push_not_someone_the_front_lets_in(served: tuple[LocalStack, list[str]]) -> None:
    """Private: Cloud Run's front lets the deployer in (a project owner may invoke), but `/_refresh` itself wants
    the runtime account's token (issue 20 part 4); the push, its signature removed by the front, is taken."""
    from smodels import client

    stack, _ = served
    gcp = next(ep for ep in stack.endpoints if ep.cloud == "gcp")
    access = stack.client_access
    assert access is not None and gcp.runtime_account
    env = stack.gcp_functions["pred"].env
    assert (env["REFRESH_AUDIENCE"], env["REFRESH_SERVICE_ACCOUNT"], env["REFRESH_PLATFORM_VERIFIED"]) == (
        gcp.url.rstrip("/"), gcp.runtime_account, "1")
    envelope = json.dumps({"message": {"attributes": {}, "data": ""}, "subscription": "s"}).encode()
    refresh = gcp.url.rstrip("/") + "/_refresh"
    for email, status in ((access.deployer, 403), (gcp.runtime_account, 200)):
        token = client.mint_id_token(access, gcp.url.rstrip("/"), email)
        code, _, body = client.send("POST", refresh, envelope, {"Content-Type": "application/json",
                                                                "Authorization": f"Bearer {token}"}, timeout=60)
        assert code == status, body
        if status == 403:
            assert json.loads(body)["error"]["code"] == "forbidden"
