"""`smodels smoke`: the checks catch wrong answers (fake sender), and `smoke --local` passes on the dev stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smodels.manifest import load_manifest
from smodels.smoke import Smoke, SmokeTarget, book_request, targets_from_outputs

REPO = Path(__file__).resolve().parents[2]
PROJECT = Path(os.environ.get("SMODELS_E2E_PROJECT", REPO))
STACK = os.environ.get("SMODELS_E2E_STACK", "dev")


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(REPO / "models" / "logreg")


class FakeModel:
    """Answers like functions/app.py would, with a configurable mistake."""

    def __init__(self, manifest, *, offset: float = 0.0, version: str | None = None, bad_status: int = 400):
        self.m = manifest
        self.offset = offset
        self.version = version or manifest.sha256
        self.bad_status = bad_status
        self.calls: list[tuple[str, bytes | None]] = []

    def _predict(self, row: dict) -> float:
        key = [float(row[n]) for n in self.m.feature_names]
        for s in self.m.samples:
            if [float(s.input[n]) for n in self.m.feature_names] == key:
                return s.output + self.offset
        raise AssertionError(f"unexpected row {row}")

    def __call__(self, method: str, url: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        self.calls.append((method, body))
        model = {"name": self.m.name, "version": self.version}
        if method == "GET":
            return 200, {}, json.dumps({"success": True, "model": model}).encode()
        try:
            payload = json.loads(body or b"")
        except ValueError:
            err = {"success": False, "error": {"code": "invalid_json", "message": "bad", "field": None}}
            return self.bad_status, {}, json.dumps(err).encode()
        if "instances" in payload:
            preds = [self._predict(r) for r in payload["instances"]]
            return 200, {}, json.dumps({"success": True, "predictions": preds, "model": model}).encode()
        assert all(isinstance(v, str) for v in payload.values()), "the book sends strings"
        p = self._predict(payload)
        return 200, {}, json.dumps({"success": True, "response": str(p), "prediction": p, "model": model}).encode()


def _target(manifest) -> SmokeTarget:
    return SmokeTarget("aws", "pred", "model", "http://x/pred", manifest.sha256, manifest)


def test_book_request_is_the_books_row_as_strings(manifest) -> None:
    payload, expected = book_request(manifest)
    assert payload == {"G1": "1", **{f"G{i}": "0" for i in range(2, 11)}}
    assert abs(expected - 0.06745113592634559) < 1e-12


def test_a_correct_endpoint_passes(manifest) -> None:
    fake = FakeModel(manifest)
    report = Smoke(fake).run([_target(manifest)])
    assert report["ok"] is True
    checks = {c["check"]: c["ok"] for c in report["endpoints"][0]["checks"]}
    assert checks == {"metadata": True, "book-request": True, "batch": True, "bad-request": True}
    assert [m for m, _ in fake.calls] == ["GET", "POST", "POST", "POST"]


@pytest.mark.parametrize(
    ("mistake", "failing"),
    [
        ({"offset": 2e-6}, {"book-request", "batch"}),
        ({"version": "0" * 64}, {"metadata"}),
        ({"bad_status": 500}, {"bad-request"}),
    ],
)
def test_a_wrong_endpoint_fails(manifest, mistake: dict, failing: set) -> None:
    report = Smoke(FakeModel(manifest, **mistake)).run([_target(manifest)])
    assert report["ok"] is False and report["summary"]["failed"] == ["aws/pred"]
    failed = {c["check"] for c in report["endpoints"][0]["checks"] if not c["ok"]}
    assert failed == failing


def test_unreachable_endpoint_fails_without_raising(manifest) -> None:
    def down(*args: object) -> tuple[int, dict, bytes]:
        raise ConnectionRefusedError("connection refused")

    report = Smoke(down).run([_target(manifest)])
    assert report["ok"] is False
    assert all("connection refused" in c["detail"] for c in report["endpoints"][0]["checks"])


def test_targets_from_outputs_validates_shape(manifest) -> None:
    from smodels.config import load_stack_config

    cfg = load_stack_config({"serverless-models:endpoints": json.dumps({"echo": {}, "pred": {
        "model": "models/logreg"}})}, REPO)
    outputs = {"endpoints": {"aws": {"pred": {"url": "https://a/pred", "model_sha256": "ab"}},
                             "gcp": {"echo": {"url": "https://b"}}}}
    targets = targets_from_outputs(outputs, cfg)
    assert [(t.cloud, t.name, t.kind, t.model_sha256) for t in targets] == [
        ("aws", "pred", "model", "ab"), ("gcp", "echo", "echo", None)]
    assert targets[0].manifest.name == manifest.name
    for bad, message in (
        ({}, "no 'endpoints'"),
        ({"endpoints": {"aws": {"pred": {"uri": "x"}}}}, "endpoints.aws.pred: expected an object with a url"),
        ({"endpoints": {"aws": {"nope": {"url": "x"}}}}, "not an endpoint of the stack config"),
    ):
        with pytest.raises(ValueError, match=message):
            targets_from_outputs(bad, cfg)


@pytest.mark.slow
def test_smoke_local_passes_on_both_clouds(tmp_path: Path) -> None:
    from smodels.config import stack_config_for

    cfg = stack_config_for(PROJECT, STACK)
    report_file = tmp_path / "report.json"
    out = subprocess.run(
        [sys.executable, "-m", "smodels.cli", "smoke", "--local", "--stack", STACK, "--project-dir", str(PROJECT),
         "--report", str(report_file)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    report = json.loads(out.stdout)
    assert report == json.loads(report_file.read_text())
    seen = {(e["cloud"], e["endpoint"]) for e in report["endpoints"]}
    assert seen == {(c, e.name) for c in cfg.clouds for e in cfg.endpoints_for(c)}
    assert {c for c, _ in seen} == {"aws", "gcp"}
    for ep in report["endpoints"]:
        assert ep["ok"] and ep["checks"], ep
        names = {c["check"] for c in ep["checks"]}
        assert names == ({"echo", "bad-request"} if ep["kind"] == "echo" else
                         {"metadata", "book-request", "batch", "bad-request"}), ep


def test_private_targets_are_signed(monkeypatch: pytest.MonkeyPatch, manifest) -> None:
    from smodels import client
    from smodels.smoke import signing_sender

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(client, "token_fetcher", lambda audience: f"token-for-{audience}")
    seen: dict[str, dict] = {}

    def record(method: str, url: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        seen[url] = headers
        return 200, {}, b"{}"

    targets = [
        SmokeTarget("aws", "pred", "model", "https://abc.execute-api.eu-west-1.amazonaws.com/pred", private=True),
        SmokeTarget("gcp", "pred", "model", "https://pred-xyz.a.run.app", private=True),
        SmokeTarget("gcp", "echo", "echo", "https://echo-xyz.a.run.app", private=False),
    ]
    send = signing_sender(targets, record)
    for t in targets:
        send("POST", t.url, b"{}", {"Content-Type": "application/json"})
    aws = seen[targets[0].url]
    assert aws["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in aws["Authorization"]
    assert seen[targets[1].url]["Authorization"] == "Bearer token-for-https://pred-xyz.a.run.app"
    assert "Authorization" not in seen[targets[2].url]


def test_deployed_stack_outputs_are_read_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`smoke --stack NAME` asks pulumi for the outputs without --show-secrets, like `invoke` (one client)."""
    from smodels.cli import main

    outputs = {"endpoints": {"aws": {"echo": {"url": "http://127.0.0.1:9/echo", "auth": "none"}}},
               "publisher": "[secret]"}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {tmp_path}/outputs.json\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    assert main(["smoke", "--stack", STACK, "--project-dir", str(PROJECT)]) == 1, "nothing listens on port 9"
    assert (tmp_path / "args").read_text().split() == ["stack", "output", "--json", "--stack", STACK]
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == {"local": False, "stack": STACK, "private": []}
    assert [c["check"] for c in report["endpoints"][0]["checks"]] == ["echo", "bad-request"]
    assert all("request failed" in c["detail"] for c in report["endpoints"][0]["checks"])


