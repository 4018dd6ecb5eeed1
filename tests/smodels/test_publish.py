"""`smodels publish` without a running stack: what it refuses (each message naming the setting or flag), and the
cloud path against S3 (moto): the artifact under its sha256 key first, then the pointer, the pointer's previous
version reported, and a dry run writing nothing. The local path, under load, is tests/test_publish_local.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.contract import pointer_key, published_key, read_pointer
from smodels import publish
from smodels.cli import main as smodels_main

REPO = Path(__file__).resolve().parents[2]
STACK = "pub"


def _project(tmp_path: Path, refresh: str = "pointer", clouds: list[str] | None = None) -> Path:
    (tmp_path / "functions").symlink_to(REPO / "functions")
    (tmp_path / "models").symlink_to(REPO / "models")
    (tmp_path / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    endpoints: dict[str, Any] = {"echo": {}, "pred": {"model": "models/logreg", "runtime": "pure",
                                                      "ttlSeconds": 60, "refresh": refresh}}
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": clouds or ["aws"], "serverless-models:endpoints": endpoints}}))
    return tmp_path


def _args(project: Path, endpoint: str = "pred", model: str = "models/logreg", **over: Any) -> argparse.Namespace:
    base = {"endpoint": endpoint, "model_dir": str(project / model), "stack": STACK, "cloud": None, "local": False,
            "outputs": None, "project_dir": str(project), "dry_run": False, "json": False}
    return argparse.Namespace(**{**base, **over})


@pytest.mark.parametrize(("case", "needle"), [
    ("redeploy", "serverless-models:endpoints.pred.refresh is redeploy"),
    ("echo", "serverless-models:endpoints.echo: echo is an echo endpoint"),
    ("unknown", "no endpoint 'nope'"),
    ("cloud", "--cloud gcp: endpoint pred is not deployed there"),
])
def test_refusals_name_the_setting(tmp_path: Path, case: str, needle: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, refresh="redeploy" if case == "redeploy" else "pointer")
    argv = ["publish", {"echo": "echo", "unknown": "nope"}.get(case, "pred"), str(project / "models/logreg"),
            "--stack", STACK, "--project-dir", str(project)] + (["--cloud", "gcp"] if case == "cloud" else [])
    assert smodels_main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_a_model_with_another_schema_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path)
    from smodels.config import stack_config_for

    cfg = stack_config_for(project, STACK)
    ep = next(e for e in cfg.endpoints if e.name == "pred")
    from local_servers import iris_model

    (tmp_path / "other").mkdir()
    iris = iris_model(tmp_path / "other", "iris", 1.0)
    with pytest.raises(publish.PublishError, match=r"does not take the deployed model .* \(its task, classes"):
        publish.prepare(cfg, ep, "aws", iris, tmp_path / ".build")
    # The book's Keras model takes the same schema: it is published as the pure program the package serves.
    keras = publish.prepare(cfg, ep, "aws", REPO / "models" / "keras", tmp_path / ".build")
    assert keras.format == "pure" and keras.summary["framework"] == "keras"


def test_missing_local_stack_says_how_to_start_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path)
    assert smodels_main(["publish", "pred", str(project / "models/logreg"), "--stack", STACK, "--local",
                         "--project-dir", str(project)]) == 1
    assert "smodels serve --stack pub" in capsys.readouterr().err


def test_cloud_publish_writes_the_artifact_then_the_pointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from moto import mock_aws

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    project = _project(tmp_path)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"buckets": {"aws": {"models": "models-bucket"}}, "endpoints": {}}))
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models-bucket")
        dry = publish.run(_args(project, outputs=str(outputs), dry_run=True))
        assert dry[0]["dry_run"] and "Contents" not in s3.list_objects_v2(Bucket="models-bucket")
        writes: list[str] = []
        real_put = publish.S3Bucket.put

        def recording_put(self: Any, key: str, *a: Any, **kw: Any) -> None:
            writes.append(key)
            real_put(self, key, *a, **kw)

        monkeypatch.setattr(publish.S3Bucket, "put", recording_put)
        assert smodels_main(["publish", "pred", str(project / "models/logreg"), "--stack", STACK,
                             "--outputs", str(outputs), "--project-dir", str(project), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)[0]
        sha = result["sha256"]
        assert writes == [published_key("pred", sha, "pure"), pointer_key("pred")]  # the pointer last
        assert result["previous_sha256"] is None and result["changed"]
        body = s3.get_object(Bucket="models-bucket", Key=pointer_key("pred"))["Body"].read()
        pointer = read_pointer(body, f"s3://models-bucket/{pointer_key('pred')}", "pred")
        assert pointer.sha256 == sha and pointer.format == "pure" and pointer.name == "games-logreg"
        assert pointer.summary["task"] == "binary-classification"
        import hashlib

        art = s3.get_object(Bucket="models-bucket", Key=published_key("pred", sha, "pure"))["Body"].read()
        assert hashlib.sha256(art).hexdigest() == sha
        again = publish.run(_args(project, outputs=str(outputs)))
        assert again[0]["previous_sha256"] == sha and not again[0]["changed"]
