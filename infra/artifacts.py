"""The one seam between the Pulumi program and the packager (`smodels.packager`).

`builds_for(cfg)` packages every function the stack deploys and returns the packager's own `FunctionBuild`s
keyed by (cloud, endpoint); the infra components read them as they are. Tests replace `builds_for` to hand the
program small builds made from real zips.
"""

from __future__ import annotations

import base64
import binascii

from infra.policies import model_prefixes as _prefixes_of_keys
from smodels.config import StackConfig
from smodels.packager import BuildOptions, FunctionBuild, ModelArtifact, build_stack

Builds = dict[tuple[str, str], FunctionBuild]


class BuildFailed(Exception):
    """The packager could not produce the archives the program needs (message says why)."""


def builds_for(cfg: StackConfig) -> Builds:
    """Package every function of the stack (cached under `<project>/.build/`, so an unchanged program re-uses the
    same archives and hashes) for the stack's Python, architecture, layer split and bytecode setting."""
    opts = BuildOptions(out_dir=cfg.project_dir / ".build", progress=pulumi_log)
    try:
        return build_stack(cfg, opts)
    except (OSError, ValueError, RuntimeError) as exc:  # BuildError is a RuntimeError
        raise BuildFailed(f"packaging failed: {exc}") from None


def check_builds(cfg: StackConfig, builds: Builds) -> None:
    """`BuildFailed` naming the first (cloud, endpoint) of the stack that has no build."""
    for cloud in cfg.clouds:
        for ep in cfg.endpoints_for(cloud):
            if (cloud, ep.name) not in builds:
                raise BuildFailed(f"the packager returned no {cloud} build for endpoint {ep.name!r}")


def pulumi_log(message: str) -> None:
    """Packager progress as Pulumi diagnostics (shown by `pulumi preview/up`)."""
    import pulumi

    pulumi.log.info(message)


def model_objects(builds: Builds, cloud: str) -> dict[str, tuple[str, ModelArtifact]]:
    """The distinct model artifacts of `cloud`'s builds, by bucket key, each with a stable logical-name suffix.

    Canary artifacts are included. The suffix is `<manifest name>-<format>`, so a retrained model updates the same
    Pulumi resource (a new key replaces the object) instead of showing up as an unrelated delete and create.
    """
    out: dict[str, tuple[str, ModelArtifact]] = {}
    used: set[str] = set()
    for (c, _), build in builds.items():
        for m in (build.model, build.canary):  # an endpoint's canary is uploaded like its stable model
            if c != cloud or m is None or m.key in out:
                continue
            suffix = f"{m.manifest.name}-{m.format}"
            if suffix in used:  # two different artifacts under one manifest name
                suffix = f"{suffix}-{m.sha256[:8]}"
            used.add(suffix)
            out[m.key] = (suffix, m)
    return out


def model_prefixes(build: FunctionBuild) -> list[str]:
    """The bucket prefixes (`models/<manifest name>/`) a function may read: its model's and its canary's (the
    derivation is infra/policies.py's, which the local stack applies to the same keys)."""
    return _prefixes_of_keys(m.key if m is not None else None for m in (build.model, build.canary))


def lambda_code_hash(hex_sha256: str) -> str:
    """Base64 of the raw sha256 digest: the form Lambda reports as CodeSha256 for a zip."""
    try:
        return base64.b64encode(binascii.unhexlify(hex_sha256)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BuildFailed(f"archive sha256 {hex_sha256!r} is not a hex digest") from None
