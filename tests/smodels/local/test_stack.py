"""LocalStack orchestration with echo-only archives (no dependencies, no emulators): fast, real processes.

The packager is replaced by a fake that zips the repository's `functions/` modules the way DESIGN.md says an
echo archive looks (the full packager path is covered by tests/test_serve_e2e.py).
"""

from __future__ import annotations

import hashlib
import json
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest
from local_servers import post_json

from smodels.config import load_stack_config
from smodels.local import stack as stack_mod
from smodels.local.stack import LocalStack, LocalStackError, _unpack
from smodels.local_state import safe_name as _safe_name
from smodels.packager import FunctionBuild

REPO = Path(__file__).resolve().parents[3]
ECHO_MODULES = ("__init__.py", "contract.py", "http.py", "apps.py", "echo.py")


def _echo_archive(dest: Path, cloud: str) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for name in (*ECHO_MODULES, f"{cloud}.py"):
            zf.write(REPO / "functions" / name, f"functions/{name}")
        if cloud == "gcp":
            # A fixed date: the same archive (sha256) every build, as the packager's.
            zf.writestr(zipfile.ZipInfo("main.py", (2020, 1, 1, 0, 0, 0)),
                        "from functions.gcp import echo, pred, predict  # noqa: F401\n")
    return dest


@pytest.fixture
def fake_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import smodels.packager

    def build_stack(cfg: Any, opts: Any) -> dict[tuple[str, str], FunctionBuild]:
        assert opts.host is True, "local mode must build for the host interpreter"
        out = {}
        for cloud in cfg.clouds:
            for ep in cfg.endpoints_for(cloud):
                archive = _echo_archive(tmp_path / f"{cloud}-{ep.name}.zip", cloud)
                sha = hashlib.sha256(archive.read_bytes()).hexdigest()
                out[(cloud, ep.name)] = FunctionBuild(
                    cloud, ep.name, ep.kind, "native", archive, sha, archive.stat().st_size, 0, 0.0, True,
                    f"{ep.name}-{sha[:16]}.zip", handler=ep.lambda_handler, entry_point=ep.entry_point)
        return out

    monkeypatch.setattr(smodels.packager, "build_stack", build_stack)


def _post(url: str, payload: dict) -> tuple[int, dict]:
    return post_json(url, payload, timeout=30)  # signed for the stack (it is private by default)


def _cfg():
    return load_stack_config({"serverless-models:endpoints": json.dumps({"echo": {}})}, REPO)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_echo_stack_on_both_clouds(tmp_path: Path, fake_builder: None) -> None:
    steps: list[str] = []
    with LocalStack(_cfg(), stack="unit", run_dir=tmp_path / "run", build_dir=tmp_path / "build",
                    progress=steps.append) as stack:
        assert {(e.cloud, e.name) for e in stack.endpoints} == {("aws", "echo"), ("gcp", "echo")}
        assert stack.s3 is None and stack.gcs is None, "no model: no emulator needed"
        for ep in stack.endpoints:
            assert _post(ep.url, {"msg": "hello"}) == (200, {"response": "hello", "success": True}), ep
        lines = stack.table().splitlines()
        assert lines[0].split() == ["CLOUD", "ENDPOINT", "VERSION", "URL", "MODEL", "RUNTIME", "REFRESH"]
        assert sorted(line.split()[:3] for line in lines[1:]) == [["aws", "echo", "1"], ["gcp", "echo", "1"]]
        state = json.loads(stack.state_file.read_text())
        assert state["endpoints"]["aws"]["echo"]["url"].endswith("/echo")
        assert state["endpoints"]["aws"]["echo"]["version"] == 1 and "refresh" not in state["endpoints"]["aws"]["echo"]
        assert state["buckets"] == {"aws": None, "gcp": None} and state["triggers"] is None
        assert state["logs"] == str(tmp_path / "run" / "logs") and stack.notifier is None
        assert (tmp_path / "run" / "logs" / "gcp-echo.log").is_file()
        children = state["children"]
        assert sorted(c["name"] for c in children) == ["aws/echo#0", "aws/echo#1", "gcp/echo"]
        assert all(_alive(c["pid"]) for c in children)
        assert "waiting for every server to answer: done" in " ".join(steps)
        # The Lambda worker's environment is the program's (ENDPOINT_NAME) plus Lambda's own.
        env = stack.lambdas["echo"].env
        assert env["ENDPOINT_NAME"] == "echo" and env["_HANDLER"] == "functions.aws.echo_handler"
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == "serverless-models-unit-echo"
        assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
        assert stack.gcp_functions["echo"].env["K_REVISION"] == "serverless-models-unit-echo-00001-loc"
    assert not any(_alive(c["pid"]) for c in children)
    assert not stack.state_file.exists()

    # Started again with the same configuration: the same version; this run's logs only, the last run's kept.
    (tmp_path / "run" / "logs.previous").mkdir()
    (tmp_path / "run" / "logs.previous" / "older").write_text("two runs ago")
    with LocalStack(_cfg(), stack="unit", run_dir=tmp_path / "run", build_dir=tmp_path / "build") as again:
        assert {e.version for e in again.endpoints} == {1}
    assert (tmp_path / "run" / "logs.previous" / "gcp-echo.log").is_file()
    assert not (tmp_path / "run" / "logs.previous" / "older").exists()


