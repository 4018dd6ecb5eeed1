"""Fixtures for the Pulumi program tests (the harness itself is in mockprogram.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mockprogram import FakeBuilder


@pytest.fixture(scope="session", autouse=True)
def no_source_positions() -> Iterator[None]:
    """The mock engine never reads where a resource was declared; the SDK computes it for every registration (a
    walk of the whole stack, each frame's file turned into a URI): a fifth of a mock run's time, skipped here."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    real = resource._get_stack_trace
    resource._get_stack_trace = source_pb2.StackTrace  # an empty trace: no source position
    yield
    resource._get_stack_trace = real


@pytest.fixture(scope="session")
def fake_build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every test's FakeBuilder writes (each archive under a directory named for its content)."""
    return tmp_path_factory.mktemp("fake-build")


@pytest.fixture
def fake_builder(fake_build_root: Path) -> FakeBuilder:
    """A FakeBuilder of this test's own (its handlers and models can be changed), writing small real archives."""
    return FakeBuilder(fake_build_root)
