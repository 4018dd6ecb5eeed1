"""IAM enforced on the local S3: moto evaluates the policies the program declares, for the identities it declares.

moto checks the SigV4 signature of each request against the IAM access keys created in it and evaluates the
identity's policies (moto/core/authorization.py, moto/iam/access_control.py) once its request count reaches
`INITIAL_NO_AUTH_ACTION_COUNT` (moto/settings.py; default infinite: no checks). `setup_iam` creates, while checks
are still off, what `pulumi up` creates on AWS:

- per AWS endpoint, its execution role (trust policy `LAMBDA_ASSUME_ROLE_POLICY`), a managed policy with the
  document of `infra.policies.function_policy` (the program's own builder, with the local bucket's ARN and the log
  group's ARN the program names) and its attachment; then it assumes the role (STS, session name = the function
  name, as Lambda does) and hands the function those temporary credentials (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as Lambda does;
- the publisher: an IAM user whose inline policy is `infra.policies.publisher_policy` (with every `refresh: pointer`
  endpoint, as with `publisher: true`), and its access key, which `smodels publish --local` uses;
- the deployer: an IAM user allowed everything (the identity `pulumi up` runs as), for the stack's own uploads and
  the storage trigger (the notifier plays S3 itself, which reads its objects as the service does);

and then turns checks on (`POST /moto-api/reset-auth` with 0: every later request is checked). From then on, a
request with any other key (the old fake `testing` pair included) is `InvalidAccessKeyId`, and a function reading
another endpoint's model, or the publisher writing outside its prefixes, is `AccessDenied` (403), as in AWS. moto
answers a missing object under an allowed prefix with 404 NoSuchKey, where AWS answers 403 without s3:ListBucket;
the functions and the publisher take both for "none yet".

The GCS emulator has no IAM: on GCP the local functions and the publisher may read and write anything.
The credentials are written to `<run dir>/iam.json` (mode 0600; `smodels.local_state.iam_path`), which
`smodels publish --local` reads (`smodels.local_state.aws_credentials`).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import policies
from smodels.local_state import FAKE_CREDENTIALS

DEPLOYER_USER = "smodels-local-deployer"
PUBLISHER_USER = "smodels-local-publisher"
DEPLOYER_POLICY: dict[str, Any] = policies.policy_document([{"Sid": "Deployer", "Effect": "Allow", "Action": "*",
                                                              "Resource": "*"}])
SESSION_SECONDS = 43200  # the longest role session STS grants; moto does not expire sessions anyway


class IamSetupError(RuntimeError):
    """The identities or policies could not be created in moto (the message names which and why)."""


@dataclass(frozen=True)
class AwsCredentials:
    """An access key pair, with a session token for an assumed role."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `boto3.client(...)`."""
        out = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            out["aws_session_token"] = self.session_token
        return out

    def env(self) -> dict[str, str]:
        """The environment variables Lambda sets for its execution role (no AWS_SESSION_TOKEN for a user key)."""
        out = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (`from_dict` reads it back)."""
        return {k: v for k, v in (("access_key_id", self.access_key_id),
                                  ("secret_access_key", self.secret_access_key),
                                  ("session_token", self.session_token)) if v}

    @classmethod
    def from_dict(cls, data: Any) -> AwsCredentials:
        """The credentials `as_dict` wrote; ValueError if `data` is not that shape."""
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data.get(k)
                                                 for k in ("access_key_id", "secret_access_key")):
            raise ValueError("not an access key pair (access_key_id, secret_access_key)")
        token = data.get("session_token")
        return cls(data["access_key_id"], data["secret_access_key"], token if isinstance(token, str) else None)


@dataclass(frozen=True)
class FunctionRole:
    """What the program declares for one Lambda endpoint: its role's name and its policy document."""

    endpoint: str
    function_name: str
    policy: dict[str, Any]

    @property
    def role_name(self) -> str:
        """The role's name (IAM's 64-character limit)."""
        return f"{self.function_name}-role"[-64:]


@dataclass(frozen=True)
class IamPlan:
    """Everything `setup_iam` creates: the account, the function roles, the publisher's policy document."""

    account_id: str
    region: str
    bucket: str
    functions: tuple[FunctionRole, ...]
    publisher: dict[str, Any]


