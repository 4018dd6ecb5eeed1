"""The packager: Lambda zips and GCP source archives for every function of a stack, deterministic and cached.

```python
from smodels.build import build_stack, BuildOptions
results = build_stack(cfg, BuildOptions(out_dir=Path(".build")))
```
Pure Python (no Pulumi): the Pulumi program and the local runner both call it.
"""

from smodels.build.builder import build_function, build_stack, requirements_for
from smodels.build.model import prepare_model
from smodels.build.target import Target, find_interpreter
from smodels.build.types import BuildError, BuildOptions, FunctionBuild, LayerBuild, ModelArtifact

__all__ = [
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
