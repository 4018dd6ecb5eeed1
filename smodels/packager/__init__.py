"""The packager: Lambda zips and GCP source archives for every function of a stack, deterministic and cached.

```python
from smodels.packager import build_stack, BuildOptions
results = build_stack(cfg, BuildOptions(out_dir=Path(".build")))
```
Pure Python (no Pulumi): the Pulumi program and the local runner both call it.
"""

from smodels.packager.builder import build_function, build_stack, requirements_for
from smodels.packager.model import prepare_model
from smodels.packager.target import Target, find_interpreter
from smodels.packager.types import (
    LAMBDA_DIRECT_UPLOAD_LIMIT,
    LAMBDA_UNZIPPED_LIMIT,
    BuildError,
    BuildOptions,
    FunctionBuild,
    LayerBuild,
    ModelArtifact,
)

__all__ = [
    "LAMBDA_DIRECT_UPLOAD_LIMIT",
    "LAMBDA_UNZIPPED_LIMIT",
    "BuildError",
    "BuildOptions",
    "FunctionBuild",
    "LayerBuild",
    "ModelArtifact",
    "Target",
    "build_function",
    "build_stack",
    "find_interpreter",
    "prepare_model",
    "requirements_for",
]
