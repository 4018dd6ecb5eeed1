"""serverless-models: a trained model as an HTTPS prediction endpoint on AWS Lambda and Cloud Functions (2nd gen).

Reads the whole `serverless-models:*` stack config (unknown keys included, so typos fail), validates it up
front, packages every function with `smodels.packager`, and composes the components of `infra/`. Any config or
packaging problem stops `pulumi preview` with one message naming the key, before a resource is registered.

Stack outputs:

    endpoints:  {"aws": {"<endpoint>": {"url": "https://<api>.execute-api.<region>.amazonaws.com/<endpoint>",
                                        "model_uri": "s3://<bucket>/models/<name>/<sha256>.<ext>" | null,
                                        "model_sha256": "<hex>" | null, "method": "POST",
                                        "auth": "aws_iam" | "none", "function": "<lambda name>",
                                        "version": "<published version serving, e.g. 7>", "alias": "live",
                                        "log_group": "/aws/lambda/<lambda name>",
                                        "oip_base": "https://<api>.execute-api.<region>.amazonaws.com" (model
                                        endpoints: Open Inference Protocol v2 at <base>/v2/models/<endpoint>),
                                        "mlflow_url": "<url>/invocations" (model endpoints: MLflow scoring),
                                        "refresh": "redeploy" | "pointer",
                                        "pointer_uri": "s3://<bucket>/endpoints/<endpoint>/live.json",
                                        "canary_uri": "s3://...", "canary_sha256": "<hex>",
                                        "canary_percent": <0 < p <= 100>}},
                 "gcp": {"<endpoint>": {"url": "https://<function url>", "model_uri": "gs://...", ...,
                                        "auth": "google_id_token" | "none", "function": "<function name>",
                                        "oip_base": "<url>", "mlflow_url": "<url>/invocations" (model endpoints),
                                        "update_time": "<last deploy, RFC 3339>", "state": "ACTIVE" | ...,
                                        "service": "projects/<p>/locations/<r>/services/<cloud run service>",
                                        "refresh": ..., "pointer_uri": "gs://<bucket>/endpoints/<endpoint>/live.json",
                                        "canary_uri": "gs://...", "canary_sha256": ..., "canary_percent": ...}}}
                (a cloud's key is present only when the stack deploys to it; `GET <url>` gives model metadata;
                `pointer_uri` only with `refresh: pointer`, the `canary_*` keys only with a canary).
                AWS: every change publishes a new Lambda version and API Gateway invokes the alias `live`, which
                points at it. GCP: every deploy is a new Cloud Run revision of `service` (the function resource
                does not expose the revision's name; `gcloud run revisions list --service ...` shows it).
                `refresh: pointer`: the function follows `pointer_uri`, which `smodels publish` writes (never
                Pulumi: an `up` with an unchanged config leaves a published model serving).
    buckets:    {"aws": {"models": "<s3 bucket>"}, "gcp": {"models": "<gcs bucket>", "sources": "<gcs bucket>"}}
    private:    true unless `serverless-models:public` is true
    alarms:     only with `alarms: true` (the default), per cloud the stack deploys to:
                {"aws": {"topic": "<sns topic arn>" | null, "namespace": "serverless-models/<stack prefix>",
                         "api": {"5xx": "<alarm name>"},
                         "endpoints": {"<endpoint>": {"errors": "<alarm name>", "throttles": ..., "p99_duration": ...,
                                                      "out_of_range": ... (model endpoints)}}},
                 "gcp": {"notification_channel": "projects/<p>/notificationChannels/<id>" | null,
                         "endpoints": {"<endpoint>": {"5xx": "projects/<p>/alertPolicies/<id>", "throttles": ...,
                                                      "p99_latency": ..., "out_of_range": ... (model endpoints)}},
                         "log_metrics": {"<endpoint>": {"throttled": "<name>", "out_of_range": "<name>"}}}}
                AWS names are CloudWatch alarm names (`aws cloudwatch describe-alarms --alarm-names ...`); GCP names are
                alert policy resource names (`gcloud alpha monitoring policies describe ...`). `topic` and
                `notification_channel` are null without `alertEmail`: the alarms then exist with no action.
    publisher:  only with `publisher: true`: {"access_key_id": <secret>, "secret_access_key": <secret>} (AWS, an
                IAM user's key) and {"gcp_service_account": "<email>"} (GCP, a service account to impersonate;
                no key is created), each when the stack deploys to that cloud

`smodels invoke <endpoint> [--cloud aws|gcp]` reads these outputs and signs the call for private stacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infra import artifacts, names
from smodels.config import NAMESPACE, ConfigError, StackConfig, load_stack_config

PROJECT_DIR = Path(__file__).resolve().parent


def all_config() -> dict[str, Any]:
    """Every config key of the stack: the engine's PULUMI_CONFIG bag plus anything set in-process (tests)."""
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def provider_problems(cfg: StackConfig) -> list[str]:
    """Provider settings the program needs for the clouds it deploys to."""
    problems: list[str] = []
    if "gcp" in cfg.clouds:
        import pulumi_gcp as gcp

        if not gcp.config.project:
            problems.append("gcp:project: required when clouds includes gcp (pulumi config set gcp:project <id>)")
        if not gcp.config.region:
            problems.append("gcp:region: required when clouds includes gcp (pulumi config set gcp:region <region>)")
    return problems


