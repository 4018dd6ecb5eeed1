"""What ``smodels drift`` reads besides the log lines ``smodels rollout`` reads for it: the drift profiles of the
endpoint's models (from the stack config, as the packager derives them) and, locally, the lines that look like
prediction lines but do not parse (cut or corrupted), which the shared line parser passes over."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from functions.drift import DriftProfile
from smodels.manifest.drift import drift_profile
from smodels.rollout.parse import parse_line
from smodels.rollout.sources import local_log_dir, local_log_files

PREDICTION_MARKS = ('"event":"prediction"', '"event": "prediction"')


class DriftSetupError(Exception):
    """The endpoint or its config cannot be read; the message says what to do (exit code 2)."""


def endpoint_config(project_dir: Path, stack: str, endpoint: str) -> Any:
    """The endpoint's config (smodels.config.EndpointConfig) from ``Pulumi.<stack>.yaml`` in ``project_dir``."""
    from smodels.config import ConfigError, stack_config_for

    name = stack.rsplit("/", 1)[-1]  # `org/project/dev` names the file Pulumi.dev.yaml
    try:
        cfg = stack_config_for(project_dir, name)
    except ConfigError as exc:
        raise DriftSetupError(f"cannot read the stack config of {stack!r} in {project_dir} (the models' profiles "
                              f"come from it): {exc}") from None
    found = next((e for e in cfg.endpoints if e.name == endpoint), None)
    if found is None:
        names = ", ".join(e.name for e in cfg.endpoints) or "none"
        raise DriftSetupError(f"no endpoint {endpoint!r} in Pulumi.{name}.yaml (endpoints: {names})")
    if found.kind != "model":
        raise DriftSetupError(f"endpoint {endpoint!r} serves no model ({found.kind}): there is no drift to measure")
    return found


def endpoint_profiles(ep: Any) -> tuple[dict[str, DriftProfile], list[str]]:
    """{profile id: profile} of the endpoint's model and canary, and a note for each that has none."""
    profiles: dict[str, DriftProfile] = {}
    notes: list[str] = []
    if not getattr(ep, "drift", True):
        notes.append(f"endpoint {ep.name} has drift: false in its config: its function counts no drift")
    for manifest in (ep.manifest, getattr(ep, "canary_manifest", None)):
        if manifest is None:
            continue
        profile, reason = drift_profile(manifest)
        if profile is None:
            notes.append(reason)
        else:
            profiles[profile.id] = profile
    return profiles, notes


def garbled_local_lines(project_dir: Path, stack: str, endpoint: str, clouds: Iterable[str]) -> int:
    """How many lines of the endpoint's local log files name a prediction event but are not a JSON line."""
    log_dir = local_log_dir(project_dir, stack)
    if not log_dir.is_dir():
        return 0
    count = 0
    for _, path in local_log_files(log_dir, endpoint, clouds):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                count += sum(1 for text in fh if any(m in text for m in PREDICTION_MARKS) and parse_line(text) is None)
        except OSError:
            continue  # the record reader says why it cannot read the file
    return count