def test_busy_base_port_is_refused(tmp_path: Path, fake_builder: None) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        # The ports after it may be taken too on a busy machine: the message lists each taken one, ours first.
        with pytest.raises(LocalStackError, match=rf"port\(s\) \[{port}(, \d+)*\] already in use"):
            with LocalStack(_cfg(), stack="unit", port=port, run_dir=tmp_path / "run", build_dir=tmp_path / "b"):
                pass


def test_missing_build_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import smodels.packager

    monkeypatch.setattr(smodels.packager, "build_stack", lambda cfg, opts: {})
    with pytest.raises(LocalStackError, match="no aws build for endpoint 'echo'"):
        with LocalStack(_cfg(), stack="unit", run_dir=tmp_path / "run", build_dir=tmp_path / "b"):
            pass


def test_unpack_is_cached_and_refuses_escaping_entries(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        info = zipfile.ZipInfo("bin/tool")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\n")
    dest = _unpack(good, tmp_path / "cache", "abc")
    assert (dest / "bin" / "tool").stat().st_mode & 0o777 == 0o755
    (dest / "bin" / "tool").write_text("changed")
    assert _unpack(good, tmp_path / "cache", "abc") == dest
    assert (dest / "bin" / "tool").read_text() == "changed", "an unpacked archive is reused, not re-extracted"

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../outside.txt", "x")
    with pytest.raises(LocalStackError, match="escapes the archive root"):
        _unpack(evil, tmp_path / "cache", "def")
    assert not (tmp_path / "outside.txt").exists()


def test_old_unpacked_archives_are_pruned(tmp_path: Path) -> None:
    import os
    import time

    cache = tmp_path / "cache"

    def entry(name: str, age_s: float) -> Path:
        d = cache / name
        d.mkdir(parents=True)
        (d / ".unpacked").write_text("x")
        t = time.time() - age_s
        os.utime(d / ".unpacked", (t, t))
        return d

    stale = entry("stale", stack_mod.UNPACKED_IDLE_S + 10)
    recent = [entry(f"r{i}", 7200 + i) for i in range(stack_mod.UNPACKED_KEEP + 2)]  # 2 over the cap
    fresh = entry("fresh", 60)  # used within the hour: always kept
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("f", "x")
    _unpack(archive, cache, "new")
    assert not stale.exists() and fresh.exists() and (cache / "new" / "f").is_file()
    kept = [d for d in recent if d.exists()]
    assert kept == recent[: stack_mod.UNPACKED_KEEP - 1], "the most recently used are kept, up to the cap"


def test_safe_names() -> None:
    assert _safe_name("dev") == "dev"
    assert _safe_name("acme/serverless-models/Prod_1") == "acme-serverless-models-prod-1"
    assert _safe_name("///") == "stack"
