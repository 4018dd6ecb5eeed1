"""The providers' documented input validation, applied to what the program registers under the mock engine.

Pulumi's mock engine hands every input back as an output: it accepts a 72-character Lambda name, a service account
id of 40 characters, a missing required input, two functions with one name. A real `pulumi preview` runs each
provider's Check (schema, enums, the upstream `validate*` functions) and `pulumi up` then meets the clouds' own
API limits. This module encodes those rules for every resource type the program declares, each with its source:

- `SDK <path>:<line>`: the installed Python SDK's docstring (venv/lib/python3.11/site-packages/..., pulumi-aws
  7.51.1, pulumi-gcp 10.2.0, pulumiverse-time 0.1.1), which carries the provider's documentation.
- `TF-AWS <file> <function>`: terraform-provider-aws, the upstream of pulumi-aws (its `validate*` functions).
- `MM <resource>`: magic-modules, the upstream of pulumi-gcp.
- `API <doc>`: the cloud's API reference, where neither provider checks in preview but the create call fails.
- `ENGINE`: the Pulumi engine itself (URN uniqueness, autonaming).

Use: `check_resource(typ, name, inputs)` returns the problems of one registration (inputs in wire form, camelCase,
as `Mocks.new_resource` receives them); `check_program(resources)` adds the cross-resource rules (physical names
unique in their scope, one URN per logical name, every type covered). `ProviderCheckFailed` carries them all, so
a test fails the way a preview would. `physical_names(resources)` lists the names that must be unique across
stacks sharing one account or project.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

SDK_AWS = "SDK pulumi_aws"
SDK_GCP = "SDK pulumi_gcp"

# ENGINE: bridged providers autoname an omitted name property as `<logical name>-<7 random hex>`
# (resource.NewUniqueHex: "name plus 7 random chars is longer than maximum length" fails the preview).
AUTONAME_SUFFIX = 8


class ProviderCheckFailed(AssertionError):
    """Inputs a real provider (or the cloud API) would refuse; the message lists every problem."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("provider validation failed:\n" + "\n".join(f"  - {p}" for p in self.problems))


Problems = list[str]
Rule = Callable[[str, Mapping[str, Any], Problems], None]


# --- helpers --------------------------------------------------------------------------------------------------


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    """`a.b.c` into nested dicts; None when absent."""
    cur: Any = inputs
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def required(inputs: Mapping[str, Any], problems: Problems, source: str, *paths: str) -> None:
    for path in paths:
        value = _get(inputs, path)
        if value is None or value == "":
            problems.append(f"missing required input {path!r} ({source})")


def length(
    value: Any, prop: str, lo: int, hi: int, problems: Problems, source: str, *, count_bytes: bool = False
) -> None:
    if value is None:
        return
    n = len(str(value).encode()) if count_bytes else len(str(value))
    if not lo <= n <= hi:
        problems.append(f"{prop} {value!r} is {n} characters; allowed {lo}..{hi} ({source})")


def pattern(value: Any, prop: str, regex: str, problems: Problems, source: str) -> None:
    if value is not None and not re.fullmatch(regex, str(value)):
        problems.append(f"{prop} {value!r} does not match {regex} ({source})")


def enum(value: Any, prop: str, allowed: Iterable[Any], problems: Problems, source: str) -> None:
    allowed = list(allowed)
    if value is not None and value not in allowed:
        problems.append(f"{prop} {value!r} is not one of {allowed} ({source})")


