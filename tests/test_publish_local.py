"""Publishing without a deploy, end to end on the local stack (issue 14's must-show): a `refresh: pointer` endpoint on
both clouds serving iris model v1; `smodels publish --local` of v2 (as the publisher identity, whose policy moto
enforces: a write outside its prefixes is AccessDenied) while a load of requests runs. Every request
answers 200 from v1 or v2, none fails, and once the trigger has been delivered every request answers from v2. Then a
tampered pointer (a sha256 its artifact does not have) and a tampered artifact (bytes replaced under a published key)
are refused and logged, and v2 keeps serving. `smodels rollout status --local` shows both versions with their
figures. The project is a temporary directory with its own Pulumi.<stack>.yaml, as a user's is.

Nothing here depends on timing: `ttlSeconds` is longer than any run, so only the trigger can switch an instance, and
each cloud runs one instance (one Lambda worker; functions-framework's one process), so the trigger reaches every
instance and the switch is exact; every wait is for a condition (a delivery, an answer), with a generous timeout.
Instances a trigger does not reach, which wait for their TTL, are covered with a fake clock in
tests/functions/test_pointer.py and measured by bench/publish.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_servers import IRIS_ROW, iris_model, post_json

from functions.contract import Pointer, pointer_key, published_key
from smodels.cli import main as smodels_main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
STACK = "pubtest"
TTL = 3600  # longer than any run: only the trigger switches an instance
WAIT_S = 120.0


def _post(url: str) -> tuple[int, str | None]:
    status, body = post_json(url, IRIS_ROW, timeout=60)  # signed: the stack is private
    return status, body["model"]["version"] if status == 200 else None


class Load:
    """Threads posting to every URL until stopped; each thread's answers in order: (url, status, version)."""

    def __init__(self, urls: list[str], threads_per_url: int = 2) -> None:
        self.answers: list[list[tuple[str, int, str | None]]] = [[] for _ in urls for _ in range(threads_per_url)]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(u, self.answers[i * threads_per_url + j]),
                                          daemon=True)
                         for i, u in enumerate(urls) for j in range(threads_per_url)]

    def _run(self, url: str, answers: list[tuple[str, int, str | None]]) -> None:
        while not self._stop.is_set():
            status, version = _post(url)
            answers.append((url, status, version))

    def wait_until(self, done: Any, what: str) -> None:
        """Let the load run until `done(self)` is true (a condition, not a time); fail after WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while not done(self):
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            time.sleep(0.05)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack

    root = tmp_path_factory.mktemp("publish")
    (root / "functions").symlink_to(REPO / "functions")
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    v1, v2, v3 = (iris_model(root, f"iris-v{i}", c) for i, c in ((1, 1.0), (2, 0.05), (3, 0.2)))
    endpoints = {"iris": {"model": str(v1.relative_to(root)), "runtime": "pure", "memory": 256, "ttlSeconds": TTL,
                          "refresh": "pointer"}}
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {
        "serverless-models:clouds": ["aws", "gcp"], "serverless-models:endpoints": endpoints}}))
    cfg = stack_config_for(root, STACK)
    with LocalStack(cfg, stack=STACK, port=0, pool_size=1, notify_interval=0.2) as stack:
        yield {"root": root, "stack": stack, "v2": v2, "v3": v3,
               "urls": {ep.cloud: ep.url for ep in stack.endpoints}}


def _publish(project: dict[str, Any], model_dir: Path) -> list[dict[str, Any]]:
    from smodels import publish

    args = publish_args(project, model_dir)
    return publish.run(args)


def publish_args(project: dict[str, Any], model_dir: Path) -> Any:
    import argparse

    return argparse.Namespace(endpoint="iris", model_dir=str(model_dir), stack=STACK, cloud=None, local=True,
                              outputs=None, project_dir=str(project["root"]), dry_run=False, json=False)


def _logged(stack: Any, event: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted(stack.log_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if f'"event":"{event}"' in line or f'"event": "{event}"' in line:
                try:
                    out.append(json.loads(line[line.index("{"):]))
                except ValueError:
                    pass
    return out


def test_publish_under_load_then_tampering_then_rollout_status(project: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    stack, urls = project["stack"], list(project["urls"].values())
    v1 = {c: stack.builds[(c, "iris")].model.sha256 for c in ("aws", "gcp")}
    assert len(set(v1.values())) == 1
    old = v1["aws"]
    for url in urls:
        assert _post(url) == (200, old)

    with Load(urls) as load:
        load.wait_until(lambda ld: all(len(a) >= 20 for a in ld.answers), "answers from v1")
        assert smodels_main(["publish", "iris", str(project["v2"]), "--stack", STACK, "--local",
                             "--project-dir", str(project["root"])]) == 0
        out = capsys.readouterr().out
        assert out.count(" -> ") == 2, out  # one line per cloud
        assert stack.notifier is not None
        deliveries = stack.notifier.wait_for(2, WAIT_S)
        assert {d.cloud for d in deliveries} == {"aws", "gcp"} and all(d.ok for d in deliveries), deliveries
        seen = [len(a) for a in load.answers]
        load.wait_until(lambda ld: all(len(a) >= n + 20 for a, n in zip(ld.answers, seen, strict=True)),
                        "answers after the trigger")
    answers = load.answers
    versions = {v for a in answers for _, _, v in a}
    assert len(versions) == 2 and old in versions, versions
    new_version = (versions - {old}).pop()
    assert all(s == 200 for a in answers for _, s, _ in a), [x for a in answers for x in a if x[1] != 200][:5]
    for a in answers:  # every thread: v1, then (from the trigger on) only v2, and its last 20 answers all v2
        order = [v for _, _, v in a]
        switch = order.index(new_version)
        assert switch > 0 and set(order[:switch]) == {old} and set(order[switch:]) == {new_version}
        assert len(order) - switch >= 20

    # Tampering: a pointer whose sha256 its artifact does not have, then an artifact whose bytes were replaced.
    from smodels import publish

    buckets = publish.local_buckets(publish.read_local_state(project["root"], STACK), ["aws", "gcp"])
    # The publisher is the program's: on AWS (moto enforces its policy) nothing outside `models/` and the pointer
    # endpoints' `endpoints/<ep>/`; the GCS emulator has no IAM, so the same write succeeds there.
    from smodels.buckets import BucketError

    for key in (pointer_key("other"), "lambda/iris/code.zip"):
        with pytest.raises(BucketError, match="AccessDenied"):
            buckets["aws"].put(key, b"{}", "application/json", {})
    refused_before = len(_logged(stack, "pointer_refused"))
    for bucket in buckets.values():
        key = published_key("iris", new_version, "pure")
        bad = Pointer(bucket.uri(key), "0" * 64, "pure", "iris-evil").to_json("iris")
        bucket.put(pointer_key("iris"), bad, "application/json", {})
    assert len(stack.notifier.wait_for(4, WAIT_S)) == 4
    for _ in range(6):
        for url in urls:
            assert _post(url) == (200, new_version)
    refused = _logged(stack, "pointer_refused")[refused_before:]
    assert sorted((r["pointer"][:2], r["stage"], r["serving"]) for r in refused) == [
        ("gs", "pointer", new_version), ("s3", "pointer", new_version)], refused
    prepared = publish.prepare(stack.cfg, stack.cfg.endpoints[0], "aws", project["v3"], project["root"] / ".build")
    for bucket in buckets.values():
        key = published_key("iris", prepared.sha256, prepared.format)
        bucket.put(key, b'{"not": "the model"}', "application/octet-stream", {})
        good_pointer = Pointer(bucket.uri(key), prepared.sha256, prepared.format, "iris-v3").to_json("iris")
        bucket.put(pointer_key("iris"), good_pointer, "application/json", {})
    assert len(stack.notifier.wait_for(6, WAIT_S)) == 6
    for _ in range(6):
        for url in urls:
            assert _post(url) == (200, new_version)
    refused = _logged(stack, "pointer_refused")[refused_before:]  # both tamperings, each said once per cloud
    assert sorted((r["pointer"][:2], r["stage"], r["serving"]) for r in refused) == [
        ("gs", "pointer", new_version), ("gs", "sha256_mismatch", new_version),
        ("s3", "pointer", new_version), ("s3", "sha256_mismatch", new_version)], refused

    # Rollout status reads the local logs: both versions, with their figures.
    capsys.readouterr()
    assert smodels_main(["rollout", "status", "iris", "--stack", STACK, "--local", "--json",
                         "--project-dir", str(project["root"])]) == 0
    report = json.loads(capsys.readouterr().out)
    text = json.dumps(report)
    assert old in text and new_version in text
