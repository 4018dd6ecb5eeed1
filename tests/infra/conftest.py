"""Fixtures for the Pulumi program tests (the harness itself is in mockprogram.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mockprogram import FakeBuilder


@pytest.fixture
def fake_builder(tmp_path: Path) -> FakeBuilder:
    """A FakeBuilder writing small real archives into this test's tmp dir."""
    return FakeBuilder(tmp_path / "build")
