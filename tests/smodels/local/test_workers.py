"""Real awslambdaric workers behind the front: crash -> 502 and restart, timeout -> 504, init errors, isolation.

The package is a two-line handler module written per test, so these run in a second or two without the
packager; the full stack (packager output, emulators) is exercised by tests/test_serve_e2e.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_servers import post_json

from smodels.local.front import FrontServer
from smodels.local.lambda_runtime import LambdaFunction, lambda_base_env, runtime_dir
from smodels.local.procs import ManagedProcess

# Every test here starts real processes: awslambdaric workers, a process group, the smodels CLI.
pytestmark = pytest.mark.slow

HANDLER = '''
import json, os, sys, time

def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    if body.get("crash"):
        os._exit(3)
    if body.get("sleep"):
        time.sleep(body["sleep"])
    if body.get("import"):
        __import__(body["import"])
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"pid": os.getpid(), "fn": context.function_name,
                                "remaining_ms": context.get_remaining_time_in_millis(),
                                "path": sys.path, "env": {k: os.environ.get(k) for k in
                                ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "_HANDLER", "AWS_ACCESS_KEY_ID",
                                 "MODEL_NAME")}})}
'''


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_dir(tmp_path_factory.mktemp("runtime"))


def _function(tmp_path: Path, runtime: Path, source: str = HANDLER, timeout_s: float = 5, pool: int = 1):
    pkg = tmp_path / "task"
    pkg.mkdir()
    (pkg / "app.py").write_text(source)
    env = lambda_base_env(function_name="local-fn", handler="app.handler", memory_mb=128, region="eu-west-1",
                          package_dir=pkg, runtime_path=runtime, s3_endpoint="http://127.0.0.1:1")
    env["MODEL_NAME"] = "m"
    return LambdaFunction(name="fn", handler="app.handler", package_dir=pkg, env=env, timeout_s=timeout_s,
                          log_dir=tmp_path / "logs", pool_size=pool, region="eu-west-1")


def _post(url: str, payload: dict) -> tuple[int, dict]:
    return post_json(url, payload, timeout=30)


def test_crash_gives_502_then_the_worker_is_restarted(tmp_path: Path, runtime: Path) -> None:
    fn = _function(tmp_path, runtime)
    fn.start()
    front = FrontServer({"fn": fn}).start()
    try:
        fn.wait_ready(30)
        url = f"{front.url}/fn"
        status, body = _post(url, {})
        assert status == 200
        first_pid = body["pid"]
        assert body["fn"] == "local-fn" and 0 < body["remaining_ms"] <= 5000
        assert body["env"] == {"AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "local-fn",
                               "_HANDLER": "app.handler", "AWS_ACCESS_KEY_ID": "testing", "MODEL_NAME": "m"}
        # Lambda's order: the package first, the runtime's own directory (awslambdaric, boto3) after it.
        path = body["path"]
        assert path.index(str(tmp_path / "task")) < path.index(str(runtime))

        status, body = _post(url, {"crash": True})
        assert status == 502 and body["message"] == "Bad Gateway" and "exited with code 3" in body["local"]

        status, body = _post(url, {})
        assert status == 200 and body["pid"] != first_pid
        assert fn.workers[0].restarts == 1
    finally:
        front.stop()
        fn.stop()
    assert fn.pids() == []


def test_timeout_gives_504_and_a_fresh_worker(tmp_path: Path, runtime: Path) -> None:
    fn = _function(tmp_path, runtime, timeout_s=1)
    fn.start()
    front = FrontServer({"fn": fn}).start()
    try:
        fn.wait_ready(30)
        _, first = _post(f"{front.url}/fn", {})
        t0 = time.perf_counter()
        status, body = _post(f"{front.url}/fn", {"sleep": 30})
        assert status == 504 and "timed out after 1.00 seconds" in body["local"]
        assert time.perf_counter() - t0 < 5
        status, body = _post(f"{front.url}/fn", {})
        assert status == 200 and body["pid"] != first["pid"]
    finally:
        front.stop()
        fn.stop()


def test_the_virtualenv_is_not_visible_to_the_package(tmp_path: Path, runtime: Path) -> None:
    """A dependency the package forgot fails locally as it would on AWS (here: numpy, present in the venv)."""
    fn = _function(tmp_path, runtime)
    fn.start()
    front = FrontServer({"fn": fn}).start()
    try:
        fn.wait_ready(30)
        status, body = _post(f"{front.url}/fn", {"import": "numpy"})
        assert status == 500 and body["local"]["errorType"] == "ModuleNotFoundError"
        status, _ = _post(f"{front.url}/fn", {"import": "boto3"})  # the runtime ships boto3
        assert status == 200
    finally:
        front.stop()
        fn.stop()


def test_init_error_is_reported_at_start(tmp_path: Path, runtime: Path) -> None:
    fn = _function(tmp_path, runtime, source="import not_a_module_anywhere\n")
    fn.start()
    try:
        with pytest.raises(RuntimeError, match="failed to start: .*ImportModuleError.*not_a_module_anywhere"):
            fn.wait_ready(30)
    finally:
        fn.stop()
    assert fn.pids() == []


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A child that forks a grandchild and ignores SIGTERM: stop() still leaves nothing behind."""
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import signal,time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], log_path=tmp_path / "log").start()
    deadline = time.monotonic() + 10
    while not proc.tail and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(proc.tail[0])
    t0 = time.perf_counter()
    code = proc.stop(timeout=0.5)
    assert code == -signal.SIGKILL
    assert time.perf_counter() - t0 < 5
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in (proc.pid, grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(proc.pid) and not _alive(grandchild)


def _alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (a killed orphan may linger as one until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_serve_rejects_a_bad_port() -> None:
    out = subprocess.run([sys.executable, "-m", "smodels.cli", "serve", "--port", "70000"], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[3], timeout=60)
    assert out.returncode == 2 and "--port: 70000 is outside" in out.stderr
