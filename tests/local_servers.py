"""The adapters in functions/ as real HTTP servers on 127.0.0.1, each in its own processes, for the tests.

- :func:`serve_gcp`: an entry point of functions/gcp.py under functions-framework (gunicorn, as Cloud
  Functions runs it), the source being this repository.
- :func:`serve_aws`: ``lambda_handler`` (or ``echo_handler``) under awslambdaric, with smodels.local's own
  Runtime API and payload-2.0 translation in front, on an ``ANY /<endpoint>`` route (so every method reaches
  the handler, as through a function URL), the package being this repository and this virtualenv its layer.
Both serve whatever model environment they are given (see ``fuzz_strategies.book_model_env``) and stop every
process they started on the way out. `smodels serve` (smodels.local.LocalStack) is the same with built
packages and storage emulators; these skip the build, and check no signature (they are the functions alone, not
the stack's API Gateway / Cloud Run fronts).

Calling a local stack: :func:`request`, :func:`post_json`, :func:`get_json` and :class:`LocalAuth` (requests /
schemathesis) sign every request through ``smodels.client.sign_for_local``, the one signing seam: SigV4 with the
stack's key pair, or an ID token of its issuer for the local deployer, when a private local stack serves the URL
(a ``LocalStack`` running in this process registers itself; :func:`local_stack_state` registers one running in
another process from its state file). Any other URL is sent as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from smodels import client
from smodels.local import apigw
from smodels.local.front import FrontServer, _FrontHandler, result_to_http
from smodels.local.lambda_runtime import LambdaFunction, lambda_base_env, runtime_dir
from smodels.local.procs import ManagedProcess, free_port
from smodels.packager.builder import GCP_MAIN

REPO_ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def http_server(handler: type) -> Iterator[str]:
    """A threaded HTTP server on a free loopback port with `handler`; yields its base URL, stops it after."""
    import threading
    from http.server import ThreadingHTTPServer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def send_json(handler: Any, status: int, payload: Any) -> None:
    """Answer the request `handler` (a BaseHTTPRequestHandler) is serving with `status` and `payload` as JSON."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request, signed for the private local stack serving `url` (if any): (status, lower-cased headers,
    body), an HTTP error status included."""
    signed = client.sign_for_local(method, url, body, headers or {})
    return client.send(method, url, body, signed, timeout=timeout)


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")  # e.g. Cloud Run's HTML 401 / 403 page


def post_json(url: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
    """POST `payload` as JSON to `url` (signed for a local stack): (status, the JSON body), an HTTP error status
    included; a body that is not JSON comes back as text."""
    status, _, data = request("POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json"},
                              timeout=timeout)
    return status, _json_or_text(data)


def get_json(url: str, timeout: float = 30.0) -> tuple[int, Any]:
    """GET `url` (signed for a local stack): (status, the JSON body, or the text of one that is not JSON)."""
    status, _, data = request("GET", url, None, {}, timeout=timeout)
    return status, _json_or_text(data)


class LocalAuth:
    """`requests` auth (``requests.get(url, auth=LocalAuth())``, schemathesis ``case.call(auth=...)``) signing each
    prepared request for the private local stack serving its URL, if any."""

    def __call__(self, r: Any) -> Any:
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        if not isinstance(body, bytes):  # a generator or a file: not signable here
            raise TypeError("LocalAuth signs bytes or str bodies only")
        r.headers.update(client.sign_for_local(r.method, r.url, body, dict(r.headers)))
        return r


@contextlib.contextmanager
def local_stack_state(state_file: Path) -> Iterator[client.LocalAccess]:
    """Sign for the local stack whose state file is `state_file` (a `smodels serve` in another process) within the
    block."""
    access = client.use_local_outputs(json.loads(Path(state_file).read_text()))
    if access is None:
        raise RuntimeError(f"{state_file} names no access file: not the state file of this smodels serve")
    try:
        yield access
    finally:
        client.unregister_local(access)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        pass
    except OSError:
        return False
    return True


def wait_until_answering(url: str, proc: Any = None, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers any HTTP status; raise if ``proc`` (anything with ``poll()``) exits first."""
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.poll()} before answering")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.1)


