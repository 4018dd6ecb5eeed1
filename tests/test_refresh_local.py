"""End to end: `/_refresh` trusts only the push, on a public endpoint (issue 20 part 4's "a test says so").

A public local stack (no front checks anything, as with `allUsers` invoker) with a `refresh: pointer` endpoint on
GCP, `ttlSeconds` longer than the run, and a storage trigger that does not poll during the test: only a POST to
`/_refresh` can make the function re-read its pointer. A new model is published (`smodels publish --local`); then
every caller's attempt (no token, the deployer's token, a token signed by another key in the runtime account's name,
a token whose signature was "removed") is a JSON 403 `forbidden` and the function keeps serving v1. The push's own
token (the runtime account's, for the function's URL, signed by the stack's issuer, verified by the function against
the issuer's JWK set with the standard library) makes it switch to v2.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_servers import IRIS_ROW, iris_model, post_json

from smodels import client

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
STACK = "refreshtest"
ENVELOPE = json.dumps({"message": {"attributes": {"objectId": "endpoints/iris/live.json"}, "data": ""},
                       "subscription": "projects/local-project/subscriptions/s"}).encode()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack

    root = tmp_path_factory.mktemp("refresh")
    (root / "functions").symlink_to(REPO / "functions")
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    v1, v2 = (iris_model(root, f"iris-v{i}", c) for i, c in ((1, 1.0), (2, 0.05)))
    endpoints = {"iris": {"model": str(v1.relative_to(root)), "runtime": "pure", "memory": 256, "ttlSeconds": 3600,
                          "refresh": "pointer"}}
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": ["gcp"], "serverless-models:public": True,
        "serverless-models:endpoints": endpoints}}))
    # notify_interval: the trigger must not deliver by itself during the test (only the POSTs below may).
    with LocalStack(stack_config_for(root, STACK), stack=STACK, port=0, notify_interval=3600) as stack:
        yield {"root": root, "stack": stack, "v2": v2}


def _refresh(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    status, _, body = client.send("POST", url.rstrip("/") + "/_refresh", ENVELOPE,
                                  {"Content-Type": "application/json", **headers}, timeout=60)
    return status, json.loads(body)


def _version(url: str) -> str:
    status, body = post_json(url, IRIS_ROW, timeout=60)
    assert status == 200, body
    return body["model"]["version"]


def test_only_the_push_makes_a_public_function_re_read_its_pointer(project: dict[str, Any]) -> None:
    from smodels.cli import main as smodels_main
    from smodels.local.access import LocalIssuer

    stack = project["stack"]
    (ep,) = stack.endpoints
    v1 = stack.builds[("gcp", "iris")].model.sha256
    assert _version(ep.url) == v1
    assert smodels_main(["publish", "iris", str(project["v2"]), "--stack", STACK, "--local",
                         "--project-dir", str(project["root"])]) == 0
    access, audience = stack.access.client_access(), ep.url.rstrip("/")
    other = LocalIssuer()
    try:
        forged = client.mint_id_token(dataclasses.replace(access, private_key_pem=other.private_key_pem), audience,
                                      ep.runtime_account)
    finally:
        other.stop()
    head, payload, _ = client.mint_id_token(access, audience, ep.runtime_account).split(".")
    attempts = {
        "no token": ({}, "no `Authorization"),
        "the deployer's token": ({"Authorization": f"Bearer {client.mint_id_token(access, audience)}"}, "email"),
        "another key": ({"Authorization": f"Bearer {forged}"}, "bad signature"),
        "a removed signature": ({"Authorization": f"Bearer {head}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"},
                                "signature was removed"),
        "another audience": ({"Authorization": "Bearer " + client.mint_id_token(access, audience + "/other",
                                                                                ep.runtime_account)}, "audience"),
    }
    for what, (headers, why) in attempts.items():
        status, body = _refresh(ep.url, headers)
        assert status == 403 and body["error"]["code"] == "forbidden" and why in body["error"]["message"], (what, body)
        assert _version(ep.url) == v1, f"{what} made the function re-read its pointer"
    push = client.mint_id_token(access, audience, ep.runtime_account)
    status, body = _refresh(ep.url, {"Authorization": f"Bearer {push}"})
    assert status == 200, body
    v2 = _version(ep.url)
    assert v2 != v1 and body["model"]["version"] == v2
