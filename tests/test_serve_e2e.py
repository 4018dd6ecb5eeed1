"""End to end: `smodels serve` runs the dev stack locally, every endpoint answers the book's requests signed as the
stack is private (SigV4 with its key pair, an ID token of its issuer) and refuses them unsigned, `smodels smoke`
pointed at its state file signs too, and SIGINT leaves no process behind.

The server runs as a subprocess in its own process group. Its children are recorded from the state file it
writes once ready and from /proc (every process whose parent chain leads to the server, e.g. gunicorn
workers forked by functions-framework), each with its start time so a recycled pid is not mistaken for one
of ours. After SIGINT, none of them, and nothing else in their process groups, may still be alive.

SMODELS_E2E_PROJECT / SMODELS_E2E_STACK point the test at another project directory / stack (default: this
repository's `dev` stack).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from local_servers import local_stack_state, request

from smodels.config import stack_config_for
from smodels.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("SMODELS_E2E_PROJECT", REPO))
STACK = os.environ.get("SMODELS_E2E_STACK", "dev")
READY_TIMEOUT = 540  # a cold first build of every package included
# CLOUD ENDPOINT VERSION URL MODEL RUNTIME REFRESH
URL_ROW = re.compile(r"^(aws|gcp)\s+(\S+)\s+(?:\d+|-)\s+(http://127\.0\.0\.1:\d+/\S*)\s+(\S+)\s+(\S+)\s+(?:pointer|-)$")

pytestmark = pytest.mark.slow


def _proc_stat(pid: int) -> tuple[int, int, str, int] | None:
    """(ppid, pgid, state, start time) of `pid` from /proc, or None if it is gone."""
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(rest[1]), int(rest[2]), rest[0], int(rest[19])


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _descendants(root: int) -> dict[int, int]:
    """pid -> start time of every live process whose parent chain reaches `root`."""
    parent: dict[int, int] = {}
    start: dict[int, int] = {}
    for pid in _all_pids():
        st = _proc_stat(pid)
        if st is not None and st[2] != "Z":
            parent[pid], start[pid] = st[0], st[3]
    out: dict[int, int] = {}
    for pid in parent:
        p, seen = parent.get(pid), 0
        while p and p != 1 and seen < 64:
            if p == root:
                out[pid] = start[pid]
                break
            p, seen = parent.get(p), seen + 1
    return out


def _alive(pid: int, started: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[2] != "Z" and st[3] == started


def _call(method: str, url: str, payload: object | None = None) -> tuple[int, dict, float]:
    """One request, signed for the stack (local_servers.request: within local_stack_state)."""
    data = json.dumps(payload).encode() if payload is not None else None
    t0 = time.perf_counter()
    status, _, body = request(method, url, data, {"Content-Type": "application/json"}, timeout=60)
    return status, json.loads(body), (time.perf_counter() - t0) * 1000


def _unsigned(url: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=b'{"msg": "hello"}', headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _book_request(manifest) -> tuple[dict[str, str], float]:
    names = manifest.feature_names
    for s in manifest.samples:
        if s.input[names[0]] == 1 and all(s.input[n] == 0 for n in names[1:]):
            return {n: ("1" if n == names[0] else "0") for n in names}, s.output
    raise AssertionError(f"manifest {manifest.name} has no sample for the book's request (G1=1, others 0)")


def test_serve_answers_every_endpoint_and_stops_cleanly(tmp_path: Path) -> None:
    cfg = stack_config_for(PROJECT, STACK)
    expected = {(c, e.name) for c in cfg.clouds for e in cfg.endpoints_for(c)}
    assert {c for c, _ in expected} == {"aws", "gcp"}, "the e2e stack must deploy to both clouds"
    state_file = tmp_path / "state.json"
    stderr = (tmp_path / "serve.stderr").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "smodels.cli", "serve", "--stack", STACK, "--port", "0", "--quiet",
         "--project-dir", str(PROJECT), "--state-file", str(state_file)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True, text=True,
    )
    recorded: dict[int, int] = {}
    signing = contextlib.ExitStack()
    try:
        rows: dict[tuple[str, str], tuple[str, str, str]] = {}
        deadline = time.monotonic() + READY_TIMEOUT
        assert server.stdout is not None
        while True:
            line = server.stdout.readline()
            if not line:
                err = (tmp_path / "serve.stderr").read_text()[-3000:]
                pytest.fail(f"serve exited (code {server.wait()}) before ready:\n{err}")
            m = URL_ROW.match(line.strip())
            if m:
                rows[(m[1], m[2])] = (m[3], m[4], m[5])
            if line.startswith("ready in "):
                ready_line = line.strip()
                break
            assert time.monotonic() < deadline, "serve was not ready in time"
        assert set(rows) == expected, f"table rows {sorted(rows)} != stack endpoints {sorted(expected)}"

        state = json.loads(state_file.read_text())
        assert state["pid"] == server.pid
        for child in state["children"]:
            st = _proc_stat(child["pid"])
            assert st is not None, f"recorded child {child} is not running"
            recorded[child["pid"]] = st[3]
        recorded.update(_descendants(server.pid))
        pgids = {c["pgid"] for c in state["children"]}
        assert len(state["children"]) >= len(expected), state["children"]

        signing.enter_context(local_stack_state(state_file))
        latencies: dict[str, list[float]] = {}
        assert state["private"] is True and cfg.public is False, "the e2e stack is private, as deployed"
        for (cloud, name), (url, _, _) in sorted(rows.items()):  # unsigned: refused as the cloud refuses
            status, text = _unsigned(url)
            assert status == 403, (cloud, name, status, text[:200])
            assert (json.loads(text) == {"message": "Forbidden"}) if cloud == "aws" else b"Error: Forbidden" in text
        for (cloud, name), (url, model, runtime) in sorted(rows.items()):
            ep = next(e for e in cfg.endpoints if e.name == name)
            # The table shows what serves: the configured runtime, or what `auto` chose.
            assert runtime == ep.runtime or (ep.runtime == "auto" and runtime in ("pure", "onnx", "native")), (
                cloud, name, runtime, ep.runtime)
            for _ in range(2):  # the first call on a worker is a cold start; both must be right
                if ep.kind == "echo":
                    status, body, ms = _call("POST", url, {"msg": "hello"})
                    assert (status, body) == (200, {"response": "hello", "success": True}), (cloud, name, body)
                else:
                    manifest = load_manifest(ep.model)
                    payload, want = _book_request(manifest)
                    status, body, ms = _call("POST", url, payload)
                    assert status == 200 and body["success"] is True, (cloud, name, body)
                    assert abs(body["prediction"] - want) <= 1e-6, (cloud, name, body["prediction"], want)
                    assert body["model"]["version"].startswith(model), (cloud, name, body["model"], model)
                latencies.setdefault(f"{cloud}/{name}", []).append(round(ms, 1))
            status, body, _ = _call("POST", url, None)  # no body at all: a JSON 4xx, never a 500
            assert 400 <= status < 500 and body.get("success") is False, (cloud, name, status, body)
        print(f"\n{ready_line}\nlatency ms (cold, warm): {json.dumps(latencies)}")

        # The deployed-stack path of `smodels smoke`, pointed at this server through its state file (the program's
        # outputs shape, plus where the stack's access is): every private endpoint signed for the local stack.
        smoke = subprocess.run(
            [sys.executable, "-m", "smodels.cli", "smoke", "--stack", STACK, "--project-dir", str(PROJECT),
             "--outputs", str(state_file)], cwd=REPO, capture_output=True, text=True, timeout=300,
        )
        assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-2000:]
        report = json.loads(smoke.stdout)
        assert {(e["cloud"], e["endpoint"]) for e in report["endpoints"]} == expected
        assert len(report["target"]["private"]) == len(expected)
    finally:
        signing.close()
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            code = server.wait()
        stderr.close()
    assert code == 0, (tmp_path / "serve.stderr").read_text()[-3000:]
    time.sleep(0.2)
    left = {pid: s for pid, s in recorded.items() if _alive(pid, s)}
    in_groups = [p for p in _all_pids() if (st := _proc_stat(p)) and st[1] in pgids and st[2] != "Z"]
    assert not left and not in_groups, f"left behind: {left} {in_groups}"
    assert not state_file.exists(), "the state file should be removed on a clean stop"
