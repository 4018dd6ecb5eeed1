"""Reading and writing model.json: load and validate, stable JSON text, write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smodels.manifest.model import Manifest, ManifestError
from smodels.manifest.schema import MANIFEST_FILE
from smodels.manifest.validate import manifest_from_dict


def load_manifest(path: Path | str, *, verify_artifact: bool = True) -> Manifest:
    """Read and validate ``path`` (a model directory or its model.json); see ``manifest_from_dict``."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_FILE
    if not p.is_file():
        raise ManifestError("manifest", f"file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except ManifestError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError("manifest", f"{p} is not valid JSON: {exc}") from None
    return manifest_from_dict(data, p.parent, verify_artifact=verify_artifact)


def _reject_constant(name: str) -> Any:
    raise ManifestError("manifest", f"non-standard JSON constant {name} is not allowed")


def dumps_manifest(manifest: Manifest) -> str:
    """Stable JSON text: sorted keys, indent 2, trailing newline (non-ASCII feature names kept as they are)."""
    return json.dumps(manifest.to_dict(), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_manifest(manifest: Manifest, directory: Path | str) -> Path:
    """Write ``directory/model.json`` (stable JSON) and return its path. The manifest is validated first."""
    out = Path(directory) / MANIFEST_FILE
    manifest_from_dict(manifest.to_dict(), manifest.directory, verify_artifact=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps_manifest(manifest), encoding="utf-8")
    return out
