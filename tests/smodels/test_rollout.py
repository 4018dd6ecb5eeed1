"""`smodels rollout status`: the figures from parsed lines (no I/O), then each source end to end.

Local logs are files under a temporary project; AWS is moto (`mock_aws`, fake credentials); GCP is a fake Cloud
Logging server on 127.0.0.1 serving two pages. Nothing leaves the machine and nothing depends on timing.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import http_server, send_json
from rollout_fixtures import CANARY, NEW, OLD, dumps, event, lambda_wrapped, mixed_lines, prediction

from smodels import rollout

REGION = "eu-west-2"
AWS_URL = f"https://abc123.execute-api.{REGION}.amazonaws.com/pred"
SERVICE = "projects/proj-1/locations/europe-west1/services/sm-dev-1234abcd-pred"


def parser() -> argparse.ArgumentParser:
    """A parser holding only `smodels rollout` (the CLI adds it to its COMMAND_MODULES)."""
    p = argparse.ArgumentParser(prog="smodels")
    rollout.register(p.add_subparsers(dest="command"))
    return p


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `smodels rollout ...argv`."""
    args = parser().parse_args(["rollout", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def by_version(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["version"], v["arm"]): v for v in report["versions"]}


# -- pure figures ------------------------------------------------------------------------------------------------


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]
    assert rollout.percentile(values, 50) == 5.0
    assert rollout.percentile(values, 99) == 10.0
    assert rollout.percentile(values, 5) == 1.0
    assert rollout.percentile(values, 95) == 10.0
    assert rollout.percentile([7.0], 1) == 7.0
    assert rollout.percentile([], 50) is None


def test_parse_line_accepts_ours_and_the_lambda_wrapper_only() -> None:
    line = prediction(OLD)
    assert rollout.parse_line(dumps(line)) == line
    wrapped = rollout.parse_line(lambda_wrapped(line, "2030-01-01T00:00:00Z"))
    assert wrapped is not None and wrapped["_ts"] == 1893456000.0
    assert {k: v for k, v in wrapped.items() if k != "_ts"} == line
    for text in ("START RequestId: 1", "[1, 2]", '{"message": "plain text"}', '{"no": "event"}', "", "{"):
        assert rollout.parse_line(text) is None


def test_summarize_figures_per_version() -> None:
    summary = rollout.summarize(mixed_lines(), "pred")
    report = summary.as_dict()
    assert report["lines"] == 14  # the two lines of endpoint "other" are not counted
    assert [(v["version"], v["arm"]) for v in report["versions"]] == [(OLD, "stable"), (NEW, "stable"),
                                                                      (CANARY, "canary")]
    rows = by_version(report)
    old = rows[(OLD, "stable")]
    assert (old["requests"], old["predictions"], old["errors"], old["rows"]) == (5, 4, 1, 4)
    assert old["error_rate"] == 0.2 and old["errors_by"] == {"503 model_unavailable": 1}
    assert old["latency_ms"] == {"p50": 2.0, "p99": 4.0}
    assert old["output"] == {"mean": 0.25, "p05": 0.1, "p50": 0.2, "p95": 0.4}
    new = rows[(NEW, "stable")]  # one of its lines has no `arm`: stable
    assert (new["requests"], new["errors"], new["error_rate"], new["rows"]) == (2, 0, 0.0, 3)
    assert new["latency_ms"] == {"p50": 10.0, "p99": 20.0}
    assert new["output"] == {"mean": math.fsum([0.5 * 2, 0.7]) / 3, "p05": 0.5, "p50": 0.5, "p95": 0.7}
    canary = rows[(CANARY, "canary")]
    assert (canary["requests"], canary["errors"], canary["error_rate"]) == (3, 2, 2 / 3)
    assert canary["errors_by"] == {"500 internal": 2}
    assert canary["output"]["mean"] == pytest.approx(0.9) and canary["output"]["p50"] == 0.9
    assert report["unrouted"] == {"errors": 2, "errors_by": {"400 invalid_json": 2}}
    assert report["events"]["canary_unavailable"] == {"count": 1, "last": "sha256 mismatch"}
    assert report["events"]["model_loaded"] == {"count": 1, "last": json.dumps({"model": "games", "sha256": OLD},
                                                                                separators=(",", ":"))}


