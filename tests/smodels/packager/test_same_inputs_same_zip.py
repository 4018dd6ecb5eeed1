"""Issue 13, item 6: the same inputs give the same Lambda zip on every machine, or the build says why not.

With `bytecode: true` the package carries `.pyc` compiled by the target interpreter. A machine without that
interpreter used to ship source only, silently: another zip, another code hash, a redeploy whenever the deploying
machine changed. Now it stops with the reason. The echo endpoint has no dependencies, so these builds install
nothing and take well under a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import smodels.packager.deps as deps
from smodels.config import load_stack_config
from smodels.packager import BuildError, BuildOptions, build_stack
from smodels.packager.target import Target

REPO = Path(__file__).resolve().parents[3]


def _echo_stack(bytecode: bool):
    return load_stack_config(
        {
            "serverless-models:clouds": '["aws"]',
            "serverless-models:bytecode": "true" if bytecode else "false",
            "serverless-models:endpoints": '{"echo": {}}',
        },
        REPO,
    )


def _no_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "find_interpreter", lambda python: None)


def test_missing_target_interpreter_stops_the_build_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_interpreter(monkeypatch)
    with pytest.raises(BuildError) as err:
        deps.bytecode_interpreter(Target(python="3.13", arch="x86_64"))
    message = str(err.value)
    assert "python3.13" in message and "serverless-models:bytecode" in message and "another code hash" in message


def test_a_stack_build_without_the_interpreter_stops(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_interpreter(monkeypatch)
    with pytest.raises(BuildError, match="bytecode: true needs python3.13"):
        build_stack(_echo_stack(bytecode=True), BuildOptions(out_dir=tmp_path / "b"))


def test_bytecode_off_builds_the_same_zip_on_any_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`bytecode: false` needs no interpreter: with and without one, fresh dirs, byte-identical zips."""
    with_interp = build_stack(_echo_stack(bytecode=False), BuildOptions(out_dir=tmp_path / "a"))[("aws", "echo")]
    _no_interpreter(monkeypatch)
    without = build_stack(_echo_stack(bytecode=False), BuildOptions(out_dir=tmp_path / "b"))[("aws", "echo")]
    assert with_interp.archive.read_bytes() == without.archive.read_bytes()
    assert with_interp.archive_sha256 == without.archive_sha256


@pytest.mark.slow
def test_bytecode_on_builds_the_same_zip_twice(py313: str, tmp_path: Path) -> None:
    """Where the target interpreter exists, two fresh builds are byte-identical (unchecked-hash pyc)."""
    a = build_stack(_echo_stack(bytecode=True), BuildOptions(out_dir=tmp_path / "a"))[("aws", "echo")]
    b = build_stack(_echo_stack(bytecode=True), BuildOptions(out_dir=tmp_path / "b"))[("aws", "echo")]
    assert a.archive.read_bytes() == b.archive.read_bytes()
