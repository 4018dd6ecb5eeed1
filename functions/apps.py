"""Which app answers a request: the registry the adapters consult (the HTTP helpers know no app)."""

from __future__ import annotations

from collections.abc import Callable

from functions.http import Request, Response


def app_handle(kind: str) -> Callable[[Request], Response]:
    """The ``handle`` of the ``"model"`` or ``"echo"`` app, imported on first use: an echo archive has neither
    ``app.py`` nor numpy, so the adapters must not import the model app before a model request needs it."""
    handle = _HANDLES.get(kind)
    if handle is None:
        if kind == "echo":
            from functions import echo

            handle = echo.handle
        else:
            from functions import app

            handle = app.handle
        _HANDLES[kind] = handle
    return handle


_HANDLES: dict[str, Callable[[Request], Response]] = {}
