"""`smodels smoke`: send the book's requests to every endpoint of a stack and check every answer.

Per endpoint:
- echo: the book's `{"msg": "hello"}` -> 200, `success: true`, `response == "hello"`;
- model (`pred`, `predict`): `GET` metadata names the model sha256 the stack deployed; the book's request
  (G1 = "1", the other features "0", as strings like the book) -> 200, `success: true`, probability equal to
  the manifest's sample output within 1e-6; one batch of every manifest sample (`{"instances": [...]}`)
  -> each probability within 1e-6 of its sample's output;
- every endpoint: one bad request (a body that is not JSON) -> a 4xx JSON error with `success: false`.
The report is JSON (per endpoint: cloud, name, url, checks, latency in ms, ok); exit status 1 on any failure.

    smodels smoke --local [--stack dev]             start the stack locally (like serve), check it, stop it
    smodels smoke --stack prod [--outputs FILE]     check a deployed stack (signed when private)

Targets are a running `LocalStack` (`--local`) or a deployed stack's outputs (read by `smodels.client`), whose
shape is `{"endpoints": {"aws": {"pred": {"url", "model_uri", "model_sha256"}}}}`. Requests to private targets are
signed by `smodels.client`: for a local stack (`--local`, or `--outputs` of a running one's state file) with its
key pair and an ID token of its issuer, as `smodels invoke --local` signs.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smodels import client

TOLERANCE = 1e-6

# send(method, url, body bytes or None, headers) -> (status, headers, body bytes)
Sender = Callable[[str, str, bytes | None, dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass
class SmokeTarget:
    """One endpoint to check."""

    cloud: str
    name: str
    kind: str
    url: str
    model_sha256: str | None = None
    manifest: Any = None  # smodels.manifest.Manifest for model endpoints
    private: bool = False  # deployed with IAM: requests must be signed (SigV4 / Google ID token)


@dataclass
class Check:
    """One request and its verdict."""

    name: str
    ok: bool
    status: int | None
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"check": self.name, "ok": self.ok, "status": self.status, "latency_ms": round(self.latency_ms, 2),
                "detail": self.detail}


@dataclass
class EndpointReport:
    """Every check of one endpoint."""

    target: SmokeTarget
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed (and there was at least one)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        lat = [c.latency_ms for c in self.checks if c.status is not None]
        return {
            "cloud": self.target.cloud,
            "endpoint": self.target.name,
            "kind": self.target.kind,
            "url": self.target.url,
            "ok": self.ok,
            "latency_ms": {"min": round(min(lat), 2), "max": round(max(lat), 2)} if lat else None,
            "checks": [c.as_dict() for c in self.checks],
        }


def signing_sender(targets: list[SmokeTarget], send: Sender = client.send) -> Sender:
    """A sender that signs requests to private targets with `smodels.client` (SigV4, or an ID token per URL).

    Signing problems (no credentials) surface as failed checks whose detail says what to configure.
    """
    private = {t.url: t.cloud for t in targets if t.private}
    tokens: dict[str, str] = {}

    def signed(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        if url in private:
            # A local stack's token is minted by smodels.client itself (client.sign); a deployed one is fetched once.
            if private[url] == "gcp" and url not in tokens and client.local_access_for(url) is None:
                tokens[url] = client.token_fetcher(url)
            headers = client.sign(private[url], method, url, body or b"", headers, token=tokens.get(url))
        return send(method, url, body, headers)

    return signed


def book_request(manifest: Any) -> tuple[dict[str, str], float]:
    """The book's request (G1 = 1, others 0, values as strings) and the manifest's output for it.

    Falls back to the manifest's first sample (as strings) when no sample is the book's row.
    """
    names = manifest.feature_names
    for sample in manifest.samples:
        values = [sample.input[n] for n in names]
        if values[0] == 1 and all(v == 0 for v in values[1:]):
            return {n: str(int(v)) for n, v in zip(names, values, strict=True)}, sample.output
    sample = manifest.samples[0]
    return {n: _as_text(sample.input[n]) for n in names}, sample.output


def _as_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


class Smoke:
    """Runs the checks with a `Sender` (plain HTTP locally; signed for a private deployed stack)."""

    def __init__(self, send: Sender = client.send) -> None:
        self.send = send

    def _call(self, method: str, url: str, payload: Any = None, raw: bytes | None = None) -> tuple[int | None, Any,
                                                                                                  float, str]:
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        t0 = time.perf_counter()
        try:
            status, _, data = self.send(method, url, body, headers)
        except Exception as exc:  # noqa: BLE001 - a transport failure is a failed check, reported as such
            return None, None, (time.perf_counter() - t0) * 1000, f"request failed: {exc}"
        return status, _json(data), (time.perf_counter() - t0) * 1000, data[:300].decode("utf-8", "replace")

    def check_endpoint(self, target: SmokeTarget) -> EndpointReport:
        """Run every check that applies to `target`."""
        report = EndpointReport(target)
        if target.kind == "echo":
            report.checks.append(self._echo(target))
        else:
            report.checks.append(self._metadata(target))
            report.checks.append(self._book(target))
            report.checks.append(self._batch(target))
        report.checks.append(self._bad(target))
        return report

    def _echo(self, t: SmokeTarget) -> Check:
        status, body, ms, text = self._call("POST", t.url, {"msg": "hello"})
        ok = (status == 200 and isinstance(body, dict) and body.get("success") is True
              and body.get("response") == "hello")
        detail = "" if ok else f"expected 200 {{response: hello, success: true}}, got {text}"
        return Check("echo", ok, status, ms, detail)

    def _metadata(self, t: SmokeTarget) -> Check:
        status, body, ms, text = self._call("GET", t.url)
        version = body.get("model", {}).get("version") if isinstance(body, dict) and isinstance(
            body.get("model"), dict) else None
        ok = status == 200 and isinstance(body, dict) and body.get("success") is True
        detail = ""
        if not ok:
            detail = f"expected 200 metadata, got {text}"
        elif t.model_sha256 and version != t.model_sha256:
            ok, detail = False, f"serves model {version}, the stack deployed {t.model_sha256}"
        return Check("metadata", ok, status, ms, detail or f"model {str(version)[:12]}")

    def _book(self, t: SmokeTarget) -> Check:
        if t.manifest is None:
            return Check("book-request", False, None, 0.0, "no manifest for this endpoint: cannot know the answer")
        payload, expected = book_request(t.manifest)
        status, body, ms, text = self._call("POST", t.url, payload)
        if not (status == 200 and isinstance(body, dict) and body.get("success") is True):
            return Check("book-request", False, status, ms, f"expected 200 success, got {text}")
        got = body.get("prediction")
        if got is None:
            try:
                got = float(body.get("response"))
            except (TypeError, ValueError):
                return Check("book-request", False, status, ms, f"no prediction in {text}")
        ok = isinstance(got, (int, float)) and abs(float(got) - expected) <= TOLERANCE
        return Check("book-request", ok, status, ms, f"got {got!r}, manifest {expected!r}, tolerance {TOLERANCE}")

    def _batch(self, t: SmokeTarget) -> Check:
        if t.manifest is None:
            return Check("batch", False, None, 0.0, "no manifest for this endpoint: cannot know the answer")
        names = t.manifest.feature_names
        rows = [{n: s.input[n] for n in names} for s in t.manifest.samples]
        expected = [s.output for s in t.manifest.samples]
        status, body, ms, text = self._call("POST", t.url, {"instances": rows})
        preds = body.get("predictions") if isinstance(body, dict) else None
        if status != 200 or not isinstance(preds, list) or len(preds) != len(expected):
            return Check("batch", False, status, ms, f"expected 200 with {len(expected)} predictions, got {text}")
        worst = max(abs(float(p) - e) for p, e in zip(preds, expected, strict=True))
        ok = worst <= TOLERANCE
        return Check("batch", ok, status, ms, f"{len(preds)} rows, max abs diff {worst:.2e}")

    def _bad(self, t: SmokeTarget) -> Check:
        status, body, ms, text = self._call("POST", t.url, raw=b'{"msg": "hello",')
        ok = (
            status is not None and 400 <= status < 500 and isinstance(body, dict) and body.get("success") is False
            and isinstance(body.get("error"), dict)
        )
        return Check("bad-request", ok, status, ms, "" if ok else f"expected a 4xx JSON error, got {status} {text}")

    def run(self, targets: list[SmokeTarget]) -> dict[str, Any]:
        """Check every target; the JSON report (`ok` is the overall verdict)."""
        reports = [self.check_endpoint(t) for t in targets]
        return {
            "ok": bool(reports) and all(r.ok for r in reports),
            "endpoints": [r.as_dict() for r in reports],
            "summary": {
                "endpoints": len(reports),
                "failed": [f"{r.target.cloud}/{r.target.name}" for r in reports if not r.ok],
                "clouds": sorted({r.target.cloud for r in reports}),
            },
        }


def targets_from_local(stack: Any) -> list[SmokeTarget]:
    """Targets for every endpoint of a running LocalStack (private unless the stack is public)."""
    return [SmokeTarget(e.cloud, e.name, e.kind, e.url, e.model_sha256, e.manifest,
                        private=getattr(e, "auth", "none") != "none") for e in stack.endpoints]


def targets_from_outputs(outputs: dict[str, Any], cfg: Any) -> list[SmokeTarget]:
    """Targets from stack outputs; kinds and manifests come from the stack config (the same file `up` read)."""
    from smodels.manifest import load_manifest

    endpoints = outputs.get("endpoints")
    if not isinstance(endpoints, dict) or not endpoints:
        raise ValueError("the stack outputs have no 'endpoints' (was the stack deployed with this program?)")
    by_name = {e.name: e for e in cfg.endpoints}
    targets: list[SmokeTarget] = []
    for cloud, eps in sorted(endpoints.items()):
        if not isinstance(eps, dict):
            raise ValueError(f"outputs endpoints.{cloud}: expected an object of endpoint -> {{url, ...}}")
        for name, info in sorted(eps.items()):
            if not isinstance(info, dict) or not isinstance(info.get("url"), str):
                raise ValueError(f"outputs endpoints.{cloud}.{name}: expected an object with a url")
            ep = by_name.get(name)
            if ep is None:
                raise ValueError(f"outputs endpoints.{cloud}.{name}: not an endpoint of the stack config")
            manifest = load_manifest(ep.model) if ep.model is not None else None
            targets.append(SmokeTarget(cloud, name, ep.kind, info["url"], info.get("model_sha256"), manifest,
                                       private=client.is_private(outputs, info)))
    return targets


def register(subparsers: Any) -> None:
    """Add `smoke` to the `smodels` parser."""
    from smodels.local.cli import port_arg

    smoke = subparsers.add_parser("smoke", help="send the book's requests to every endpoint and check the answers",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    smoke.add_argument("--stack", default="dev", help="stack name (config file, or the deployed stack)")
    where = smoke.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="start the stack locally (like serve) and check it")
    where.add_argument("--outputs", type=Path, default=None,
                       help="deployed stack: read outputs from this JSON file instead of `pulumi stack output`")
    smoke.add_argument("--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml")
    smoke.add_argument("--port", type=port_arg, default=0, help="with --local: base port (default 0 = free ports)")
    smoke.add_argument("--report", type=Path, default=None, help="also write the JSON report to this file")
    smoke.set_defaults(func=cmd_smoke)


def cmd_smoke(args: argparse.Namespace) -> int:
    """Check every endpoint; print the JSON report; 0 only if every check passed."""
    from smodels.config import stack_config_for
    from smodels.local.cli import Stop, progress, stop_on

    cfg = stack_config_for(args.project_dir, args.stack)
    if args.local:
        from smodels.local.stack import LocalStack, LocalStackError

        try:
            run_dir = cfg.project_dir / ".build" / "local" / f"{args.stack}-smoke"
            with stop_on(signal.SIGTERM, signal.SIGHUP), LocalStack(cfg, stack=args.stack, port=args.port,
                                                                    progress=progress, run_dir=run_dir) as stack:
                progress("sending the book's requests")
                targets = targets_from_local(stack)
                report = Smoke(signing_sender(targets)).run(targets)
                report["target"] = {"local": True, "stack": args.stack, "startup_s": stack.timings.total,
                                    "private": [f"{t.cloud}/{t.name}" for t in targets if t.private]}
        except LocalStackError as exc:
            progress(f"error: {exc}")
            return 1
        except Stop as stop:
            progress(f"{stop}: stopping")
            return 1
    else:
        try:
            outputs = client.read_outputs(args.outputs, args.stack, cfg.project_dir)
            client.use_local_outputs(outputs)  # the state file of a running local stack: sign for it
            targets = targets_from_outputs(outputs, cfg)
        except ValueError as exc:
            progress(f"error: {exc}")
            return 2
        report = Smoke(signing_sender(targets)).run(targets)
        report["target"] = {"local": False, "stack": args.stack, "private": [f"{t.cloud}/{t.name}" for t in targets
                                                                               if t.private]}
    text = json.dumps(report, indent=2)
    print(text, flush=True)
    if args.report is not None:
        args.report.write_text(text + "\n")
    failed = report["summary"]["failed"]
    progress("all checks passed" if report["ok"] else f"FAILED: {', '.join(failed) or 'no endpoints'}")
    return 0 if report["ok"] else 1
