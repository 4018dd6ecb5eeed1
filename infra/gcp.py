"""GCP side of the stack: APIs, model and source buckets, one 2nd-gen Cloud Function per endpoint.

Composition (ComponentResources with typed args dataclasses, children parented to them):

- `PrivateBucket`    uniform bucket-level access, public access prevention "enforced", versioning, force_destroy.
- `BuildIdentity`    the service account Cloud Build runs the function builds as (`build_config.service_account`;
                     fresh projects no longer give Cloud Build a usable default): logs writer and Artifact Registry
                     writer on the project, object viewer on our source bucket, object admin only on the
                     Google-managed `gcf-v2-*` staging buckets (an IAM condition), where Cloud Functions copies
                     sources. One identity serves every function: the build rights are the same for all.
- `CloudFunctionEndpoint` per endpoint: a runtime service account with `roles/storage.objectViewer` on the model
                     bucket only, the source object (named by its hash), the function, and `roles/run.invoker` on
                     its Cloud Run service for `allUsers` (public) or just the configured `invokers` (private).
- `GcpServerlessModels` the whole GCP side: enabled APIs (functions depend on them), buckets, model objects
                     (keyed by sha256), build identity and the endpoints.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.artifacts import Builds, model_objects
from smodels.config import EndpointConfig, StackConfig
from smodels.packager import FunctionBuild

SERVICES = (
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "artifactregistry.googleapis.com",
    "storage.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
)


def account_id(*parts: str) -> str:
    """A service account id (6-30 chars, [a-z][-a-z0-9]*[a-z0-9]) from `parts`, hashed when too long."""
    raw = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    if not raw[:1].isalpha():
        raw = "sm-" + raw
    if len(raw) > 30:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
        raw = raw[:23].rstrip("-") + "-" + digest
    return raw.ljust(6, "x")


# --- buckets --------------------------------------------------------------------------------------------------


@dataclass
class PrivateBucketArgs:
    """Where the bucket lives and what it must wait for (the storage API)."""

    location: str
    depends_on: Sequence[pulumi.Resource] = ()


class PrivateBucket(pulumi.ComponentResource):
    """A GCS bucket no one outside the project's IAM can read: uniform access, public access prevented."""

    bucket: gcp.storage.Bucket

    def __init__(self, name: str, args: PrivateBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:PrivateBucket", name, None, opts)
        self.bucket = gcp.storage.Bucket(
            name,
            location=args.location,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            force_destroy=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"name": self.bucket.name})


# --- build identity -------------------------------------------------------------------------------------------


@dataclass
class BuildIdentityArgs:
    """The project, the account id and the bucket holding our source archives."""

    project: str
    account_id: str
    source_bucket: gcp.storage.Bucket
    depends_on: Sequence[pulumi.Resource] = ()


class BuildIdentity(pulumi.ComponentResource):
    """The service account Cloud Build uses for the function builds, with only the roles a build needs."""

    account: gcp.serviceaccount.Account

    def __init__(self, name: str, args: BuildIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:BuildIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            name,
            account_id=args.account_id,
            display_name="serverless-models function builds",
            project=args.project,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.grants: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                f"{name}-{role.removeprefix('roles/').replace('.', '-').lower()}",
                project=args.project,
                role=role,
                member=self.account.member,
                opts=child,
            )
            for role in ("roles/logging.logWriter", "roles/artifactregistry.writer")
        ]
        self.grants.append(
            gcp.projects.IAMMember(
                f"{name}-gcf-staging",
                project=args.project,
                role="roles/storage.objectAdmin",
                member=self.account.member,
                condition=gcp.projects.IAMMemberConditionArgs(
                    title="gcf-staging-buckets-only",
                    description="Cloud Functions' own upload and source buckets",
                    expression='resource.name.startsWith("projects/_/buckets/gcf-v2-")',
                ),
                opts=child,
            )
        )
        self.grants.append(
            gcp.storage.BucketIAMMember(
                f"{name}-read-sources",
                bucket=args.source_bucket.name,
                role="roles/storage.objectViewer",
                member=self.account.member,
                opts=child,
            )
        )
        self.register_outputs({"email": self.account.email})


# --- one endpoint ---------------------------------------------------------------------------------------------


@dataclass
class CloudFunctionEndpointArgs:
    """Everything one Cloud Function endpoint needs."""

    endpoint: EndpointConfig
    build: FunctionBuild
    function_name: str
    runtime_account_id: str
    project: str
    region: str
    runtime: str
    model_bucket: gcp.storage.Bucket
    source_bucket: gcp.storage.Bucket
    build_identity: BuildIdentity
    public: bool
    invokers: Sequence[str]
    model_uri: pulumi.Input[str] | None = None
    model_object: pulumi.Resource | None = None
    depends_on: Sequence[pulumi.Resource] = ()


