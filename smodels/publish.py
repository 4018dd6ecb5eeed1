"""`smodels publish`: a new model for an endpoint without a deploy (`refresh: pointer`).

    smodels publish ENDPOINT MODEL_DIR --stack STACK [--cloud aws|gcp] [--local] [--outputs FILE] [--dry-run]

1. Checks that the endpoint follows a pointer (`serverless-models:endpoints.<endpoint>.refresh: pointer`) and that
   MODEL_DIR's model takes the deployed model's input schema and task (a published model is a drop-in replacement:
   the function's package and its input schema stay as deployed).
2. Prepares the artifact exactly as the packager prepared the deployed one (same runtime: ONNX conversion or the
   pure program, parity-checked; native: the same pinned requirements), since the deployed package must serve it.
3. Uploads it under `endpoints/<endpoint>/models/<sha256>.<ext>` and only then moves the pointer
   `endpoints/<endpoint>/live.json` (uri, sha256, format, name, manifest summary) in the stack's model bucket of
   each cloud the endpoint is on (or `--cloud`). Functions follow it within `ttlSeconds`; the storage trigger
   (an S3 event on AWS, a Cloud Storage notification pushed over Pub/Sub on GCP) makes one instance follow it at
   once. Pulumi never manages the pointer, so `pulumi up` with an unchanged config leaves it where it is.

Credentials: the bucket names come from the stack outputs (`buckets`). Writes use the ambient credentials of each
cloud (boto3's chain; Google Application Default Credentials). Use the publisher identity (`publisher: true`):
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from `pulumi stack output publisher --show-secrets`, and on GCP
`gcloud auth application-default login --impersonate-service-account <publisher.gcp_service_account>`.
`--local` publishes into the running `smodels serve --stack STACK` (its emulators, from its state file), on AWS as
the local publisher identity the stack created in moto, whose policy is the program's publisher policy (moto
enforces it: a write outside `models/` and the pointer endpoints' prefixes is AccessDenied). The GCS emulator has no
IAM.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import Pointer, pointer_key, published_key
from smodels.buckets import GCS_BASE, Bucket, BucketError, GcsBucket, S3Bucket
from smodels.local_state import FAKE_CREDENTIALS, aws_credentials, state_path

__all__ = ["GCS_BASE", "Bucket", "BucketError", "GcsBucket", "PublishError", "S3Bucket", "run"]


class PublishError(BucketError):
    """Publishing cannot go ahead (the message names the setting or the step); exit code 1, or 2 for usage."""


def google_access_token() -> str:
    """An OAuth access token (read-write storage scope): Application Default Credentials, else `gcloud`."""
    from smodels.client import google_token

    token, problem = google_token(scopes=("https://www.googleapis.com/auth/devstorage.read_write",))
    if token is None:
        raise PublishError(f"no Google credentials ({problem}). Run `gcloud auth application-default login "
                           "--impersonate-service-account <publisher.gcp_service_account>`")
    return token


def cloud_buckets(outputs: dict[str, Any], clouds: list[str]) -> dict[str, Bucket]:
    """The model buckets of a deployed stack (its `buckets` output)."""
    out: dict[str, Bucket] = {}
    buckets = outputs.get("buckets") or {}
    for cloud in clouds:
        name = (buckets.get(cloud) or {}).get("models")
        if not name:
            raise PublishError(f"the stack outputs name no {cloud} model bucket (buckets.{cloud}.models); "
                               "has `pulumi up` run for this stack?")
        if cloud == "aws":
            out[cloud] = S3Bucket(name)
        else:
            cache: list[str] = []
            out[cloud] = GcsBucket(name, token=lambda c=cache: c[0] if c else (c.append(google_access_token()) or c[0]))
    return out


def local_publisher(state: dict[str, Any]) -> dict[str, str]:
    """The local publisher's credentials (boto3 keyword arguments): the IAM file the state file names; a stack
    that enforces no IAM (`iam` absent) takes any key pair."""
    iam = state.get("iam") or {}
    if not iam.get("file"):
        return FAKE_CREDENTIALS
    try:
        return aws_credentials(Path(iam["file"]), "publisher")
    except ValueError as exc:
        raise PublishError(f"the local publisher identity: {exc}") from None


def local_buckets(state: dict[str, Any], clouds: list[str]) -> dict[str, Bucket]:
    """The running local stack's emulator buckets (its state file); on AWS as its publisher identity."""
    out: dict[str, Bucket] = {}
    emulators, buckets = state.get("emulators") or {}, state.get("buckets") or {}
    region = str((state.get("iam") or {}).get("region") or "us-east-1")
    for cloud in clouds:
        url, name = emulators.get("s3" if cloud == "aws" else "gcs"), buckets.get(cloud)
        if not url or not name:
            raise PublishError(f"the local stack runs no {cloud} storage emulator; is the endpoint on {cloud}?")
        out[cloud] = (S3Bucket(name, endpoint_url=url, region=region, credentials=local_publisher(state))
                      if cloud == "aws" else GcsBucket(name, base_url=url))
    return out


