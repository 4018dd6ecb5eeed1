"""The environment a deployed function reads (docs/DESIGN.md, "Function environment").

One definition shared by the Pulumi program (`infra/`) and the local stack (`smodels.local`), so local and
deployed settings cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any


def function_env(build: Any, ttl_seconds: int, uri: Any) -> dict[str, Any]:
    """The function environment of DESIGN.md (`uri` may be a Pulumi Output), plus any the packager adds."""
    extra = getattr(build, "environment", None) or {}
    env: dict[str, Any] = {**extra, "ENDPOINT_NAME": build.endpoint}
    model = build.model
    if model is None:
        return env
    manifest = model.manifest
    env.update(
        {
            "MODEL_URI": uri,
            "MODEL_SHA256": model.sha256,
            "MODEL_FORMAT": model.format,
            "MODEL_NAME": manifest.name,
            "MODEL_FEATURES": json.dumps(list(manifest.feature_names), separators=(",", ":")),
            "MODEL_FRAMEWORK": f"{manifest.framework} {manifest.framework_version}",
            "MODEL_TTL_SECONDS": str(ttl_seconds),
        }
    )
    return env
