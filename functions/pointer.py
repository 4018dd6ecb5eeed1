"""Following a published pointer (``refresh: pointer``): a new model without a deploy.

``smodels publish`` uploads a model under ``endpoints/<endpoint>/models/<sha256>.<ext>`` and then moves the pointer
``endpoints/<endpoint>/live.json`` (functions.contract). A :class:`PointerFollower` re-reads that pointer on the
function's first request, every MODEL_TTL_SECONDS after, and at once when a storage trigger arrives, with one
conditional request (an unchanged pointer costs one round trip and no body). A changed pointer is followed only if
it names this endpoint's published artifact in the format the package serves, the artifact's bytes hash to the
pointer's sha256 and it loads; otherwise it is refused with one ``pointer_refused`` log line and the model already
serving keeps serving. A refused pointer is not retried until it changes (unless it could not be read at all).
Until a pointer exists the function serves the deployed model (MODEL_URI), the one a fresh stack starts from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from functions import store
from functions.contract import PointerError, read_pointer
from functions.http import log_event
from functions.model_cache import ModelCache, ModelUnavailable

FetchIfChanged = Callable[[str, "str | None"], "tuple[bytes, str] | None"]
#: Outcomes of one check, as ``refresh`` answers them and ``GET`` reports the last one.
OUTCOMES = ("followed", "unchanged", "absent", "refused", "unreadable")


class PointerFollower:
    """Moves ``cache`` to the model the pointer at ``pointer_uri`` names, when it is a model this package serves."""

    def __init__(self, pointer_uri: str, endpoint: str, fmt: str, cache: ModelCache, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic,
                 fetch_if_changed: FetchIfChanged = store.fetch_if_changed) -> None:
        self.pointer_uri, self.endpoint, self.format, self.cache = pointer_uri, endpoint, fmt, cache
        self.ttl, self.clock, self.fetch_if_changed = ttl_seconds, clock, fetch_if_changed
        self._lock = threading.Lock()
        self._tag: str | None = None  # the pointer version last acted on (followed, or refused for good)
        self._checked_at: float | None = None
        self.last: dict[str, Any] = {}  # the last check: outcome, trigger, reason (GET shows it)
        self.refused: dict[str, Any] | None = None  # the last refused pointer and why
        self._denied: str | None = None  # the first 403 on a pointer never seen (said once)

    def due(self) -> bool:
        """True before the first check and once ``ttl_seconds`` have passed since the last one."""
        checked = self._checked_at
        return checked is None or (self.ttl > 0 and self.clock() - checked >= self.ttl)

    def check(self, trigger: str = "ttl", wait: bool = True) -> dict[str, Any]:
        """Re-read the pointer and follow it if it changed; returns what happened (``outcome`` in OUTCOMES).

        One check at a time: with ``wait=False`` a request that finds another check running returns at once
        (``outcome`` "busy") and is answered by the model already serving."""
        if not self._lock.acquire(blocking=wait):
            return {"outcome": "busy", "trigger": trigger}
        try:
            self._checked_at = self.clock()
            result = self._check()
            self.last = {**result, "trigger": trigger}
            return self.last
        finally:
            self._lock.release()

    def _check(self) -> dict[str, Any]:
        try:
            got = self.fetch_if_changed(self.pointer_uri, self._tag)
        except store.StoreError as exc:
            if exc.missing:
                return {"outcome": "absent"}
            if exc.code in ("AccessDenied", "403") and self._tag is None:
                # S3 answers a read of a missing object with 403 unless the reader may list the bucket, which the
                # function role may not (least privilege): before any pointer was seen, a denial is most likely
                # "no pointer published yet". Said once, in case it is a real denial.
                if self._denied is None:
                    self._denied = str(exc)
                    log_event("pointer_not_found_or_denied", endpoint=self.endpoint, pointer=self.pointer_uri,
                              reason=str(exc), serving=self._serving())
                return {"outcome": "absent", "reason": f"{exc} (S3 answers 403 for a missing object to a role that "
                        "may not list the bucket)"}
            log_event("pointer_unreadable", endpoint=self.endpoint, pointer=self.pointer_uri, reason=str(exc),
                      serving=self._serving())
            return {"outcome": "unreadable", "reason": str(exc)}
        if got is None:
            return {"outcome": "unchanged"}
        data, tag = got
        try:
            pointer = read_pointer(data, self.pointer_uri, self.endpoint)
        except PointerError as exc:
            return self._refuse(tag, "pointer", str(exc))
        if pointer.format != self.format:
            return self._refuse(tag, "format", f"format: the pointer names a {pointer.format} model and this "
                                f"function's package serves {self.format}; publish it in {self.format}, or "
                                "redeploy with pulumi up", pointer.sha256)
        current = self.cache.loaded
        if current is not None and current.sha256 == pointer.sha256:
            self._tag = tag
            return {"outcome": "unchanged"}
        try:
            loaded = self.cache.retarget(pointer.uri, pointer.sha256, pointer.name)
        except ModelUnavailable as exc:
            if exc.stage == "fetch":  # perhaps passing (network, permissions): try again next time
                log_event("pointer_refused", endpoint=self.endpoint, pointer=self.pointer_uri, stage="fetch",
                          reason=str(exc), version=pointer.sha256, serving=self._serving(), retry=True)
                return {"outcome": "unreadable", "reason": str(exc)}
            return self._refuse(tag, exc.stage, str(exc), pointer.sha256)
        self._tag, self.refused = tag, None
        log_event("pointer_followed", endpoint=self.endpoint, pointer=self.pointer_uri, model=loaded.name,
                  version=loaded.sha256, previous=current.sha256 if current is not None else None,
                  published_at=pointer.published_at)
        return {"outcome": "followed", "version": loaded.sha256}

    def _refuse(self, tag: str, stage: str, reason: str, version: str | None = None) -> dict[str, Any]:
        """Remember this pointer version as refused (no retry until it changes) and say so once."""
        self._tag = tag
        self.refused = {"stage": stage, "reason": reason, "version": version}
        log_event("pointer_refused", endpoint=self.endpoint, pointer=self.pointer_uri, stage=stage, reason=reason,
                  version=version, serving=self._serving())
        return {"outcome": "refused", "stage": stage, "reason": reason}

    def _serving(self) -> str | None:
        loaded = self.cache.loaded
        return loaded.sha256 if loaded is not None else None
