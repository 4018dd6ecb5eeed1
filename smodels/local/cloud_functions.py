"""A local Cloud Function (2nd gen): an unpacked source archive under Google's functions-framework.

One `functions-framework --target <entry point> --source main.py` process per function (a `ManagedProcess`, its own
process group) on 127.0.0.1, `cwd` = the source. PYTHONPATH puts the source first; this virtualenv's site-packages
stand in for the buildpack's `pip install -r requirements.txt`. The environment is what Cloud Run and
functions-framework set, STORAGE_EMULATOR_HOST for a local GCS, then `env` (the function environment); of ours
only PATH, HOME, LANG and LC_ALL.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from smodels.local.procs import ManagedProcess, free_port, wait_for


def _answers(url: str) -> bool:
    """True once an HTTP server answers at `url` with any status."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class CloudFunction:
    """One Cloud Function (Cloud Run service `service`) on 127.0.0.1:`port` (0 = a free port), like `LambdaFunction`."""

    def __init__(self, *, name: str, entry_point: str, source_dir: Path, service: str, project: str,
                 env: Mapping[str, str], log_dir: Path, port: int = 0, storage_emulator_host: str | None = None,
                 echo: TextIO | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}
        self.env.update({
            "PYTHONPATH": str(source_dir), "PYTHONUNBUFFERED": "1", "PORT": str(self.port),
            "K_SERVICE": service, "K_REVISION": f"{service}-00001-loc", "K_CONFIGURATION": service,
            "FUNCTION_TARGET": entry_point, "FUNCTION_SIGNATURE_TYPE": "http", "GOOGLE_CLOUD_PROJECT": project,
            "LOG_EXECUTION_ID": "true",
        })
        if storage_emulator_host is not None:
            self.env["STORAGE_EMULATOR_HOST"] = storage_emulator_host
        self.env.update(env)
        exe = Path(sys.executable).with_name("functions-framework")
        ff = [str(exe)] if exe.exists() else [sys.executable, "-m", "functions_framework"]
        argv = [*ff, "--target", entry_point, "--source", "main.py", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = ManagedProcess(f"gcp/{name}", argv, cwd=source_dir, env=self.env,
                                   log_path=log_dir / f"gcp-{name}.log", echo=echo)

    def start(self) -> CloudFunction:
        """Start the functions-framework process."""
        self.proc.start()
        return self

    def wait_ready(self, timeout: float) -> None:
        """Block until the server answers; RuntimeError with its last output if it exits or times out first."""
        wait_for(lambda: _answers(self.url), timeout=timeout, what=f"Cloud Function {self.name} (functions-framework)",
                 proc=self.proc)

    def stop(self) -> None:
        """SIGTERM its process group, wait, SIGKILL."""
        self.proc.stop()
