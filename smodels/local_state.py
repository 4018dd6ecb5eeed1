"""What a running local stack leaves for the clients that talk to it (publish, rollout, invoke): where its run
directory is, and the credentials its emulators take. Below both `smodels/local` and those clients."""

from __future__ import annotations

import re
from pathlib import Path

# moto accepts any key pair; the local stack and every client of its emulators use this one.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


def safe_name(stack: str) -> str:
    """`stack` in the characters bucket names and paths allow (`org/proj/dev` -> `org-proj-dev`)."""
    return re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-") or "stack"


def run_dir(project_dir: Path, stack: str) -> Path:
    """The directory `smodels serve --stack STACK` runs in (its state file, logs and builds)."""
    return project_dir / ".build" / "local" / safe_name(stack)


def state_path(project_dir: Path, stack: str) -> Path:
    """The state file `smodels serve --stack STACK` writes once ready."""
    return run_dir(project_dir, stack) / "state.json"
