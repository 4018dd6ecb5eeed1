"""Child processes of the local run: each in its own process group, logs pumped line by line, stopped for sure.

Every server `smodels serve` starts (moto, the GCS emulator, awslambdaric workers, functions-framework with
its gunicorn worker) is a `ManagedProcess`. It is started with `start_new_session=True`, so the child and
anything it forks share one process group that can be signalled as a whole: stop = SIGTERM to the group,
wait, SIGKILL to the group, wait. A module-level registry plus an `atexit` hook stops whatever is still
running when the interpreter exits, however it exits short of SIGKILL.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()


class ManagedProcess:
    """One child process in its own process group, with its output written to a log file (and optionally echoed).

    `echo` is a stream (e.g. sys.stderr) that receives each output line prefixed with `[name] `; the last
    `tail_lines` lines are kept in memory for error messages.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        echo: TextIO | None = None,
        tail_lines: int = 40,
        on_exit: Callable[[ManagedProcess, int], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.cwd = str(cwd) if cwd is not None else None
        self.env = dict(env) if env is not None else None
        self.log_path = log_path
        self.echo = echo
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self.on_exit = on_exit
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The child's pid (also its process group id), or None before start."""
        return self.proc.pid if self.proc else None

    def start(self) -> ManagedProcess:
        """Start the child in a new session (own process group); output goes through a pump thread."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._pump = threading.Thread(target=self._pump_output, name=f"pump-{self.name}", daemon=True)
        self._pump.start()
        return self

    def _pump_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        log = open(self.log_path, "ab") if self.log_path is not None else None
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                if log is not None:
                    log.write(raw)
                    log.flush()
                # awslambdaric joins a traceback's lines with \r (one CloudWatch event); show them as lines.
                line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "\n    ")
                self.tail.append(line)
                if self.echo is not None:
                    try:
                        self.echo.write(f"[{self.name}] {line}\n")
                        self.echo.flush()
                    except (ValueError, OSError):
                        pass
        finally:
            if log is not None:
                log.close()
        code = self.proc.wait()
        if self.on_exit is not None and not self._stopping:
            self.on_exit(self, code)

    def poll(self) -> int | None:
        """The exit code if the child has exited, else None."""
        return self.proc.poll() if self.proc else None

    def alive(self) -> bool:
        """True while the child runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the whole process group, wait up to `timeout`, then SIGKILL it; returns the exit code."""
        if self.proc is None:
            return None
        self._stopping = True
        pgid = self.proc.pid
        code = self.proc.poll()
        if code is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                code = None
        # The leader may be gone while something it forked lingers in the group: always finish with SIGKILL.
        _signal_group(pgid, signal.SIGKILL)
        if code is None:
            code = self.proc.wait()
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(timeout=2)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return code

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid})"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(timeout: float = 5.0) -> None:
    """Stop every ManagedProcess still running (the atexit hook; safe to call more than once)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for p in live:
        _signal_group(p.pid, signal.SIGTERM) if p.pid else None
    deadline = time.monotonic() + timeout
    for p in live:
        try:
            p.stop(timeout=max(0.1, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - best effort at exit; report and go on with the rest
            print(f"smodels: could not stop {p!r}: {exc}", file=sys.stderr)


atexit.register(stop_all)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if `port` can be bound on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: ManagedProcess | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `check` until it returns True; raise RuntimeError (with the child's last log lines) on timeout or exit."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a failing probe just means "not yet"
            pass
        if proc is not None and proc.poll() is not None:
            tail = "\n".join(f"    {line}" for line in proc.tail)
            raise RuntimeError(f"{what}: process exited with code {proc.poll()} before it was ready:\n{tail}")
        if time.monotonic() > deadline:
            tail = "\n".join(f"    {line}" for line in proc.tail) if proc is not None else ""
            raise RuntimeError(f"{what}: not ready after {timeout:.0f}s" + (f"; last output:\n{tail}" if tail else ""))
        time.sleep(interval)
