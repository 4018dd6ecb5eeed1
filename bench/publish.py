"""Publishing without a deploy, measured on the local stack: how long until the new model answers, and what the
switch costs the requests in flight.

    venv/bin/python bench/publish.py [--ttl 5] [--threads 2] [--seconds 4]

A temporary project with one `refresh: pointer` endpoint on both clouds (the book's logistic regression as v1,
runtime pure; v2 is the same model refit with C=0.05, written with `smodels add-model`), started as `smodels serve`
starts it (2 Lambda workers). Threads post the book's request to both clouds without pause; after a warm-up,
`smodels publish --local` moves the pointer. Printed per cloud: requests and failures, the time from the publish
returning to the first answer from v2 (the trigger: one instance at once) and to the last answer from v1 (the
TTL: every other instance), and latency p50/p99 before and after the publish (each instance loads v2 inside one
request's turn). Timings on these 2-core machines are noisy: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_ROW = {f"G{i}": int(i == 1) for i in range(1, 11)}


def _v2(root: Path) -> Path:
    """The book's model refit with another regularisation, as a model directory written by `smodels add-model`."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from smodels.cli import main

    data = np.loadtxt(REPO_ROOT.parent / "shared" / "data" / "games-expand.csv", delimiter=",", skiprows=1)
    frame = pd.DataFrame(data[:, :10].astype(int), columns=list(BOOK_ROW))
    y = data[:, 10].astype(int)
    model = LogisticRegression(C=0.05, solver="liblinear").fit(frame, y)
    path, csv, out = root / "v2.joblib", root / "v2.csv", root / "models" / "games-v2"
    joblib.dump(model, path)
    frame.assign(label=y).head(2000).to_csv(csv, index=False)
    assert main(["add-model", str(path), "--example", str(csv), "--name", "games-v2", "--label", "label",
                 "--out", str(out)]) == 0
    return out


class Poster(threading.Thread):
    """Posts the book's row over one keep-alive connection until stopped; records (t, status, version, ms)."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.records = url, stop, []  # type: ignore[var-annotated]

    def run(self) -> None:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        body = json.dumps(BOOK_ROW).encode()
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                conn.request("POST", parts.path or "/", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = json.loads(resp.read())
                version = (data.get("model") or {}).get("version")
                self.records.append((time.monotonic(), resp.status, version, (time.perf_counter() - t0) * 1000))
            except (OSError, ValueError, http.client.HTTPException):
                self.records.append((time.monotonic(), 0, None, (time.perf_counter() - t0) * 1000))
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))] if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print one block per cloud."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ttl", type=int, default=5, help="ttlSeconds of the endpoint (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="posting threads per cloud (default 2)")
    ap.add_argument("--seconds", type=float, default=4.0, help="warm-up before the publish (default 4)")
    args = ap.parse_args(argv)

    import yaml

    from smodels import publish
    from smodels.config import stack_config_for
    from smodels.local.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        root = Path(tmp)
        (root / "functions").symlink_to(REPO_ROOT / "functions")
        (root / "models").mkdir()
        (root / "models" / "logreg").symlink_to(REPO_ROOT / "models" / "logreg")
        (root / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
        v2 = _v2(root)
        endpoints = {"pred": {"model": "models/logreg", "runtime": "pure", "ttlSeconds": args.ttl,
                              "refresh": "pointer"}}
        (root / "Pulumi.bench.yaml").write_text(yaml.safe_dump({"config": {
            "serverless-models:clouds": ["aws", "gcp"], "serverless-models:endpoints": endpoints}}))
        cfg = stack_config_for(root, "bench")
        with LocalStack(cfg, stack="bench", port=0, pool_size=2) as stack:
            urls = {ep.cloud: ep.url for ep in stack.endpoints}
            old = stack.builds[("aws", "pred")].model.sha256
            stop = threading.Event()
            posters = {c: [Poster(u, stop) for _ in range(args.threads)] for c, u in urls.items()}
            for ps in posters.values():
                for p in ps:
                    p.start()
            time.sleep(args.seconds)
            t_pub0 = time.monotonic()
            ns = argparse.Namespace(endpoint="pred", model_dir=str(v2), stack="bench", cloud=None, local=True,
                                    outputs=None, project_dir=str(root), dry_run=False, json=False)
            results = publish.run(ns)
            t_pub = time.monotonic()
            new = results[0]["sha256"]
            time.sleep(args.ttl + 3.0)
            stop.set()
            for ps in posters.values():
                for p in ps:
                    p.join(timeout=60)
        print(f"publish (prepare + upload + pointer, both clouds): {t_pub - t_pub0:.2f} s; ttlSeconds {args.ttl}; "
              f"{args.threads} threads per cloud; v1 {old[:12]} -> v2 {new[:12]}")
        for cloud, ps in posters.items():
            recs = sorted(r for p in ps for r in p.records)
            failed = sum(1 for r in recs if r[1] != 200)
            first_new = min((r[0] for r in recs if r[2] == new), default=float("nan"))
            last_old = max((r[0] for r in recs if r[2] == old), default=float("nan"))
            before = [r[3] for r in recs if r[0] < t_pub0]
            after = [r[3] for r in recs if r[0] >= t_pub]
            print(f"{cloud}: {len(recs)} requests, {failed} not 200; first v2 answer {first_new - t_pub:+.2f} s, "
                  f"last v1 answer {last_old - t_pub:+.2f} s after the publish; latency ms p50/p99 before "
                  f"{_pct(before, 50):.2f}/{_pct(before, 99):.2f}, after {_pct(after, 50):.2f}/{_pct(after, 99):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
