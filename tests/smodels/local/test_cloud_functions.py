"""`CloudFunction`: the environment Cloud Run and functions-framework give a function, and a real server's life."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from smodels.local.cloud_functions import CloudFunction


def _function(tmp_path: Path, source: Path, **kw: object) -> CloudFunction:
    args: dict = dict(name="echo", entry_point="echo", source_dir=source, service="serverless-models-unit-echo",
                      project="local-project", env={"ENDPOINT_NAME": "echo"}, log_dir=tmp_path / "logs")
    return CloudFunction(**(args | kw))


def test_environment_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not for the function")
    fn = _function(tmp_path, tmp_path / "src", port=18081, storage_emulator_host="http://127.0.0.1:9023",
                   env={"ENDPOINT_NAME": "echo", "PORT": "from-the-function-env-wins"})
    assert fn.url == "http://127.0.0.1:18081/"
    assert fn.env["PYTHONPATH"] == str(tmp_path / "src") and fn.env["HOME"] == "/home/someone"
    assert "AWS_SECRET_ACCESS_KEY" not in fn.env, "only PATH, HOME, LANG and LC_ALL come from our environment"
    assert {k: fn.env[k] for k in ("K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET",
                                   "FUNCTION_SIGNATURE_TYPE", "GOOGLE_CLOUD_PROJECT", "STORAGE_EMULATOR_HOST")} == {
        "K_SERVICE": "serverless-models-unit-echo", "K_REVISION": "serverless-models-unit-echo-00001-loc",
        "K_CONFIGURATION": "serverless-models-unit-echo", "FUNCTION_TARGET": "echo", "FUNCTION_SIGNATURE_TYPE": "http",
        "GOOGLE_CLOUD_PROJECT": "local-project", "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9023"}
    assert fn.env["ENDPOINT_NAME"] == "echo" and fn.env["PORT"] == "from-the-function-env-wins"
    assert fn.proc.name == "gcp/echo" and fn.proc.cwd == str(tmp_path / "src")
    assert fn.proc.argv[-8:] == ["--target", "echo", "--source", "main.py", "--host", "127.0.0.1", "--port", "18081"]
    assert fn.proc.log_path == tmp_path / "logs" / "gcp-echo.log"
    other = _function(tmp_path, tmp_path / "src")
    assert other.port > 0 and "STORAGE_EMULATOR_HOST" not in other.env, "port 0 = a free port; no GCS, no host"


@pytest.mark.slow
def test_serves_the_echo_entry_point_then_stops(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text(
        "import json, os\n"
        "def echo(request):\n"
        "    return json.dumps({'msg': request.get_json()['msg'], 'endpoint': os.environ['ENDPOINT_NAME'],\n"
        "                       'target': os.environ['FUNCTION_TARGET']})\n"
    )
    fn = _function(tmp_path, src).start()
    try:
        fn.wait_ready(60)
        req = urllib.request.Request(fn.url, data=b'{"msg": "hi"}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert json.loads(resp.read()) == {"msg": "hi", "endpoint": "echo", "target": "echo"}
    finally:
        fn.stop()
    assert not fn.proc.alive()


@pytest.mark.slow
def test_a_function_that_cannot_import_fails_wait_ready_with_its_output(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("raise RuntimeError('broken main.py')\n")
    fn = _function(tmp_path, src).start()
    try:
        with pytest.raises(RuntimeError, match=r"Cloud Function echo \(functions-framework\): process exited"):
            fn.wait_ready(60)
    finally:
        fn.stop()
