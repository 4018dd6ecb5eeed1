"""serverless-models: build, serve locally and invoke model endpoints declared by the Pulumi program.

``smodels.save_model(model, directory, *, example, label=None, name=None)`` turns a trained model into an
endpoint directory (``model.json`` + a safe artifact); it is imported on first use, so ``import smodels`` stays
cheap for the Pulumi program.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "save_model"]


def __getattr__(name: str) -> Any:
    if name == "save_model":
        from smodels.add_model import save_model

        return save_model
    raise AttributeError(f"module 'smodels' has no attribute {name!r}")