def read_local_state(project_dir: Path, stack: str) -> dict[str, Any]:
    """The state file `smodels serve --stack STACK` writes once ready."""
    path = state_path(project_dir, stack)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PublishError(f"no local stack {stack!r} is running ({path} is missing); start it with "
                           f"`smodels serve --stack {stack}`") from None
    except (OSError, ValueError) as exc:
        raise PublishError(f"cannot read the local stack's state {path}: {exc}") from None


# --- what to write ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A model ready to publish for one cloud of an endpoint."""

    path: Path
    sha256: str
    format: str
    name: str
    framework: str
    runtime_reason: str
    summary: dict[str, Any]


def prepare(cfg: Any, endpoint: Any, cloud: str, model_dir: Path, out_dir: Path) -> Prepared:
    """MODEL_DIR's artifact, prepared for the package deployed for `endpoint` on `cloud`; PublishError naming the
    problem when it cannot be a drop-in replacement (schema, task, runtime, requirements)."""
    from smodels.config import _schema_without_ranges
    from smodels.packager import BuildOptions
    from smodels.packager.builder import prepare_compatible, stable_model
    from smodels.packager.model import load_model_manifest
    from smodels.packager.types import BuildError

    opts = BuildOptions(out_dir=out_dir, progress=lambda m: print(f"smodels: {m}", file=sys.stderr, flush=True))
    try:
        manifest = load_model_manifest(model_dir)
        deployed = endpoint.manifest
        mine, theirs = _schema_without_ranges(manifest), _schema_without_ranges(deployed)
        if mine != theirs:
            what = [w for w in ("task", "classes", "features") if mine.get(w) != theirs.get(w)]
            raise PublishError(
                f"{model_dir}: {manifest.name} does not take the deployed model {deployed.name}'s input schema and "
                f"task (its {', '.join(what)} differ). A published model must be a drop-in replacement; change the "
                f"endpoint's model in the stack config and run `pulumi up` instead")
        stable = stable_model(cfg, endpoint, cloud, opts)
        artifact = prepare_compatible(cfg, endpoint, cloud, opts, manifest, stable, role="published model")
    except BuildError as exc:
        raise PublishError(str(exc)) from None
    summary = {"name": manifest.name, "task": manifest.task, "framework": manifest.framework,
               "framework_version": manifest.framework_version, "features": len(manifest.features),
               "source_sha256": manifest.sha256, "runtime": artifact.runtime,
               "parity_max_abs_diff": artifact.parity_max_abs_diff}
    return Prepared(Path(artifact.path), artifact.sha256, artifact.format, manifest.name,
                    f"{manifest.framework} {manifest.framework_version}", artifact.runtime_reason, summary)


def publish_one(bucket: Bucket, endpoint: str, prepared: Prepared, now: str, dry_run: bool = False) -> dict[str, Any]:
    """Upload the artifact (content-addressed), then move the pointer. Returns what was done."""
    key = published_key(endpoint, prepared.sha256, prepared.format)
    previous = bucket.get(pointer_key(endpoint))
    before = None
    if previous is not None:
        try:
            before = json.loads(previous).get("sha256")
        except (ValueError, AttributeError):
            before = "unreadable"
    pointer = Pointer(bucket.uri(key), prepared.sha256, prepared.format, prepared.name, prepared.framework, now,
                      prepared.summary)
    result = {"cloud": bucket.cloud, "endpoint": endpoint, "artifact": bucket.uri(key),
              "pointer": bucket.uri(pointer_key(endpoint)), "sha256": prepared.sha256, "format": prepared.format,
              "previous_sha256": before, "runtime_reason": prepared.runtime_reason,
              "changed": before != prepared.sha256}
    if dry_run:
        return {**result, "dry_run": True}
    data = prepared.path.read_bytes()
    bucket.put(key, data, "application/octet-stream", {"sha256": prepared.sha256, "format": prepared.format})
    # The pointer last: a function that sees it can always fetch the artifact it names.
    bucket.put(pointer_key(endpoint), pointer.to_json(endpoint), "application/json",
               {"sha256": prepared.sha256})
    return result


