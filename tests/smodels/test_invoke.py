"""`smodels invoke` against a local HTTP server that checks what a private API Gateway / Cloud Run would check.

The AWS server recomputes the SigV4 signature with botocore from the request it received (fake, moto-style
credentials) and answers 403 when it does not match; the GCP server wants `Bearer <token>` from the fake token
function. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import http_server, send_json

from smodels import client, invoke
from smodels.cli import main

AKID, SECRET, REGION = "AKIAIOSFODNN7EXAMPLE", "testing-secret", "eu-west-2"
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/execute-api/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def _expected_signature(method: str, url: str, headers: dict[str, str], body: bytes, signed: list[str]) -> str:
    """What API Gateway computes: SigV4 over the signed headers of the received request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed})
    req.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials(AKID, SECRET), "execute-api", REGION)
    canonical = auth.canonical_request(req)
    return auth.signature(auth.string_to_sign(req, canonical), req)


class Recorder(BaseHTTPRequestHandler):
    """Checks auth like the cloud would, records the request, answers JSON."""

    seen: list[dict[str, Any]] = []
    mode = "aws"

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = f"http://{headers['host']}{self.path}"
        record = {"method": self.command, "path": self.path, "headers": headers, "body": body}
        Recorder.seen.append(record)
        status, payload = 200, {"prediction": 0.0674511359263456}
        if self.path.endswith("/broken"):
            status, payload = 500, {"error": {"code": "internal", "message": "boom"}}
        if Recorder.mode == "aws":
            m = AUTH_RE.match(headers.get("authorization", ""))
            if not m:
                status, payload = 403, {"message": "Missing Authentication Token"}
            else:
                signed = m["signed"].split(";")
                expected = _expected_signature(self.command, url, headers, body, signed)
                record["auth"] = m.groupdict() | {"valid": m["sig"] == expected}
                if m["sig"] != expected or m["akid"] != AKID or m["region"] != REGION:
                    status, payload = 403, {"message": "The request signature we calculated does not match"}
        elif Recorder.mode == "gcp" and headers.get("authorization") != "Bearer fake-id-token":
            status, payload = 401, {"error": "unauthenticated"}
        send_json(self, status, payload)

    do_GET = _handle
    do_POST = _handle


@pytest.fixture
def server() -> Iterator[str]:
    """A local HTTP server on a free port; yields its base URL and stops it afterwards."""
    Recorder.seen = []
    with http_server(Recorder) as url:
        yield url


@pytest.fixture
def aws_creds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """moto-style fake credentials; no config file or profile from the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def _outputs(tmp_path: Path, base: str, private: bool = True) -> Path:
    data = {
        "endpoints": {
            "aws": {
                "pred": {"url": f"{base}/pred", "model_uri": "s3://b/models/m/x.onnx", "model_sha256": "x",
                         "method": "POST", "auth": "aws_iam" if private else "none"},
                "echo": {"url": f"{base}/echo", "model_uri": None, "auth": "aws_iam" if private else "none"},
                "broken": {"url": f"{base}/broken", "model_uri": None, "auth": "aws_iam" if private else "none"},
            },
            "gcp": {
                "pred": {"url": f"{base}/gcp-pred", "model_uri": "gs://b/models/m/x.onnx",
                         "auth": "google_id_token" if private else "none"},
            },
        },
        "buckets": {},
        "private": private,
    }  # fmt: skip
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    return path


def test_private_aws_post_is_sigv4_signed_with_the_book_request(
    server: str, tmp_path: Path, aws_creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    Recorder.mode = "aws"
    out = _outputs(tmp_path, server)
    code = main(["invoke", "pred", "--outputs", str(out), "--region", REGION])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    (req,) = Recorder.seen
    assert req["method"] == "POST" and req["path"] == "/pred"
    assert json.loads(req["body"]) == {"G1": 1, "G2": 0, "G3": 0, "G4": 0, "G5": 0, "G6": 0, "G7": 0, "G8": 0,
                                       "G9": 0, "G10": 0}  # fmt: skip
    assert req["auth"]["valid"] and req["auth"]["region"] == REGION
    assert {"host", "x-amz-date", "content-type"} <= set(req["auth"]["signed"].split(";"))
    assert "HTTP 200" in printed.out and '"prediction": 0.0674511359263456' in printed.out
    assert "SigV4" in printed.err


def test_tampered_body_fails_signature_check(server: str, aws_creds: None) -> None:
    """The server's check is real: a body changed after signing is refused."""
    import requests

    url = f"{server}/pred"
    headers, body = invoke.build_request("aws", url, "POST", {"G1": 1}, True, region=REGION)
    resp = requests.post(url, data=body.replace(b"1", b"0"), headers=headers, timeout=5)
    assert resp.status_code == 403
    resp = requests.post(url, data=body, headers=headers, timeout=5)
    assert resp.status_code == 200


