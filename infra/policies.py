"""The AWS IAM policy documents the program declares, as plain dicts: one source for the Pulumi program
(infra/aws.py, which fills in the ARNs once the bucket and log groups exist) and for the local stack
(smodels/local/iam.py, which creates the very same documents in moto and runs each function and the publisher
with credentials bound to exactly its own).

Standard library and `functions.contract` only, no Pulumi: the inputs are strings (bucket name or ARN, log group
ARN, object keys, endpoint names), never Outputs. tests/test_import_rules.py lets `smodels` import this module
and `infra.names`, and nothing else of infra/.

- `function_policy`: an endpoint's execution role. Log writes on its own log group; s3:GetObject on its model's
  prefix (`models/<manifest name>/*`, and its canary's) and, with `refresh: pointer`, on what `smodels publish`
  writes for it (`endpoints/<endpoint>/*`). Nothing else in the bucket: another endpoint's model is AccessDenied.
- `publisher_policy`: the model publisher (an IAM user). s3:PutObject under `models/*` and each pointer
  endpoint's `endpoints/<endpoint>/*`, s3:GetObject on each pointer. No list, no delete, no other read.
- `LAMBDA_ASSUME_ROLE_POLICY`: the trust policy of every execution role (Lambda may assume it).

Without s3:ListBucket, AWS answers a GetObject of a missing key with 403 AccessDenied rather than 404 NoSuchKey
(moto answers 404 when GetObject itself is allowed); the readers take both for "none yet".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from functions.contract import endpoint_prefix, pointer_key

VERSION = "2012-10-17"
LAMBDA_ASSUME_ROLE_POLICY: dict[str, Any] = {
    "Version": VERSION,
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def bucket_arn(bucket: str, partition: str = "aws") -> str:
    """The ARN of S3 bucket `bucket` (`arn:aws:s3:::<bucket>`: a bucket ARN names no region or account)."""
    return f"arn:{partition}:s3:::{bucket}"


def log_group_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    """The ARN of CloudWatch log group `name`, as the provider reports it (without the trailing `:*`)."""
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{name}"


def model_prefixes(keys: Iterable[str | None]) -> list[str]:
    """The bucket prefixes (`models/<manifest name>/`) of the object keys a function reads (its model's, its
    canary's), each once, in order; None entries are skipped."""
    out: list[str] = []
    for key in keys:
        if key:
            prefix = key.rsplit("/", 1)[0] + "/"
            if prefix not in out:
                out.append(prefix)
    return out


def allow(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    """One IAM policy statement allowing `actions` on `resources`."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}


def policy_document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An IAM policy document of `statements`."""
    return {"Version": VERSION, "Statement": list(statements)}


def to_json(document: dict[str, Any]) -> str:
    """`document` as stable JSON (sorted keys: the same policy, the same text, so no spurious diff)."""
    return json.dumps(document, sort_keys=True)


def function_policy(log_group: str, bucket: str, prefixes: Sequence[str],
                    pointer_endpoint: str | None = None) -> dict[str, Any]:
    """The execution role's only permissions: write its own logs (`log_group`: the log group's ARN); read the
    objects under `prefixes` (`models/<name>/`, from `model_prefixes`) of `bucket` (the bucket's ARN) and, for a
    `refresh: pointer` endpoint (`pointer_endpoint`), what is published for it (`endpoints/<endpoint>/*`).

    The read names the model's prefix rather than its one object so that a retrained model (a new sha256 key)
    changes the function's environment, not the policy."""
    statements = [allow("WriteOwnLogs", LOG_ACTIONS, [f"{log_group}:*"])]
    if prefixes:
        statements.append(allow("ReadOwnModel", ["s3:GetObject"], [f"{bucket}/{p}*" for p in prefixes]))
    if pointer_endpoint is not None:
        published = [f"{bucket}/{endpoint_prefix(pointer_endpoint)}*"]
        statements.append(allow("ReadOwnPublished", ["s3:GetObject"], published))
    return policy_document(statements)


def publisher_policy(bucket: str, pointer_endpoints: Sequence[str] = ()) -> dict[str, Any]:
    """The publisher's only permissions on `bucket` (its ARN): PutObject under `models/*` (the book's publisher)
    and under each pointer endpoint's `endpoints/<ep>/*` (`smodels publish`: the artifacts, then the pointer), and
    GetObject on each pointer itself (publish reads the current one to report what it replaces)."""
    statements = [allow("PutModels", ["s3:PutObject"], [f"{bucket}/models/*"])]
    if pointer_endpoints:
        statements.append(allow("PublishEndpoints", ["s3:PutObject"],
                                [f"{bucket}/{endpoint_prefix(ep)}*" for ep in pointer_endpoints]))
        statements.append(allow("ReadPointers", ["s3:GetObject"],
                                [f"{bucket}/{pointer_key(ep)}" for ep in pointer_endpoints]))
    return policy_document(statements)
