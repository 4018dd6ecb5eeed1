"""End to end: the local S3 enforces the program's own IAM policies (issue 20 part 3 and its must-show line).

One private `LocalStack` on AWS (awslambdaric workers behind the API Gateway front, moto with IAM checks on), three
`runtime: pure` endpoints: `iris` and `other` serve two different models, `stripped` serves iris's model under a
policy that lacks its model's prefix. The test edits only that policy: it wraps `infra.policies.function_policy`
(the builder infra/aws.py uses) for `stripped`; its package, environment and model are as for any endpoint. Then:

- `stripped` answers 503 model_unavailable and its log names AccessDenied (and tries again: still 503);
- `iris` answers 200; its role's credentials read `other`'s model -> AccessDenied, write anything -> AccessDenied;
- the publisher (`smodels publish --local`'s identity) writes `models/*`, but outside its prefixes -> AccessDenied;
- the fake key pair the stack used before -> InvalidAccessKeyId; the policies in moto are the program's documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_servers import IRIS_ROW, iris_model, post_json
from s3_access import outcome, s3_as

from infra import policies

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
STACK = "iamtest"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack

    root = tmp_path_factory.mktemp("iam")
    (root / "functions").symlink_to(REPO / "functions")
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    v1, v2 = (iris_model(root, f"iris-v{i}", c) for i, c in ((1, 1.0), (2, 0.05)))
    model = {"runtime": "pure", "memory": 256}
    endpoints = {"iris": {"model": str(v1.relative_to(root)), **model},
                 "other": {"model": str(v2.relative_to(root)), **model},
                 "stripped": {"model": str(v1.relative_to(root)), **model}}
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": ["aws"], "serverless-models:endpoints": endpoints}}))
    original = policies.function_policy

    def without_stripped_prefix(log_group: str, bucket: str, prefixes: Any, pointer_endpoint: Any = None) -> Any:
        """The program's document, less its model read for `stripped` only (its log group names the endpoint)."""
        return original(log_group, bucket, [] if log_group.endswith("-stripped") else prefixes, pointer_endpoint)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(policies, "function_policy", without_stripped_prefix)
        with LocalStack(stack_config_for(root, STACK), stack=STACK, port=0, pool_size=1) as running:
            mp.undo()
            yield running


def _urls(stack: Any) -> dict[str, str]:
    return {ep.name: ep.url for ep in stack.endpoints}


def _s3(stack: Any, creds: dict[str, str]) -> Any:
    return s3_as(stack.s3.url, stack.region, creds)


_code = outcome


def test_a_policy_without_its_model_prefix_is_503_and_logs_access_denied(stack: Any) -> None:
    urls = _urls(stack)
    for _ in range(2):  # a model that cannot be loaded is tried again on the next request
        status, body = post_json(urls["stripped"], IRIS_ROW, timeout=60)
        assert status == 503 and body["error"]["code"] == "model_unavailable", body
        assert "AccessDenied" in body["error"]["message"], body
    failed = [json.loads(line[line.index("{"):]) for path in stack.log_dir.glob("*stripped*.log")
              for line in path.read_text(errors="replace").splitlines() if '"model_load_failed"' in line]
    assert failed and all("AccessDenied" in json.dumps(f) for f in failed), failed
    # Only the policy differs: the same package and model as `iris`, which answers.
    status, body = post_json(urls["iris"], IRIS_ROW, timeout=60)
    assert status == 200 and body["model"]["version"] == stack.builds[("aws", "stripped")].model.sha256
    assert [s["Sid"] for s in stack.iam.policies["stripped"]["Statement"]] == ["WriteOwnLogs"]


def test_each_function_reads_only_its_own_model(stack: Any) -> None:
    iris, other = (stack.builds[("aws", e)].model.key for e in ("iris", "other"))
    assert iris.rsplit("/", 1)[0] != other.rsplit("/", 1)[0]
    s3 = _s3(stack, stack.iam.functions["iris"].boto3_kwargs())
    assert _code(lambda: s3.get_object(Bucket=stack.bucket, Key=iris)) == "ok"
    assert _code(lambda: s3.get_object(Bucket=stack.bucket, Key=other)) == "AccessDenied"
    assert _code(lambda: s3.put_object(Bucket=stack.bucket, Key=iris, Body=b"x")) == "AccessDenied"
    assert post_json(_urls(stack)["other"], IRIS_ROW, timeout=60)[0] == 200
    # The document in moto is the program's, for the local bucket and the log group the program names.
    from infra.names import stack_names

    log_group = stack_names("serverless-models", STACK).log_group("iris")
    assert stack.iam.policies["iris"] == policies.function_policy(
        f"arn:aws:logs:{stack.region}:000000000000:log-group:{log_group}", f"arn:aws:s3:::{stack.bucket}",
        [iris.rsplit("/", 1)[0] + "/"])


def test_the_publisher_writes_only_under_its_prefixes(stack: Any) -> None:
    from smodels import publish
    from smodels.buckets import BucketError

    state = json.loads(stack.state_file.read_text())
    assert state["iam"]["enforced"] and "secret" not in json.dumps(state["iam"])
    (bucket,) = publish.local_buckets(state, ["aws"]).values()
    bucket.put("models/retrained/" + "a" * 64 + ".pure.json", b"{}", "application/json", {})
    for key in ("endpoints/iris/live.json", "lambda/iris/code.zip", "other/thing"):  # no pointer endpoint here
        with pytest.raises(BucketError, match="AccessDenied"):
            bucket.put(key, b"{}", "application/json", {})
    assert bucket.get(stack.builds[("aws", "iris")].model.key) is None  # no read of models: "none" (403)


def test_only_identities_created_in_moto_pass(stack: Any) -> None:
    from smodels.local_state import FAKE_CREDENTIALS

    fake = _s3(stack, {k: v for k, v in FAKE_CREDENTIALS.items() if k != "aws_session_token"})
    key = stack.builds[("aws", "iris")].model.key
    assert _code(lambda: fake.get_object(Bucket=stack.bucket, Key=key)) == "InvalidAccessKeyId"
    assert _code(lambda: stack.s3.client().get_object(Bucket=stack.bucket, Key=key)) == "ok"  # the deployer
