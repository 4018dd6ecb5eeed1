"""GCP side of the stack: APIs, model and source buckets, one 2nd-gen Cloud Function per endpoint.

Composition (ComponentResources with typed args dataclasses, children parented to them):

- `PrivateBucket`    uniform bucket-level access, public access prevention "enforced", versioning, force_destroy.
- `BuildIdentity`    the service account Cloud Build runs the function builds as (`build_config.service_account`;
                     fresh projects no longer give Cloud Build a usable default), with the roles Google documents
                     for it and the provider's "basic builder" example grants (pulumi_gcp/cloudfunctionsv2/
                     function.py, lines 889-926): logs writer, Artifact Registry writer and storage object admin
                     on the project. Object admin is not narrowed by an IAM condition to the `gcf-v2-*` buckets:
                     conditions apply only to buckets with uniform access, and Cloud Functions creates those
                     buckets itself. Plus object viewer on our source bucket. One identity serves every function.
- `CloudFunctionEndpoint` per endpoint: a runtime service account that may read only its own model's objects
                     (`roles/storage.objectViewer` on the model bucket under an IAM condition on the
                     `models/<manifest name>/` prefix, as the AWS roles), the source object (named by its hash),
                     a wait for IAM to propagate, the function, and `roles/run.invoker` on its Cloud Run service for
                     `allUsers` (public) or just the configured `invokers` (private).
- `PointerRefresh`   per `refresh: pointer` endpoint: a Pub/Sub topic, publish on it for the Cloud Storage service
                     agent, a notification of the model bucket on the pointer's creation (OBJECT_FINALIZE of
                     `endpoints/<endpoint>/live.json`), a push subscription to `<function url>/_refresh` with an OIDC
                     token of the endpoint's runtime account (audience: the function URL, which Cloud Run checks),
                     and `roles/run.invoker` for that account on the function's service, so the push reaches a
                     private function. A wait for the publish grant and the invoker grant to take effect comes
                     before the notification and the subscription. The function itself verifies the push's token
                     (REFRESH_* variables, functions/gcp.py): audience its URL, email its runtime account.
- `GcpModelPublisher` (`publisher: true`) a service account with `roles/storage.objectUser` on the model bucket
                     under an IAM condition on `models/` and each pointer endpoint's `endpoints/<endpoint>/`
                     (objectUser, not objectCreator: moving the pointer overwrites it, which needs delete).
- `GcpServerlessModels` the whole GCP side: enabled APIs and a wait for them to be usable (everything else
                     depends on it), buckets, model objects (keyed by sha256), build identity, the endpoints and
                     (`alarms: true`) the alert policies of infra/gcp_alarms.py (`GcpAlarms`).

`refresh: pointer` (smodels publish moves a pointer; Pulumi never writes under `endpoints/`): the function gets
MODEL_POINTER_URI = gs://<bucket>/endpoints/<endpoint>/live.json and its read condition also admits
`endpoints/<endpoint>/`; pubsub.googleapis.com is enabled only when an endpoint uses it, so other stacks keep their
API list (and their wait's trigger) as before. monitoring.googleapis.com likewise only with `alarms: true` (a stack
that turns alarms on re-runs the API wait once, for the new API).

The waits are `pulumiverse_time.Sleep` resources: they sleep once, when created by `pulumi up`, never in
`pulumi preview`, and again only when their `triggers` (the accounts and roles they wait for) change. IAM grants
take effect minutes after the API call returns; without the wait a fresh project's first build fails with
"Access to bucket gcf-v2-sources-... denied" (terraform-provider-google #20571, #18956).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumiverse_time as time

from functions.contract import REFRESH_PATH, endpoint_prefix, pointer_key, refresh_env
from infra.artifacts import Builds, model_objects, model_prefixes
from infra.gcp_alarms import AlertTarget, GcpAlarms, GcpAlarmsArgs
from infra.names import StackNames, gcp_function_url
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
    # Project IAM grants (projects.IAMMember) read and write the project's policy through this API.
    "cloudresourcemanager.googleapis.com",
)
# Enabled only when an endpoint has `refresh: pointer` (topics, subscriptions, the storage notifications' target).
POINTER_SERVICES = ("pubsub.googleapis.com",)
# Enabled only with `alarms: true` (alert policies, notification channels; log-based metrics use logging, above).
ALARM_SERVICES = ("monitoring.googleapis.com",)
# The push subscription of a pointer endpoint. Retries back off from 10 s to 10 min (SDK pulumi_gcp/pubsub/
# _inputs.py:1729-1731, both within 0..600 s); the subscription never expires (ttl "", subscription.py:95-101: an
# idle one would otherwise be deleted after 31 days, and pointers may move rarely).
REFRESH_MIN_BACKOFF, REFRESH_MAX_BACKOFF = "10s", "600s"
# Messages older than this are dropped: by then every instance has re-read the pointer on its own (ttlSeconds),
# within the API's 10 minutes .. 31 days (subscription.py:111-116).
RETENTION_MIN_S, RETENTION_MAX_S = 600, 2_678_400
# The Cloud Storage service agent publishes the notifications (SDK pulumi_gcp/storage/notification.py example and
# get_project_service_account.py:100-127): it needs publish on each topic before the notification is created.
PUBSUB_PUBLISHER = "roles/pubsub.publisher"
# Overwriting an object (the pointer) needs storage.objects.delete besides create: objectUser, not objectCreator.
PUBLISHER_ROLE = "roles/storage.objectUser"
# The roles Google documents for a Cloud Functions build service account, as the provider's example grants them
# (SDK pulumi_gcp/cloudfunctionsv2/function.py, "Cloudfunctions2 Basic Builder", lines 889-926).
BUILD_ROLES = ("roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin")
# Waits (Go durations). The provider's example waits 60 s after the build grants; upstream still saw that fail
# and doubled it (magic-modules #11909). Freshly enabled APIs need their own minute.
API_PROPAGATION = "60s"
IAM_PROPAGATION = "120s"


def service_account(
    name: str, project: str, account_id: str, display_name: str, parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> gcp.serviceaccount.Account:
    """A service account of the stack (ids from infra/names.py), created once the APIs are usable (`depends_on`)."""
    return gcp.serviceaccount.Account(
        name,
        account_id=account_id,
        display_name=display_name,
        project=project,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


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
    display_name: str
    source_bucket: gcp.storage.Bucket
    depends_on: Sequence[pulumi.Resource] = ()


class BuildIdentity(pulumi.ComponentResource):
    """The service account Cloud Build uses for the function builds, with only the roles a build needs."""

    account: gcp.serviceaccount.Account

    def __init__(self, name: str, args: BuildIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:BuildIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = service_account(
            name, args.project, args.account_id, args.display_name, self, args.depends_on
        )
        self.grants: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                f"{name}-{role.removeprefix('roles/').replace('.', '-').lower()}",
                project=args.project,
                role=role,
                member=self.account.member,
                opts=child,
            )
            for role in BUILD_ROLES
        ]
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
    function_name: str  # infra/names.py: unique per stack, <= 63
    runtime_account_id: str  # infra/names.py: 6-30, never the build account's
    display_name: str
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
    canary_uri: pulumi.Input[str] | None = None
    canary_object: pulumi.Resource | None = None
    pointer_uri: pulumi.Input[str] | None = None  # refresh: pointer, gs://<bucket>/endpoints/<endpoint>/live.json
    depends_on: Sequence[pulumi.Resource] = ()


def _prefix_condition(bucket: pulumi.Input[str], prefixes: Sequence[str]) -> pulumi.Output[str]:
    """An IAM condition admitting the objects of `bucket` under any of `prefixes` (one startsWith each, or-ed)."""
    return pulumi.Output.from_input(bucket).apply(
        lambda b: " || ".join(f'resource.name.startsWith("projects/_/buckets/{b}/objects/{p}")' for p in prefixes)
    )


class CloudFunctionEndpoint(pulumi.ComponentResource):
    """Runtime identity, source object, 2nd-gen function and invoker grants for one endpoint."""

    function: gcp.cloudfunctionsv2.Function
    url: pulumi.Output[str]

    def __init__(self, name: str, args: CloudFunctionEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:CloudFunctionEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ep, build = args.endpoint, args.build

        self.account = service_account(
            f"{name}-sa", args.project, args.runtime_account_id, args.display_name, self, args.depends_on
        )
        grants: list[pulumi.Resource] = [self.account, *args.build_identity.grants]
        condition: pulumi.Output[str] | str = ""
        if build.model is not None:
            # Its own model only, as on AWS: the prefix `models/<manifest name>/`, so a retrained model (a new sha256
            # key) needs no new grant. Conditions apply here: the model bucket has uniform bucket-level access.
            # With a canary, its prefix too (one startsWith per prefix, or-ed): still nothing else in the bucket.
            # With refresh: pointer, what `smodels publish` writes for this endpoint, `endpoints/<endpoint>/`.
            prefixes = model_prefixes(build)
            if args.pointer_uri is not None:
                prefixes.append(endpoint_prefix(ep.name))
            prefix = " and ".join(prefixes)
            condition = _prefix_condition(args.model_bucket.name, prefixes)
            self.model_reader = gcp.storage.BucketIAMMember(
                f"{name}-read-models",
                bucket=args.model_bucket.name,
                role="roles/storage.objectViewer",
                member=self.account.member,
                condition=gcp.storage.BucketIAMMemberConditionArgs(
                    title="own-model-only",
                    description=f"{ep.name} reads {prefix} only",
                    expression=condition,
                ),
                opts=child,
            )
            grants.append(self.model_reader)
        # The build account's grants and this endpoint's account and grant must have taken effect before the
        # function is created (its build reads the source as the build account; it runs as the runtime account).
        self.iam_ready = time.Sleep(
            f"{name}-iam-ready",
            create_duration=IAM_PROPAGATION,
            triggers={
                "build_account": args.build_identity.account.email,
                "build_roles": ",".join(BUILD_ROLES),
                "runtime_account": self.account.email,
                "model_condition": condition,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        deps: list[pulumi.Resource] = [*args.depends_on, self.iam_ready]
        for obj in (args.model_object, args.canary_object):
            if obj is not None:
                deps.append(obj)
        self.source = gcp.storage.BucketObject(
            f"{name}-source",
            bucket=args.source_bucket.name,
            name=build.object_name,
            source=pulumi.FileAsset(str(build.archive)),
            content_type="application/zip",
            opts=child,
        )
        env = build.function_env(
            args.model_uri, ep.ttl_seconds, canary_uri=args.canary_uri, pointer_uri=args.pointer_uri
        )
        # The URL the function gets (the gen2 `url` output, known before it exists): the push subscription's audience
        # and, for a pointer endpoint, what its /_refresh checks the push's token against, with its own runtime
        # account. A private function takes a token whose signature Cloud Run removed after verifying it; a public
        # one (allUsers may invoke, so anyone's token gets through) only a token it can verify itself.
        self.refresh_audience = gcp_function_url(args.region, args.project, args.function_name)
        if args.pointer_uri is not None:
            env.update(refresh_env(self.refresh_audience, self.account.email, platform_verified=not args.public))
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
        self.service = service
        self.register_outputs({"function": self.function.name, "url": self.url})


# --- refresh: pointer -----------------------------------------------------------------------------------------


@dataclass
class PointerRefreshArgs:
    """What the storage trigger of one `refresh: pointer` endpoint connects: the bucket and the function."""

    endpoint: EndpointConfig
    project: str
    region: str
    topic_name: str  # infra/names.py: unique per stack, Pub/Sub's limits
    subscription_name: str
    model_bucket: gcp.storage.Bucket
    storage_agent_member: pulumi.Input[str]  # serviceAccount:service-<n>@gs-project-accounts.iam.gserviceaccount.com
    function: CloudFunctionEndpoint
    depends_on: Sequence[pulumi.Resource] = ()


def refresh_ack_deadline(timeout_seconds: int) -> int:
    """The push's ack deadline, which is also its request timeout: the function's own timeout, within Pub/Sub's
    10..600 s (SDK pulumi_gcp/pubsub/subscription.py:48-61)."""
    return max(10, min(600, timeout_seconds))


def refresh_retention(ttl_seconds: int) -> str:
    """How long an undelivered refresh is worth keeping: ttlSeconds (after that every instance has re-read the
    pointer anyway), within Pub/Sub's 600 s .. 31 days (subscription.py:111-116)."""
    return f"{max(RETENTION_MIN_S, min(RETENTION_MAX_S, ttl_seconds))}s"


