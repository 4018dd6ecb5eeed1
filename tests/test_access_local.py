"""End to end: the local stack enforces the access the program deploys (issue 20, parts 1-2), on both clouds.

A real `LocalStack` (the packager's echo builds, awslambdaric behind the API Gateway front, functions-framework
behind its Cloud Run front), private as by default, with one GCP invoker: unsigned -> refused as the cloud refuses;
a signature for another body, another key pair, a stale signature -> refused (AWS); a token of another key, an
expired one, one for an identity that may not invoke -> refused (GCP); signed -> 200, by `smodels.client`, by
`smodels invoke --outputs <state file>`, and by hand with curl as the README shows (`--aws-sigv4`, and a token
printed by `smodels local-token`). The same stack with `public: true` answers unsigned requests. Time decides
nothing: the stale signature is dated 10 minutes back, the expired token carries past timestamps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smodels import client
from smodels.config import load_stack_config

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
MSG = b'{"msg": "hello"}'
JSON = {"Content-Type": "application/json"}


def _stack(tmp: Path, public: bool) -> Any:
    from smodels.local.stack import LocalStack

    cfg = load_stack_config({"serverless-models:clouds": json.dumps(["aws", "gcp"]),
                             "serverless-models:public": json.dumps(public),
                             "serverless-models:invokers": json.dumps(["user:alice@example.com"]),
                             "serverless-models:endpoints": json.dumps({"echo": {}})}, REPO)
    return LocalStack(cfg, stack="access", port=0, pool_size=1, run_dir=tmp / "run", build_dir=REPO / ".build")


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with _stack(tmp_path_factory.mktemp("private"), public=False) as stack:
        yield stack


def _urls(stack: Any) -> dict[str, str]:
    return {ep.cloud: ep.url for ep in stack.endpoints}


def _send(url: str, headers: dict[str, str], body: bytes = MSG) -> tuple[int, Any]:
    status, _, data = client.send("POST", url, body, headers, timeout=60)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode()


def test_unsigned_requests_are_refused_as_the_clouds_refuse_them(private: Any) -> None:
    urls = _urls(private)
    assert _send(urls["aws"], JSON) == (403, {"message": "Forbidden"})
    status, page = _send(urls["gcp"], JSON)
    assert status == 403 and "Your client does not have permission to get URL <code>/</code>" in page
    state = json.loads(private.state_file.read_text())
    assert state["private"] is True and state["endpoints"]["gcp"]["echo"]["auth"] == "google_id_token"
    assert state["local"]["access_file"] == str(private.run_dir / "access.json")


def test_signed_requests_are_answered(private: Any) -> None:
    urls = _urls(private)
    for cloud, url in urls.items():
        headers = client.sign_for_local("POST", url, MSG, JSON)  # the stack registered itself in this process
        assert _send(url, headers) == (200, {"response": "hello", "success": True}), cloud


def test_aws_another_body_another_key_or_a_stale_signature_is_refused(private: Any) -> None:
    url = _urls(private)["aws"]
    access = private.client_access
    status, body = _send(url, client.sign_local(access, "POST", url, MSG, JSON), b'{"msg": "other"}')
    assert status == 403 and body["message"].startswith("The request signature we calculated does not match")
    key_id, secret = "AKIA" + "Z" * 16, "x" * 40
    stranger = dataclasses.replace(access, access_key_id=key_id, secret_access_key=secret)
    assert _send(url, client.sign_local(stranger, "POST", url, MSG, JSON)) == (
        403, {"message": "The security token included in the request is invalid."})
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    status, body = _send(url, client.sign_local(access, "POST", url, MSG, JSON, now=stale))
    assert status == 403 and body["message"].startswith("Signature expired: ")


def test_gcp_another_key_an_expired_token_or_an_identity_without_invoker_is_refused(private: Any) -> None:
    from smodels.local.access import LocalIssuer

    url = _urls(private)["gcp"]
    access = private.client_access
    other = LocalIssuer()
    try:
        forged = dataclasses.replace(access, private_key_pem=other.private_key_pem)
        assert _send(url, {**JSON, "Authorization": f"Bearer {client.mint_id_token(forged, url)}"})[0] == 401
    finally:
        other.stop()
    expired = client.mint_id_token(access, url, now=time.time() - 7200, lifetime_s=3600)
    assert _send(url, {**JSON, "Authorization": f"Bearer {expired}"})[0] == 401
    for email, status in (("eve@example.com", 403), ("alice@example.com", 200), (access.deployer, 200)):
        token = client.mint_id_token(access, url, email)
        assert _send(url, {**JSON, "Authorization": f"Bearer {token}"})[0] == status, email


def test_smodels_invoke_signs_for_the_state_file(private: Any) -> None:
    for cloud in ("aws", "gcp"):
        out = subprocess.run([sys.executable, "-m", "smodels.cli", "invoke", "echo", "--cloud", cloud,
                              "--outputs", str(private.state_file), "--data", '{"msg": "hello"}'],
                             cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "HTTP 200" in out.stdout and '"response": "hello"' in out.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_by_hand_as_the_readme_shows(private: Any) -> None:
    urls = _urls(private)
    smodels = [sys.executable, "-m", "smodels.cli"]
    state = ["--state-file", str(private.state_file)]

    def run(argv: list[str]) -> str:
        out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.strip()

    keys = run([*smodels, "local-token", "--cloud", "aws", *state])
    assert keys == f"{private.client_access.access_key_id}:{private.client_access.secret_access_key}"
    answer = run(["curl", "-s", "--aws-sigv4", f"aws:amz:{private.region}:execute-api",
                  "--user", keys, "-H", "Content-Type: application/json", "-d", MSG.decode(), urls["aws"]])
    assert json.loads(answer) == {"response": "hello", "success": True}
    token = run([*smodels, "local-token", "echo", *state])
    answer = run(["curl", "-s", "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
                  "-d", MSG.decode(), urls["gcp"]])
    assert json.loads(answer) == {"response": "hello", "success": True}


def test_public_stack_answers_unsigned(tmp_path: Path) -> None:
    with _stack(tmp_path, public=True) as stack:
        for cloud, url in _urls(stack).items():
            assert _send(url, JSON) == (200, {"response": "hello", "success": True}), cloud
        assert json.loads(stack.state_file.read_text())["private"] is False
        assert {ep.auth for ep in stack.endpoints} == {"none"}
