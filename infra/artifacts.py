"""The one seam between the Pulumi program and the packager (`smodels.build`).

`builds_for(cfg)` returns one `FunctionBuild` per (cloud, endpoint) the stack deploys. The infra components
only read the attributes listed in the Protocols below, so tests can hand them small fakes made from real zips,
and the packager can grow fields without touching infra.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from smodels.config import StackConfig

# Lambda takes a zip up to this size in the CreateFunction/UpdateFunctionCode call itself; larger goes via S3.
LAMBDA_DIRECT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024
# Function plus all its layers, unzipped.
LAMBDA_UNZIPPED_MAX_BYTES = 262_144_000

MODEL_FORMAT_EXT = {"skops": "skops", "onnx": "onnx", "keras": "keras", "joblib": "joblib", "pickle": "pkl"}


class ManifestLike(Protocol):
    """What infra reads from a model manifest (smodels.manifest.Manifest)."""

    name: str
    framework: str
    framework_version: str

    @property
    def feature_names(self) -> list[str]: ...


class ModelArtifactLike(Protocol):
    """The model object to upload: the file, its hash and format, and its bucket key."""

    path: Path
    sha256: str
    format: str
    key: str
    manifest: ManifestLike


class LayerBuildLike(Protocol):
    """A Lambda layer zip (dependencies split from the handler code)."""

    archive: Path
    archive_sha256: str
    zipped_bytes: int


class FunctionBuildLike(Protocol):
    """One packaged function, as `smodels.build.build_stack` returns it."""

    cloud: str
    endpoint: str
    kind: str
    runtime: str
    archive: Path
    archive_sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    model: ModelArtifactLike | None


class BuildFailed(Exception):
    """The packager could not produce the archives the program needs (message says why)."""


def builds_for(cfg: StackConfig) -> list[FunctionBuildLike]:
    """Package every function of the stack with `smodels.build` (cached) and return the builds.

    Options follow the stack config: target Python and architecture, Lambda layer split, bytecode. The
    cache lives in `<project>/.build/`, so an unchanged program re-uses the same archives (same hashes).
    """
    try:
        from smodels.build import BuildOptions, build_stack
    except ImportError as exc:  # the packager is a sibling module; say so rather than fail obscurely
        raise BuildFailed(f"the packager smodels.build is not available: {exc}") from None
    opts = BuildOptions(
        out_dir=cfg.project_dir / ".build",
        progress=pulumi_log,
        python=cfg.python_version,
        arch=cfg.architecture,
        host=False,
        bytecode=cfg.bytecode,
        layer=cfg.lambda_layer,
    )
    try:
        return list(build_stack(cfg, opts))
    except (OSError, ValueError, RuntimeError) as exc:
        raise BuildFailed(f"packaging failed: {exc}") from None


def pulumi_log(message: str) -> None:
    """Packager progress as Pulumi diagnostics (shown by `pulumi preview/up`)."""
    import pulumi

    pulumi.log.info(message)


def find_build(builds: Sequence[FunctionBuildLike], cloud: str, endpoint: str) -> FunctionBuildLike:
    """The build for `endpoint` on `cloud`; `BuildFailed` if the packager did not return one."""
    for b in builds:
        if b.cloud == cloud and b.endpoint == endpoint:
            return b
    raise BuildFailed(f"the packager returned no {cloud} build for endpoint {endpoint!r}")


def model_objects(builds: Sequence[FunctionBuildLike]) -> dict[str, tuple[str, ModelArtifactLike]]:
    """The distinct model artifacts of `builds`, by bucket key, each with a stable logical-name suffix.

    The suffix is `<manifest name>-<format>`, so a retrained model updates the same Pulumi resource (a new key
    replaces the object) instead of showing up as an unrelated delete and create.
    """
    out: dict[str, tuple[str, ModelArtifactLike]] = {}
    used: set[str] = set()
    for build in builds:
        m = build.model
        if m is None or m.key in out:
            continue
        suffix = f"{m.manifest.name}-{m.format}"
        if suffix in used:  # two different artifacts under one manifest name
            suffix = f"{suffix}-{m.sha256[:8]}"
        used.add(suffix)
        out[m.key] = (suffix, m)
    return out


def lambda_code_hash(hex_sha256: str) -> str:
    """Base64 of the raw sha256 digest: the form Lambda reports as CodeSha256 for a zip."""
    try:
        return base64.b64encode(binascii.unhexlify(hex_sha256)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BuildFailed(f"archive sha256 {hex_sha256!r} is not a hex digest") from None


def source_object_name(build: FunctionBuildLike) -> str:
    """Object name for a GCP source archive; it carries the archive hash so a new archive redeploys."""
    name = getattr(build, "object_name", None)
    if name:
        return str(name)
    return f"sources/{build.endpoint}/{build.archive_sha256}.zip"
