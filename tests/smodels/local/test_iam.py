"""moto enforces the program's own IAM policies (smodels/local/iam.py), against one real moto server.

The documents created in moto are `infra.policies`' (the builders infra/aws.py uses), with the local bucket's ARN;
each function reads with its role's session credentials, the publisher writes with its key: a function reading
another endpoint's model, a function writing, the publisher writing outside its prefixes or reading a model ->
AccessDenied; the old fake key pair -> InvalidAccessKeyId; a missing object under an allowed prefix -> moto's
404 NoSuchKey (AWS says 403 without s3:ListBucket; the readers take both).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_access import outcome, s3_as

from functions.contract import pointer_key, published_key
from infra import policies
from smodels import local_state
from smodels.local.emulators import S3Emulator
from smodels.local.iam import DEPLOYER_USER, AwsCredentials, IamGrants, plan_iam, setup_iam

BUCKET = "iam-test-models"
REGION = "us-east-1"
PRED_KEY, PREDICT_KEY = "models/games-logreg/" + "a" * 64 + ".onnx", "models/games-keras/" + "b" * 64 + ".onnx"


def _plan(functions: list[tuple[str, str, str, list[str], bool]] | None = None) -> Any:
    return plan_iam(account_id="000000000000", region=REGION, bucket=BUCKET, pointer_endpoints=["pred"],
                    functions=functions if functions is not None else [
                        ("pred", "sm-t-pred", "sm-t-pred-logs", [PRED_KEY], True),
                        ("predict", "sm-t-predict", "sm-t-predict-logs", [PREDICT_KEY], False)])


def test_the_plan_is_the_programs_documents_for_the_local_bucket() -> None:
    plan = _plan()
    pred = next(r for r in plan.functions if r.endpoint == "pred")
    arn = "arn:aws:s3:::iam-test-models"
    assert pred.policy == policies.function_policy(
        "arn:aws:logs:us-east-1:000000000000:log-group:sm-t-pred-logs", arn, ["models/games-logreg/"], "pred")
    assert {s["Sid"]: s["Resource"] for s in pred.policy["Statement"]} == {
        "WriteOwnLogs": ["arn:aws:logs:us-east-1:000000000000:log-group:sm-t-pred-logs:*"],
        "ReadOwnModel": [f"{arn}/models/games-logreg/*"], "ReadOwnPublished": [f"{arn}/endpoints/pred/*"]}
    assert plan.publisher == policies.publisher_policy(arn, ("pred",))
    assert pred.role_name == "sm-t-pred-role"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[S3Emulator, IamGrants]]:
    """One moto server with the plan's identities, checks on, and both models uploaded by the deployer."""
    emu = S3Emulator(tmp_path_factory.mktemp("moto"), region=REGION).start()
    try:
        grants = setup_iam(emu.url, _plan())
        emu.credentials = grants.deployer.boto3_kwargs()
        emu.ensure_bucket(BUCKET)
        for key in (PRED_KEY, PREDICT_KEY):
            emu.put_bytes(BUCKET, key, b"model bytes", "application/octet-stream")
        yield emu, grants
    finally:
        emu.stop()


@pytest.mark.slow  # one moto server
class TestEnforced:
    @staticmethod
    def _s3(emu: S3Emulator, creds: AwsCredentials | dict[str, str]) -> Any:
        return s3_as(emu.url, REGION, creds.boto3_kwargs() if isinstance(creds, AwsCredentials) else creds)

    _code = staticmethod(outcome)

    def test_a_function_reads_its_own_model_and_nothing_else(self, moto: tuple[S3Emulator, IamGrants]) -> None:
        emu, grants = moto
        pred = self._s3(emu, grants.functions["pred"])
        assert grants.functions["pred"].session_token and grants.functions["pred"].access_key_id.startswith("ASIA")
        assert self._code(lambda: pred.get_object(Bucket=BUCKET, Key=PRED_KEY)) == "ok"
        assert self._code(lambda: pred.head_object(Bucket=BUCKET, Key=PRED_KEY)) == "ok"
        assert self._code(lambda: pred.get_object(Bucket=BUCKET, Key=PREDICT_KEY)) == "AccessDenied"
        assert self._code(lambda: pred.put_object(Bucket=BUCKET, Key=PRED_KEY, Body=b"x")) == "AccessDenied"
        # Its pointer, not yet published: moto says NoSuchKey where AWS says AccessDenied (no s3:ListBucket).
        assert self._code(lambda: pred.get_object(Bucket=BUCKET, Key=pointer_key("pred"))) == "NoSuchKey"
        predict = self._s3(emu, grants.functions["predict"])
        assert self._code(lambda: predict.get_object(Bucket=BUCKET, Key=pointer_key("pred"))) == "AccessDenied"
        assert grants.roles["pred"] == "arn:aws:iam::000000000000:role/sm-t-pred-role"

    def test_the_publisher_writes_only_its_prefixes(self, moto: tuple[S3Emulator, IamGrants]) -> None:
        emu, grants = moto
        pub = self._s3(emu, grants.publisher)
        put = lambda key: self._code(lambda: pub.put_object(Bucket=BUCKET, Key=key, Body=b"{}"))  # noqa: E731
        assert put(published_key("pred", "c" * 64, "onnx")) == "ok"
        assert put(pointer_key("pred")) == "ok"
        assert put("models/retrained/" + "d" * 64 + ".onnx") == "ok"
        assert put(pointer_key("predict")) == "AccessDenied"  # predict does not follow a pointer
        assert put("lambda/pred/x.zip") == "AccessDenied"
        assert self._code(lambda: pub.get_object(Bucket=BUCKET, Key=pointer_key("pred"))) == "ok"
        assert self._code(lambda: pub.get_object(Bucket=BUCKET, Key=PRED_KEY)) == "AccessDenied"

    def test_only_identities_created_in_moto_pass(self, moto: tuple[S3Emulator, IamGrants]) -> None:
        emu, grants = moto
        fake = self._s3(emu, local_state.FAKE_CREDENTIALS)
        assert self._code(lambda: fake.get_object(Bucket=BUCKET, Key=PRED_KEY)) == "InvalidAccessKeyId"
        forged = AwsCredentials(grants.publisher.access_key_id, "x" * 40)
        assert self._code(lambda: self._s3(emu, forged).get_object(Bucket=BUCKET, Key=pointer_key("pred"))) == \
            "SignatureDoesNotMatch"
        assert self._code(lambda: self._s3(emu, grants.deployer).get_object(Bucket=BUCKET, Key=PREDICT_KEY)) == "ok"

    def test_the_iam_file_is_private_and_read_back(self, moto: tuple[S3Emulator, IamGrants], tmp_path: Path) -> None:
        _, grants = moto
        path = local_state.iam_path(tmp_path)
        grants.write(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert local_state.aws_credentials(path, "publisher") == grants.publisher.boto3_kwargs()
        assert json.loads(path.read_text())["policies"]["pred"] == grants.policies["pred"]
        assert grants.summary()["deployer"]["user"] == DEPLOYER_USER and "secret" not in json.dumps(grants.summary())
        with pytest.raises(ValueError, match="missing"):
            local_state.aws_credentials(tmp_path / "none.json", "publisher")