def test_summarize_is_deterministic_and_skips_bad_values() -> None:
    lines = [prediction(OLD, mean=0.2), {"event": "prediction", "endpoint": "pred", "model": "games",
                                         "model_version": OLD, "latency_ms": "slow", "rows": True,
                                         "output": {"mean": float("nan")}}, {"event": 3}, "not a dict"]
    first = rollout.summarize(lines, "pred").as_dict()
    assert first == rollout.summarize(list(lines), "pred").as_dict()
    (row,) = first["versions"]
    assert (row["predictions"], row["rows"], row["latency_ms"]["p99"], row["output"]["mean"]) == (2, 2, 1.0, 0.2)


def test_versions_ordered_by_time_when_lines_carry_one() -> None:
    lines = [{**prediction(NEW), "_ts": 200.0}, {**prediction(OLD), "_ts": 100.0}]
    assert [v.version for v in rollout.summarize(lines, "pred").ordered()] == [OLD, NEW]
    report = rollout.summarize(lines, "pred").as_dict()
    assert report["versions"][0]["first_seen"] == "1970-01-01T00:01:40Z"


def test_table_is_aligned_one_row_per_version() -> None:
    text = rollout.render_table(rollout.summarize(mixed_lines(), "pred"), "endpoint pred")
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("MODEL"))
    table = lines[header:header + 4]
    assert table[1].split()[:3] == ["games", OLD[:12], "stable"]
    assert table[2].split()[:3] == ["games", NEW[:12], "stable"]
    assert table[3].split()[:3] == ["games", CANARY[:12], "canary"]
    assert len({len(line) for line in table}) == 1  # right-aligned numbers: every row as wide as the header
    assert table[1].split()[4:] == ["5", "1", "20.00", "2.000", "4.000", "4", "0.2500", "0.1000", "0.2000", "0.4000"]
    assert "unrouted (failed before a model was chosen): 2 (400 invalid_json: 2)" in text
    assert any(line.split()[:2] == ["canary_unavailable", "1"] for line in lines)


# -- arguments -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, flag", [
    (["status", "pred", "--stack", "dev", "--since", "soon"], "--since"),
    (["status", "pred", "--stack", "dev", "--since", "0h"], "--since"),
    (["status", "pred"], "--stack"),
    (["status", "pred", "--stack", "dev", "--cloud", "azure"], "--cloud"),
    (["status", "pred", "--stack", "dev", "--local", "--outputs-file", "x.json"], "--outputs-file"),
])
def test_bad_arguments_exit_2_naming_the_flag(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["rollout", *argv])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


def test_since_durations() -> None:
    assert [rollout.parse_since(t) for t in ("30s", "15m", "1h", "1.5h", "2d")] == [30, 900, 3600, 5400, 172800]


def test_help_says_since_needs_timestamps_locally() -> None:
    text = " ".join(parser()._subparsers._group_actions[0].choices["rollout"]  # type: ignore[union-attr]
                    ._subparsers._group_actions[0].choices["status"].format_help().split())
    assert "with --local only lines that carry a timestamp" in text


# -- local logs ------------------------------------------------------------------------------------------------------