def plan_iam(*, account_id: str, region: str, bucket: str, functions: Sequence[tuple[str, str, str, Sequence[str],
             bool]], pointer_endpoints: Sequence[str]) -> IamPlan:
    """The program's documents for the local bucket. `functions`: (endpoint, function name, log group name, model
    object keys (its model's and its canary's), follows a pointer) per AWS endpoint."""
    bucket_arn = policies.bucket_arn(bucket)
    roles = tuple(
        FunctionRole(endpoint, function_name,
                     policies.function_policy(policies.log_group_arn(region, account_id, log_group), bucket_arn,
                                              policies.model_prefixes(keys), endpoint if pointer else None))
        for endpoint, function_name, log_group, keys, pointer in functions
    )
    return IamPlan(account_id, region, bucket, roles, policies.publisher_policy(bucket_arn, tuple(pointer_endpoints)))


@dataclass
class IamGrants:
    """The identities created in moto: each function's role credentials, the publisher's and the deployer's keys."""

    account_id: str
    deployer: AwsCredentials
    publisher: AwsCredentials
    functions: dict[str, AwsCredentials] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # endpoint -> role ARN
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # "publisher" / endpoint -> document

    def write(self, path: Path) -> None:
        """Write the credentials to `path`, readable by the owner only (0600 from creation)."""
        data = {"account_id": self.account_id, "deployer": self.deployer.as_dict(),
                "publisher": self.publisher.as_dict(), "roles": self.roles,
                "functions": {k: v.as_dict() for k, v in self.functions.items()}, "policies": self.policies}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)

    def summary(self) -> dict[str, Any]:
        """The state file's `iam` entry: no secret, the role ARNs and the identities' access key ids."""
        return {"account_id": self.account_id, "enforced": True, "roles": dict(self.roles),
                "publisher": {"user": PUBLISHER_USER, "access_key_id": self.publisher.access_key_id},
                "deployer": {"user": DEPLOYER_USER, "access_key_id": self.deployer.access_key_id}}


def _clients(url: str, region: str) -> tuple[Any, Any]:
    import boto3

    kwargs = {"endpoint_url": url, "region_name": region, "aws_access_key_id": FAKE_CREDENTIALS["aws_access_key_id"],
              "aws_secret_access_key": FAKE_CREDENTIALS["aws_secret_access_key"]}
    return boto3.client("iam", **kwargs), boto3.client("sts", **kwargs)


def _user(iam: Any, name: str, policy: dict[str, Any]) -> AwsCredentials:
    """An IAM user with `policy` inline (aws.iam.UserPolicy, as the program's publisher) and one access key."""
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=policies.to_json(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return AwsCredentials(key["AccessKeyId"], key["SecretAccessKey"])


def _role(iam: Any, sts: Any, role: FunctionRole) -> tuple[str, AwsCredentials]:
    """The execution role (aws.iam.Role + aws.iam.Policy + RolePolicyAttachment, as the program), assumed as
    Lambda assumes it."""
    arn = iam.create_role(RoleName=role.role_name,
                          AssumeRolePolicyDocument=policies.to_json(policies.LAMBDA_ASSUME_ROLE_POLICY))["Role"]["Arn"]
    policy_arn = iam.create_policy(PolicyName=f"{role.function_name}-policy"[-128:],
                                   PolicyDocument=policies.to_json(role.policy))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role.role_name, PolicyArn=policy_arn)
    creds = sts.assume_role(RoleArn=arn, RoleSessionName=role.function_name[-64:],
                            DurationSeconds=SESSION_SECONDS)["Credentials"]
    return arn, AwsCredentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def enforce(url: str, timeout: float = 10.0) -> None:
    """Turn moto's IAM checks on for every later request (moto's `/moto-api/reset-auth`, count 0)."""
    req = urllib.request.Request(f"{url.rstrip('/')}/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read() or b"{}")
    if answer.get("status") != "ok":
        raise IamSetupError(f"moto did not turn IAM checks on: {answer}")


def setup_iam(url: str, plan: IamPlan) -> IamGrants:
    """Create the plan's identities in the moto server at `url` (its checks still off), then turn checks on."""
    from botocore.exceptions import BotoCoreError, ClientError

    iam, sts = _clients(url, plan.region)
    step = "the deployer user"
    try:
        deployer = _user(iam, DEPLOYER_USER, DEPLOYER_POLICY)
        step = "the publisher user"
        grants = IamGrants(plan.account_id, deployer, _user(iam, PUBLISHER_USER, plan.publisher))
        grants.policies["publisher"] = plan.publisher
        for role in plan.functions:
            step = f"the execution role of {role.endpoint}"
            grants.roles[role.endpoint], grants.functions[role.endpoint] = _role(iam, sts, role)
            grants.policies[role.endpoint] = role.policy
        step = "turning IAM checks on"
        enforce(url)
    except (BotoCoreError, ClientError, OSError, ValueError) as exc:
        raise IamSetupError(f"moto IAM: {step}: {exc}") from exc
    return grants