def test_local_private_targets_are_signed_for_the_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`smoke --local`: a private local stack's targets are signed with its own access, never a cloud token."""
    from smodels import client
    from smodels.smoke import signing_sender

    def no_cloud_token(audience: str) -> str:
        raise AssertionError("a local stack's request asked for a Google token")

    monkeypatch.setattr(client, "token_fetcher", no_cloud_token)
    from smodels.local.access import LocalIssuer

    issuer = LocalIssuer()
    access = client.LocalAccess(
        stack="t", private=True, region="us-east-1", access_key_id="AKIA" + "A" * 16, secret_access_key="s" * 40,
        issuer=issuer.url, certs_url=issuer.certs_url, key_id=issuer.key_id, private_key_pem=issuer.private_key_pem,
        deployer="deployer@smodels.local", aws_url="http://127.0.0.1:9",
        gcp=(client.LocalGcpEndpoint("pred", "http://127.0.0.1:10/", "sa@local-project.iam.gserviceaccount.com"),))
    issuer.stop()
    seen: dict[str, dict] = {}

    def record(method: str, url: str, body: bytes | None, headers: dict) -> tuple[int, dict, bytes]:
        seen[url] = headers
        return 200, {}, b"{}"

    targets = [SmokeTarget("aws", "pred", "model", "http://127.0.0.1:9/pred", private=True),
               SmokeTarget("gcp", "pred", "model", "http://127.0.0.1:10/", private=True)]
    client.register_local(access)
    try:
        send = signing_sender(targets, record)
        for t in targets:
            send("POST", t.url, b"{}", {"Content-Type": "application/json"})
    finally:
        client.unregister_local(access)
    assert seen["http://127.0.0.1:9/pred"]["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={access.access_key_id}/")
    assert "/us-east-1/execute-api/aws4_request" in seen["http://127.0.0.1:9/pred"]["Authorization"]
    assert seen["http://127.0.0.1:10/"]["Authorization"].startswith("Bearer ey")
