"""What a running local stack leaves for the clients that talk to it (publish, rollout, invoke): where its run
directory is, the credentials its emulators take, and who calls it. Below both `smodels/local` and those clients.

Calling the local stack's endpoints is checked like the cloud's (`smodels/local/access.py`): SigV4 for the key pair
the stack keeps in `<run dir>/access.json`, ID tokens from the issuer it starts. The local deployer (`LOCAL_DEPLOYER`)
is the identity `smodels invoke --local`, `smodels smoke --local` and `smodels local-token` sign as; on GCP it may
invoke every function, as a project owner may in the cloud."""

from __future__ import annotations

import json
import re
from pathlib import Path

# Any key pair moto takes until the local stack turns its IAM checks on (smodels/local/iam.py; from then on only the
# identities created in it pass): what the stack creates those identities with, and what a bare emulator takes.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


# The identity that runs the local stack, and the GCP project its service accounts belong to.
LOCAL_DEPLOYER = "deployer@smodels.local"
LOCAL_GCP_PROJECT = "local-project"
ACCESS_FILE = "access.json"
# The identities the local stack creates in moto, whose policies moto enforces (smodels/local/iam.py).
IAM_FILE = "iam.json"


def safe_name(stack: str) -> str:
    """`stack` in the characters bucket names and paths allow (`org/proj/dev` -> `org-proj-dev`)."""
    return re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-") or "stack"


def run_dir(project_dir: Path, stack: str) -> Path:
    """The directory `smodels serve --stack STACK` runs in (its state file, logs and builds)."""
    return project_dir / ".build" / "local" / safe_name(stack)


def state_path(project_dir: Path, stack: str) -> Path:
    """The state file `smodels serve --stack STACK` writes once ready."""
    return run_dir(project_dir, stack) / "state.json"


def access_path(run_dir_: Path) -> Path:
    """The access file of the local stack running in `run_dir_` (its key pair and its issuer's key; mode 0600)."""
    return run_dir_ / ACCESS_FILE


def iam_path(run_dir_: Path) -> Path:
    """The IAM file of the local stack running in `run_dir_`: the credentials of the identities it created in moto
    (the deployer, the publisher, each function's role session; mode 0600)."""
    return run_dir_ / IAM_FILE


def aws_credentials(path: Path, who: str) -> dict[str, str]:
    """boto3 keyword arguments for identity `who` ("publisher", "deployer") of the IAM file at `path`; ValueError
    naming the file and the problem when it has none."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))[who]
        out = {"aws_access_key_id": entry["access_key_id"], "aws_secret_access_key": entry["secret_access_key"]}
        if entry.get("session_token"):
            out["aws_session_token"] = entry["session_token"]
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: is the local stack running?") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"cannot read the {who}'s credentials from {path}: {type(exc).__name__}: {exc}") from None
    if not all(isinstance(v, str) and v for v in out.values()):
        raise ValueError(f"{path}: the {who}'s credentials are not an access key pair")
    return out
