"""`smodels`: every sub-command is registered, and a missing command module fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smodels.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def test_every_command_is_registered() -> None:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(subparsers.choices) == ["build", "serve", "local-token", "smoke", "invoke", "openapi", "add-model",
                                        "publish", "rollout", "drift"]


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "smoke" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("module", ["smodels.smoke", "smodels.invoke", "smodels.local.cli"])
def test_a_missing_command_module_is_an_import_error(module: str) -> None:
    code = f"import sys; sys.modules[{module!r}] = None; import smodels.cli"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "ImportError" in out.stderr or "ModuleNotFoundError" in out.stderr, out.stderr[-2000:]
