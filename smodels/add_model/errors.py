"""AddModelError, the one error add-model raises, and where its messages go by default (stderr)."""

from __future__ import annotations

import sys


class AddModelError(ValueError):
    """Why a model cannot be added; ``field`` names what is wrong (model, artifact, example, label, name, flavor)
    and ``column`` the example column, when one is to blame."""

    def __init__(self, field: str, message: str, column: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.column = column


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)
