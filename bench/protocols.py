"""Protocol benchmark: the same warm request in the book's contract, the Open Inference Protocol and MLflow's scoring
format, side by side in one run, on the book's logistic regression served by the pure runtime (target Python).

`venv/bin/python bench/protocols.py [--python 3.13] [--runs 5] [--out bench/out/protocols]`

It builds the AWS Lambda package the way bench/zoo.py does (runtime pure) and, round-robin (one fresh
`python3.X -I -B` process per request kind per round, so the machine's load hits every row alike), answers one
API Gateway HTTP API (payload 2.0) event 1000 times: the book's row on `POST /<ep>`, one `[1, 10]` FP64 tensor on
`POST /v2/models/<ep>/infer`, and one `dataframe_split` row on `POST /<ep>/invocations`. Warm = in-handler
latency of those calls (p50 and p99 over all of them); each row is set beside the book's contract. Every answer is
checked to be the book's number. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bench.package import BOOK_EVENT, find_interpreter, percentile, start_once, unzip  # noqa: E402
from bench.zoo import BOOK_MODELS, BOOK_NUMBER, build  # noqa: E402

FEATURES = [f"G{i}" for i in range(1, 11)]
ROW = [float(BOOK_EVENT[f]) for f in FEATURES]


def http_event(method: str, path: str, body: object) -> dict:
    """An API Gateway HTTP API payload-2.0 event, as the stack's routes deliver it."""
    return {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": method, "path": path}}, "body": json.dumps(body),
            "isBase64Encoded": False}


def kinds(endpoint: str) -> dict[str, dict]:
    """The three events, for the endpoint named ``endpoint``."""
    return {
        "book (POST /<ep>)": http_event("POST", f"/{endpoint}", BOOK_EVENT),
        "OIP infer": http_event("POST", f"/v2/models/{endpoint}/infer", {
            "inputs": [{"name": "input-0", "shape": [1, 10], "datatype": "FP64", "data": ROW}]}),
        "MLflow dataframe_split": http_event("POST", f"/{endpoint}/invocations", {
            "dataframe_split": {"columns": FEATURES, "data": [ROW]}}),
    }


def number_of(kind: str, body: str | None) -> float | None:
    """The book's probability in each protocol's answer."""
    try:
        doc = json.loads(body or "")
        if kind.startswith("OIP"):
            return next(o["data"][0] for o in doc["outputs"] if o["name"] == "prediction")
        if kind.startswith("MLflow"):
            return doc["predictions"][0]
        return doc["prediction"]
    except (ValueError, KeyError, IndexError, StopIteration, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.13", help="target Python of the Lambda (default 3.13)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per request kind (default 5)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "protocols")
    args = parser.parse_args(argv)
    py = find_interpreter(args.python)
    if py is None:
        print(f"python{args.python} not found (pyenv install {args.python})")
        return 1
    r = build("logreg", BOOK_MODELS["logreg"], "pure", args.python, args.out / "build")
    if "error" in r:
        print(f"build failed: {r['error']}")
        return 1
    b = r["build"]
    folder = unzip(b.archive, args.out / "run" / "logreg-pure")
    env = {k: str(v) for k, v in b.function_env(b.model.path.resolve().as_uri(), 0).items()}
    events = kinds(env["ENDPOINT_NAME"])
    records: dict[str, list[dict]] = {k: [] for k in events}
    order = list(events)
    for n in range(args.runs):
        for kind in order[n % len(order):] + order[:n % len(order)]:
            records[kind].append(start_once(py, folder, b.handler, events[kind], env))
    book_p50 = None
    print(f"warm in-handler latency, pure logreg, {py}, {args.runs} processes x 1000 calls per row")
    print(f"{'request':26s} {'p50 us':>8s} {'p99 us':>8s} {'x book':>7s}  answer")
    for kind, recs in records.items():
        pooled = sorted(x for rec in recs for x in rec["warm_s"])
        p50, p99 = statistics.median(pooled) * 1e6, percentile(pooled, 99) * 1e6
        book_p50 = book_p50 or p50
        got = number_of(kind, recs[0]["body"])
        ok = "book's number" if got == BOOK_NUMBER else f"{got!r} (expected {BOOK_NUMBER!r})"
        print(f"{kind:26s} {p50:8.1f} {p99:8.1f} {p50 / book_p50:7.2f}  {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
