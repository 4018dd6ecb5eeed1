"""The artifact file beside the manifest: its sha256, and the check that it is the one the manifest pins."""

from __future__ import annotations

import hashlib
from pathlib import Path

from smodels.manifest.model import Manifest, ManifestError


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_artifact_file(manifest: Manifest) -> None:
    """Raise ``ManifestError`` unless the artifact exists and its size and sha256 match the manifest."""
    path = manifest.artifact_path
    if not path.is_file():
        raise ManifestError("artifact", f"file not found: {path}")
    size = path.stat().st_size
    if size != manifest.size_bytes:
        raise ManifestError("size_bytes", f"manifest says {manifest.size_bytes}, {path.name} has {size} bytes")
    actual = sha256_file(path)
    if actual != manifest.sha256:
        raise ManifestError("sha256", f"manifest says {manifest.sha256}, {path.name} hashes to {actual}")
