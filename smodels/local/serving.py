"""The local fronts' shared HTTP server: a threaded server on loopback that serves in a background thread."""

from __future__ import annotations

import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Self

# How often a serving thread looks for a stop request: stop() returns within this (shutdown() waits for it).
STOP_POLL_SECONDS = 0.01


class BackgroundServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer started in a daemon thread (`start`) and stopped with its socket (`stop`); a client
    that goes away mid-request is not an error. Subclasses set `thread_name`."""

    daemon_threads = True
    allow_reuse_address = True
    thread_name = "local-front"
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://<host>:<port> of the bound socket."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, args=(STOP_POLL_SECONDS,),
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # client went away
            return
        super().handle_error(request, client_address)