def int_range(value: Any, prop: str, lo: int | None, hi: int | None, problems: Problems, source: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        problems.append(f"{prop} {value!r} is not a whole number ({source})")
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        problems.append(f"{prop} {value} is outside {lo}..{hi} ({source})")


def autoname(
    name: str, inputs: Mapping[str, Any], prop: str, hi: int, problems: Problems, source: str, *, lower: bool = False
) -> str:
    """The physical name: the input when given, else what the engine would generate (checked for length)."""
    given = inputs.get(prop)
    if given is not None:
        return str(given)
    generated = f"{name.lower() if lower else name}-xxxxxxx"
    if len(generated) > hi:
        problems.append(
            f"autonamed {prop} from logical name {name!r} would be {len(generated)} characters; max {hi} "
            f"(ENGINE autonaming, {source})"
        )
    return generated


def policy_document(value: Any, prop: str, problems: Problems, source: str) -> None:
    """An IAM policy: JSON with Version and Statement (IAM refuses anything else: MalformedPolicyDocument)."""
    if value is None:
        return
    try:
        doc = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        problems.append(f"{prop} is not JSON ({source})")
        return
    if not isinstance(doc, Mapping) or "Statement" not in doc or doc.get("Version") not in ("2012-10-17", "2008-10-17"):
        problems.append(f"{prop} needs Version 2012-10-17 and Statement ({source})")


def archive_path(value: Any) -> Path | None:
    path = getattr(value, "path", None)
    return Path(path) if path else None


# --- AWS ------------------------------------------------------------------------------------------------------

LAMBDA_RUNTIMES_SRC = f"{SDK_AWS}/lambda_/_enums.py:33-38 (Runtime)"
# SDK pulumi_aws/lambda_/_enums.py: the runtimes the provider accepts (deprecated ones left out on purpose:
# Lambda refuses creating functions on them).
LAMBDA_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
ARCHITECTURES = ("x86_64", "arm64")
LOG_RETENTION_DAYS = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# API (Lambda "Defined runtime environment variables"): set by Lambda; CreateFunction refuses them as keys.
LAMBDA_RESERVED_ENV = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip
# API (Lambda CreateFunction, Environment): "The total size of the set does not exceed 4 KB" (keys + values).
LAMBDA_ENV_MAX_BYTES = 4096
# API (Lambda CreateFunction/UpdateFunctionCode): the request, with the zip base64-encoded inside JSON, may be
# at most 69,905,067 bytes (4/3 of 50 MiB). Requests carry up to a few KB besides the zip.
LAMBDA_REQUEST_MAX_BYTES = 69_905_067
LAMBDA_REQUEST_OVERHEAD = 16 * 1024
IAM_NAME_RE = r"[\w+=,.@-]+"
SNAPSTART_SRC = "API Lambda SnapStart, supported features and limitations"
SNAPSTART_MIN_PYTHON_MINOR = 12
SNAPSTART_MAX_EPHEMERAL_MB = 512
ROLE_ARN_RE = r"arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"


def _lambda_function(name: str, i: Mapping[str, Any], p: Problems) -> None:
    fn = autoname(name, i, "name", 64, p, "TF-AWS lambda/validate.go validFunctionName")
    # TF-AWS internal/service/lambda/validate.go validFunctionName: a name (not an ARN) is [A-Za-z0-9_-], <= 64.
    pattern(fn, "name", r"[0-9A-Za-z_-]{1,64}", p, "TF-AWS lambda/validate.go validFunctionName")
    required(i, p, f"{SDK_AWS}/lambda_/function.py:69 role; :83 handler required for Zip", "role", "handler")
    pattern(i.get("role"), "role", ROLE_ARN_RE, p, f"{SDK_AWS}/lambda_/function.py:69 (an IAM role ARN)")
    enum(i.get("runtime"), "runtime", LAMBDA_RUNTIMES, p, LAMBDA_RUNTIMES_SRC)
    length(i.get("handler"), "handler", 1, 128, p, "API Lambda CreateFunction Handler (max 128)")
    int_range(i.get("memorySize"), "memorySize", 128, 32768, p, f"{SDK_AWS}/lambda_/function.py:89")
    int_range(i.get("timeout"), "timeout", 1, 900, p, f"{SDK_AWS}/lambda_/function.py:108")
    # TF-AWS lambda/function.go: reserved_concurrent_executions validation.IntAtLeast(-1); SDK function.py:97
    int_range(
        i.get("reservedConcurrentExecutions"),
        "reservedConcurrentExecutions",
        -1,
        None,
        p,
        f"{SDK_AWS}/lambda_/function.py:97",
    )
    archs = i.get("architectures")
    if archs is not None:
        if len(archs) != 1:
            p.append(f"architectures {archs!r}: exactly one ({SDK_AWS}/lambda_/function.py:72)")
        for a in archs:
            enum(a, "architectures[]", ARCHITECTURES, p, f"{SDK_AWS}/lambda_/function.py:72")
    enum(
        _get(i, "loggingConfig.logFormat"),
        "loggingConfig.logFormat",
        ("Text", "JSON"),
        p,
        f"{SDK_AWS}/lambda_/_inputs.py:1955",
    )
    env = _get(i, "environment.variables") or {}
    size = 0
    for key, value in env.items():
        # API Lambda Environment: keys [a-zA-Z]([a-zA-Z0-9_])+, not reserved.
        pattern(key, "environment key", r"[a-zA-Z]([a-zA-Z0-9_])+", p, "API Lambda CreateFunction Environment")
        if key in LAMBDA_RESERVED_ENV:
            p.append(f"environment key {key!r} is reserved by Lambda (API Lambda defined runtime variables)")
        size += len(key.encode()) + len(str(value).encode())
    if size > LAMBDA_ENV_MAX_BYTES:
        p.append(f"environment is {size} bytes; Lambda allows {LAMBDA_ENV_MAX_BYTES} (API Lambda Environment, 4 KB)")
    has_zip = i.get("code") is not None
    has_s3 = i.get("s3Bucket") is not None or i.get("s3Key") is not None
    if has_zip == has_s3:
        p.append(
            f"give exactly one of code or s3Bucket+s3Key ({SDK_AWS}/lambda_/function.py:74 'code ... "
            "Conflicts with image_uri and s3_bucket')"
        )
    if has_s3:
        required(i, p, f"{SDK_AWS}/lambda_/function.py s3_bucket/s3_key", "s3Bucket", "s3Key")
    _zip_request_size(i.get("code"), p)
    _snap_start(i, p)


def _snap_start(i: Mapping[str, Any], p: Problems) -> None:
    snap = i.get("snapStart")
    if snap is None:
        return
    apply_on = _get(i, "snapStart.applyOn")
    enum(apply_on, "snapStart.applyOn", ("PublishedVersions",), p, f"{SDK_AWS}/lambda_/_inputs.py:2174")
    # API Lambda SnapStart, "Supported features and limitations" (docs.aws.amazon.com/lambda/latest/dg/snapstart.html):
    # Java 11+, Python 3.12+, .NET 8+; no provisioned concurrency, EFS or ephemeral storage over 512 MB.
    runtime = str(i.get("runtime") or "")
    m = re.fullmatch(r"python3\.(\d+)", runtime)
    if m is None or int(m.group(1)) < SNAPSTART_MIN_PYTHON_MINOR:
        p.append(f"snapStart needs python3.12 or later, runtime is {runtime!r} ({SNAPSTART_SRC})")
    size = _get(i, "ephemeralStorage.size")
    if size is not None and size > SNAPSTART_MAX_EPHEMERAL_MB:
        p.append(
            f"snapStart with ephemeralStorage.size {size} MB; at most {SNAPSTART_MAX_EPHEMERAL_MB} ({SNAPSTART_SRC})"
        )
    if i.get("fileSystemConfig") is not None:
        p.append(f"snapStart with fileSystemConfig (EFS) ({SNAPSTART_SRC})")
    if not i.get("publish"):
        # Not refused by the API, but SnapStart only ever applies to published versions: with publish off nothing
        # gets a snapshot (same page: "You can use SnapStart only on published function versions").
        p.append(f"snapStart without publish: only published versions are snapshotted ({SNAPSTART_SRC})")


# SDK pulumi_aws/lambda_/alias.py:34 function_version; :36 name (not all digits); API Lambda CreateAlias: Name 1-128,
# Description 0-256, FunctionVersion 1-1024; AliasRoutingConfiguration.AdditionalVersionWeights: 0.0-1.0 per version.
ALIAS_NAME_RE = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
ALIAS_VERSION_RE = r"(\$LATEST|[0-9]+)"


def _lambda_alias(name: str, i: Mapping[str, Any], p: Problems) -> None:
    src = f"{SDK_AWS}/lambda_/alias.py:23-25 (function_name, function_version)"
    required(i, p, src, "functionName", "functionVersion")
    alias = autoname(name, i, "name", 128, p, "API Lambda CreateAlias Name (1-128)")
    pattern(alias, "name", ALIAS_NAME_RE, p, f"{SDK_AWS}/lambda_/alias.py:36")
    length(alias, "name", 1, 128, p, "API Lambda CreateAlias Name (1-128)")
    pattern(i.get("functionVersion"), "functionVersion", ALIAS_VERSION_RE, p, f"{SDK_AWS}/lambda_/alias.py:34")
    length(i.get("description"), "description", 0, 256, p, "API Lambda CreateAlias Description (max 256)")
    weights = _get(i, "routingConfig.additionalVersionWeights") or {}
    for version, weight in weights.items():
        src = "API Lambda AliasRoutingConfiguration"
        pattern(version, "routingConfig.additionalVersionWeights key", r"[0-9]+", p, src)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            p.append(f"routingConfig weight {weight!r} for version {version}: 0.0..1.0 ({src})")


def _zip_request_size(code: Any, p: Problems) -> None:
    path = archive_path(code)
    if path is None or not path.is_file():
        return
    encoded = 4 * ((path.stat().st_size + 2) // 3)
    if encoded + LAMBDA_REQUEST_OVERHEAD > LAMBDA_REQUEST_MAX_BYTES:
        p.append(
            f"zip {path.name} ({path.stat().st_size} bytes) is too large for a direct upload: base64 {encoded} bytes "
            f"plus the request must fit {LAMBDA_REQUEST_MAX_BYTES} (API Lambda request size); go through S3"
        )


def _layer_version(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/lambda_/layer_version.py:37", "layerName")
    # API Lambda PublishLayerVersion LayerName: 1-140, [a-zA-Z0-9-_]+ (for a name, not an ARN).
    pattern(i.get("layerName"), "layerName", r"[a-zA-Z0-9_-]{1,140}", p, "API Lambda PublishLayerVersion")
    runtimes = i.get("compatibleRuntimes") or []
    if len(runtimes) > 15:
        p.append(f"compatibleRuntimes: at most 15 ({SDK_AWS}/lambda_/layer_version.py:42)")
    for r in runtimes:
        enum(r, "compatibleRuntimes[]", LAMBDA_RUNTIMES, p, LAMBDA_RUNTIMES_SRC)
    archs = i.get("compatibleArchitectures") or []
    if len(archs) > 2:
        p.append(f"compatibleArchitectures: at most 2 ({SDK_AWS}/lambda_/layer_version.py:41)")
    for a in archs:
        enum(a, "compatibleArchitectures[]", ARCHITECTURES, p, f"{SDK_AWS}/lambda_/layer_version.py:41")
    if (i.get("code") is None) == (i.get("s3Bucket") is None):
        p.append(f"give exactly one of code or s3Bucket+s3Key ({SDK_AWS}/lambda_/layer_version.py:40)")
    _zip_request_size(i.get("code"), p)


def _permission(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/lambda_/permission.py:38,40", "action", "function", "principal")
    # TF-AWS lambda/validate.go validPermissionAction, validPolicyStatementID (1-100, [0-9A-Za-z_-]).
    pattern(i.get("action"), "action", r"lambda:[*]|lambda:[A-Za-z]+|[*]", p, "TF-AWS validPermissionAction")
    sid = autoname(name, i, "statementId", 100, p, f"{SDK_AWS}/lambda_/permission.py:51")
    pattern(sid, "statementId", r"[0-9A-Za-z_-]{1,100}", p, "TF-AWS lambda/validate.go validPolicyStatementID")
    # SDK permission.py:47 "Lambda function version or alias name"; API Lambda AddPermission Qualifier:
    # 1-128, ([a-zA-Z0-9$_-]+).
    pattern(i.get("qualifier"), "qualifier", r"[a-zA-Z0-9$_-]{1,128}", p, "API Lambda AddPermission Qualifier")
    # API Lambda AddPermission SourceAccount: pattern \d{12}; SDK permission.py:49 (for S3, SES, cross-account).
    pattern(i.get("sourceAccount"), "sourceAccount", r"\d{12}", p, "API Lambda AddPermission SourceAccount")


def _log_group(name: str, i: Mapping[str, Any], p: Problems) -> None:
    lg = autoname(name, i, "name", 512, p, f"{SDK_AWS}/cloudwatch/log_group.py:39")
    # TF-AWS internal/service/lambda/validate.go validLogGroupName (and logs/validate.go): 1-512, [0-9A-Za-z_./#-].
    pattern(lg, "name", r"[0-9A-Za-z_./#-]{1,512}", p, "TF-AWS validLogGroupName")
    enum(i.get("retentionInDays"), "retentionInDays", LOG_RETENTION_DAYS, p, f"{SDK_AWS}/cloudwatch/log_group.py:42")


def _iam_role(name: str, i: Mapping[str, Any], p: Problems) -> None:
    # TF-AWS iam/role.go: name StringLenBetween(1, 64) + validRolePolicyName pattern; name_prefix <= 38.
    role = autoname(name, i, "name", 64, p, f"{SDK_AWS}/iam/role.py:49 (IAM Identifiers: role names <= 64)")
    length(role, "name", 1, 64, p, "TF-AWS iam/role.go StringLenBetween(1, 64)")
    pattern(role, "name", IAM_NAME_RE, p, "TF-AWS iam/role.go")
    length(i.get("namePrefix"), "namePrefix", 1, 38, p, f"{SDK_AWS}/iam/role.py:50")
    required(i, p, "TF-AWS iam/role.go assume_role_policy Required", "assumeRolePolicy")
    policy_document(i.get("assumeRolePolicy"), "assumeRolePolicy", p, "API IAM CreateRole")


def _iam_policy(name: str, i: Mapping[str, Any], p: Problems) -> None:
    pol = autoname(name, i, "name", 128, p, f"{SDK_AWS}/iam/policy.py:37 (IAM: policy names <= 128)")
    length(pol, "name", 1, 128, p, "TF-AWS iam/policy.go StringLenBetween(1, 128)")
    pattern(pol, "name", IAM_NAME_RE, p, "TF-AWS iam/policy.go")
    required(i, p, "TF-AWS iam/policy.go policy Required", "policy")
    policy_document(i.get("policy"), "policy", p, "API IAM CreatePolicy")
    length(i.get("description"), "description", 0, 1000, p, "API IAM CreatePolicy Description (max 1000)")


def _iam_user(name: str, i: Mapping[str, Any], p: Problems) -> None:
    user = autoname(name, i, "name", 64, p, f"{SDK_AWS}/iam/user.py:33 (IAM: user names <= 64)")
    length(user, "name", 1, 64, p, "API IAM CreateUser UserName (1-64)")
    pattern(user, "name", IAM_NAME_RE, p, f"{SDK_AWS}/iam/user.py:33")


def _iam_user_policy(name: str, i: Mapping[str, Any], p: Problems) -> None:
    autoname(name, i, "name", 128, p, f"{SDK_AWS}/iam/user_policy.py:33")
    required(i, p, "TF-AWS iam/user_policy.go", "user", "policy")
    policy_document(i.get("policy"), "policy", p, "API IAM PutUserPolicy")


def _s3_bucket(name: str, i: Mapping[str, Any], p: Problems) -> None:
    b = autoname(name, i, "bucket", 63, p, f"{SDK_AWS}/s3/bucket.py:52", lower=True)
    # TF-AWS s3/bucket.go validBucketName: 3-63, lower-case letters, digits, '.', '-', starting/ending alnum.
    pattern(b, "bucket", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", p, f"{SDK_AWS}/s3/bucket.py:52")
    length(i.get("bucketPrefix"), "bucketPrefix", 1, 37, p, f"{SDK_AWS}/s3/bucket.py:54")


def _s3_bucket_child(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, "TF-AWS s3 bucket sub-resources: bucket Required", "bucket")


def _bucket_and_enum(
    i: Mapping[str, Any], p: Problems, required_source: str, prop: str, allowed: Iterable[Any], enum_source: str
) -> None:
    """`bucket` and `prop` are required, and `prop` is one of `allowed`."""
    required(i, p, required_source, "bucket", prop)
    enum(_get(i, prop), prop, allowed, p, enum_source)


def _s3_ownership(name: str, i: Mapping[str, Any], p: Problems) -> None:
    _bucket_and_enum(i, p, "TF-AWS s3/bucket_ownership_controls.go", "rule.objectOwnership",
                     ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"), f"{SDK_AWS}/s3/_inputs.py:5468")


def _s3_versioning(name: str, i: Mapping[str, Any], p: Problems) -> None:
    _bucket_and_enum(i, p, "TF-AWS s3/bucket_versioning.go", "versioningConfiguration.status",
                     ("Enabled", "Suspended", "Disabled"), f"{SDK_AWS}/s3/_inputs.py:8926")


def _s3_encryption(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, "TF-AWS s3/bucket_server_side_encryption_configuration.go", "bucket", "rules")
    for rule in i.get("rules") or []:
        enum(
            _get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm"),
            "sseAlgorithm",
            ("AES256", "aws:kms", "aws:kms:dsse"),
            p,
            f"{SDK_AWS}/s3/_inputs.py:4505",
        )


def _s3_object(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, "TF-AWS s3/bucket_object.go bucket, key Required", "bucket", "key")
    length(i.get("key"), "key", 1, 1024, p, "API S3 object keys: at most 1024 bytes UTF-8", count_bytes=True)


# API S3 "Event notification types and destinations" (docs.aws.amazon.com/AmazonS3/latest/userguide/
# notification-how-to-event-types-and-destinations.html): the event names PutBucketNotificationConfiguration takes.
S3_EVENT_TYPES = frozenset(
    {
        "s3:TestEvent", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
        "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete",
        "s3:ReducedRedundancyLostObject", "s3:Replication:*", "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked", "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:LifecycleTransition", "s3:IntelligentTiering",
        "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
    }
)  # fmt: skip
S3_NOTIFICATION_SRC = f"{SDK_AWS}/s3/_inputs.py:4859-4869 (events required; filter_prefix, filter_suffix)"
# API S3 user guide, "Configuring event notifications using object key name filtering" (notification-how-to-
# filtering.html): two configurations of one bucket that share an event type must not have overlapping filters,
# i.e. one prefix a prefix of the other (an absent prefix is "") and one suffix a suffix of the other; the
# PutBucketNotificationConfiguration call fails with "Configurations overlap. Configurations on the same bucket
# cannot share a common event type."
S3_OVERLAP_SRC = "API S3 notification-how-to-filtering: 'Configurations overlap'"
S3_DESTINATIONS = (("lambdaFunctions", "lambdaFunctionArn"), ("queues", "queueArn"), ("topics", "topicArn"))


def _s3_events_overlap(a: str, b: str) -> bool:
    """Whether two S3 event names can match the same event (`s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`)."""
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if x.endswith(":*") and y.startswith(x[:-1]):
            return True
    return False


def s3_notification_overlaps(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The pairs of notification configurations (wire form: events, filterPrefix, filterSuffix) S3 would refuse."""
    out = []
    for n, a in enumerate(configs):
        for b in configs[n + 1 :]:
            pa, pb = str(a.get("filterPrefix") or ""), str(b.get("filterPrefix") or "")
            sa, sb = str(a.get("filterSuffix") or ""), str(b.get("filterSuffix") or "")
            shared = [e for e in a.get("events") or [] for f in b.get("events") or [] if _s3_events_overlap(e, f)]
            if shared and (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa)):
                out.append(
                    f"Configurations overlap: ({pa!r}, {sa!r}) and ({pb!r}, {sb!r}) share event {shared[0]!r} "
                    f"({S3_OVERLAP_SRC})"
                )
    return out


def _s3_notification(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/s3/bucket_notification.py:24,33 (bucket)", "bucket")
    configs: list[Mapping[str, Any]] = []
    for prop, arn in S3_DESTINATIONS:
        for n, c in enumerate(i.get(prop) or []):
            where = f"{prop}[{n}]"
            required(c, p, f"{S3_NOTIFICATION_SRC}; API S3 {arn[0].upper()}{arn[1:]} is required", arn, "events")
            for e in c.get("events") or []:
                enum(e, f"{where}.events[]", sorted(S3_EVENT_TYPES), p, "API S3 event notification types")
            for f in ("filterPrefix", "filterSuffix"):
                length(c.get(f), f"{where}.{f}", 1, 1024, p, "API S3 FilterRule Value (an object key part, <= 1024)")
            configs.append(c)
    p.extend(s3_notification_overlaps(configs))


def _apigw_api(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/apigatewayv2/api.py:24 (protocol_type is not Optional)", "protocolType")
    enum(i.get("protocolType"), "protocolType", ("HTTP", "WEBSOCKET"), p, f"{SDK_AWS}/apigatewayv2/api.py:43")
    autoname(name, i, "name", 128, p, f"{SDK_AWS}/apigatewayv2/api.py:54")


def _apigw_integration(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, "TF-AWS apigatewayv2/integration.go", "apiId", "integrationType")
    enum(
        i.get("integrationType"),
        "integrationType",
        ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"),
        p,
        f"{SDK_AWS}/apigatewayv2/integration.py:47",
    )
    if i.get("integrationType") not in (None, "MOCK"):
        required(i, p, f"{SDK_AWS}/apigatewayv2/integration.py:53", "integrationMethod")
    enum(
        i.get("payloadFormatVersion"),
        "payloadFormatVersion",
        ("1.0", "2.0"),
        p,
        f"{SDK_AWS}/apigatewayv2/integration.py:57",
    )
    int_range(
        i.get("timeoutMilliseconds"),
        "timeoutMilliseconds",
        50,
        30000,
        p,
        f"{SDK_AWS}/apigatewayv2/integration.py:63 (HTTP APIs)",
    )


def _apigw_route(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/apigatewayv2/route.py:41", "apiId", "routeKey")
    # SDK route.py:41: "$default" or "<HTTP method> <resource path>".
    pattern(
        i.get("routeKey"),
        "routeKey",
        r"\$default|(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^\s]*",
        p,
        f"{SDK_AWS}/apigatewayv2/route.py:41",
    )
    enum(
        i.get("authorizationType"),
        "authorizationType",
        ("NONE", "JWT", "AWS_IAM", "CUSTOM"),
        p,
        f"{SDK_AWS}/apigatewayv2/route.py:44",
    )


def _apigw_stage(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_AWS}/apigatewayv2/stage.py:46", "apiId", "name")
    length(i.get("name"), "name", 1, 128, p, f"{SDK_AWS}/apigatewayv2/stage.py:46")
    int_range(
        _get(i, "defaultRouteSettings.throttlingBurstLimit"),
        "throttlingBurstLimit",
        0,
        None,
        p,
        "API API Gateway RouteSettings",
    )


def _needs(*props: str, source: str) -> Rule:
    def rule(name: str, i: Mapping[str, Any], p: Problems) -> None:
        required(i, p, source, *props)

    return rule


# --- GCP ------------------------------------------------------------------------------------------------------

# SDK pulumi_gcp/serviceaccount/account.py:32 "must be 6-30 characters long, and match the regular expression
# `a-z` (the docstring lost its brackets) to comply with RFC1035"; MM google_service_account: ValidateRFC1035Name(6, 30)
SERVICE_ACCOUNT_ID_RE = r"[a-z](?:[-a-z0-9]{4,28}[a-z0-9])"
# API Cloud Functions v2: function names are RFC 1035 labels of at most 63 characters (the Cloud Run service
# takes the same name). SDK cloudfunctionsv2/function.py:57 defers to the API.
GCF_NAME_RE = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
# SDK projects/iam_member.py:31-36 (member forms) and the IAM API's principal identifiers.
MEMBER_RE = (
    r"allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount"
    r"|deleted:group):\S+|principal(Set)?://\S+|projectOwner:\S+|projectEditor:\S+|projectViewer:\S+"
)
ROLE_RE = r"roles/[A-Za-z0-9_.]+|(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+"
# API Cloud Run "reserved environment variables" (and Cloud Functions' own): the deploy refuses them.
GCF_RESERVED_ENV = frozenset(
    {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE"}
)


def _gcp_service(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_GCP}/projects/service.py (service)", "service")
    pattern(i.get("service"), "service", r"[a-z0-9-]+\.googleapis\.com", p, "API Service Usage service names")


def _gcs_bucket(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_GCP}/storage/bucket.py:52 (location is required)", "location")
    b = autoname(name, i, "name", 63, p, f"{SDK_GCP}/storage/bucket.py:73", lower=True)
    # SDK storage/bucket.py:73 "lowercase and no more than 63 characters"; GCS naming: [a-z0-9][a-z0-9_.-], no "goog".
    pattern(b, "name", r"[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]", p, f"{SDK_GCP}/storage/bucket.py:73")
    if str(b).startswith("goog") or "google" in str(b):
        p.append(f"bucket name {b!r} may not start with 'goog' or contain 'google' (API GCS bucket naming)")
    enum(
        i.get("publicAccessPrevention"),
        "publicAccessPrevention",
        ("inherited", "enforced"),
        p,
        f"{SDK_GCP}/storage/bucket.py:76",
    )


def _gcs_object(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_GCP}/storage/bucket_object.py:48", "bucket")
    if i.get("source") is None and i.get("content") is None:
        p.append(f"one of source or content is required ({SDK_GCP}/storage/bucket_object.py)")
    length(i.get("name"), "name", 1, 1024, p, "API GCS object names: 1-1024 bytes UTF-8", count_bytes=True)


def _gcp_account(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SDK_GCP}/serviceaccount/account.py:32", "accountId")
    pattern(
        i.get("accountId"),
        "accountId",
        SERVICE_ACCOUNT_ID_RE,
        p,
        f"{SDK_GCP}/serviceaccount/account.py:32; MM ValidateRFC1035Name(6, 30)",
    )
    length(i.get("displayName"), "displayName", 0, 100, p, "API IAM ServiceAccount.displayName (max 100)")


def _iam_binding(scope: str, source: str) -> Rule:
    def rule(name: str, i: Mapping[str, Any], p: Problems) -> None:
        required(i, p, source, scope, "role", "member")
        pattern(i.get("role"), "role", ROLE_RE, p, f"{SDK_GCP}/projects/iam_member.py:39 (role formats)")
        pattern(i.get("member"), "member", MEMBER_RE, p, f"{SDK_GCP}/projects/iam_member.py:31-36 (member forms)")
        cond = i.get("condition")
        if cond is not None:
            required(cond, p, f"{SDK_GCP}/projects/_inputs.py:541 (condition title, expression)", "title", "expression")

    return rule


def _gcf_function(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(
        i,
        p,
        f"{SDK_GCP}/cloudfunctionsv2/function.py:37 location; _inputs.py:130 runtime on create",
        "location",
        "buildConfig.runtime",
        "buildConfig.entryPoint",
    )
    fn = autoname(name, i, "name", 63, p, "API Cloud Functions v2 function names")
    pattern(fn, "name", GCF_NAME_RE, p, "API Cloud Functions v2 (RFC 1035 label, <= 63)")
    pattern(
        _get(i, "buildConfig.runtime"),
        "buildConfig.runtime",
        r"python3\d{1,2}",
        p,
        "API Cloud Functions runtimes (`gcloud functions runtimes list`)",
    )
    pattern(
        _get(i, "buildConfig.serviceAccount"),
        "buildConfig.serviceAccount",
        r"projects/[^/]+/serviceAccounts/\S+@\S+",
        p,
        f"{SDK_GCP}/cloudfunctionsv2/_inputs.py:132 (fully-qualified)",
    )
    sc = i.get("serviceConfig") or {}
    pattern(
        sc.get("availableMemory"),
        "serviceConfig.availableMemory",
        r"\d+(k|M|G|Mi|Gi)?",
        p,
        f"{SDK_GCP}/cloudfunctionsv2/_inputs.py:1090",
    )
    int_range(
        sc.get("timeoutSeconds"),
        "serviceConfig.timeoutSeconds",
        1,
        3600,
        p,
        "API Cloud Functions 2nd gen HTTP functions: timeout up to 3600 s",
    )
    enum(
        sc.get("ingressSettings"),
        "serviceConfig.ingressSettings",
        ("ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"),
        p,
        f"{SDK_GCP}/cloudfunctionsv2/_inputs.py:1101",
    )
    int_range(sc.get("maxInstanceCount"), "serviceConfig.maxInstanceCount", 1, None, p, "API Cloud Run max instances")
    int_range(sc.get("minInstanceCount"), "serviceConfig.minInstanceCount", 0, None, p, "API Cloud Run min instances")
    for key in sc.get("environmentVariables") or {}:
        if key in GCF_RESERVED_ENV or key.startswith("X_GOOGLE_"):
            p.append(f"environment key {key!r} is reserved (API Cloud Run reserved environment variables)")


def _run_invoker(name: str, i: Mapping[str, Any], p: Problems) -> None:
    _iam_binding("name", f"{SDK_GCP}/cloudrunv2/service_iam_member.py:33,51")(name, i, p)


# API Pub/Sub resource names (cloud.google.com/pubsub/docs/pubsub-basics, "Resource names"; the SDK's name
# arguments, pulumi_gcp/pubsub/topic.py:70 and subscription.py:122, defer to it): 3-255 characters, a letter
# first, then letters, digits, - _ . ~ + %, and not starting with "goog".
PUBSUB_NAME_SRC = "API Pub/Sub resource names (3-255, [A-Za-z][A-Za-z0-9-_.~+%]*, not goog*)"
PUBSUB_NAME_RE = r"(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}"
# A protobuf Duration as the provider takes it: seconds with up to nine fractional digits, then "s".
DURATION_RE = r"[0-9]+(\.[0-9]{1,9})?s"


def _seconds(value: Any, prop: str, lo: float, hi: float, p: Problems, source: str) -> float | None:
    if value is None:
        return None
    if not re.fullmatch(DURATION_RE, str(value)):
        p.append(f"{prop} {value!r} is not a duration like '600s' ({source})")
        return None
    secs = float(str(value)[:-1])
    if not lo <= secs <= hi:
        p.append(f"{prop} {value!r} is outside {lo:g}s..{hi:g}s ({source})")
    return secs


def _pubsub_topic(name: str, i: Mapping[str, Any], p: Problems) -> None:
    topic = autoname(name, i, "name", 255, p, PUBSUB_NAME_SRC)
    pattern(topic, "name", PUBSUB_NAME_RE, p, PUBSUB_NAME_SRC)


def _pubsub_subscription(name: str, i: Mapping[str, Any], p: Problems) -> None:
    src = f"{SDK_GCP}/pubsub/subscription.py"
    required(i, p, f"{src}:46 (topic)", "topic")
    sub = autoname(name, i, "name", 255, p, PUBSUB_NAME_SRC)
    pattern(sub, "name", PUBSUB_NAME_RE, p, PUBSUB_NAME_SRC)
    # :48-61 "The minimum custom deadline you can specify is 10 seconds. The maximum ... is 600 seconds" (0: default).
    ack = i.get("ackDeadlineSeconds")
    if ack not in (None, 0):
        int_range(ack, "ackDeadlineSeconds", 10, 600, p, f"{src}:48-61")
    # :111-116 "Cannot be more than 31 days ("2678400s") or less than 10 minutes ("600s")".
    _seconds(i.get("messageRetentionDuration"), "messageRetentionDuration", 600, 2_678_400, p, f"{src}:111-116")
    # :95-101 "If it is set but ttl is "", the resource never expires. The minimum allowed value ... is 1 day."
    ttl = _get(i, "expirationPolicy.ttl")
    if i.get("expirationPolicy") is not None and ttl is None:
        p.append(f"expirationPolicy.ttl is required ({SDK_GCP}/pubsub/_inputs.py:998-1001)")
    if ttl not in (None, ""):
        _seconds(ttl, "expirationPolicy.ttl", 86400, float("inf"), p, f"{src}:95-101")
    # _inputs.py:1724-1731: minimum_backoff and maximum_backoff "between 0 and 600 seconds".
    lo = _seconds(_get(i, "retryPolicy.minimumBackoff"), "retryPolicy.minimumBackoff", 0, 600, p,
                  f"{SDK_GCP}/pubsub/_inputs.py:1729-1731")  # fmt: skip
    hi = _seconds(_get(i, "retryPolicy.maximumBackoff"), "retryPolicy.maximumBackoff", 0, 600, p,
                  f"{SDK_GCP}/pubsub/_inputs.py:1729-1731")  # fmt: skip
    if lo is not None and hi is not None and lo > hi:
        p.append(f"retryPolicy.minimumBackoff {lo:g}s is more than maximumBackoff {hi:g}s (API Pub/Sub RetryPolicy)")
    push = i.get("pushConfig")
    if push is not None:
        required(push, p, f"{SDK_GCP}/pubsub/_inputs.py:1490-1492 (push_endpoint)", "pushEndpoint")
        # API Pub/Sub push subscriptions: the endpoint must be an HTTPS URL with a valid certificate.
        pattern(push.get("pushEndpoint"), "pushConfig.pushEndpoint", r"https://\S+", p,
                "API Pub/Sub push subscriptions (HTTPS endpoint)")  # fmt: skip
        if push.get("oidcToken") is not None:
            required(push["oidcToken"], p, f"{SDK_GCP}/pubsub/_inputs.py:1658-1660 (service_account_email)",
                     "serviceAccountEmail")  # fmt: skip
    for other in ("bigqueryConfig", "cloudStorageConfig"):
        if push is not None and i.get(other) is not None:
            p.append(f"pushConfig and {other} cannot be combined ({src}:64-70)")


GCS_NOTIFICATION_SRC = f"{SDK_GCP}/storage/notification.py:31-41"
GCS_EVENT_TYPES = ("OBJECT_FINALIZE", "OBJECT_METADATA_UPDATE", "OBJECT_DELETE", "OBJECT_ARCHIVE")
# API GCS Pub/Sub notifications (cloud.google.com/storage/docs/pubsub-notifications, "Limits"): "A bucket can have
# up to 100 total notification configurations and up to 10 notification configurations set to trigger for a
# specific event."
GCS_NOTIFICATIONS_PER_BUCKET, GCS_NOTIFICATIONS_PER_EVENT = 100, 10
GCS_LIMITS_SRC = "API GCS pubsub-notifications, Limits"


def _gcs_notification(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{GCS_NOTIFICATION_SRC} (bucket, payload_format, topic)", "bucket", "payloadFormat", "topic")
    enum(i.get("payloadFormat"), "payloadFormat", ("JSON_API_V1", "NONE"), p, f"{GCS_NOTIFICATION_SRC}:32")
    for e in i.get("eventTypes") or []:
        enum(e, "eventTypes[]", GCS_EVENT_TYPES, p, f"{GCS_NOTIFICATION_SRC}:40")
    length(i.get("objectNamePrefix"), "objectNamePrefix", 1, 1024, p, "API GCS object names: 1-1024 bytes",
           count_bytes=True)  # fmt: skip
    pattern(i.get("topic"), "topic", r"(projects/[^/]+/topics/)?" + PUBSUB_NAME_RE, p, f"{GCS_NOTIFICATION_SRC}:33")



# --- alarms: CloudWatch, SNS (AWS) ----------------------------------------------------------------------------

CW_ALARM_SRC = "TF-AWS internal/service/cloudwatch/metric_alarm.go"
CW_SDK = f"{SDK_AWS}/cloudwatch/metric_alarm.py"
# SDK pulumi_aws/cloudwatch/metric_alarm.py:57 (comparison_operator), :81 (statistic), :90 (treat_missing_data), :63.
CW_COMPARISONS = (
    "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold",
)  # fmt: skip
CW_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
CW_MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")
# metric_alarm.go extended_statistic: percentiles (p99, p99.9), trimmed means and the like.
CW_EXTENDED_STATISTIC_RE = (
    r"((p|(tm)|(wm)|(tc)|(ts))((\d{1,2}(\.\d{1,2})?)|(100))|(IQM)|(((TM)|(WM)|(PR)|(TC)|(TS)))"
    r"\((\d+(\.\d+)?%?)?:(\d+(\.\d+)?%?)?\))"
)
# API CloudWatch PutMetricAlarm: "An alarm's total current evaluation period can be no longer than one day, so this
# number multiplied by Period cannot be more than 86,400 seconds"; Dimensions at most 30 (Dimension Name 1-255,
# Value 1-1024); AlarmActions, OKActions, InsufficientDataActions at most 5 each (the provider: MaxItems 5).
CW_MAX_EVALUATION_SECONDS = 86_400
CW_MAX_DIMENSIONS = 30
CW_MAX_ACTIONS = 5
ARN_RE = r"arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+"  # verify.ValidARN, roughly
# API CloudWatch StandardUnit (the metric filter's unit; logs/metric_filter.go enum.Validate[StandardUnit]).
CW_UNITS = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
    "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
    "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
)  # fmt: skip


def _cw_period(value: Any, prop: str, p: Problems) -> None:
    """metric_alarm.go period: IntInSlice(10, 20, 30) or IntDivisibleBy(60)."""
    if value is None:
        return
    whole = not isinstance(value, bool) and isinstance(value, (int, float)) and int(value) == value
    if not whole or not (value in (10, 20, 30) or value % 60 == 0):
        p.append(f"{prop} {value!r} is not 10, 20, 30 or a multiple of 60 ({CW_ALARM_SRC} period)")


def _cw_actions(i: Mapping[str, Any], p: Problems) -> None:
    for prop in ("alarmActions", "okActions", "insufficientDataActions"):
        actions = i.get(prop) or []
        if len(actions) > CW_MAX_ACTIONS:
            p.append(f"{prop}: {len(actions)} actions; at most {CW_MAX_ACTIONS} (API PutMetricAlarm, {CW_ALARM_SRC})")
        for a in actions:
            pattern(a, f"{prop}[]", ARN_RE, p, f"{CW_ALARM_SRC} {prop} verify.ValidARN")


def _metric_alarm(name: str, i: Mapping[str, Any], p: Problems) -> None:
    alarm = autoname(name, i, "name", 255, p, f"{CW_ALARM_SRC} alarm_name")
    length(alarm, "name", 1, 255, p, f"{CW_ALARM_SRC} alarm_name StringLenBetween(1, 255)")
    required(i, p, f"{CW_ALARM_SRC} comparison_operator, evaluation_periods Required",
             "comparisonOperator", "evaluationPeriods")  # fmt: skip
    enum(i.get("comparisonOperator"), "comparisonOperator", CW_COMPARISONS, p, f"{CW_SDK}:57")
    int_range(i.get("evaluationPeriods"), "evaluationPeriods", 1, None, p, f"{CW_ALARM_SRC} IntAtLeast(1)")
    int_range(i.get("datapointsToAlarm"), "datapointsToAlarm", 1, None, p, f"{CW_ALARM_SRC} IntAtLeast(1)")
    length(i.get("alarmDescription"), "alarmDescription", 0, 1024, p, f"{CW_ALARM_SRC} StringLenBetween(0, 1024)")
    enum(i.get("treatMissingData"), "treatMissingData", CW_MISSING_DATA, p, f"{CW_SDK}:90")
    _cw_actions(i, p)
    if i.get("metricQueries"):
        for prop in ("metricName", "namespace", "period", "statistic", "dimensions"):
            if i.get(prop) is not None:
                p.append(f"{prop} conflicts with metricQueries ({SDK_AWS}/cloudwatch/metric_alarm.py:87)")
        return
    # SDK metric_alarm.py:87 "If you do not specify a metric_query, you must specify each of these".
    required(i, p, f"{CW_SDK}:87", "metricName", "namespace", "period")
    if (i.get("statistic") is None) == (i.get("extendedStatistic") is None):
        p.append(f"give exactly one of statistic or extendedStatistic ({CW_ALARM_SRC} CustomizeDiff)")
    enum(i.get("statistic"), "statistic", CW_STATISTICS, p, f"{CW_SDK}:81")
    pattern(i.get("extendedStatistic"), "extendedStatistic", CW_EXTENDED_STATISTIC_RE, p,
            f"{CW_ALARM_SRC} extended_statistic")  # fmt: skip
    low = i.get("evaluateLowSampleCountPercentiles")
    enum(low, "evaluateLowSampleCountPercentiles", ("ignore", "evaluate"), p, f"{CW_SDK}:63")
    if low is not None and i.get("extendedStatistic") is None:
        p.append(f"evaluateLowSampleCountPercentiles is used only with percentiles ({SDK_AWS}/cloudwatch/"
                 "metric_alarm.py:60)")  # fmt: skip
    length(i.get("metricName"), "metricName", 1, 255, p, f"{CW_ALARM_SRC} metric_name StringLenBetween(1, 255)")
    length(i.get("namespace"), "namespace", 1, 255, p, f"{CW_ALARM_SRC} namespace StringLenBetween(1, 255)")
    if ":" in str(i.get("namespace") or ""):
        p.append(f"namespace {i.get('namespace')!r} must not contain colon characters ({CW_ALARM_SRC} namespace)")
    _cw_period(i.get("period"), "period", p)
    period, periods = i.get("period"), i.get("evaluationPeriods")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (period, periods))
    if numbers and period * periods > CW_MAX_EVALUATION_SECONDS:
        p.append(f"period {period} x evaluationPeriods {periods} is over {CW_MAX_EVALUATION_SECONDS} s (API "
                 "PutMetricAlarm EvaluationPeriods: at most one day)")  # fmt: skip
    dims = i.get("dimensions") or {}
    if len(dims) > CW_MAX_DIMENSIONS:
        p.append(f"dimensions: {len(dims)}; at most {CW_MAX_DIMENSIONS} (API PutMetricAlarm Dimensions)")
    for key, value in dims.items():
        length(key, "dimension name", 1, 255, p, "API CloudWatch Dimension Name (1-255)")
        length(value, f"dimensions.{key}", 1, 1024, p, "API CloudWatch Dimension Value (1-1024)")
    if i.get("threshold") is None and i.get("thresholdMetricId") is None:
        p.append(f"missing required input 'threshold' for a static alarm ({SDK_AWS}/cloudwatch/metric_alarm.py:88)")


LOGS_FILTER_SRC = "TF-AWS internal/service/logs/metric_filter.go"
# logs/validate.go validLogMetricFilterName (<= 512, no ':' '*') and validLogMetricFilterTransformationName (<= 255,
# no ':' '*' '$'; metric name and namespace).
LOG_FILTER_NAME_RE = r"[^:*]{1,512}"
METRIC_TRANSFORMATION_NAME_RE = r"[^:*$]{1,255}"
# API PutMetricFilter: "The maximum number of metric filters that can be associated with a log group is 100."
LOG_GROUP_FILTERS_MAX = 100
# CloudWatch Logs user guide, "Publishing dimensions with metrics from values in JSON or space-delimited log events":
# a dimension's value is a field of the event (`$.field` for JSON, `$name` for space-delimited patterns).
DIMENSION_FIELD_RE = r"\$(\.[A-Za-z0-9_\[\].]+|[A-Za-z0-9_]+)"


def _log_metric_filter(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{LOGS_FILTER_SRC} log_group_name, metric_transformation Required", "logGroupName",
             "metricTransformation")  # fmt: skip
    if i.get("pattern") is None:
        p.append(f"missing required input 'pattern' ({LOGS_FILTER_SRC} pattern Required)")
    f = autoname(name, i, "name", 512, p, f"{LOGS_FILTER_SRC} name")
    pattern(f, "name", LOG_FILTER_NAME_RE, p, "TF-AWS logs/validate.go validLogMetricFilterName")
    pattern(i.get("logGroupName"), "logGroupName", r"[0-9A-Za-z_./#-]{1,512}", p, "TF-AWS validLogGroupName")
    length(i.get("pattern"), "pattern", 0, 1024, p, f"{LOGS_FILTER_SRC} pattern StringUTF8LenBetween(0, 1024)",
           count_bytes=True)  # fmt: skip
    text = str(i.get("pattern") or "").strip()
    if text.startswith("{") and (not text.endswith("}") or text.count("(") != text.count(")")):
        p.append(f"pattern {text!r}: a JSON pattern is one {{ ... }} with balanced parentheses (CloudWatch Logs "
                 "filter pattern syntax)")  # fmt: skip
    mt = i.get("metricTransformation") or {}
    required(mt, p, f"{LOGS_FILTER_SRC} metric_transformation name, namespace, value Required", "name", "namespace",
             "value")  # fmt: skip
    for prop in ("name", "namespace"):
        pattern(mt.get(prop), f"metricTransformation.{prop}", METRIC_TRANSFORMATION_NAME_RE, p,
                "TF-AWS logs/validate.go validLogMetricFilterTransformationName")  # fmt: skip
    length(mt.get("value"), "metricTransformation.value", 0, 100, p, f"{LOGS_FILTER_SRC} StringLenBetween(0, 100)")
    enum(mt.get("unit"), "metricTransformation.unit", CW_UNITS, p, f"{LOGS_FILTER_SRC} unit StandardUnit")
    dims = mt.get("dimensions") or {}
    src = f"{SDK_AWS}/cloudwatch/_inputs.py:3162-3163"
    if len(dims) > 3:
        p.append(f"metricTransformation.dimensions: {len(dims)}; at most 3 ({src})")
    if dims and mt.get("defaultValue") is not None:
        p.append(f"metricTransformation.defaultValue conflicts with dimensions ({src})")
    for key, value in dims.items():
        pattern(value, f"metricTransformation.dimensions.{key}", DIMENSION_FIELD_RE, p,
                "CloudWatch Logs: dimension values are fields of the event")  # fmt: skip


SNS_TOPIC_SRC = f"{SDK_AWS}/sns/topic.py:75"
SNS_SUBSCRIPTION_SRC = f"{SDK_AWS}/sns/topic_subscription.py"
SNS_PROTOCOLS = ("sqs", "sms", "lambda", "firehose", "application", "email", "email-json", "http", "https")
SNS_TOPIC_ARN_RE = r"arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
EMAIL_ADDRESS_RE = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def _sns_topic(name: str, i: Mapping[str, Any], p: Problems) -> None:
    topic = autoname(name, i, "name", 256, p, SNS_TOPIC_SRC)
    fifo = bool(i.get("fifoTopic"))
    # :75 "only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens ... between 1 and 256
    # characters long. For a FIFO topic, the name must end with the `.fifo` suffix."
    pattern(topic, "name", r"[A-Za-z0-9_-]{1,251}\.fifo" if fifo else r"[A-Za-z0-9_-]{1,256}", p, SNS_TOPIC_SRC)


def _sns_subscription(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{SNS_SUBSCRIPTION_SRC}:21-24 (endpoint, protocol, topic)", "endpoint", "protocol", "topic")
    protocol = i.get("protocol")
    enum(protocol, "protocol", SNS_PROTOCOLS, p, f"{SNS_SUBSCRIPTION_SRC}:39")
    topic = str(i.get("topic") or "")
    pattern(i.get("topic"), "topic", SNS_TOPIC_ARN_RE, p, f"{SNS_SUBSCRIPTION_SRC}:40 (ARN of the SNS topic)")
    if protocol in ("email", "email-json"):
        # API SNS Subscribe Endpoint: "For the email protocol, use an email address".
        pattern(i.get("endpoint"), "endpoint", EMAIL_ADDRESS_RE, p, "API SNS Subscribe Endpoint (email address)")
        if topic.endswith(".fifo"):
            p.append(f"a FIFO topic cannot deliver to email ({SDK_AWS}/sns/topic.py:63 fifo_topic)")
    if protocol in ("http", "https"):
        pattern(i.get("endpoint"), "endpoint", rf"{protocol}://\S+", p, "API SNS Subscribe Endpoint (URL)")


# --- alarms: Cloud Logging, Cloud Monitoring (GCP) ------------------------------------------------------------

LOG_METRIC_SRC = f"{SDK_GCP}/logging/metric.py"
# :63-67 "limited to 100 characters and can include only ... A-Z, a-z, 0-9, and the special characters
# _-.,+!*',()%/. The forward-slash character (/) ... cannot be the first character of the name."
LOG_METRIC_NAME_RE = r"(?!/)[A-Za-z0-9_.,+!*'()%/-]{1,100}"
# API Cloud Logging LogMetric.filter: "The maximum length of the filter is 20000 characters."
LOG_METRIC_FILTER_MAX = 20_000
METRIC_KINDS = ("DELTA", "GAUGE", "CUMULATIVE")  # SDK logging/_inputs.py:1169
VALUE_TYPES = ("BOOL", "INT64", "DOUBLE", "STRING", "DISTRIBUTION", "MONEY")  # SDK logging/_inputs.py:1173


def _logging_metric(name: str, i: Mapping[str, Any], p: Problems) -> None:
    # MM mmv1/products/logging/Metric.yaml: name and filter are required (the SDK marks name optional for autoname).
    required(i, p, "MM logging/Metric.yaml (name, filter required)", "name", "filter")
    pattern(i.get("name"), "name", LOG_METRIC_NAME_RE, p, f"{LOG_METRIC_SRC}:63-67")
    length(i.get("filter"), "filter", 1, LOG_METRIC_FILTER_MAX, p, "API Cloud Logging LogMetric.filter (20000)")
    length(i.get("description"), "description", 0, 8000, p, f"{LOG_METRIC_SRC}:51")
    md = i.get("metricDescriptor")
    if md is None:
        return
    required(md, p, "MM logging/Metric.yaml metricDescriptor (metricKind, valueType required)", "metricKind",
             "valueType")  # fmt: skip
    enum(md.get("metricKind"), "metricDescriptor.metricKind", METRIC_KINDS, p, f"{SDK_GCP}/logging/_inputs.py:1169")
    enum(md.get("valueType"), "metricDescriptor.valueType", VALUE_TYPES, p, f"{SDK_GCP}/logging/_inputs.py:1173")
    if md.get("valueType") == "DISTRIBUTION":
        # :39-41 bucket_options "required when ... using a DISTRIBUTION value type"; :68 value_extractor likewise.
        required(i, p, f"{LOG_METRIC_SRC}:39-41,68 (a distribution needs both)", "valueExtractor", "bucketOptions")
    if md.get("unit") is not None and md.get("valueType") not in ("INT64", "DOUBLE", "DISTRIBUTION"):
        p.append(f"metricDescriptor.unit applies only to INT64, DOUBLE or DISTRIBUTION ({SDK_GCP}/logging/"
                 "_inputs.py:1182)")  # fmt: skip


ALERT_SRC = f"{SDK_GCP}/monitoring/alert_policy.py"
ALERT_INPUTS_SRC = f"{SDK_GCP}/monitoring/_inputs.py"
ALIGNERS = (
    "ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_INTERPOLATE", "ALIGN_NEXT_OLDER", "ALIGN_MIN", "ALIGN_MAX",
    "ALIGN_MEAN", "ALIGN_COUNT", "ALIGN_SUM", "ALIGN_STDDEV", "ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE",
    "ALIGN_FRACTION_TRUE", "ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_05",
    "ALIGN_PERCENT_CHANGE",
)  # fmt: skip  (_inputs.py:2870)
REDUCERS = (
    "REDUCE_NONE", "REDUCE_MEAN", "REDUCE_MIN", "REDUCE_MAX", "REDUCE_SUM", "REDUCE_STDDEV", "REDUCE_COUNT",
    "REDUCE_COUNT_TRUE", "REDUCE_COUNT_FALSE", "REDUCE_FRACTION_TRUE", "REDUCE_PERCENTILE_99", "REDUCE_PERCENTILE_95",
    "REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_05",
)  # fmt: skip  (_inputs.py:2827)
CONDITION_KINDS = ("conditionThreshold", "conditionAbsent", "conditionMatchedLog", "conditionMonitoringQueryLanguage",
                   "conditionPrometheusQueryLanguage", "conditionSql")  # fmt: skip
CHANNEL_NAME_RE = r"projects/[^/]+/notificationChannels/[^/]+"
# alert_policy.py:79 and notification_channel.py user_labels: "up to 64 entries. Each key and value is limited to 63
# Unicode characters ... only lowercase letters, numerals, underscores, and dashes. Keys must begin with a letter."
USER_LABEL_KEY_RE, USER_LABEL_VALUE_RE = r"[a-z][a-z0-9_-]{0,62}", r"[a-z0-9_-]{0,63}"


def _user_labels(labels: Any, p: Problems, source: str) -> None:
    labels = labels or {}
    if len(labels) > 64:
        p.append(f"userLabels: {len(labels)} entries; at most 64 ({source})")
    for key, value in labels.items():
        pattern(key, "userLabels key", USER_LABEL_KEY_RE, p, source)
        pattern(value, f"userLabels.{key}", USER_LABEL_VALUE_RE, p, source)


def _aggregation(agg: Mapping[str, Any], where: str, p: Problems) -> None:
    aligner, reducer, period = agg.get("perSeriesAligner"), agg.get("crossSeriesReducer"), agg.get("alignmentPeriod")
    enum(aligner, f"{where}.perSeriesAligner", ALIGNERS, p, f"{ALERT_INPUTS_SRC}:2870")
    enum(reducer, f"{where}.crossSeriesReducer", REDUCERS, p, f"{ALERT_INPUTS_SRC}:2827")
    # :2798-2811 "alignmentPeriod must be at least 60 seconds ... If perSeriesAligner is specified and does not equal
    # ALIGN_NONE, then this field must be defined"; :2822-2826 a crossSeriesReducer needs both.
    if period is not None:
        _seconds(period, f"{where}.alignmentPeriod", 60, float("inf"), p, f"{ALERT_INPUTS_SRC}:2798")
    if aligner not in (None, "ALIGN_NONE") and period is None:
        p.append(f"{where}: perSeriesAligner {aligner} needs alignmentPeriod ({ALERT_INPUTS_SRC}:2798-2811)")
    if reducer not in (None, "REDUCE_NONE") and (aligner in (None, "ALIGN_NONE") or period is None):
        p.append(f"{where}: crossSeriesReducer {reducer} needs a perSeriesAligner and an alignmentPeriod "
                 f"({ALERT_INPUTS_SRC}:2822-2826)")  # fmt: skip


def _threshold_condition(t: Mapping[str, Any], where: str, p: Problems) -> None:
    required(t, p, f"{ALERT_INPUTS_SRC}:2341-2342 (comparison, duration)", "comparison", "duration")
    # :2358-2362 "The Cloud Monitoring API only supports COMPARISON_LT and COMPARISON_GT for metric-threshold
    # conditions".
    enum(t.get("comparison"), f"{where}.comparison", ("COMPARISON_GT", "COMPARISON_LT"), p, f"{ALERT_INPUTS_SRC}:2358")
    secs = _seconds(t.get("duration"), f"{where}.duration", 0, float("inf"), p, f"{ALERT_INPUTS_SRC}:2367")
    if secs is not None and secs % 60:
        p.append(f"{where}.duration {t.get('duration')!r} is not a multiple of a minute ({ALERT_INPUTS_SRC}:2367)")
    # :2424 the filter "must specify the metric type ... may not exceed 2048 Unicode characters".
    flt = t.get("filter")
    if flt is None or "metric.type" not in str(flt):
        p.append(f"{where}.filter must name a metric.type ({ALERT_INPUTS_SRC}:2417-2424)")
    length(flt, f"{where}.filter", 1, 2048, p, f"{ALERT_INPUTS_SRC}:2424")
    enum(t.get("evaluationMissingData"), f"{where}.evaluationMissingData",
         ("EVALUATION_MISSING_DATA_INACTIVE", "EVALUATION_MISSING_DATA_ACTIVE", "EVALUATION_MISSING_DATA_NO_OP"), p,
         f"{ALERT_INPUTS_SRC}:2429")  # fmt: skip
    for n, agg in enumerate(t.get("aggregations") or []):
        _aggregation(agg, f"{where}.aggregations[{n}]", p)
    trigger = t.get("trigger") or {}
    if trigger.get("count") is not None and trigger.get("percent") is not None:
        p.append(f"{where}.trigger: count or percent, not both (API MetricThreshold.Trigger: a union)")
    int_range(trigger.get("count"), f"{where}.trigger.count", 1, None, p, "API MetricThreshold.Trigger.count")


def _alert_policy(name: str, i: Mapping[str, Any], p: Problems) -> None:
    required(i, p, f"{ALERT_SRC}:23-25 (combiner, conditions, display_name)", "combiner", "conditions", "displayName")
    length(i.get("displayName"), "displayName", 1, 512, p, f"{ALERT_SRC}:46-49 (limited to 512)")
    enum(i.get("combiner"), "combiner", ("AND", "OR", "AND_WITH_MATCHING_RESOURCE"), p, f"{ALERT_SRC}:40")
    enum(i.get("severity"), "severity", ("CRITICAL", "ERROR", "WARNING"), p, f"{ALERT_SRC}:77")
    conditions = i.get("conditions") or []
    if not 1 <= len(conditions) <= 6:
        p.append(f"conditions: {len(conditions)}; a policy has one to six ({ALERT_SRC}:41-44)")
    for n, c in enumerate(conditions):
        where = f"conditions[{n}]"
        required(c, p, "MM monitoring/AlertPolicy.yaml conditions.displayName required", "displayName")
        kinds = [k for k in CONDITION_KINDS if c.get(k) is not None]
        if len(kinds) != 1:
            p.append(f"{where}: exactly one condition type, got {kinds} (API AlertPolicy.Condition: a union; "
                     "'Condition subtype ... is absent or unknown')")  # fmt: skip
        if c.get("conditionThreshold") is not None:
            _threshold_condition(c["conditionThreshold"], f"{where}.conditionThreshold", p)
    doc = i.get("documentation") or {}
    length(doc.get("content"), "documentation.content", 0, 8192, p, f"{ALERT_INPUTS_SRC}:3497")
    length(doc.get("content"), "documentation.content", 0, 10240, p, f"{ALERT_INPUTS_SRC}:3497", count_bytes=True)
    length(doc.get("subject"), "documentation.subject", 0, 10240, p, f"{ALERT_INPUTS_SRC}:3504", count_bytes=True)
    enum(doc.get("mimeType"), "documentation.mimeType", ("text/markdown",), p, f"{ALERT_INPUTS_SRC}:3501-3502")
    for ch in i.get("notificationChannels") or []:
        pattern(ch, "notificationChannels[]", CHANNEL_NAME_RE, p, f"{ALERT_SRC} notification_channels (syntax)")
    _user_labels(i.get("userLabels"), p, f"{ALERT_SRC}:78-82")


def _notification_channel(name: str, i: Mapping[str, Any], p: Problems) -> None:
    src = f"{SDK_GCP}/monitoring/notification_channel.py"
    required(i, p, f"{src}:23 (type)", "type")
    length(i.get("displayName"), "displayName", 0, 512, p, f"{src}:45")
    length(i.get("description"), "description", 0, 1024, p, f"{src}:44")
    labels, sensitive = i.get("labels") or {}, i.get("sensitiveLabels") or {}
    for key in set(labels) & set(sensitive):
        p.append(f"label {key!r} in both labels and sensitiveLabels ({src}:52-60)")
    if i.get("type") == "email":
        # API notificationChannelDescriptors (type "email"): the label email_address is required.
        required(labels, p, "API NotificationChannelDescriptor email (email_address)", "email_address")
        pattern(labels.get("email_address"), "labels.email_address", EMAIL_ADDRESS_RE, p,
                "API NotificationChannelDescriptor email")  # fmt: skip
    _user_labels(i.get("userLabels"), p, f"{src}:62")


# --- pulumiverse-time -----------------------------------------------------------------------------------------

# pulumiverse_time/sleep.py (SleepArgs.create_duration): a Go time.ParseDuration string such as "30s" or "5m".
GO_DURATION_RE = r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+"


def _sleep(name: str, i: Mapping[str, Any], p: Problems) -> None:
    if i.get("createDuration") is None and i.get("destroyDuration") is None:
        p.append(
            "a Sleep with neither createDuration nor destroyDuration waits for nothing (pulumiverse_time/sleep.py)"
        )
    pattern(i.get("createDuration"), "createDuration", GO_DURATION_RE, p, "pulumiverse_time/sleep.py SleepArgs")
    pattern(i.get("destroyDuration"), "destroyDuration", GO_DURATION_RE, p, "pulumiverse_time/sleep.py SleepArgs")


RULES: dict[str, Rule] = {
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _s3_bucket_child,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _s3_ownership,
    "aws:s3/bucketVersioning:BucketVersioning": _s3_versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _s3_encryption,
    "aws:s3/bucketObjectv2:BucketObjectv2": _s3_object,
    "aws:s3/bucketNotification:BucketNotification": _s3_notification,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _needs(
        "role", "policyArn", source="TF-AWS iam/role_policy_attachment.go role, policy_arn Required"
    ),
    "aws:iam/user:User": _iam_user,
    "aws:iam/userPolicy:UserPolicy": _iam_user_policy,
    "aws:iam/accessKey:AccessKey": _needs("user", source="TF-AWS iam/access_key.go user Required"),
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/layerVersion:LayerVersion": _layer_version,
    "aws:lambda/permission:Permission": _permission,
    "aws:lambda/alias:Alias": _lambda_alias,
    "aws:apigatewayv2/api:Api": _apigw_api,
    "aws:apigatewayv2/integration:Integration": _apigw_integration,
    "aws:apigatewayv2/route:Route": _apigw_route,
    "aws:apigatewayv2/stage:Stage": _apigw_stage,
    "gcp:projects/service:Service": _gcp_service,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    "gcp:storage/bucketObject:BucketObject": _gcs_object,
    "gcp:serviceaccount/account:Account": _gcp_account,
    "gcp:projects/iAMMember:IAMMember": _iam_binding("project", f"{SDK_GCP}/projects/iam_member.py:31-39"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": _iam_binding(
        "bucket", f"{SDK_GCP}/storage/bucket_iam_member.py:31-43"
    ),
    "gcp:cloudfunctionsv2/function:Function": _gcf_function,
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": _run_invoker,
    "gcp:pubsub/topic:Topic": _pubsub_topic,
    "gcp:pubsub/topicIAMMember:TopicIAMMember": _iam_binding("topic", f"{SDK_GCP}/pubsub/topic_iam_member.py:32-47"),
    "gcp:pubsub/subscription:Subscription": _pubsub_subscription,
    "gcp:storage/notification:Notification": _gcs_notification,
    "time:index/sleep:Sleep": _sleep,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": _log_metric_filter,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "gcp:logging/metric:Metric": _logging_metric,
    "gcp:monitoring/alertPolicy:AlertPolicy": _alert_policy,
    "gcp:monitoring/notificationChannel:NotificationChannel": _notification_channel,
}


def check_resource(typ: str, name: str, inputs: Mapping[str, Any]) -> list[str]:
    """Problems a provider would report for one registration (empty for components and clean resources)."""
    if typ.startswith("serverless-models:") or typ.startswith("pulumi:"):
        return []
    rule = RULES.get(typ)
    if rule is None:
        return [f"{typ}::{name}: no provider rules for this type; add them to tests/infra/provider_rules.py"]
    problems: Problems = []
    rule(name, inputs, problems)
    return [f"{typ}::{name}: {msg}" for msg in problems]


# --- across resources -----------------------------------------------------------------------------------------

# The physical names that must be unique in their scope (an account and region, or a GCP project), and so also
# across the stacks sharing that scope: (type, property, scope properties).
UNIQUE_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws:lambda/function:Function": ("name", ()),  # API: function names are unique per account and region
    "aws:cloudwatch/logGroup:LogGroup": ("name", ()),  # API: ResourceAlreadyExistsException
    "aws:lambda/layerVersion:LayerVersion": ("layerName", ()),  # a second stack would add versions to ours
    "aws:lambda/alias:Alias": ("name", ("functionName",)),  # API CreateAlias: ResourceConflictException
    "aws:iam/role:Role": ("name", ()),  # IAM: EntityAlreadyExists (account-wide)
    "aws:iam/user:User": ("name", ()),
    "aws:s3/bucket:Bucket": ("bucket", ()),  # S3: global namespace
    "aws:s3/bucketObjectv2:BucketObjectv2": ("key", ("bucket",)),
    "gcp:serviceaccount/account:Account": ("accountId", ("project",)),  # API: 409 already exists
    "gcp:cloudfunctionsv2/function:Function": ("name", ("project", "location")),
    "gcp:storage/bucket:Bucket": ("name", ()),
    "gcp:storage/bucketObject:BucketObject": ("name", ("bucket",)),
    "gcp:pubsub/topic:Topic": ("name", ("project",)),  # API: 409 ALREADY_EXISTS, per project
    "gcp:pubsub/subscription:Subscription": ("name", ("project",)),
    # API PutMetricAlarm overwrites an alarm of the same name (the provider refuses to: "already exists"), CreateTopic
    # hands back an existing topic of the same name (one stack's destroy would then delete the other's),
    # PutMetricFilter overwrites the filter of that name in that log group, and a log-based metric is 409 per project.
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", ()),
    "aws:sns/topic:Topic": ("name", ()),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("name", ("logGroupName",)),
    "gcp:logging/metric:Metric": ("name", ("project",)),
    # API CreateRoute: ConflictException when the API has a route of that key already (method and path).
    "aws:apigatewayv2/route:Route": ("routeKey", ("apiId",)),
    # Not gcp:projects/service:Service: enabling an enabled API is a no-op (SDK projects/service.py, Import: "pulumi
    # up can be successfully used to verify already enabled services"), and disable_on_destroy=False keeps one
    # stack's destroy from disabling another's; the URN check catches a service registered twice in one program.
}
# Scopes that are themselves autonamed (a bucket gets a random suffix per stack), so names inside them cannot
# collide across stacks even when the mock engine gives both stacks the same bucket name.
PER_RESOURCE_SCOPED = frozenset({"aws:s3/bucketObjectv2:BucketObjectv2", "gcp:storage/bucketObject:BucketObject",
                                 "aws:apigatewayv2/route:Route"})


def physical_names(resources: Iterable[Any]) -> set[tuple[str, str]]:
    """(type, scoped name) of every explicitly named resource that must be unique in its account or project.

    `resources` are objects with `typ`, `name`, `inputs` (mockprogram.Recorded). Autonamed resources (no name
    input) get a random suffix from the engine and are left out: they cannot collide.
    """
    out: set[tuple[str, str]] = set()
    for r in resources:
        spec = UNIQUE_NAMES.get(r.typ)
        if spec is None:
            continue
        prop, scope = spec
        value = r.inputs.get(prop)
        if value is None:
            continue
        out.add((r.typ, "/".join([*(str(r.inputs.get(s)) for s in scope), str(value)])))
    return out


def check_program(resources: Sequence[Any]) -> list[str]:
    """Every problem of every resource, plus physical names used twice and logical names registered twice."""
    problems: list[str] = []
    urns: set[tuple[str, str]] = set()
    seen: dict[tuple[str, str], str] = {}
    for r in resources:
        problems.extend(check_resource(r.typ, r.name, r.inputs))
        if (r.typ, r.name) in urns:
            problems.append(f"{r.typ}::{r.name}: duplicate URN (ENGINE: a logical name once per type)")
        urns.add((r.typ, r.name))
        for key in physical_names([r]):
            if key in seen:
                problems.append(
                    f"{r.typ}::{r.name}: physical name {key[1]!r} is also {seen[key]}'s (API: already exists)"
                )
            seen[key] = r.name
    problems.extend(_qualifiers_exist(resources))
    problems.extend(_s3_notifications(resources))
    problems.extend(_gcs_notification_limits(resources))
    problems.extend(_log_group_filter_limit(resources))
    problems.extend(_user_metrics_exist(resources))
    return problems


def _log_group_filter_limit(resources: Sequence[Any]) -> list[str]:
    """At most LOG_GROUP_FILTERS_MAX metric filters per log group (API PutMetricFilter)."""
    per_group: dict[str, int] = {}
    for r in resources:
        if r.typ == "aws:cloudwatch/logMetricFilter:LogMetricFilter":
            group = str(r.inputs.get("logGroupName"))
            per_group[group] = per_group.get(group, 0) + 1
    return [f"log group {g!r} has {n} metric filters; at most {LOG_GROUP_FILTERS_MAX} (API PutMetricFilter)"
            for g, n in per_group.items() if n > LOG_GROUP_FILTERS_MAX]  # fmt: skip


USER_METRIC_RE = r'metric\.type\s*=\s*"logging\.googleapis\.com/user/([^"]+)"'


def _user_metrics_exist(resources: Sequence[Any]) -> list[str]:
    """An alert policy on a log-based metric needs that metric (API AlertPolicy create: 404 "Cannot find metric(s)
    that match type = logging.googleapis.com/user/..."). Metrics of other projects or made elsewhere are not ours to
    check; the program only names its own, so every one it names must be declared in the same project."""
    metrics = [r for r in resources if r.typ == "gcp:logging/metric:Metric"]
    declared = {(r.inputs.get("project"), r.inputs.get("name")) for r in metrics}
    out = []
    for r in resources:
        if r.typ != "gcp:monitoring/alertPolicy:AlertPolicy":
            continue
        for c in r.inputs.get("conditions") or []:
            flt = str(_get(c, "conditionThreshold.filter") or "")
            for metric in re.findall(USER_METRIC_RE, flt):
                if (r.inputs.get("project"), metric) not in declared:
                    out.append(f"{r.typ}::{r.name}: no log-based metric {metric!r} in project "
                               f"{r.inputs.get('project')!r} (API AlertPolicy: 404 Cannot find metric(s))")  # fmt: skip
    return out


def _lambda_target(ref: Any, qualifier: Any = None) -> tuple[str, str | None]:
    """(function name, qualifier) of a function name or (qualified) function ARN."""
    parts = str(ref).split(":")
    if parts[0] == "arn" and len(parts) >= 7:
        return parts[6], parts[7] if len(parts) > 7 else (str(qualifier) if qualifier is not None else None)
    return str(ref), str(qualifier) if qualifier is not None else None


def _s3_notifications(resources: Sequence[Any]) -> list[str]:
    """One notification configuration per bucket, and every Lambda destination lets S3 invoke it.

    SDK pulumi_aws/s3/bucket_notification.py:254: PutBucketNotificationConfiguration replaces the bucket's whole
    configuration, "Only one `s3.BucketNotification` resource can manage a bucket". API S3
    PutBucketNotificationConfiguration validates each destination when the configuration is put ("Unable to validate
    the following destination configurations"): a Lambda destination needs a resource policy statement (a
    lambda Permission) for principal s3.amazonaws.com on that function and qualifier, from this bucket."""
    out: list[str] = []
    notifications = [r for r in resources if r.typ == "aws:s3/bucketNotification:BucketNotification"]
    seen: dict[str, str] = {}
    allowed = {
        (*_lambda_target(r.inputs.get("function"), r.inputs.get("qualifier")), r.inputs.get("sourceArn"))
        for r in resources
        if r.typ == "aws:lambda/permission:Permission" and r.inputs.get("principal") == "s3.amazonaws.com"
    }
    for r in notifications:
        bucket = str(r.inputs.get("bucket"))
        if bucket in seen:
            out.append(
                f"{r.typ}::{r.name}: bucket {bucket!r} already has notification configuration {seen[bucket]} (SDK "
                f"{SDK_AWS}/s3/bucket_notification.py:254: only one BucketNotification can manage a bucket)"
            )
        seen[bucket] = r.name
        for c in r.inputs.get("lambdaFunctions") or []:
            fn, qualifier = _lambda_target(c.get("lambdaFunctionArn"))
            if not any((fn, qualifier, src) in allowed for src in (f"arn:aws:s3:::{bucket}", None)):
                out.append(
                    f"{r.typ}::{r.name}: destination {c.get('lambdaFunctionArn')!r} has no lambda Permission for "
                    "s3.amazonaws.com from this bucket on that function and qualifier (API S3 "
                    "PutBucketNotificationConfiguration: Unable to validate the following destination configurations)"
                )
    return out


def _gcs_notification_limits(resources: Sequence[Any]) -> list[str]:
    """At most 100 notification configurations per bucket and 10 per event type (GCS_LIMITS_SRC)."""
    per_bucket: dict[str, int] = {}
    per_event: dict[tuple[str, str], int] = {}
    for r in resources:
        if r.typ != "gcp:storage/notification:Notification":
            continue
        bucket = str(r.inputs.get("bucket"))
        per_bucket[bucket] = per_bucket.get(bucket, 0) + 1
        for e in r.inputs.get("eventTypes") or GCS_EVENT_TYPES:  # no filter: every event type
            per_event[(bucket, e)] = per_event.get((bucket, e), 0) + 1
    out = [
        f"bucket {b!r} has {n} notification configurations; GCS allows {GCS_NOTIFICATIONS_PER_BUCKET} "
        f"({GCS_LIMITS_SRC})"
        for b, n in per_bucket.items()
        if n > GCS_NOTIFICATIONS_PER_BUCKET
    ]
    out += [
        f"bucket {b!r} has {n} notification configurations for {e}; GCS allows {GCS_NOTIFICATIONS_PER_EVENT} per "
        f"event type ({GCS_LIMITS_SRC})"
        for (b, e), n in per_event.items()
        if n > GCS_NOTIFICATIONS_PER_EVENT
    ]
    return out


def _qualifiers_exist(resources: Sequence[Any]) -> list[str]:
    """A permission qualified by an alias name needs that alias on that function (API Lambda AddPermission:
    ResourceNotFoundException for a missing qualifier). Versions (digits, $LATEST) are the provider's to resolve."""
    aliases = {
        (r.inputs.get("functionName"), r.inputs.get("name")) for r in resources if r.typ == "aws:lambda/alias:Alias"
    }
    out = []
    for r in resources:
        q = r.inputs.get("qualifier") if r.typ == "aws:lambda/permission:Permission" else None
        if q is None or re.fullmatch(ALIAS_VERSION_RE, str(q)):
            continue
        if (r.inputs.get("function"), q) not in aliases:
            out.append(
                f"{r.typ}::{r.name}: qualifier {q!r} names no alias of function {r.inputs.get('function')!r} in the "
                "program (API Lambda AddPermission: ResourceNotFoundException)"
            )
    return out


def assert_valid(resources: Sequence[Any]) -> None:
    """Raise `ProviderCheckFailed` listing every problem, if any."""
    problems = check_program(resources)
    if problems:
        raise ProviderCheckFailed(problems)