def stack_names() -> names.StackNames:
    """The physical names of this stack (infra/names.py): unique per project and stack, within every limit."""
    return names.stack_names(pulumi.get_project(), pulumi.get_stack())


def name_problems(cfg: StackConfig) -> list[str]:
    """Every resource name a provider would refuse, or that two resources would share, naming the config key."""
    on_a_cloud = {ep.name for cloud in cfg.clouds for ep in cfg.endpoints_for(cloud)}
    deployed = [ep.name for ep in cfg.endpoints if ep.name in on_a_cloud]  # config order
    return names.name_problems(pulumi.get_project(), pulumi.get_stack(), deployed, f"{NAMESPACE}:endpoints")


def main() -> None:
    """Validate, build, compose, export."""
    try:
        cfg = load_stack_config(all_config(), PROJECT_DIR)
        problems = provider_problems(cfg) + name_problems(cfg)
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None

    try:
        builds = artifacts.builds_for(cfg)
        artifacts.check_builds(cfg, builds)
    except artifacts.BuildFailed as exc:
        raise pulumi.RunError(str(exc)) from None

    stack = stack_names()
    endpoints: dict[str, Any] = {}
    buckets: dict[str, Any] = {}
    publisher: dict[str, Any] = {}
    alarms: dict[str, Any] = {}
    if cfg.endpoints_for("aws"):
        from infra.aws import AwsServerlessModels, AwsStackArgs

        aws_side = AwsServerlessModels(
            "aws",
            AwsStackArgs(config=cfg, builds=builds, names=stack),
        )
        endpoints["aws"] = aws_side.endpoints
        buckets["aws"] = {"models": aws_side.bucket.bucket.bucket}
        if aws_side.alarms is not None:
            alarms["aws"] = aws_side.alarms.outputs
        if aws_side.publisher is not None:
            publisher["access_key_id"] = aws_side.publisher.access_key_id
            publisher["secret_access_key"] = aws_side.publisher.secret_access_key
    if cfg.endpoints_for("gcp"):
        import pulumi_gcp as gcp

        from infra.gcp import GcpServerlessModels, GcpStackArgs

        gcp_side = GcpServerlessModels(
            "gcp",
            GcpStackArgs(
                config=cfg,
                builds=builds,
                project=str(gcp.config.project),
                region=str(gcp.config.region),
                names=stack,
            ),
        )
        endpoints["gcp"] = gcp_side.endpoints
        buckets["gcp"] = {"models": gcp_side.model_bucket.name, "sources": gcp_side.source_bucket.name}
        if gcp_side.alarms is not None:
            alarms["gcp"] = gcp_side.alarms.outputs
        if gcp_side.publisher is not None:
            publisher["gcp_service_account"] = gcp_side.publisher.email

    if publisher:
        pulumi.export("publisher", publisher)
    if alarms:
        pulumi.export("alarms", alarms)
    pulumi.export("endpoints", endpoints)
    pulumi.export("buckets", buckets)
    pulumi.export("private", not cfg.public)


main()
