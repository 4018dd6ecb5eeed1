"""Fuzz both adapters in-process with hypothesis and print how many cases ran and how many broke a rule.

The strategies and rules are the test suite's own (tests/fuzz_strategies.py, where they are described);
tests/functions/test_hardening_fuzz.py runs a few hundred cases of each, this runs 10,000 per target
without stopping at the first failure and prints the outcome counts.

    venv/bin/python bench/fuzz.py                  # 10,000 cases per adapter and endpoint kind
    venv/bin/python bench/fuzz.py --cases 500 --runtime onnx

The model is the book's LogisticRegression from models/logreg (skops; ``--runtime onnx`` converts it with
skl2onnx as the packager does for the default runtime; ``onnx32`` with a float32 input, as Keras models get).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.fuzz_strategies import (  # noqa: E402 - needs the repository root on sys.path
    RuleBroken,
    book_model_env,
    gcp_call,
    gcp_client,
    http_requests,
    lambda_call,
    lambda_events,
    model_environment,
    quiet_stdout,
)

# -- runner ----------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """Counts for one fuzz target."""

    name: str
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    broken: list[str] = field(default_factory=list)
    exceptions: int = 0
    seconds: float = 0.0


def run_target(name: str, strategy: st.SearchStrategy, call: Callable[[Any], str], cases: int,
               seed: int | None = None) -> Tally:
    """Run ``call`` on ``cases`` examples of ``strategy`` (no shrinking, no stopping at the first failure)."""
    tally = Tally(name)

    @settings(max_examples=cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=seed is None)
    @given(strategy)
    def body(example: Any) -> None:
        tally.cases += 1
        try:
            tally.outcomes[call(example)] += 1
        except RuleBroken as exc:
            tally.outcomes["5xx" if exc.server_error else "RULE BROKEN"] += 1
            if len(tally.broken) < 20:
                tally.broken.append(f"{exc} <- {repr(example)[:200]}")
        except Exception as exc:  # the handler itself raised: the worst outcome
            tally.exceptions += 1
            if len(tally.broken) < 20:
                tally.broken.append(f"raised {type(exc).__name__}: {exc} <- {repr(example)[:200]}")

    started = time.perf_counter()
    if seed is not None:
        import hypothesis

        body = hypothesis.seed(seed)(body)
    body()
    tally.seconds = time.perf_counter() - started
    return tally


def main(argv: list[str] | None = None) -> int:
    """Run every fuzz target and print the counts; exit 1 if any rule was broken or a handler raised."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="examples per target (default 10,000)")
    parser.add_argument("--echo-cases", type=int, default=None, help="examples per echo target (default: --cases)")
    parser.add_argument("--runtime", choices=["native", "onnx", "onnx32", "all"], default="all",
                        help="model runtime behind the model endpoints (default: all three)")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo targets")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: derandomized)")
    args = parser.parse_args(argv)

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import warnings

    warnings.simplefilter("ignore")  # numpy overflow warnings from the ONNX cast of huge values
    runtimes = ["native", "onnx", "onnx32"] if args.runtime == "all" else [args.runtime]
    tallies: list[Tally] = []
    workdir = Path(tempfile.mkdtemp(prefix="smodels-fuzz-"))
    for runtime in runtimes:
        env = book_model_env(runtime, workdir)
        with model_environment(env), quiet_stdout():
            client = gcp_client("pred")
            tallies.append(run_target(f"aws lambda_handler [{runtime}]", lambda_events(), lambda_call("model"),
                                      args.cases, args.seed))
            tallies.append(run_target(f"gcp pred [{runtime}]", http_requests(), gcp_call(client, "model"),
                                      args.cases, args.seed))
    echo_cases = args.cases if args.echo_cases is None else args.echo_cases
    if not args.no_echo:
        with quiet_stdout():
            tallies.append(run_target("aws echo_handler", lambda_events("echo"), lambda_call("echo"), echo_cases,
                                      args.seed))
            tallies.append(run_target("gcp echo", http_requests("echo"), gcp_call(gcp_client("echo"), "echo"),
                                      echo_cases, args.seed))

    failed = False
    print(f"{'target':<30} {'cases':>7} {'200':>6} {'4xx':>6} {'5xx':>5} {'broken':>6} {'raised':>6} {'secs':>7}")
    for t in tallies:
        ok = sum(n for k, n in t.outcomes.items() if k.startswith("200"))
        c4 = sum(n for k, n in t.outcomes.items() if k[:1] == "4")
        c5 = t.outcomes.get("5xx", 0)
        broken = t.outcomes.get("RULE BROKEN", 0) + c5
        print(f"{t.name:<30} {t.cases:>7} {ok:>6} {c4:>6} {c5:>5} {broken:>6} {t.exceptions:>6} {t.seconds:>7.1f}")
        failed |= bool(broken or t.exceptions)
    print()
    for t in tallies:
        top = ", ".join(f"{k}: {n}" for k, n in t.outcomes.most_common(8))
        print(f"{t.name}: {top}")
        for line in t.broken[:5]:
            print(f"    ! {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