class PointerRefresh(pulumi.ComponentResource):
    """The pointer's creation in the model bucket, pushed to the function's `/_refresh` (one instance gets it)."""

    def __init__(self, name: str, args: PointerRefreshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:PointerRefresh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ep, fn = args.endpoint, args.function
        self.topic = gcp.pubsub.Topic(
            f"{name}-topic",
            name=args.topic_name,
            project=args.project,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        # Cloud Storage publishes as its service agent, and checks that it may when the notification is created.
        self.storage_publishes = gcp.pubsub.TopicIAMMember(
            f"{name}-storage-publishes",
            project=args.project,
            topic=self.topic.name,
            role=PUBSUB_PUBLISHER,
            member=args.storage_agent_member,
            opts=child,
        )
        # The push carries an ID token of the endpoint's own runtime account, so a private function lets it in.
        self.invoker = gcp.cloudrunv2.ServiceIamMember(
            f"{name}-invoker",
            project=args.project,
            location=args.region,
            name=fn.service,
            role="roles/run.invoker",
            member=fn.account.member,
            opts=child,
        )
        # Both grants must have taken effect first: Cloud Storage checks that its agent may publish when the
        # notification is created, and a push refused by Cloud Run would only be retried with back-off. Without the
        # wait a first `up` could fail on the notification ("... does not have permission to publish") and need a
        # second run. As the other waits: once, at create; again only when a trigger changes.
        self.iam_ready = time.Sleep(
            f"{name}-iam-ready",
            create_duration=IAM_PROPAGATION,
            triggers={"storage_agent": args.storage_agent_member, "topic": self.topic.name,
                      "publisher_role": PUBSUB_PUBLISHER, "invoker": fn.account.email},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.storage_publishes, self.invoker]),
        )
        # SDK pulumi_gcp/storage/notification.py:31-41: the pointer's creation (and every overwrite: a new generation
        # is a new OBJECT_FINALIZE) of exactly this endpoint's pointer key; published artifacts do not match it.
        self.notification = gcp.storage.Notification(
            f"{name}-notification",
            bucket=args.model_bucket.name,
            payload_format="JSON_API_V1",
            topic=self.topic.id,
            event_types=["OBJECT_FINALIZE"],
            object_name_prefix=pointer_key(ep.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.iam_ready]),
        )
        self.subscription = gcp.pubsub.Subscription(
            f"{name}-push",
            name=args.subscription_name,
            project=args.project,
            topic=self.topic.id,
            ack_deadline_seconds=refresh_ack_deadline(ep.timeout),
            message_retention_duration=refresh_retention(ep.ttl_seconds),
            retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(
                minimum_backoff=REFRESH_MIN_BACKOFF, maximum_backoff=REFRESH_MAX_BACKOFF
            ),
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
            push_config=gcp.pubsub.SubscriptionPushConfigArgs(
                push_endpoint=fn.url.apply(lambda url: f"{url}{REFRESH_PATH}"),
                # SDK pulumi_gcp/pubsub/_inputs.py:1658-1672. Cloud Run checks the token's audience against the
                # service's URL, so the audience is the function URL itself, not the /_refresh path.
                # The audience is the one value the function's REFRESH_AUDIENCE holds too (CloudFunctionEndpoint).
                oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=fn.account.email, audience=fn.refresh_audience
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.iam_ready]),
        )
        self.register_outputs({"topic": self.topic.name, "subscription": self.subscription.name})


