"""Local function versions: the number Lambda would give a function, kept in `<run_dir>/versions.json`.

The Pulumi program publishes a new Lambda version whenever the code or the configuration changes (GCP makes a
new revision the same way). Locally, each function's configuration is reduced to a fingerprint: the sha256 of
its archive's sha256 plus its sorted function environment (without the emulator endpoints and ports, which
change every run) plus the settings that publish a version on AWS (handler, memory, timeout). The file maps
`"<cloud>/<endpoint>"` to the fingerprints seen, in order; the version is the 1-based position of the
current one, appended when it differs from the last. So restarting with the same configuration keeps the
number, changing the model or a setting bumps it, and going back to an older configuration gets a NEW number,
as publishing on Lambda does after a rollback.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

VERSIONS_FILE = "versions.json"
#: Variables whose values are the emulators' or the server's address of this run, not configuration.
VOLATILE_ENV = frozenset({"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "STORAGE_EMULATOR_HOST", "PORT",
                          "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME"})


def fingerprint(archive_sha256: str, env: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> str:
    """The sha256 naming one function configuration: its code, its environment and its settings."""
    doc = {
        "archive": archive_sha256,
        "env": sorted((str(k), str(v)) for k, v in env.items() if k not in VOLATILE_ENV and v is not None),
        "settings": sorted((str(k), str(v)) for k, v in (settings or {}).items()),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_versions(path: Path) -> dict[str, list[str]]:
    """The fingerprints seen per `<cloud>/<endpoint>` ({} when the file is missing or unreadable)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: [str(f) for f in v] for k, v in doc.items() if isinstance(k, str) and isinstance(v, list)}


def assign_versions(path: Path, current: Mapping[str, str]) -> dict[str, int]:
    """Record each function's current fingerprint (`{"aws/pred": fp}`) and return its version number.

    A fingerprint equal to the function's last one keeps its number; any other is appended (a new number, even
    if it was seen before). The file is rewritten atomically; functions not in `current` keep their history.
    """
    seen = read_versions(path)
    out: dict[str, int] = {}
    for name, fp in current.items():
        history = seen.setdefault(name, [])
        if not history or history[-1] != fp:
            history.append(fp)
        out[name] = len(history)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(seen, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return out
