"""Model libraries a test file needs, imported when its first test runs rather than when the suite is collected
(collecting every file is what each `make test-fast` worker does first)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


class OnFirstUse:
    """Stands for library `name`: the first attribute read imports it, or skips the test without it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("_"):  # what collection looks for on every module global (fixture markers, __wrapped__)
            raise AttributeError(attr)
        return getattr(pytest.importorskip(self._name), attr)


def needs(*names: str) -> Iterator[None]:
    """Body of a module-scoped autouse fixture: skips the file's tests unless every library in `names` imports."""
    for name in names:
        pytest.importorskip(name)
    yield