def write_local_logs(project: Path, stack: str = "dev") -> Path:
    """Two Lambda workers' logs (one wrapped), a functions-framework log, and a neighbour endpoint's log."""
    logs = project / ".build" / "local" / stack / "logs"
    logs.mkdir(parents=True)
    lines = mixed_lines()
    (logs / "aws-pred-0.log").write_text("START RequestId: 1\n" + "".join(dumps(x) + "\n" for x in lines[:8]))
    (logs / "aws-pred-1.log").write_text("".join(lambda_wrapped(x) + "\n" for x in lines[8:12]) + "not json\n")
    (logs / "gcp-pred.log").write_text("".join(dumps(x) + "\n" for x in lines[12:]))
    (logs / "aws-pred-v2-0.log").write_text(dumps(prediction(OLD, endpoint="pred", mean=42.0)) + "\n")
    return logs


def test_local_reads_every_worker_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_logs(tmp_path)
    monkeypatch.setattr("smodels.rollout.cli.now", lambda: 1893456000.0 + 60)  # the wrapped lines' time + 1 minute
    code, out, err = run(["status", "pred", "--stack", "dev", "--local", "--json", "--project-dir", str(tmp_path)],
                         capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    expected = rollout.summarize(mixed_lines(), "pred").as_dict()
    for got, want in zip(report["versions"], expected["versions"], strict=True):
        for key in ("requests", "errors", "error_rate", "rows", "latency_ms", "output", "errors_by"):
            assert got[key] == want[key], key
    assert by_version(report)[(CANARY, "canary")]["clouds"] == ["aws"]
    assert by_version(report)[(NEW, "stable")]["clouds"] == ["gcp"]
    assert report["unrouted"]["errors"] == 2 and report["stack"] == "dev"


def test_local_cloud_and_since_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_logs(tmp_path)
    monkeypatch.setattr("smodels.rollout.cli.now", lambda: 1893456000.0 + 7200)  # wrapped lines are 2h old
    base = ["status", "pred", "--stack", "dev", "--local", "--json", "--project-dir", str(tmp_path)]
    code, out, _ = run([*base, "--cloud", "gcp"], capsys)
    assert code == 0 and [v["version"] for v in json.loads(out)["versions"]] == [NEW]
    code, out, _ = run([*base, "--cloud", "aws", "--since", "1h"], capsys)  # the wrapped canary lines are too old
    assert code == 0 and [v["version"] for v in json.loads(out)["versions"]] == [OLD]
    code, out, _ = run([*base, "--cloud", "aws", "--since", "3h"], capsys)
    assert code == 0 and [v["version"] for v in json.loads(out)["versions"]] == [OLD, CANARY]


def test_local_uses_the_state_files_log_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "gcp-pred.log").write_text(dumps(prediction(NEW, mean=0.25)) + "\n")
    run_dir = tmp_path / ".build" / "local" / "org-feature-x"
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text(json.dumps({"pid": 1, "logs": str(elsewhere)}))
    code, out, err = run(["status", "pred", "--stack", "org/Feature_X", "--local", "--project-dir", str(tmp_path)],
                         capsys)
    assert (code, err) == (0, "")
    assert f"local logs in {elsewhere}" in out and NEW[:12] in out


