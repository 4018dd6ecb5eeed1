"""AWS side of the stack: model bucket, one Lambda per endpoint, one HTTP API, an optional model publisher.

Composition (all ComponentResources take typed args dataclasses and parent their children):

- `ModelBucket`      private S3 bucket: public access block, versioning, SSE-S3 (AES256) default encryption,
                     BucketOwnerEnforced, force_destroy. SSE-S3 rather than aws:kms so the functions need no KMS
                     grant; the bucket is private either way.
- `LambdaEndpoint`   per endpoint: execution role + policy (s3:GetObject on its own model's objects only,
                     `models/<manifest name>/*`, and log writes on its own log group only), log group with
                     retention, the function (code direct or via S3, optional layer; `publish=True`, so every
                     change of code or configuration publishes a new numbered version), the alias `live` on the
                     latest published version, the API integration (invoking the alias, never `$LATEST`), GET and
                     POST routes, the invoke permission on the alias, scoped to this API and path. The read grant
                     names the model's prefix rather than the one object ARN so that a retrained model (a new sha256
                     key) changes only the model object and the function's environment (and so the version the
                     alias points at), not the IAM policy; other endpoints' models stay out of reach. Every policy
                     document (this one, the publisher's, the trust policy) is built by infra/policies.py, which
                     the local stack also creates in moto and enforces.
- `ModelPublisher`   an IAM user that may only s3:PutObject under `models/*` and, for each `refresh: pointer`
                     endpoint, under `endpoints/<endpoint>/*` (its published artifacts and its pointer) and
                     s3:GetObject on that pointer (publish reports what it replaces), with an access key.
- `AwsServerlessModels` the whole AWS side: bucket, model objects (keyed by sha256, shared between endpoints
                     serving the same artifact), HTTP API + `$default` stage, the endpoints, the publisher, for
                     `refresh: pointer` endpoints the bucket's one notification configuration, and (`alarms: true`)
                     the CloudWatch alarms of infra/aws_alarms.py (`AwsAlarms`).

`refresh: pointer` (smodels publish moves a pointer; Pulumi never writes under `endpoints/`): the function gets
MODEL_POINTER_URI = s3://<bucket>/endpoints/<endpoint>/live.json and may also s3:GetObject `endpoints/<endpoint>/*`
(its own endpoint only). The pointer's creation invokes the alias `live` through an S3 event: a lambda Permission
for s3.amazonaws.com from this bucket (per endpoint, on the alias) and one `aws.s3.BucketNotification` for the
bucket holding one configuration per pointer endpoint (S3 keeps one notification configuration per bucket and
replaces it whole on every put, SDK pulumi_aws/s3/bucket_notification.py:254). Its filters are the prefix
`endpoints/<endpoint>/` and the suffix `live.json`: the trailing "/" keeps endpoints `a` and `ab` from overlapping
(S3 refuses overlapping configurations), and the suffix keeps published artifacts from triggering anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from functions.contract import POINTER_FILE, endpoint_prefix, pointer_key, routes
from infra import policies
from infra.artifacts import Builds, lambda_code_hash, model_objects, model_prefixes
from infra.aws_alarms import AlarmTarget, AwsAlarms, AwsAlarmsArgs
from infra.names import StackNames
from smodels.config import EndpointConfig, StackConfig
from smodels.packager import LAMBDA_DIRECT_UPLOAD_LIMIT, FunctionBuild, ModelArtifact

LOG_RETENTION_DAYS = 14
# The alias API Gateway invokes. It follows `function.version`, the version the last `pulumi up` published, so
# rolling back is `pulumi up` with the previous config: Lambda publishes that code and configuration again as a
# new version number and the alias moves to it.
LIVE_ALIAS = "live"
# The S3 event that reaches a pointer endpoint: any way the pointer object gets created (PUT, copy, multipart).
POINTER_EVENTS = ("s3:ObjectCreated:*",)
# The trust policy of every execution role (infra/policies.py: the same document the local stack creates in moto).
LAMBDA_ASSUME_ROLE_POLICY = json.dumps(policies.LAMBDA_ASSUME_ROLE_POLICY)


# --- model bucket ---------------------------------------------------------------------------------------------


@dataclass
class ModelBucketArgs:
    """Settings of the private model bucket."""

    force_destroy: bool = True


class ModelBucket(pulumi.ComponentResource):
    """A private, versioned, encrypted S3 bucket whose objects the bucket owner always owns."""

    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: ModelBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:ModelBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(name, force_destroy=args.force_destroy, opts=child)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(  # noqa: E501
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        self.register_outputs({"bucket": self.bucket.bucket, "arn": self.bucket.arn})

    @property
    def ready(self) -> list[pulumi.Resource]:
        """Resources an object upload must wait for (versioning on, so objects get a version id)."""
        return [self.public_access_block, self.ownership, self.versioning, self.encryption]


# --- one endpoint ---------------------------------------------------------------------------------------------


@dataclass
class LambdaEndpointArgs:
    """Everything one Lambda endpoint needs: its config, its build, where its model and code live."""

    endpoint: EndpointConfig
    build: FunctionBuild
    function_name: str  # infra/names.py: unique per stack, <= 64
    log_group_name: str
    layer_name: str
    runtime: str
    architecture: str
    bucket: ModelBucket
    api: aws.apigatewayv2.Api
    public: bool
    model_uri: pulumi.Input[str] | None = None
    model_object_dependency: pulumi.Resource | None = None
    canary_uri: pulumi.Input[str] | None = None
    canary_object_dependency: pulumi.Resource | None = None
    pointer_uri: pulumi.Input[str] | None = None  # refresh: pointer, s3://<bucket>/endpoints/<endpoint>/live.json
    log_retention_days: int = LOG_RETENTION_DAYS


class LambdaEndpoint(pulumi.ComponentResource):
    """Role, log group, function and HTTP API routes for one endpoint."""

    function: aws.lambda_.Function
    alias: aws.lambda_.Alias
    url: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:LambdaEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ep, build = args.endpoint, args.build
        model: ModelArtifact | None = build.model

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY, opts=child)
        # Its model's prefix and, with a canary, the canary's: nothing else in the bucket. A pointer endpoint also
        # reads what `smodels publish` writes for it, `endpoints/<endpoint>/*` (its pointer and published artifacts).
        # The document is infra/policies.py's, the one the local stack enforces in moto.
        prefixes = model_prefixes(build) if model is not None else []
        pointer_endpoint = ep.name if args.pointer_uri is not None else None
        policy_doc = pulumi.Output.all(self.log_group.arn, args.bucket.bucket.arn).apply(
            lambda a: policies.to_json(policies.function_policy(a[0], a[1], prefixes, pointer_endpoint))
        )
        self.policy = aws.iam.Policy(
            f"{name}-policy", description=f"{ep.name}: read its model, write its logs", policy=policy_doc, opts=child
        )
        self.policy_attachment = aws.iam.RolePolicyAttachment(
            f"{name}-policy", role=self.role.name, policy_arn=self.policy.arn, opts=child
        )

        code_args, layers = self._code(name, args, child)
        env = build.function_env(
            args.model_uri, ep.ttl_seconds, canary_uri=args.canary_uri, pointer_uri=args.pointer_uri
        )
        deps: list[pulumi.Resource] = [self.policy_attachment]
        for obj in (args.model_object_dependency, args.canary_object_dependency):
            if obj is not None:
                deps.append(obj)
        self.function = aws.lambda_.Function(
            name,
            name=args.function_name,
            role=self.role.arn,
            runtime=args.runtime,
            handler=build.handler,
            architectures=[args.architecture],
            memory_size=ep.memory,
            timeout=ep.timeout,
            reserved_concurrent_executions=ep.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=env),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            layers=layers or None,
            # A new numbered version on every change of code or configuration (SDK pulumi_aws/lambda_/function.py:92).
            publish=True,
            # SDK pulumi_aws/lambda_/_inputs.py:2174: the only valid apply_on is PublishedVersions. Python 3.12+ only
            # (smodels.config refuses it otherwise); no provisioned concurrency or large ephemeral storage here.
            snap_start=aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions") if ep.snap_start else None,
            **code_args,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )

        # SDK pulumi_aws/lambda_/alias.py:34-36: function_version `(\$LATEST|[0-9]+)`, name not all digits.
        self.alias = aws.lambda_.Alias(
            f"{name}-{LIVE_ALIAS}",
            name=LIVE_ALIAS,
            function_name=self.function.name,
            function_version=self.function.version,
            description=f"{ep.name}: the version API Gateway invokes (the one the last pulumi up published)",
            opts=child,
        )

        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=args.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=self.alias.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=min(ep.timeout, 30) * 1000,
            opts=child,
        )
        auth = "NONE" if args.public else "AWS_IAM"
        # The routes of functions.contract.routes: the book's GET and POST /<endpoint>, and for a model endpoint
        # the Open Inference Protocol's and MLflow's paths, all to the same alias with the same authorization.
        table = routes(ep.name, ep.kind)
        self.routes = [
            aws.apigatewayv2.Route(
                f"{name}-{rid}",
                api_id=args.api.id,
                route_key=f"{method} {path}",
                target=self.integration.id.apply(lambda i: f"integrations/{i}"),
                authorization_type=auth,
                opts=child,
            )
            for rid, method, path in table
        ]
        # Only this API, any stage, either method, this endpoint's path; on the alias (the qualifier is the alias's
        # name output, "live", so the permission waits for the alias: AddPermission on a missing alias fails).
        # The protocol routes' paths get a statement each (method and path exact: no wildcard reaches another
        # endpoint whose name starts with this one's).
        def invoke(logical: str, source: str) -> aws.lambda_.Permission:
            return aws.lambda_.Permission(
                logical, action="lambda:InvokeFunction", function=self.function.name, qualifier=self.alias.name,
                principal="apigateway.amazonaws.com",
                source_arn=args.api.execution_arn.apply(lambda arn: f"{arn}/{source}"), opts=child)

        self.permission = invoke(f"{name}-invoke", f"*/*/{ep.name}")
        self.protocol_permissions = [invoke(f"{name}-{rid}-invoke", f"*/{method}{path}")
                                     for rid, method, path in table if path != f"/{ep.name}"]
        # refresh: pointer: S3 may invoke the alias when this bucket says the pointer was written (the bucket's
        # notification configuration, AwsServerlessModels, names the alias ARN and must wait for this statement:
        # S3 checks that it may invoke each destination when the configuration is put). source_account: a bucket
        # ARN names no account, so AWS recommends the owner's too; the bucket is created with the same provider
        # (account) as the function, so it is the function ARN's account, read from our own resource rather than
        # an invoke (aws.get_caller_identity would be one more call to STS, and one more answer to mock).
        self.refresh_permission: aws.lambda_.Permission | None = None
        if args.pointer_uri is not None:
            self.refresh_permission = aws.lambda_.Permission(
                f"{name}-refresh",
                action="lambda:InvokeFunction",
                function=self.function.name,
                qualifier=self.alias.name,
                principal="s3.amazonaws.com",
                source_arn=args.bucket.bucket.arn,
                source_account=self.function.arn.apply(lambda arn: arn.split(":")[4]),
                opts=child,
            )
        self.url = args.api.api_endpoint.apply(lambda base: f"{base}/{ep.name}")
        self.register_outputs(
            {"function": self.function.name, "url": self.url, "version": self.function.version, "alias": LIVE_ALIAS}
        )

    def _code(
        self, name: str, args: LambdaEndpointArgs, child: pulumi.ResourceOptions
    ) -> tuple[dict[str, object], list[pulumi.Input[str]]]:
        """Function code arguments (direct zip or S3 object) and the layer ARNs, if the build was split."""
        build = args.build
        code = self._archive_args(f"{name}-code", build.archive, build.archive_sha256, build.zipped_bytes, args, child)
        layers: list[pulumi.Input[str]] = []
        layer_build = build.layer
        if layer_build is not None:
            layer_code = self._archive_args(
                f"{name}-layer-code",
                layer_build.archive,
                layer_build.archive_sha256,
                layer_build.zipped_bytes,
                args,
                child,
            )
            self.layer = aws.lambda_.LayerVersion(
                f"{name}-layer",
                layer_name=args.layer_name,
                compatible_runtimes=[args.runtime],
                compatible_architectures=[args.architecture],
                **layer_code,
                opts=child,
            )
            layers.append(self.layer.arn)
        return code, layers

    def _archive_args(
        self,
        name: str,
        archive: object,
        sha256_hex: str,
        zipped_bytes: int,
        args: LambdaEndpointArgs,
        child: pulumi.ResourceOptions,
    ) -> dict[str, object]:
        """`code` for a zip Lambda takes directly, else an S3 object under `lambda/` (new key per hash).

        No `s3_object_version`: the object may be created in the same run that turns versioning on, which the SDK
        warns against (pulumi_aws/s3/bucket_versioning.py line 268: AWS recommends 15 minutes between the two).
        The key carries the sha256, so a new zip is a new key, and `source_code_hash` redeploys on any change."""
        code_hash = lambda_code_hash(sha256_hex)
        if zipped_bytes <= LAMBDA_DIRECT_UPLOAD_LIMIT:
            return {"code": pulumi.FileArchive(str(archive)), "source_code_hash": code_hash}
        obj = aws.s3.BucketObjectv2(
            name,
            bucket=args.bucket.bucket.id,
            key=f"lambda/{args.endpoint.name}/{sha256_hex}.zip",
            source=pulumi.FileAsset(str(archive)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.bucket.ready),
        )
        return {
            "s3_bucket": obj.bucket,
            "s3_key": obj.key,
            "source_code_hash": code_hash,
        }


# --- publisher ------------------------------------------------------------------------------------------------


@dataclass
class ModelPublisherArgs:
    """The bucket the publisher may write model objects to, and the endpoints it publishes for (refresh: pointer)."""

    bucket: ModelBucket
    pointer_endpoints: tuple[str, ...] = ()


class ModelPublisher(pulumi.ComponentResource):
    """An IAM user allowed only `s3:PutObject` under `models/*` of the model bucket (and, for each `refresh: pointer`
    endpoint, under `endpoints/<ep>/*` plus reading its pointer), with one access key."""

    def __init__(self, name: str, args: ModelPublisherArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:ModelPublisher", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.user = aws.iam.User(name, opts=child)
        self.policy = aws.iam.UserPolicy(
            f"{name}-put-models",
            user=self.user.name,
            # infra/policies.py: the local stack's publisher has the same document in moto.
            policy=args.bucket.bucket.arn.apply(
                lambda arn: policies.to_json(policies.publisher_policy(arn, args.pointer_endpoints))),
            opts=child,
        )
        self.access_key = aws.iam.AccessKey(name, user=self.user.name, opts=child)
        self.access_key_id = pulumi.Output.secret(self.access_key.id)
        self.secret_access_key = pulumi.Output.secret(self.access_key.secret)
        self.register_outputs({"user": self.user.name})


# --- the whole AWS side ---------------------------------------------------------------------------------------


@dataclass
class AwsStackArgs:
    """The validated stack config and the Lambda builds (one per AWS endpoint)."""

    config: StackConfig
    builds: Builds
    names: StackNames
    log_retention_days: int = LOG_RETENTION_DAYS
    tags: dict[str, str] = field(default_factory=dict)


class AwsServerlessModels(pulumi.ComponentResource):
    """The AWS deployment: bucket, model objects, HTTP API, one `LambdaEndpoint` per endpoint, publisher."""

    endpoints: dict[str, pulumi.Output[dict[str, str]]]

    def __init__(self, name: str, args: AwsStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:aws:Stack", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = ModelBucket(f"{name}-models", ModelBucketArgs(), opts=child)

        self.model_objects: dict[str, aws.s3.BucketObjectv2] = {}
        for key, (suffix, m) in model_objects(args.builds, "aws").items():
            self.model_objects[key] = aws.s3.BucketObjectv2(
                f"{name}-model-{suffix}",
                bucket=self.bucket.bucket.id,
                key=m.key,
                source=pulumi.FileAsset(str(m.path)),
                content_type="application/octet-stream",
                metadata={"sha256": m.sha256, "format": m.format},
                opts=pulumi.ResourceOptions(parent=self, depends_on=self.bucket.ready),
            )

        self.api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description="serverless-models prediction endpoints",
            opts=child,
        )
        self.functions: dict[str, LambdaEndpoint] = {}
        for ep in cfg.endpoints_for("aws"):
            build = args.builds[("aws", ep.name)]
            obj = self.model_objects.get(build.model.key) if build.model is not None else None
            uri = pulumi.Output.concat("s3://", obj.bucket, "/", obj.key) if obj is not None else None
            cobj = self.model_objects.get(build.canary.key) if build.canary is not None else None
            curi = pulumi.Output.concat("s3://", cobj.bucket, "/", cobj.key) if cobj is not None else None
            self.functions[ep.name] = LambdaEndpoint(
                f"{name}-{ep.name}",
                LambdaEndpointArgs(
                    endpoint=ep,
                    build=build,
                    function_name=args.names.function(ep.name),
                    log_group_name=args.names.log_group(ep.name),
                    layer_name=args.names.layer(ep.name),
                    runtime=cfg.lambda_runtime,
                    architecture=cfg.architecture,
                    bucket=self.bucket,
                    api=self.api,
                    public=cfg.public,
                    model_uri=uri,
                    model_object_dependency=obj,
                    canary_uri=curi,
                    canary_object_dependency=cobj,
                    pointer_uri=self._pointer_uri(ep),
                    log_retention_days=args.log_retention_days,
                ),
                opts=child,
            )
        # Created after the routes so the first auto-deployment already carries them.
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-default",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=cfg.throttle_rate,
                throttling_burst_limit=cfg.throttle_burst,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[r for f in self.functions.values() for r in f.routes]),
        )

        pointer_eps = [ep for ep in cfg.endpoints_for("aws") if ep.refresh == "pointer"]
        self.publisher = (
            ModelPublisher(
                f"{name}-publisher",
                ModelPublisherArgs(bucket=self.bucket, pointer_endpoints=tuple(ep.name for ep in pointer_eps)),
                opts=child,
            )
            if cfg.publisher
            else None
        )

        # The bucket's one notification configuration (S3 keeps one per bucket and replaces it whole; SDK
        # pulumi_aws/s3/bucket_notification.py:254), one entry per pointer endpoint, invoking its alias `live`
        # (the version API Gateway serves) once the pointer object is created. None without pointer endpoints.
        self.refresh_notification: aws.s3.BucketNotification | None = None
        if pointer_eps:
            permissions = [p for ep in pointer_eps if (p := self.functions[ep.name].refresh_permission) is not None]
            self.refresh_notification = aws.s3.BucketNotification(
                f"{name}-models-refresh",
                bucket=self.bucket.bucket.id,
                lambda_functions=[
                    aws.s3.BucketNotificationLambdaFunctionArgs(
                        id=f"refresh-{ep.name}",
                        lambda_function_arn=self.functions[ep.name].alias.arn,
                        events=list(POINTER_EVENTS),
                        filter_prefix=endpoint_prefix(ep.name),
                        filter_suffix=POINTER_FILE,
                    )
                    for ep in pointer_eps
                ],
                # S3 validates every destination when the configuration is put: the permissions come first.
                opts=pulumi.ResourceOptions(parent=self, depends_on=permissions),
            )

        # `alarms: true` (the default): CloudWatch alarms on each alias `live` and on the API (infra/aws_alarms.py).
        self.alarms: AwsAlarms | None = None
        if cfg.alarms:
            fns = [(ep, self.functions[ep.name]) for ep in cfg.endpoints_for("aws")]
            targets = [AlarmTarget(ep.name, ep.kind, f.function.name, f.alias.name, f.log_group.name) for ep, f in fns]
            self.alarms = AwsAlarms(
                f"{name}-alarms",
                AwsAlarmsArgs(thresholds=cfg.alarm_thresholds, names=args.names, api_id=self.api.id,
                              targets=targets, alert_email=cfg.alert_email),
                opts=child,
            )  # fmt: skip

        self.endpoints = {}
        for ep in cfg.endpoints_for("aws"):
            fn = self.functions[ep.name]
            build = args.builds[("aws", ep.name)]
            obj = self.model_objects.get(build.model.key) if build.model is not None else None
            cobj = self.model_objects.get(build.canary.key) if build.canary is not None else None
            extra: dict[str, object] = {}
            if ep.refresh == "pointer":
                extra["pointer_uri"] = self._pointer_uri(ep)
            if build.canary is not None and cobj is not None:
                extra.update(
                    canary_uri=pulumi.Output.concat("s3://", cobj.bucket, "/", cobj.key),
                    canary_sha256=build.canary.sha256,
                    canary_percent=build.canary_percent,
                )
            self.endpoints[ep.name] = pulumi.Output.all(
                url=fn.url,
                model_uri=pulumi.Output.concat("s3://", obj.bucket, "/", obj.key) if obj is not None else None,
                model_sha256=build.model.sha256 if build.model is not None else None,
                function=fn.function.name,
                version=fn.alias.function_version,
                alias=fn.alias.name,
                log_group=fn.log_group.name,
                refresh=ep.refresh,
                **extra,
                **({"oip_base": self.api.api_endpoint} if ep.kind == "model" else {}),
            ).apply(lambda d: {**d, "method": "POST", "auth": "none" if cfg.public else "aws_iam", **_protocols(d)})
        self.register_outputs({"bucket": self.bucket.bucket.bucket, "api": self.api.api_endpoint})

    def _pointer_uri(self, ep: EndpointConfig) -> pulumi.Output[str] | None:
        """s3://<model bucket>/endpoints/<endpoint>/live.json for a `refresh: pointer` endpoint, else None."""
        if ep.refresh != "pointer":
            return None
        return pulumi.Output.concat("s3://", self.bucket.bucket.bucket, "/", pointer_key(ep.name))


def _protocols(outputs: dict[str, object]) -> dict[str, object]:
    """A model endpoint's other protocols: the Open Inference Protocol's base (POST <base>/v2/models/<endpoint>/infer)
    and MLflow's scoring URL."""
    if outputs.get("oip_base") is None:
        return {}
    return {"mlflow_url": f"{outputs['url']}/invocations"}
