"""The lazily loaded, process-wide model (the book's global-model pattern, made safe).

- First use loads the model under a lock, so concurrent first requests fetch and deserialise once.
- The artifact's bytes are hashed before anything deserialises them; a sha256 different from
  ``MODEL_SHA256`` is refused (and logged) and the loader is never called.
- A failed first load caches nothing: the next request tries again.
- With a TTL, after it expires one request heads the object (ETag / generation / mtime) and reloads only if
  the tag changed. A failed re-check or reload keeps serving the old model, logs once for that attempt, and
  waits another TTL before trying again.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from functions import store
from functions.http import log_event


class ModelUnavailable(Exception):
    """No model can be served right now (fetch failed, sha256 mismatch, load failed).

    ``stage`` says which step failed: "fetch", "sha256_mismatch" or "load"; "retry_wait" when a failed load is
    not tried again yet (``retry_seconds``).
    """

    def __init__(self, message: str, stage: str = "load") -> None:
        super().__init__(message)
        self.stage = stage


class Loaded(NamedTuple):
    """A model in memory and where it came from."""

    model: Any
    version_tag: str
    sha256: str
    loaded_at: float
    name: str = ""  # the model's name (the manifest's), as the response and the log line give it
    uri: str = ""


Fetcher = Callable[[str], tuple[bytes, str]]
Header = Callable[[str], str]
Loader = Callable[[bytes], Any]


class ModelCache:
    """Holds one model for ``uri``; ``get()`` returns it, loading or re-checking as needed."""

    def __init__(
        self,
        uri: str,
        sha256: str,
        loader: Loader,
        ttl_seconds: float = 0.0,
        fetcher: Fetcher = store.fetch,
        header: Header = store.head,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
        retry_seconds: float = 0.0,
    ) -> None:
        self.uri = uri
        self.sha256 = sha256.lower()
        self.loader = loader
        self.ttl = ttl_seconds
        self.fetcher = fetcher
        self.header = header
        self.clock = clock
        self.name = name
        self._lock = threading.Lock()
        self._entry: Loaded | None = None
        self._checked_at = 0.0
        # After a failed first load, wait this long before fetching again (0: the next request tries again).
        self.retry_seconds = retry_seconds
        self._failure: tuple[float, ModelUnavailable] | None = None

    @property
    def loaded(self) -> Loaded | None:
        """The current model, if one is loaded (never triggers a load)."""
        return self._entry

    def get(self) -> Loaded:
        """The model to serve; raises ModelUnavailable if none is loaded and loading fails now."""
        entry = self._entry
        if entry is not None and not self._due():
            return entry
        with self._lock:
            entry = self._entry
            if entry is None:
                if self._failure is not None and self.clock() - self._failure[0] < self.retry_seconds:
                    raise ModelUnavailable(f"waiting to retry after: {self._failure[1]}", "retry_wait")
                try:
                    self._entry = self._load(self.uri, self.sha256, self.name)
                except ModelUnavailable as exc:
                    self._failure = (self.clock(), exc)
                    self._log_failure(exc.stage, str(exc))
                    raise
                self._checked_at = self.clock()
                return self._entry
            if self._due():
                self._recheck(entry)
            return self._entry  # type: ignore[return-value]

    def _due(self) -> bool:
        return self.ttl > 0 and self.clock() - self._checked_at >= self.ttl

    def retarget(self, uri: str, sha256: str, name: str) -> Loaded:
        """Load the artifact at ``uri`` (pinned by ``sha256``) and serve it from now on; raise ModelUnavailable
        and keep serving the current model if it cannot be fetched, fails its hash or does not load. Requests
        keep being answered by the current model while the new one loads."""
        with self._lock:
            loaded = self._load(uri, sha256.lower(), name)
            self.uri, self.sha256, self.name = uri, sha256.lower(), name
            self._entry, self._failure, self._checked_at = loaded, None, self.clock()
            return loaded

    def _load(self, uri: str, sha256: str, name: str) -> Loaded:
        started = time.perf_counter()
        try:
            data, tag = self.fetcher(uri)
        except store.StoreError as exc:
            raise ModelUnavailable(f"model artifact unavailable: {exc}", "fetch") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ModelUnavailable(
                f"model artifact failed its integrity check: sha256 of {uri} is {digest}, expected "
                f"{sha256}; refusing to deserialise it", "sha256_mismatch")
        try:
            model = self.loader(data)
        except Exception as exc:  # the loader wraps framework errors, but never let one escape as a 500
            raise ModelUnavailable(f"model could not be loaded: {type(exc).__name__}: {exc}", "load") from None
        loaded = Loaded(model, tag, digest, time.time(), name, uri)
        log_event("model_loaded", model=name, uri=uri, sha256=digest, version_tag=tag,
                  bytes=len(data), seconds=round(time.perf_counter() - started, 4))
        return loaded

    def _recheck(self, entry: Loaded) -> None:
        self._checked_at = self.clock()  # one attempt per TTL, success or not
        try:
            tag = self.header(self.uri)
        except store.StoreError as exc:
            self._log_failure("recheck", str(exc), keeping=entry)
            return
        if tag == entry.version_tag:
            return
        try:
            self._entry = self._load(self.uri, self.sha256, self.name)
        except ModelUnavailable as exc:
            self._log_failure(exc.stage, str(exc), keeping=entry, new_version_tag=tag)

    def _log_failure(self, stage: str, message: str, keeping: Loaded | None = None, **extra: Any) -> None:
        """One log line per failed attempt; a reload failure names the model that keeps serving."""
        fields: dict[str, Any] = {"model": self.name, "uri": self.uri, "stage": stage, "message": message}
        if keeping is not None:
            fields["keeping_sha256"] = keeping.sha256
        fields.update(extra)
        log_event("model_reload_failed" if keeping is not None else "model_load_failed", **fields)
