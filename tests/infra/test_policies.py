"""infra/policies.py: the IAM documents the program declares and the local stack enforces in moto, as plain dicts.

The JSON text is pinned: the documents moved here from infra/aws.py unchanged, so a deployed stack sees no diff.
"""

from __future__ import annotations

import json

from infra import policies

BUCKET = policies.bucket_arn("b")
LOGS = policies.log_group_arn("us-east-1", "123456789012", "/aws/lambda/sm-dev-1-pred")


def test_a_pointer_functions_policy_text_is_what_the_program_always_declared() -> None:
    doc = policies.function_policy(LOGS, BUCKET, ["models/games-logreg/", "models/games-keras/"], "pred")
    assert policies.to_json(doc) == json.dumps({"Statement": [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/sm-dev-1-pred:*"],
         "Sid": "WriteOwnLogs"},
        {"Action": ["s3:GetObject"], "Effect": "Allow",
         "Resource": ["arn:aws:s3:::b/models/games-logreg/*", "arn:aws:s3:::b/models/games-keras/*"],
         "Sid": "ReadOwnModel"},
        {"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::b/endpoints/pred/*"],
         "Sid": "ReadOwnPublished"}], "Version": "2012-10-17"})
    assert [s["Sid"] for s in policies.function_policy(LOGS, BUCKET, [])["Statement"]] == ["WriteOwnLogs"]


def test_the_publishers_policy_and_the_trust_policy() -> None:
    assert policies.publisher_policy(BUCKET) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "PutModels", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/models/*"]}]}
    doc = policies.publisher_policy(BUCKET, ("a", "ab"))
    assert {s["Sid"]: s["Resource"] for s in doc["Statement"]} == {
        "PutModels": ["arn:aws:s3:::b/models/*"],
        "PublishEndpoints": ["arn:aws:s3:::b/endpoints/a/*", "arn:aws:s3:::b/endpoints/ab/*"],
        "ReadPointers": ["arn:aws:s3:::b/endpoints/a/live.json", "arn:aws:s3:::b/endpoints/ab/live.json"]}
    assert json.dumps(policies.LAMBDA_ASSUME_ROLE_POLICY) == (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, '
        '"Action": "sts:AssumeRole"}]}')


def test_model_prefixes_are_the_keys_folders_once_each() -> None:
    keys = ["models/a/1.onnx", None, "models/a/2.onnx", "models/b/3.json"]
    assert policies.model_prefixes(keys) == ["models/a/", "models/b/"]
    assert policies.model_prefixes([]) == []