def test_private_aws_get_and_echo_default(
    server: str, tmp_path: Path, aws_creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    Recorder.mode = "aws"
    out = _outputs(tmp_path, server)
    assert main(["invoke", "pred", "--outputs", str(out), "--method", "get", "--region", REGION]) == 0
    assert main(["invoke", "echo", "--outputs", str(out), "--region", REGION]) == 0
    get, echo = Recorder.seen
    assert get["method"] == "GET" and get["body"] == b"" and get["auth"]["valid"]
    assert json.loads(echo["body"]) == {"msg": "Hello from smodels invoke"} and echo["auth"]["valid"]


def test_server_error_exits_non_zero_and_prints_body(
    server: str, tmp_path: Path, aws_creds: None, capsys: pytest.CaptureFixture[str]
) -> None:
    Recorder.mode = "aws"
    out = _outputs(tmp_path, server)
    assert main(["invoke", "broken", "--outputs", str(out), "--region", REGION, "--data", '{"a": 1}']) == 1
    printed = capsys.readouterr().out
    assert "HTTP 500" in printed and '"code": "internal"' in printed


def test_private_gcp_sends_id_token_for_the_function_url(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Recorder.mode = "gcp"
    audiences: list[str] = []
    monkeypatch.setattr(client, "token_fetcher", lambda aud: audiences.append(aud) or "fake-id-token")
    out = _outputs(tmp_path, server)
    assert main(["invoke", "pred", "--cloud", "gcp", "--outputs", str(out), "--data", '{"G1": 1}']) == 0
    assert audiences == [f"{server}/gcp-pred"]
    (req,) = Recorder.seen
    assert req["headers"]["authorization"] == "Bearer fake-id-token" and json.loads(req["body"]) == {"G1": 1}


def test_gcp_wrong_token_is_a_401_exit_1(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Recorder.mode = "gcp"
    monkeypatch.setattr(client, "token_fetcher", lambda aud: "stale")
    out = _outputs(tmp_path, server)
    assert main(["invoke", "pred", "--cloud", "gcp", "--outputs", str(out)]) == 1


def test_gcp_without_credentials_suggests_gcloud_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud
    out = _outputs(tmp_path, "http://127.0.0.1:9")
    assert main(["invoke", "pred", "--cloud", "gcp", "--outputs", str(out)]) == 2
    err = capsys.readouterr().err
    assert "gcloud auth login" in err and "no Google ID token" in err


def test_public_endpoint_is_not_signed(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Recorder.mode = "public"
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    out = _outputs(tmp_path, server, private=False)
    assert main(["invoke", "pred", "--outputs", str(out)]) == 0
    assert main(["invoke", "pred", "--cloud", "gcp", "--outputs", str(out)]) == 0
    assert all("authorization" not in r["headers"] for r in Recorder.seen)


def test_region_parsed_from_api_gateway_url() -> None:
    assert client.region_from_url("https://abc123.execute-api.ap-southeast-2.amazonaws.com/pred") == "ap-southeast-2"
    assert client.region_from_url("http://127.0.0.1:8080/pred") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invoke", "nope"], "no endpoint 'nope'"),
        (["invoke", "pred", "--data", "{bad"], "--data is not JSON"),
        (["invoke", "echo", "--cloud", "gcp"], "no endpoint 'echo' on gcp"),
        (["invoke", "pred"], "cannot tell the AWS region from http://127.0.0.1:9/pred; pass --region"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _outputs(tmp_path, "http://127.0.0.1:9")
    assert main([*argv, "--outputs", str(out)]) == 2
    assert message in capsys.readouterr().err


def test_missing_outputs_and_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invoke", "pred", "--outputs", str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["invoke", "pred"]) == 2
    assert "pulumi CLI is not on PATH" in capsys.readouterr().err


def test_stack_outputs_read_through_pulumi_cli(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_creds: None
) -> None:
    """Without --outputs the command runs `pulumi stack output --json --stack NAME` (a stand-in script here)."""
    Recorder.mode = "aws"
    out = _outputs(tmp_path, server)
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {out}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    assert main(["invoke", "pred", "--stack", "prod", "--region", REGION]) == 0
    assert (tmp_path / "args").read_text().split() == ["stack", "output", "--json", "--stack", "prod"]