def test_local_table_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_logs(tmp_path)
    monkeypatch.setattr("smodels.rollout.cli.now", lambda: 1893456000.0)
    code, out, _ = run(["status", "pred", "--stack", "dev", "--local", "--project-dir", str(tmp_path)], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("endpoint pred, stack dev: 14 lines from local logs in ")
    assert "MODEL  VERSION       ARM     CLOUDS  REQUESTS  ERRORS   ERR%  P50_MS" in out


def test_local_without_logs_or_lines_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["status", "pred", "--stack", "dev", "--local", "--project-dir", str(tmp_path)]
    code, out, err = run(base, capsys)
    assert code == 1 and out == "" and "no log directory" in err and "smodels serve" in err
    assert len(err.strip().splitlines()) == 1
    logs = tmp_path / ".build" / "local" / "dev" / "logs"
    logs.mkdir(parents=True)
    (logs / "aws-pred-0.log").write_text(dumps(event("model_loaded")) + "\nhello\n")
    code, out, err = run(base, capsys)
    assert code == 1 and "no prediction or request_failed line for endpoint 'pred'" in err


# -- AWS (moto) ------------------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's CloudWatch Logs with fake credentials; yields a logs client in REGION."""
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("logs", region_name=REGION)


def put_lines(logs: Any, group: str, lines: list[str], timestamp_ms: int) -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2030/01/01/[1]abc")
    logs.put_log_events(logGroupName=group, logStreamName="2030/01/01/[1]abc",
                        logEvents=[{"timestamp": timestamp_ms + i, "message": m} for i, m in enumerate(lines)])


def write_outputs(path: Path, aws_info: dict[str, Any] | None = None, gcp_info: dict[str, Any] | None = None) -> str:
    endpoints: dict[str, Any] = {}
    if aws_info is not None:
        endpoints["aws"] = {"pred": {"url": AWS_URL, "model_sha256": OLD, **aws_info}}
    if gcp_info is not None:
        endpoints["gcp"] = {"pred": {"url": "https://pred-xyz.a.run.app", "model_sha256": OLD, **gcp_info}}
    path.write_text(json.dumps({"endpoints": endpoints, "private": True}))
    return str(path)


def test_aws_reads_the_log_group_from_the_outputs(aws: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    now_ms = int(time.time() * 1000)
    lines = [dumps(x) for x in mixed_lines()] + ["START RequestId: 1 Version: 7", lambda_wrapped(prediction(NEW))]
    put_lines(aws, "/aws/lambda/sm-dev-pred", lines, now_ms - 60_000)
    put_lines(aws, "/aws/lambda/old-group", [dumps(prediction(OLD))], now_ms)
    aws.put_log_events(logGroupName="/aws/lambda/sm-dev-pred", logStreamName="2030/01/01/[1]abc",
                       logEvents=[{"timestamp": now_ms - 2 * 3600_000, "message": dumps(prediction(OLD, mean=9.0))}])
    outputs = write_outputs(tmp_path / "out.json", {"log_group": "/aws/lambda/sm-dev-pred"})
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs, "--json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    rows = by_version(report)
    assert rows[(OLD, "stable")]["output"] == {"mean": 0.25, "p05": 0.1, "p50": 0.2, "p95": 0.4}  # not the 2h one
    assert rows[(NEW, "stable")]["requests"] == 3 and rows[(NEW, "stable")]["clouds"] == ["aws"]
    assert rows[(CANARY, "canary")]["error_rate"] == 2 / 3
    assert report["events"] == {}  # the query asks for prediction and request_failed only
    assert report["source"] == "CloudWatch /aws/lambda/sm-dev-pred"


def test_aws_log_group_from_the_stack_names(aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from infra.names import stack_names

    (tmp_path / "Pulumi.yaml").write_text("name: my-project\nruntime: python\n")
    group = stack_names("my-project", "dev").log_group("pred")
    put_lines(aws, group, [dumps(prediction(NEW, mean=0.75))], int(time.time() * 1000))
    outputs = write_outputs(tmp_path / "out.json", {})
    code, out, err = run(["status", "pred", "--stack", "acme/dev", "--cloud", "aws", "--outputs-file", outputs,
                          "--project-dir", str(tmp_path)], capsys)
    assert (code, err) == (0, "")
    assert f"CloudWatch {group}" in out and NEW[:12] in out and "0.7500" in out


def test_aws_missing_log_group_or_credentials_one_line(aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = write_outputs(tmp_path / "out.json", {"log_group": "/aws/lambda/nothing"})
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 1 and out == "" and "log group /aws/lambda/nothing not found" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "Pulumi.yaml").unlink(missing_ok=True)
    code, _, err = run(["status", "pred", "--stack", "dev", "--outputs-file", write_outputs(tmp_path / "o2.json", {}),
                        "--project-dir", str(tmp_path)], capsys)
    assert code == 2 and "Pulumi.yaml" in err and "--project-dir" in err


def test_aws_without_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.exceptions

    class NoCredentials:
        def get_paginator(self, name: str) -> Any:
            raise botocore.exceptions.NoCredentialsError()

    monkeypatch.setattr("smodels.rollout.sources._boto3_logs", lambda region: NoCredentials())
    outputs = write_outputs(tmp_path / "out.json", {"log_group": "/aws/lambda/x"})
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 1 and out == "" and "no AWS credentials: run `aws configure`" in err


# -- GCP (a fake Cloud Logging on 127.0.0.1) --------------------------------------------------------------------------


class FakeLogging(BaseHTTPRequestHandler):
    """entries:list in two pages; records every request; 403 without the expected token."""

    seen: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        FakeLogging.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != "Bearer fake-token":
            status, payload = 403, {"error": {"code": 403, "message": "Permission denied on project proj-1"}}
        else:
            status, payload = 200, FakeLogging.pages[1 if body.get("pageToken") == "page-2" else 0]
        send_json(self, status, payload)


def entry(line: dict[str, Any], second: int) -> dict[str, Any]:
    return {"jsonPayload": line, "timestamp": f"2030-01-01T00:00:{second:02d}.5Z",
            "resource": {"type": "cloud_run_revision"}}


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake Logging server (two pages of mixed_lines) as SMODELS_LOGGING_URL, and a fake token."""
    lines = mixed_lines()
    FakeLogging.seen = []
    FakeLogging.pages = [
        {"entries": [entry(x, i) for i, x in enumerate(lines[:9])], "nextPageToken": "page-2"},
        {"entries": [entry(x, 9 + i) for i, x in enumerate(lines[9:])] + [{"textPayload": "plain"}]},
    ]
    monkeypatch.setattr("smodels.rollout.sources.access_token_fetcher", lambda: "fake-token")
    with http_server(FakeLogging) as url:
        monkeypatch.setenv("SMODELS_LOGGING_URL", url)
        yield url


def test_gcp_reads_both_pages(gcp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("smodels.rollout.cli.now", lambda: 1893456000.0 + 3600)
    outputs = write_outputs(tmp_path / "out.json", gcp_info={"service": SERVICE})
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs, "--json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert by_version(report)[(OLD, "stable")]["output"] == {"mean": 0.25, "p05": 0.1, "p50": 0.2, "p95": 0.4}
    assert by_version(report)[(CANARY, "canary")]["errors"] == 2
    assert by_version(report)[(NEW, "stable")]["first_seen"] == "2030-01-01T00:00:12.500000Z"
    assert report["unrouted"]["errors"] == 2 and report["source"] == "Cloud Logging proj-1/sm-dev-1234abcd-pred"
    first, second = FakeLogging.seen
    assert first["path"] == "/v2/entries:list" and first["auth"] == "Bearer fake-token"
    assert first["body"]["resourceNames"] == ["projects/proj-1"] and "pageToken" not in first["body"]
    assert first["body"]["filter"] == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="sm-dev-1234abcd-pred" AND '
        '(jsonPayload.event="prediction" OR jsonPayload.event="request_failed") AND '
        'timestamp>="2030-01-01T00:00:00Z"')
    assert (first["body"]["pageSize"], first["body"]["orderBy"]) == (1000, "timestamp asc")
    assert second["body"]["pageToken"] == "page-2"


def test_gcp_refused_or_no_token_one_line(gcp: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = write_outputs(tmp_path / "out.json", gcp_info={"service": SERVICE})
    monkeypatch.setattr("smodels.rollout.sources.access_token_fetcher", lambda: "someone-else")
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 1 and out == "" and "Cloud Logging refused (403: Permission denied" in err
    assert "roles/logging.viewer" in err

    def no_token() -> str:
        raise rollout.RolloutError("no Google access token for Cloud Logging (x): run `gcloud auth ...`")

    monkeypatch.setattr("smodels.rollout.sources.access_token_fetcher", no_token)
    code, _, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 1 and err.count("\n") == 1 and "no Google access token" in err


def test_both_clouds_merged(gcp: str, aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    put_lines(aws, "/aws/lambda/g", [dumps(prediction(OLD, mean=0.5, latency=100.0))], int(time.time() * 1000))
    outputs = write_outputs(tmp_path / "out.json", {"log_group": "/aws/lambda/g"}, {"service": SERVICE})
    code, out, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs, "--json"], capsys)
    assert (code, err) == (0, "")
    old = by_version(json.loads(out))[(OLD, "stable")]
    assert old["clouds"] == ["aws", "gcp"] and old["requests"] == 6 and old["latency_ms"]["p99"] == 100.0


# -- outputs -----------------------------------------------------------------------------------------------------------


def test_outputs_problems_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["status", "pred", "--stack", "dev", "--outputs-file", str(tmp_path / "missing.json")], capsys)
    assert code == 2 and "--outputs-file: cannot read" in err
    outputs = write_outputs(tmp_path / "out.json", {"log_group": "/g"})
    code, _, err = run(["status", "predict", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 2 and "no endpoint 'predict'" in err and "aws:pred" in err
    code, _, err = run(["status", "pred", "--stack", "dev", "--cloud", "gcp", "--outputs-file", outputs], capsys)
    assert code == 2 and "on gcp" in err
    outputs = write_outputs(tmp_path / "out2.json", gcp_info={"service": "sm-pred"})
    code, _, err = run(["status", "pred", "--stack", "dev", "--outputs-file", outputs], capsys)
    assert code == 2 and "endpoints.gcp.pred.service" in err


# -- the contract: lines the function itself writes ---------------------------------------------------------------


def test_lines_written_by_the_function(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """functions.app's own prediction and request_failed lines give the figures (30% canary, exact share)."""
    import hashlib

    from functions.app import ModelApp
    from functions.http import Request
    from functions.model_cache import ModelCache
    from functions.settings import Settings

    class Constant:
        def __init__(self, data: bytes) -> None:
            self.value = float(json.loads(data)["value"])

        def predict(self, batch: Any) -> list[float]:
            return [self.value] * len(batch)

    uris = {}
    for name, value in (("stable", 0.25), ("canary", 0.75)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"value": value}))
        uris[name] = (path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest())
    (uri, sha), (curi, csha) = uris["stable"], uris["canary"]
    settings = Settings(model_uri=uri, model_sha256=sha, model_format="pure", features=("a", "b"), model_name="games",
                        endpoint="pred", canary_uri=curi, canary_sha256=csha, canary_format="pure",
                        canary_name="games-new", canary_percent=30)
    app = ModelApp(settings, cache=ModelCache(uri, sha, Constant, name="games"),
                   canary_cache=ModelCache(curi, csha, Constant, name="games-new"))
    capsys.readouterr()
    for _ in range(10):
        assert app.handle(Request("POST", b'{"a": 1, "b": 2}', {"content-type": "application/json"})).status == 200
    assert app.handle(Request("POST", b'{"a": 1,', {"content-type": "application/json"})).status == 400
    lines = [rollout.parse_line(text) for text in capsys.readouterr().out.splitlines()]
    report = rollout.summarize([x for x in lines if x is not None], "pred").as_dict()
    rows = by_version(report)
    stable, canary = rows[(sha, "stable")], rows[(csha, "canary")]
    assert (stable["model"], stable["requests"], stable["errors"], stable["output"]["mean"]) == ("games", 7, 0, 0.25)
    assert (canary["model"], canary["requests"], canary["rows"], canary["output"]["p95"]) == ("games-new", 3, 3, 0.75)
    assert report["unrouted"]["errors"] == 1  # the body that is not JSON: rejected before routing