# --- the command ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Publish MODEL_DIR for ENDPOINT on each cloud; returns one result per cloud."""
    from smodels.config import NAMESPACE, stack_config_for

    project_dir = Path(args.project_dir)
    cfg = stack_config_for(project_dir, args.stack)
    ep = next((e for e in cfg.endpoints if e.name == args.endpoint), None)
    if ep is None:
        raise PublishError(f"no endpoint {args.endpoint!r} in stack {args.stack}; it has "
                           f"{', '.join(e.name for e in cfg.endpoints)}", 2)
    key = f"{NAMESPACE}:endpoints.{ep.name}"
    if ep.kind != "model":
        raise PublishError(f"{key}: {ep.name} is an echo endpoint; only model endpoints serve a model", 2)
    if ep.refresh != "pointer":
        raise PublishError(f"{key}.refresh is {ep.refresh}: this endpoint only takes a new model through "
                           "`pulumi up`. Set `refresh: pointer` (and ttlSeconds) and run `pulumi up` once", 2)
    clouds = [c for c in cfg.clouds if c in ep.clouds]
    if args.cloud:
        if args.cloud not in clouds:
            raise PublishError(f"--cloud {args.cloud}: endpoint {ep.name} is not deployed there (it is on "
                               f"{', '.join(clouds) or 'no cloud'})", 2)
        clouds = [args.cloud]
    model_dir = Path(args.model_dir)
    if args.local:
        buckets = local_buckets(read_local_state(project_dir, args.stack), clouds)
    else:
        from smodels import client

        try:
            outputs = client.read_outputs(args.outputs, args.stack, cwd=project_dir)
        except client.ClientError as exc:
            raise PublishError(str(exc)) from None
        buckets = cloud_buckets(outputs, clouds)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_dir = project_dir / ".build"
    results = []
    for cloud in clouds:
        prepared = prepare(cfg, ep, cloud, model_dir, out_dir)
        results.append(publish_one(buckets[cloud], ep.name, prepared, now, args.dry_run))
    return results


def cmd_publish(args: argparse.Namespace) -> int:
    """`smodels publish`: print one line per cloud (or JSON); exit 0, 1 on failure, 2 on a usage problem."""
    try:
        results = run(args)
    except BucketError as exc:  # PublishError, or a bucket that cannot be read or written
        print(f"smodels publish: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        verb = "would move" if r.get("dry_run") else "moved"
        was = (r["previous_sha256"] or "none")[:12]
        print(f"{r['cloud']} {r['endpoint']}: {verb} {r['pointer']} {was} -> {r['sha256'][:12]} "
              f"({r['format']}; {r['runtime_reason']})" + ("" if r["changed"] else " [already live]"))
    if not args.dry_run:
        print("functions follow it within their ttlSeconds; the storage trigger makes one instance follow it at once")
    return 0


def register(subparsers: Any) -> None:
    """Add `publish` to the `smodels` parser."""
    p = subparsers.add_parser("publish", help="publish a new model for a `refresh: pointer` endpoint (no deploy)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("endpoint", metavar="ENDPOINT", help="the endpoint, e.g. pred")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="the model's manifest directory (smodels add-model)")
    p.add_argument("--stack", required=True, help="the stack (its Pulumi.<stack>.yaml and outputs)")
    p.add_argument("--cloud", choices=("aws", "gcp"), help="only this cloud (default: every cloud of the endpoint)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="into the running `smodels serve --stack STACK`")
    where.add_argument("--outputs", metavar="FILE", help="the stack outputs as JSON (default: pulumi stack output)")
    p.add_argument("--project-dir", default=".", help="directory holding Pulumi.yaml (default .)")
    p.add_argument("--dry-run", action="store_true", help="prepare and check, write nothing")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_publish)
