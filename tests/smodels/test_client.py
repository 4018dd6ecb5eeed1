"""`smodels.client`: stack outputs without secrets, signing per cloud, and plain sending (127.0.0.1 only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import http_server

from smodels import client
from smodels.client import ClientError

OUTPUTS = {
    "endpoints": {"aws": {"pred": {"url": "https://abc.execute-api.eu-west-1.amazonaws.com/pred", "auth": "aws_iam"}}},
    "private": True,
    "publisher": {"access_key_id": "[secret]", "secret_access_key": "[secret]"},
}


def _fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, code: int = 0) -> Path:
    """A `pulumi` on PATH that records its arguments and working directory, then prints `stdout`."""
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    (tmp_path / "stdout").write_text(stdout)
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\npwd > {tmp_path}/cwd\n'
                    f'cat {tmp_path}/stdout\nexit {code}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    return tmp_path


def test_outputs_are_read_without_show_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither command needs a secret output, so pulumi is never asked to print one in plaintext."""
    rec = _fake_pulumi(tmp_path, monkeypatch, json.dumps(OUTPUTS))
    project = tmp_path / "project"
    project.mkdir()
    assert client.read_outputs(None, "prod", cwd=project) == OUTPUTS
    assert (rec / "args").read_text().split() == ["stack", "output", "--json", "--stack", "prod"]
    assert (rec / "cwd").read_text().strip() == str(project)
    client.read_outputs(None, None)
    assert (rec / "args").read_text().split() == ["stack", "output", "--json"], "no --stack: the selected stack"


@pytest.mark.parametrize(
    ("stdout", "code", "message"),
    [
        ("error: no stack named 'prod' found", 255, "`stack output --json --stack prod` failed: error: no stack"),
        ("not json", 0, "did not print JSON"),
        (json.dumps({"buckets": {}}), 0, "have no `endpoints`"),
    ],
)
def test_pulumi_problems_are_client_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, code: int, message: str
) -> None:
    _fake_pulumi(tmp_path, monkeypatch, stdout, code)
    with pytest.raises(ClientError, match=message):
        client.read_outputs(None, "prod")


def test_outputs_file(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    assert client.read_outputs(path, "ignored") == OUTPUTS
    path.write_text("{")
    with pytest.raises(ClientError, match="is not JSON"):
        client.read_outputs(str(path), None)
    assert isinstance(ClientError("x"), ValueError), "`smodels smoke` reports ValueErrors as usage errors"


def test_private_is_the_endpoints_auth_else_the_stacks() -> None:
    assert client.is_private({"private": False}, {"auth": "aws_iam"}) is True
    assert client.is_private({"private": True}, {"auth": "none"}) is False
    assert client.is_private({"private": False}, {}) is False
    assert client.is_private({}, {}) is True, "an output without either is treated as private"


def test_sign_per_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    audiences: list[str] = []
    monkeypatch.setattr(client, "token_fetcher", lambda aud: audiences.append(aud) or "fetched")
    base = {"Content-Type": "application/json"}

    aws = client.sign("aws", "POST", OUTPUTS["endpoints"]["aws"]["pred"]["url"], b"{}", base)
    assert aws["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in aws["Authorization"] and "X-Amz-Date" in aws
    with pytest.raises(ClientError, match=r"cannot tell the AWS region from http://127\.0\.0\.1:9/pred"):
        client.sign("aws", "POST", "http://127.0.0.1:9/pred", b"{}", base)
    assert client.sign("aws", "GET", "http://127.0.0.1:9/pred", b"", base, region="eu-west-2")["Authorization"]

    assert client.sign("gcp", "POST", "https://f.a.run.app", b"{}", base)["Authorization"] == "Bearer fetched"
    assert client.sign("gcp", "POST", "https://g.a.run.app", b"{}", base, token="given")["Authorization"] == (
        "Bearer given")
    assert audiences == ["https://f.a.run.app"], "the audience is the function URL; a given token is not re-fetched"
    assert base == {"Content-Type": "application/json"}, "the caller's headers are not modified"


class _Answer(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 400 if body == b"bad" else 200
        data = json.dumps({"got": body.decode(), "auth": self.headers.get("Authorization")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Seen", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    with http_server(_Answer) as url:
        yield url


def test_send_returns_errors_instead_of_raising(server: str) -> None:
    status, headers, body = client.send("POST", f"{server}/x", b"ok", {"Authorization": "Bearer t"})
    assert status == 200 and headers["x-seen"] == "yes"
    assert json.loads(body) == {"got": "ok", "auth": "Bearer t"}
    status, _, body = client.send("POST", f"{server}/x", b"bad", {}, timeout=5)
    assert status == 400 and json.loads(body)["got"] == "bad"


def test_sigv4_at_a_given_time_and_local_stacks_take_precedence() -> None:
    """`sigv4_headers(now=...)` dates the signature (stale signatures for tests); a registered local stack's URL is
    signed with its own key pair whatever the machine's AWS credentials."""
    import datetime as dt

    at = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    headers = client.sigv4_headers("POST", "http://127.0.0.1:9/pred", b"{}", {}, access_key_id="AKIDLOCAL",
                                   secret_access_key="s", region="us-east-1", now=at)
    assert headers["X-Amz-Date"] == "20200102T030405Z"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20200102/us-east-1/"
                                               "execute-api/aws4_request, SignedHeaders=host;x-amz-date, ")
    access = client.LocalAccess(stack="t", private=True, region="eu-central-1", access_key_id="AKIDSTACK",
                                secret_access_key="x", issuer="http://i", certs_url="http://i/c", key_id="k",
                                private_key_pem="", deployer="d@smodels.local", aws_url="http://127.0.0.1:9")
    client.register_local(access)
    try:
        signed = client.sign("aws", "POST", "http://127.0.0.1:9/pred", b"{}", {})
        assert "Credential=AKIDSTACK/" in signed["Authorization"] and "/eu-central-1/" in signed["Authorization"]
        assert client.use_local_outputs({"endpoints": {}}) is None, "a deployed stack's outputs name no access"
    finally:
        client.unregister_local(access)
    assert client.local_access_for("http://127.0.0.1:9/pred") is None