# --- publisher ------------------------------------------------------------------------------------------------


@dataclass
class GcpModelPublisherArgs:
    """Where the publisher writes, and for which pointer endpoints."""

    project: str
    account_id: str  # infra/names.py publisher_account_id
    display_name: str
    model_bucket: gcp.storage.Bucket
    pointer_endpoints: tuple[str, ...] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class GcpModelPublisher(pulumi.ComponentResource):
    """A service account that may write `models/` and each pointer endpoint's `endpoints/<endpoint>/` only."""

    account: gcp.serviceaccount.Account

    def __init__(self, name: str, args: GcpModelPublisherArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:ModelPublisher", name, None, opts)
        self.account = service_account(
            name, args.project, args.account_id, args.display_name, self, args.depends_on
        )
        prefixes = ["models/", *(endpoint_prefix(ep) for ep in args.pointer_endpoints)]
        self.writer = gcp.storage.BucketIAMMember(
            f"{name}-write-models",
            bucket=args.model_bucket.name,
            role=PUBLISHER_ROLE,
            member=self.account.member,
            condition=gcp.storage.BucketIAMMemberConditionArgs(
                title="publish-only",
                description="writes " + " and ".join(prefixes) + " only",
                expression=_prefix_condition(args.model_bucket.name, prefixes),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.email = self.account.email
        self.register_outputs({"email": self.email})


# --- the whole GCP side ---------------------------------------------------------------------------------------


@dataclass
class GcpStackArgs:
    """The validated stack config, the Cloud Functions builds, and where to deploy."""

    config: StackConfig
    builds: Builds
    project: str
    region: str
    names: StackNames


class GcpServerlessModels(pulumi.ComponentResource):
    """The GCP deployment: APIs, buckets, model objects, build identity, one `CloudFunctionEndpoint` each."""

    endpoints: dict[str, pulumi.Output[dict[str, str]]]

    def __init__(self, name: str, args: GcpStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-models:gcp:Stack", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        pointer_eps = [ep for ep in cfg.endpoints_for("gcp") if ep.refresh == "pointer"]
        services = SERVICES + (POINTER_SERVICES if pointer_eps else ()) + (ALARM_SERVICES if cfg.alarms else ())
        self.services = [
            gcp.projects.Service(
                f"{name}-{svc.split('.')[0]}",
                project=args.project,
                service=svc,
                disable_on_destroy=False,
                opts=child,
            )
            for svc in services
        ]
        # An enabled API answers "has not been used in project ... or it is disabled" for a while: wait once.
        self.apis_ready = time.Sleep(
            f"{name}-apis-ready",
            create_duration=API_PROPAGATION,
            triggers={"services": ",".join(services)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.services),
        )
        ready: list[pulumi.Resource] = [self.apis_ready]
        self.model_bucket = PrivateBucket(
            f"{name}-models", PrivateBucketArgs(location=args.region, depends_on=ready), opts=child
        ).bucket
        self.source_bucket = PrivateBucket(
            f"{name}-sources", PrivateBucketArgs(location=args.region, depends_on=ready), opts=child
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
                account_id=args.names.build_account_id(),
                display_name=args.names.display_name("function builds"),
                source_bucket=self.source_bucket,
                depends_on=ready,
            ),
            opts=child,
        )
        self.functions: dict[str, CloudFunctionEndpoint] = {}
        self.endpoints = {}
        for ep in cfg.endpoints_for("gcp"):
            build = args.builds[("gcp", ep.name)]
            obj = self.model_objects.get(build.model.key) if build.model is not None else None
            uri = pulumi.Output.concat("gs://", obj.bucket, "/", obj.name) if obj is not None else None
            cobj = self.model_objects.get(build.canary.key) if build.canary is not None else None
            curi = pulumi.Output.concat("gs://", cobj.bucket, "/", cobj.name) if cobj is not None else None
            fn = CloudFunctionEndpoint(
                f"{name}-{ep.name}",
                CloudFunctionEndpointArgs(
                    endpoint=ep,
                    build=build,
                    function_name=args.names.function(ep.name),
                    runtime_account_id=args.names.runtime_account_id(ep.name),
                    display_name=args.names.display_name(f"{ep.name} runtime"),
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
                    canary_uri=curi,
                    canary_object=cobj,
                    pointer_uri=self._pointer_uri(ep),
                    depends_on=ready,
                ),
                opts=child,
            )
            self.functions[ep.name] = fn
            extra: dict[str, object] = {}
            if ep.refresh == "pointer":
                extra["pointer_uri"] = self._pointer_uri(ep)
            if build.canary is not None and curi is not None:
                extra.update(canary_uri=curi, canary_sha256=build.canary.sha256, canary_percent=build.canary_percent)
            self.endpoints[ep.name] = pulumi.Output.all(
                url=fn.url,
                model_uri=uri,
                model_sha256=build.model.sha256 if build.model is not None else None,
                refresh=ep.refresh,
                **extra,
                function=fn.function.name,
                # Each deploy is a new Cloud Run revision; the function resource does not expose its name (SDK
                # pulumi_gcp/cloudfunctionsv2/function.py:2460,2468: state and update_time are what it has), so the
                # outputs name the deploy by its time and the Cloud Run service, where the revision is listed.
                update_time=fn.function.update_time,
                state=fn.function.state,
                service=fn.function.service_config.apply(lambda c: c.service if c else None),
            ).apply(lambda d, model=ep.kind == "model": {
                **d, "method": "POST", "auth": "none" if cfg.public else "google_id_token",
                # The function URL takes any path: the OIP base is the URL itself, MLflow's path is below it.
                **({"oip_base": d["url"], "mlflow_url": f"{d['url']}/invocations"} if model else {})})

        # refresh: pointer: a storage trigger per endpoint. The Cloud Storage service agent is looked up (an invoke,
        # which also creates the agent on first use; SDK pulumi_gcp/storage/get_project_service_account.py:100-127)
        # only when an endpoint needs it, after the storage API is enabled.
        self.refresh: dict[str, PointerRefresh] = {}
        if pointer_eps:
            agent = gcp.storage.get_project_service_account_output(
                project=args.project, opts=pulumi.InvokeOutputOptions(depends_on=ready)
            )
            for ep in pointer_eps:
                self.refresh[ep.name] = PointerRefresh(
                    f"{name}-{ep.name}-refresh",
                    PointerRefreshArgs(
                        endpoint=ep,
                        project=args.project,
                        region=args.region,
                        topic_name=args.names.refresh_topic(ep.name),
                        subscription_name=args.names.refresh_subscription(ep.name),
                        model_bucket=self.model_bucket,
                        storage_agent_member=agent.member,
                        function=self.functions[ep.name],
                        depends_on=ready,
                    ),
                    opts=child,
                )

        # `alarms: true` (the default): alert policies on each function's Cloud Run service (infra/gcp_alarms.py),
        # named by the service's name (the function's), so they need not wait for the builds.
        self.alarms: GcpAlarms | None = None
        if cfg.alarms:
            targets = [AlertTarget(ep.name, ep.kind, args.names.function(ep.name)) for ep in cfg.endpoints_for("gcp")]
            self.alarms = GcpAlarms(
                f"{name}-alarms",
                GcpAlarmsArgs(project=args.project, thresholds=cfg.alarm_thresholds, names=args.names,
                              targets=targets, alert_email=cfg.alert_email, depends_on=ready),
                opts=child,
            )  # fmt: skip

        self.publisher = (
            GcpModelPublisher(
                f"{name}-publisher",
                GcpModelPublisherArgs(
                    project=args.project,
                    account_id=args.names.publisher_account_id(),
                    display_name=args.names.display_name("model publisher"),
                    model_bucket=self.model_bucket,
                    pointer_endpoints=tuple(ep.name for ep in pointer_eps),
                    depends_on=ready,
                ),
                opts=child,
            )
            if cfg.publisher
            else None
        )
        self.register_outputs({"model_bucket": self.model_bucket.name, "source_bucket": self.source_bucket.name})

    def _pointer_uri(self, ep: EndpointConfig) -> pulumi.Output[str] | None:
        """gs://<model bucket>/endpoints/<endpoint>/live.json for a `refresh: pointer` endpoint, else None."""
        if ep.refresh != "pointer":
            return None
        return pulumi.Output.concat("gs://", self.model_bucket.name, "/", pointer_key(ep.name))
