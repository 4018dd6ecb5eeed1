"""Data types of the packager: options in, build results out, and the one error it raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smodels.manifest import Manifest

# Lambda's hard limit for the unzipped function plus all its layers, and the direct-upload zip limit.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
# A direct upload sends the zip base64-encoded inside the JSON request, and Lambda caps that request at
# 69,905,067 bytes: exactly 50 MiB once encoded, with no room for the rest of the request. So a zip of 50 MiB
# fails; keep 1 MiB of margin (the rest of a CreateFunction request is a few KB: names, 4 KB of environment).
LAMBDA_REQUEST_LIMIT = 69_905_067
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024 - 1024 * 1024


class BuildError(RuntimeError):
    """Anything that stops a package from being built: missing wheel, size limit, failed parity, bad input."""


@dataclass(frozen=True)
class BuildOptions:
    """How to build. What to build for (Python, architecture, bytecode, layer) is the stack config's alone.

    host: build for the running interpreter and platform (the local runner runs Lambda packages here).
    strip: strip debug symbols from `.so` files (opt-in; the package is still imported after stripping).
    size_limit: Lambda's unzipped limit (function + layers); tests lower it.
    functions_dir: where the `functions` package is read from (default: <project>/functions).
    """

    out_dir: Path = Path(".build")
    host: bool = False
    strip: bool = False
    size_limit: int = LAMBDA_UNZIPPED_LIMIT
    functions_dir: Path | None = None
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        """Report one step to the progress callback, if any."""
        if self.progress is not None:
            self.progress(message)


@dataclass(frozen=True)
class ModelArtifact:
    """The model object a function serves: file to upload, its hash, format and bucket key."""

    path: Path
    sha256: str
    format: str
    key: str
    manifest: Manifest
    size_bytes: int = 0
    converted: bool = False
    parity_max_abs_diff: float | None = None
    runtime_reason: str = ""  # why this runtime: "auto: parity 2e-16", "auto: skl2onnx cannot convert ...", ...
    conversion: str = ""  # how it was converted to ONNX (e.g. "skl2onnx, one matrix input, double")

    @property
    def runtime(self) -> str:
        """The runtime serving this object: "onnx" (onnxruntime), "pure" (functions/pure.py) or "native" (the
        model's own library)."""
        return self.format if self.format in ("onnx", "pure") else "native"


@dataclass(frozen=True)
class LayerBuild:
    """A Lambda layer zip holding a function's dependencies under `python/`."""

    archive: Path
    archive_sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    key: str
    compatible_runtime: str
    architecture: str
    cached: bool = False


@dataclass(frozen=True)
class FunctionBuild:
    """One built function archive (Lambda zip or GCP source archive) and what the deploy needs to know."""

    cloud: str
    endpoint: str
    kind: str
    runtime: str  # "native" | "onnx" | "pure": what serves the model (runtime auto resolved); echo: "native"
    archive: Path
    archive_sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    seconds: float
    cached: bool
    object_name: str  # `<endpoint>-<sha256[:16]>.zip`: a changed archive gets a new object, hence a redeploy
    handler: str | None = None  # Lambda
    entry_point: str | None = None  # GCP
    cloud_runtime: str = ""  # python3.13 / python313
    architecture: str = "x86_64"
    layer: LayerBuild | None = None
    top_packages: tuple[tuple[str, int], ...] = ()
    model: ModelArtifact | None = None
    requirements: tuple[str, ...] = ()  # exact pins (GCP requirements.txt; Lambda: what was installed)
    environment: dict[str, str] = field(default_factory=dict)  # extra env vars the function needs
    warnings: tuple[str, ...] = ()
    runtime_reason: str = ""  # why `runtime` (e.g. "auto: parity 2e-16"); "" for echo
    canary: ModelArtifact | None = None  # the endpoint's canary model, prepared with the same runtime
    canary_percent: float | None = None  # the share of requests it answers (0 < p <= 100)
    drift_profile: str = ""  # the id of the drift profile shipped in the schema file; "" when it counts no drift
    drift_reason: str = ""  # why not (the endpoint's `drift: false`, or a manifest without a drift-ready profile)

    @property
    def needs_s3(self) -> bool:
        """True when the zip is too big for a direct Lambda upload and must go through S3."""
        return self.cloud == "aws" and self.zipped_bytes > LAMBDA_DIRECT_UPLOAD_LIMIT

    def function_env(self, uri: Any, ttl_seconds: int, canary_uri: Any = None,
                     pointer_uri: Any = None) -> dict[str, Any]:
        """The function's environment (functions.contract): what the package needs, the endpoint and the model,
        and the canary's MODEL_CANARY_* when the build has one. `uri` (the model object's, possibly a Pulumi Output)
        is None for an echo function; `canary_uri` is the canary object's (required when the build has a canary);
        `pointer_uri` is the endpoint's pointer object (`refresh: pointer`, functions.contract.pointer_key)."""
        from functions.contract import SCHEMA_FILE, write_env

        m = self.model
        if m is None:
            return write_env(self.endpoint, extra=self.environment)
        manifest = m.manifest
        canary: dict[str, Any] = {}
        c = self.canary
        if c is not None:
            if canary_uri is None:
                raise BuildError(f"{self.cloud}/{self.endpoint}: the canary {c.manifest.name} needs its object's URI")
            canary = {"canary_uri": canary_uri, "canary_sha256": c.sha256, "canary_fmt": c.format,
                      "canary_name": c.manifest.name, "canary_percent": self.canary_percent}
        return write_env(
            self.endpoint, uri=uri, sha256=m.sha256, fmt=m.format, name=manifest.name,
            schema_file=SCHEMA_FILE, framework=f"{manifest.framework} {manifest.framework_version}",
            ttl_seconds=ttl_seconds, extra=self.environment, pointer_uri=pointer_uri, **canary,
        )

    @property
    def total_unzipped_bytes(self) -> int:
        """Function plus layer, the figure Lambda's 250 MB limit applies to."""
        return self.unzipped_bytes + (self.layer.unzipped_bytes if self.layer else 0)
