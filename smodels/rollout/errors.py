"""RolloutError: the expected failures of `smodels rollout`, with the exit code they map to."""

from __future__ import annotations


class RolloutError(Exception):
    """An expected failure; the message says what to do. `exit_code` 2 for bad arguments, else 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