@contextlib.contextmanager
def serve_gcp(model_env: dict[str, str], target: str = "pred", log: Path | None = None) -> Iterator[str]:
    """The GCP entry point ``target`` under functions-framework on 127.0.0.1; yields its URL (``/<target>``)."""
    src = Path(tempfile.mkdtemp(prefix="smodels-ff-"))
    (src / "main.py").write_bytes(GCP_MAIN)  # the main.py the packager ships
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "AWS_", "STORAGE_EMULATOR"))}
    env.update({**model_env, "PYTHONPATH": str(REPO_ROOT)})
    exe = Path(sys.executable).with_name("functions-framework")
    proc = ManagedProcess(f"gcp/{target}", [exe, "--target", target, "--source", "main.py", "--host", "127.0.0.1",
                                            "--port", str(port)], cwd=src, env=env, log_path=log).start()
    url = f"http://127.0.0.1:{port}/{target}"
    try:
        wait_until_answering(url, proc)
        yield url
    finally:
        proc.stop()


class _AnyRoute(_FrontHandler):
    """`ANY /<endpoint>`: every method goes to the function (the program's own routes are GET and POST only)."""

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._read_body()
        function = self.server.functions.get(path.strip("/"))
        if body is None or function is None:
            if body is not None:
                self._send(apigw.json_response(404, {"message": "Not Found"}))
            return
        event = apigw.http_api_event(method=self.command, path=path, query=query, headers=list(self.headers.items()),
                                     body=body, source_ip=self.client_address[0], route_key=f"ANY {path}")
        self._send(result_to_http(function.invoke(json.dumps(event).encode())), event["requestContext"]["requestId"])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle  # noqa: N815


@contextlib.contextmanager
def serve_aws(model_env: dict[str, str], handler: str = "model", log_dir: Path | None = None) -> Iterator[str]:
    """The Lambda ``lambda_handler`` (``handler="echo"``: ``echo_handler``) behind the front; yields ``.../pred``."""
    work = Path(tempfile.mkdtemp(prefix="smodels-lambda-"))
    name = f"functions.aws.{'echo_handler' if handler == 'echo' else 'lambda_handler'}"
    env = lambda_base_env(function_name="pred", handler=name, memory_mb=512, region="us-east-1",
                          package_dir=REPO_ROOT, runtime_path=runtime_dir(work / "runtime"),
                          layer_path=Path(sysconfig.get_paths()["purelib"]), s3_endpoint=None)
    env.update(model_env)
    function = LambdaFunction(name="pred", handler=name, package_dir=REPO_ROOT, env=env, timeout_s=30,
                              log_dir=log_dir or work)
    front: FrontServer | None = None
    try:
        function.start()
        function.wait_ready(60)
        front = FrontServer({"pred": function})
        front.RequestHandlerClass = _AnyRoute
        yield f"{front.start().url}/pred"
    finally:
        if front is not None:
            front.stop()
        function.stop()


def iris_model(root: Path, name: str, c: float) -> Path:
    """An iris LogisticRegression (regularisation `c`) as a model directory made by `smodels add-model`: models
    with the same input schema and task that answer differently (a canary, a published replacement)."""
    import joblib
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from smodels.cli import main as smodels_main

    data = load_iris(as_frame=True)
    X, y = data.data, pd.Series(data.target, name="species")
    model = LogisticRegression(C=c, max_iter=500).fit(X, y)
    artifact, csv = root / f"{name}.joblib", root / f"{name}.csv"
    joblib.dump(model, artifact)
    X.assign(species=y).to_csv(csv, index=False)
    out = root / "models" / name
    assert smodels_main(["add-model", str(artifact), "--example", str(csv), "--name", name, "--label", "species",
                         "--out", str(out)]) == 0
    return out


IRIS_ROW = {"sepal length (cm)": 5.9, "sepal width (cm)": 3.0, "petal length (cm)": 4.2, "petal width (cm)": 1.5}