class CloudFunctionEndpoint(pulumi.ComponentResource):
    """Runtime identity, source object, 2nd-gen function and invoker grants for one endpoint."""

    function: gcp.cloudfunctionsv2.Function
    url: pulumi.Output[str]

    def __init__(self, name: str, args: CloudFunctionEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:CloudFunctionEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ep, build = args.endpoint, args.build

        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            account_id=args.runtime_account_id,
            display_name=f"serverless-models {ep.name} runtime",
            project=args.project,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        deps: list[pulumi.Resource] = [*args.depends_on, *args.build_identity.grants]
        if args.model_object is not None:
            deps.append(args.model_object)
        if build.model is not None:
            self.model_reader = gcp.storage.BucketIAMMember(
                f"{name}-read-models",
                bucket=args.model_bucket.name,
                role="roles/storage.objectViewer",
                member=self.account.member,
                opts=child,
            )
            deps.append(self.model_reader)
        self.source = gcp.storage.BucketObject(
            f"{name}-source",
            bucket=args.source_bucket.name,
            name=build.object_name,
            source=pulumi.FileAsset(str(build.archive)),
            content_type="application/zip",
            opts=child,
        )
        env = build.function_env(args.model_uri, ep.ttl_seconds)
        self.function = gcp.cloudfunctionsv2.Function(
            name,
            name=args.function_name,
            location=args.region,
            project=args.project,
            description=f"serverless-models endpoint {ep.name}",
            build_config=gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
                runtime=args.runtime,
                entry_point=build.entry_point,
                service_account=args.build_identity.account.id,
                source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                    storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                        bucket=self.source.bucket, object=self.source.name
                    )
                ),
            ),
            service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
                available_memory=f"{ep.memory}M",
                timeout_seconds=ep.timeout,
                max_instance_count=ep.max_instances,
                min_instance_count=ep.min_instances,
                environment_variables=env,
                ingress_settings="ALLOW_ALL",
                all_traffic_on_latest_revision=True,
                service_account_email=self.account.email,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )
        members = ["allUsers"] if args.public else list(args.invokers)
        service = self.function.service_config.apply(lambda c: c.service if c else None)
        # Named by member, not position: reordering `invokers` must not touch the grants.
        self.invokers = [
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker-"
                + ("public" if member == "allUsers" else hashlib.sha256(member.encode()).hexdigest()[:10]),
                project=args.project,
                location=args.region,
                name=service,
                role="roles/run.invoker",
                member=member,
                opts=child,
            )
            for member in members
        ]
        self.url = self.function.url
        self.register_outputs({"function": self.function.name, "url": self.url})


# --- the whole GCP side ---------------------------------------------------------------------------------------


@dataclass
class GcpStackArgs:
    """The validated stack config, the Cloud Functions builds, and where to deploy."""

    config: StackConfig
    builds: Builds
    project: str
    region: str
    name_prefix: str


class GcpServerlessModels(pulumi.ComponentResource):
    """The GCP deployment: APIs, buckets, model objects, build identity, one `CloudFunctionEndpoint` each."""

    endpoints: dict[str, pulumi.Output[dict[str, str]]]

    def __init__(self, name: str, args: GcpStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:Stack", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.services = [
            gcp.projects.Service(
                f"{name}-{svc.split('.')[0]}",
                project=args.project,
                service=svc,
                disable_on_destroy=False,
                opts=child,
            )
            for svc in SERVICES
        ]
        self.model_bucket = PrivateBucket(
            f"{name}-models", PrivateBucketArgs(location=args.region, depends_on=self.services), opts=child
        ).bucket
        self.source_bucket = PrivateBucket(
            f"{name}-sources", PrivateBucketArgs(location=args.region, depends_on=self.services), opts=child
        ).bucket

        self.model_objects: dict[str, gcp.storage.BucketObject] = {}
        for key, (suffix, m) in model_objects(args.builds, "gcp").items():
            self.model_objects[key] = gcp.storage.BucketObject(
                f"{name}-model-{suffix}",
                bucket=self.model_bucket.name,
                name=m.key,
                source=pulumi.FileAsset(str(m.path)),
                content_type="application/octet-stream",
                metadata={"sha256": m.sha256, "format": m.format},
                opts=child,
            )

        self.build_identity = BuildIdentity(
            f"{name}-build",
            BuildIdentityArgs(
                project=args.project,
                account_id=account_id(args.name_prefix, "build"),
                source_bucket=self.source_bucket,
                depends_on=self.services,
            ),
            opts=child,
        )
        self.functions: dict[str, CloudFunctionEndpoint] = {}
        self.endpoints = {}
        for ep in cfg.endpoints_for("gcp"):
            build = args.builds[("gcp", ep.name)]
            obj = self.model_objects.get(build.model.key) if build.model is not None else None
            uri = pulumi.Output.concat("gs://", obj.bucket, "/", obj.name) if obj is not None else None
            fn = CloudFunctionEndpoint(
                f"{name}-{ep.name}",
                CloudFunctionEndpointArgs(
                    endpoint=ep,
                    build=build,
                    function_name=f"{args.name_prefix}-{ep.name}",
                    runtime_account_id=account_id(args.name_prefix, ep.name),
                    project=args.project,
                    region=args.region,
                    runtime=cfg.gcp_runtime,
                    model_bucket=self.model_bucket,
                    source_bucket=self.source_bucket,
                    build_identity=self.build_identity,
                    public=cfg.public,
                    invokers=cfg.invokers,
                    model_uri=uri,
                    model_object=obj,
                    depends_on=self.services,
                ),
                opts=child,
            )
            self.functions[ep.name] = fn
            self.endpoints[ep.name] = pulumi.Output.all(
                url=fn.url,
                model_uri=uri,
                model_sha256=build.model.sha256 if build.model is not None else None,
                function=fn.function.name,
            ).apply(lambda d: {**d, "method": "POST", "auth": "none" if cfg.public else "google_id_token"})
        self.register_outputs({"model_bucket": self.model_bucket.name, "source_bucket": self.source_bucket.name})
