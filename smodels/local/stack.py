"""`LocalStack`: every endpoint of every cloud of a stack, running on this machine without credentials.

    with LocalStack(stack_config_for(".", "dev"), port=8080) as stack:
        for ep in stack.endpoints: print(ep.cloud, ep.name, ep.url)

start() does what `pulumi up` does, locally:
1. package every function for the host interpreter (`smodels.packager.build_stack(cfg, BuildOptions(host=True))`);
2. start moto (S3) and gcp-storage-emulator (GCS), create a model bucket in each and upload every model object
   under the key the builder chose (`models/<name>/<sha256>.<ext>`), the bytes the builder prepared;
3. unpack each Lambda zip (and its layer, if any) and run it under awslambdaric against a local Runtime API,
   behind one HTTP front on `port` (`/<endpoint>`, like the HTTP API stage);
4. unpack each Cloud Functions source archive and run it under functions-framework (`cloud_functions`), behind
   its own Cloud Run front on `port + 1 + i` (the function's URL);
5. wait until every server answers; for endpoints with `refresh: pointer`, start the `Notifier` that plays the
   clouds' storage trigger (a change of `endpoints/<ep>/live.json` reaches the function: an S3 event on AWS, a
   Pub/Sub push to `/_refresh` on GCP); then write a state file (our pid and every child's) for tooling.
stop() tears everything down (children are process-group leaders: SIGTERM, wait, SIGKILL).

Access is checked as the program deploys it (`access`): for a private stack (`public: false`, the default) the AWS
front verifies SigV4 for the stack's key pair and each GCP front wants an ID token from the stack's issuer, for the
local deployer, a member of `invokers`, or (pointer endpoints, the refresh push) the endpoint's runtime account.
The key pair is kept in `<run_dir>/access.json` across runs; the issuer's RS256 key is new each run. Once ready,
the stack registers its `smodels.client.LocalAccess` in this process, so `smodels.client` signs every request to
its URLs, and writes it to `access.json` (0600) for other processes (named by the state file's `local` entry).

IAM is enforced on the local S3 as on AWS (`iam`): right after moto starts, the stack creates in it each Lambda's
execution role with the program's own policy document (infra/policies.py, for the local bucket and the log group
the program names), the publisher user with the program's publisher policy and a deployer user, then turns moto's
checks on. Each Lambda worker gets its role's session credentials (as Lambda does), `smodels publish --local` the
publisher's key (`<run_dir>/iam.json`, 0600), the stack's own uploads and the S3 trigger the deployer's. A function
whose policy lacks its model's prefix gets AccessDenied and answers 503 model_unavailable. The GCS emulator has no
IAM. A `refresh: pointer` Cloud Function gets the REFRESH_* variables (functions.contract.refresh_env): its `/_refresh`
takes only a token of the stack's issuer (or Google's) for its own URL and runtime account.

Each function has a version number, as Lambda publishes one on every code or configuration change
(`versions`: `<run_dir>/versions.json`). Each run's logs are in `<run_dir>/logs`; the previous run's are moved to
`<run_dir>/logs.previous` at start (log lines carry no timestamps, so runs are not mixed).

The function environment comes from `FunctionBuild.function_env` (functions.contract), the very one the Pulumi
program uses, with MODEL_URI pointing at the emulator bucket and the emulator endpoints added (AWS_ENDPOINT_URL_S3,
STORAGE_EMULATOR_HOST). Lambda workers see only the package plus what the managed runtime ships
(awslambdaric, boto3); functions-framework workers see the package first, then this virtualenv's
site-packages in place of the buildpack's `pip install -r requirements.txt`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from functions.contract import pointer_key, refresh_env
from smodels import client, local_state
from smodels.config import StackConfig
from smodels.local.access import StackAccess
from smodels.local.cloud_functions import CloudFunction, CloudRunFront
from smodels.local.emulators import GCSEmulator, S3Emulator
from smodels.local.front import FrontServer
from smodels.local.iam import IamGrants, plan_iam, setup_iam
from smodels.local.lambda_runtime import LambdaFunction, lambda_base_env, runtime_dir
from smodels.local.notifier import DEFAULT_INTERVAL_S, Notifier, Watch
from smodels.local.procs import ManagedProcess, port_is_free
from smodels.local.versions import VERSIONS_FILE, assign_versions, fingerprint
from smodels.packager.types import FunctionBuild

DEFAULT_REGION = "us-east-1"
GCP_PROJECT = local_state.LOCAL_GCP_PROJECT
UNPACKED_IDLE_S = 3 * 24 * 3600
UNPACKED_KEEP = 12


class LocalStackError(RuntimeError):
    """The local stack could not start (message names the step and the cause)."""


@dataclass
class LocalEndpoint:
    """One running endpoint: what `smodels serve` prints and `smodels smoke` checks."""

    cloud: str
    name: str
    kind: str
    url: str
    runtime: str
    model_uri: str | None = None
    model_sha256: str | None = None
    manifest: Any = None  # smodels.manifest.Manifest for model endpoints
    build: FunctionBuild | None = None
    version: int | None = None  # the local version number (smodels.local.versions)
    refresh: str = "redeploy"  # "pointer": follows `pointer_uri` (smodels publish)
    pointer_uri: str | None = None
    auth: str = "none"  # as the stack outputs say: "aws_iam" | "google_id_token" (private) | "none" (public)
    runtime_account: str | None = None  # gcp: the service account the function runs as

    def as_output(self) -> dict[str, Any]:
        """The shape of one entry of the stack output `endpoints.<cloud>.<name>` (+ `refresh`, `pointer_uri` for
        an endpoint following a published pointer)."""
        out = {"url": self.url, "model_uri": self.model_uri, "model_sha256": self.model_sha256,
               "runtime": self.runtime, "kind": self.kind, "version": self.version, "auth": self.auth}
        if self.refresh == "pointer":
            out.update(refresh=self.refresh, pointer_uri=self.pointer_uri)
        return out


@dataclass
class Timings:
    """Seconds spent in each start-up step."""

    steps: dict[str, float] = field(default_factory=dict)
    total: float = 0.0


def _unpack(archive: Path, cache_root: Path, sha256: str) -> Path:
    """Unpack `archive` once into `cache_root/<sha256>` (reused while the archive is unchanged)."""
    dest = cache_root / sha256
    marker = dest / ".unpacked"
    if marker.is_file():
        marker.touch()
        return dest
    _prune_unpacked(cache_root)
    tmp = cache_root / f".{sha256}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (tmp / info.filename).resolve()
            if not str(target).startswith(str(tmp.resolve()) + os.sep) and target != tmp.resolve():
                raise LocalStackError(f"{archive}: entry {info.filename!r} escapes the archive root")
            zf.extract(info, tmp)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)
    (tmp / ".unpacked").write_text(str(archive))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _refresh_mode(ep: Any) -> str:
    """The endpoint's `refresh` setting ("redeploy" when the config predates it)."""
    return str(getattr(ep, "refresh", "redeploy") or "redeploy")


def _follows_pointer(ep: Any) -> bool:
    """True for an endpoint with `refresh: pointer` (its function follows `endpoints/<ep>/live.json`)."""
    return _refresh_mode(ep) == "pointer"


def _project_name(project_dir: Path) -> str:
    """The Pulumi project name (`name:` of Pulumi.yaml), "serverless-models" without one."""
    try:
        text = (project_dir / "Pulumi.yaml").read_text(encoding="utf-8")
    except OSError:
        return "serverless-models"
    for line in text.splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].split("#", 1)[0].strip().strip("'\"") or "serverless-models"
    return "serverless-models"


def runtime_account(project_dir: Path, stack: str, endpoint: str) -> str:
    """The email of `endpoint`'s runtime service account: the account id the program names (infra.names), in the
    local GCP project."""
    from infra.names import stack_names

    account_id = stack_names(_project_name(project_dir), stack).runtime_account_id(endpoint)
    return f"{account_id}@{GCP_PROJECT}.iam.gserviceaccount.com"


def _prune_unpacked(cache_root: Path, idle_s: float = UNPACKED_IDLE_S, keep: int = UNPACKED_KEEP) -> None:
    """Remove unpacked archives (up to ~130 MB each) idle for `idle_s`, or beyond the `keep` most recently used.

    An archive used in the last hour is never removed, so a stack started meanwhile keeps its files.
    """
    if not cache_root.is_dir():
        return
    now = time.time()
    entries: list[tuple[float, Path]] = []
    for marker in cache_root.glob("*/.unpacked"):
        try:
            entries.append((marker.stat().st_mtime, marker.parent))
        except OSError:
            pass
    entries.sort(reverse=True)
    for rank, (mtime, directory) in enumerate(entries):
        idle = now - mtime
        if idle > 3600 and (idle > idle_s or rank >= keep):
            shutil.rmtree(directory, ignore_errors=True)


class LocalStack:
    """Start and stop a whole stack locally; a context manager (`with LocalStack(cfg) as s: s.endpoints`)."""

    def __init__(
        self,
        cfg: StackConfig,
        *,
        stack: str = "dev",
        port: int = 0,
        run_dir: Path | None = None,
        pool_size: int = 2,
        region: str = DEFAULT_REGION,
        logs: TextIO | None = None,
        progress: Callable[[str], None] | None = None,
        state_file: Path | None = None,
        build_dir: Path | None = None,
        ready_timeout: float = 120.0,
        notify_interval: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.cfg = cfg
        self.stack = stack
        self.port = port
        self.run_dir = (run_dir or local_state.run_dir(cfg.project_dir, stack)).resolve()
        self.build_dir = (build_dir or cfg.project_dir / ".build").resolve()
        self.pool_size = pool_size
        self.region = region
        self.logs = logs
        self.progress = progress
        self.state_file = state_file or self.run_dir / "state.json"
        self.ready_timeout = ready_timeout
        self.endpoints: list[LocalEndpoint] = []
        self.timings = Timings()
        self.builds: dict[tuple[str, str], FunctionBuild] = {}
        self.s3: S3Emulator | None = None
        self.gcs: GCSEmulator | None = None
        self.front: FrontServer | None = None
        self.lambdas: dict[str, LambdaFunction] = {}
        self.gcp_functions: dict[str, CloudFunction] = {}
        self.gcp_fronts: dict[str, CloudRunFront] = {}
        self.access: StackAccess | None = None
        self.iam: IamGrants | None = None
        self.client_access: client.LocalAccess | None = None
        self.notify_interval = notify_interval
        self.notifier: Notifier | None = None
        self.versions: dict[tuple[str, str], int] = {}
        self._envs: dict[tuple[str, str], dict[str, str]] = {}
        self._started = False

    # -- helpers -------------------------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        self._say(f"{name} ...")
        t0 = time.perf_counter()
        try:
            result = fn()
        except LocalStackError:
            raise
        except Exception as exc:
            raise LocalStackError(f"{name} failed: {exc}") from exc
        dt = time.perf_counter() - t0
        self.timings.steps[name] = round(dt, 3)
        self._say(f"{name}: done in {dt:.1f}s")
        return result

    @property
    def bucket(self) -> str:
        """The local model bucket name (same on both emulators)."""
        return f"serverless-models-{local_state.safe_name(self.stack)}"[:55].rstrip("-") + "-models"

    @property
    def log_dir(self) -> Path:
        """This run's log files (the previous run's are in `logs.previous`)."""
        return self.run_dir / "logs"

    def _rotate_logs(self) -> None:
        """Move the previous run's logs to `logs.previous` (replacing the older ones)."""
        if not self.log_dir.exists():
            return
        previous = self.run_dir / "logs.previous"
        shutil.rmtree(previous, ignore_errors=True)
        try:
            self.log_dir.rename(previous)
        except OSError as exc:
            raise LocalStackError(f"cannot move the previous logs {self.log_dir} to {previous}: {exc}") from exc

    # -- start ---------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Build, start every server, wait until all answer. Raises LocalStackError naming the failed step."""
        t0 = time.perf_counter()
        self._started = True
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._rotate_logs()
        aws_eps = self.cfg.endpoints_for("aws")
        gcp_eps = self.cfg.endpoints_for("gcp")
        if not aws_eps and not gcp_eps:
            raise LocalStackError("the stack config has no endpoint on any cloud")
        if self.port:
            needed = [self.port] if aws_eps else []
            needed += [self.port + 1 + i for i in range(len(gcp_eps))]
            busy = [p for p in needed if not port_is_free(p)]
            if busy:
                raise LocalStackError(f"port(s) {busy} already in use; pick another --port (0 = any free ports)")

        self.builds = self._step("building packages for the host interpreter", self._build)
        by_key = self.builds
        for cloud, eps in (("aws", aws_eps), ("gcp", gcp_eps)):
            for ep in eps:
                if (cloud, ep.name) not in by_key:
                    raise LocalStackError(f"the packager returned no {cloud} build for endpoint {ep.name!r}")

        self._plan(aws_eps, gcp_eps, by_key)
        needs_s3 = any(by_key[("aws", ep.name)].model is not None or _follows_pointer(ep) for ep in aws_eps)
        needs_gcs = any(by_key[("gcp", ep.name)].model is not None or _follows_pointer(ep) for ep in gcp_eps)
        self._step("starting storage emulators", lambda: self._start_emulators(needs_s3, needs_gcs))
        if self.s3 is not None:
            self.iam = self._step("enforcing IAM on the local S3 (the program's policies)",
                                  lambda: self._enforce_iam(aws_eps, by_key))
        self._step("uploading model objects", lambda: self._upload_models(by_key, aws_eps, gcp_eps))
        rt = self._step("preparing the Lambda runtime directory", lambda: runtime_dir(self.run_dir / "runtime"))
        self.access = self._step("starting the local ID-token issuer", self._create_access)

        if aws_eps:
            self._step("starting Lambda workers", lambda: self._start_lambdas(aws_eps, by_key, rt))
        if gcp_eps:
            self._step("starting Cloud Functions (functions-framework)", lambda: self._start_gcp(gcp_eps, by_key))
        self._step("waiting for every server to answer", self._wait_ready)
        self._publish_access()
        watched = [ep for ep in self.endpoints if ep.refresh == "pointer"]
        if watched:
            self._step("starting the pointer trigger", lambda: self._start_notifier(watched))
        self.timings.total = round(time.perf_counter() - t0, 3)
        self.write_state()
        return self

    @property
    def private(self) -> bool:
        """Whether callers must sign (`public: false`, the default)."""
        return not self.cfg.public

    def _create_access(self) -> StackAccess:
        return StackAccess.create(stack=self.stack, private=self.private, region=self.region,
                                  invokers=self.cfg.invokers, access_file=local_state.access_path(self.run_dir),
                                  deployer=local_state.LOCAL_DEPLOYER)

    def _publish_access(self) -> None:
        """Write the access file and register it here: from now on `smodels.client` signs for this stack."""
        assert self.access is not None
        self.client_access = self.access.client_access()
        self.client_access.write(self.access.access_file)
        client.register_local(self.client_access)

    def _build(self) -> list[Any]:
        try:
            from smodels.packager import BuildOptions, build_stack
        except ImportError as exc:
            raise LocalStackError(f"the packager smodels.packager is not available: {exc}") from None
        opts = BuildOptions(out_dir=self.build_dir, host=True, progress=lambda m: self._say(f"  build: {m}"))
        return build_stack(self.cfg, opts)

    def _plan(self, aws_eps: list[Any], gcp_eps: list[Any], by_key: dict[tuple[str, str], Any]) -> None:
        """Every function's environment (what the Pulumi program sets) and its version number."""
        current: dict[str, str] = {}
        for cloud, eps in (("aws", aws_eps), ("gcp", gcp_eps)):
            for ep in eps:
                build = by_key[(cloud, ep.name)]
                env = self._function_env(build, ep.ttl_seconds, self._model_uri(cloud, build),
                                         self._model_uri(cloud, build, canary=True), self._pointer_uri(cloud, ep))
                self._envs[(cloud, ep.name)] = env
                layer = getattr(build, "layer", None)
                settings = {"runtime": build.runtime, "memory": ep.memory, "timeout": ep.timeout,
                            "layer": layer.archive_sha256 if layer is not None else None,
                            "entry": (build.handler or ep.lambda_handler) if cloud == "aws"
                            else (build.entry_point or ep.entry_point)}
                current[f"{cloud}/{ep.name}"] = fingerprint(build.archive_sha256, env, settings)
        numbers = assign_versions(self.run_dir / VERSIONS_FILE, current)
        self.versions = {(k.split("/", 1)[0], k.split("/", 1)[1]): v for k, v in numbers.items()}

    def _pointer_uri(self, cloud: str, ep: Any) -> str | None:
        """The endpoint's pointer object in the local bucket (`refresh: pointer`), else None."""
        if not _follows_pointer(ep):
            return None
        scheme = "s3" if cloud == "aws" else "gs"
        return f"{scheme}://{self.bucket}/{pointer_key(ep.name)}"

    def _enforce_iam(self, aws_eps: list[Any], by_key: dict[tuple[str, str], Any]) -> IamGrants:
        """The program's roles, publisher and deployer created in moto, checks on; from now on the stack's own S3
        requests sign as the deployer. The grants' credentials go to `<run_dir>/iam.json` (0600)."""
        from infra.names import stack_names

        assert self.s3 is not None
        names = stack_names(_project_name(self.cfg.project_dir), self.stack)
        functions = []
        for ep in aws_eps:
            build = by_key[("aws", ep.name)]
            keys = [m.key for m in (build.model, getattr(build, "canary", None)) if m is not None]
            functions.append((ep.name, self._lambda_name(ep.name), names.log_group(ep.name), keys,
                              _follows_pointer(ep)))
        plan = plan_iam(account_id=self.s3.account_id, region=self.region, bucket=self.bucket, functions=functions,
                        pointer_endpoints=[ep.name for ep in aws_eps if _follows_pointer(ep)])
        grants = setup_iam(self.s3.url, plan)
        self.s3.credentials = grants.deployer.boto3_kwargs()
        grants.write(local_state.iam_path(self.run_dir))
        for ep in aws_eps:
            self._say(f"  aws {ep.name}: role {grants.roles[ep.name]}")
        return grants

    def _lambda_name(self, endpoint: str) -> str:
        """The local Lambda function's name."""
        return f"serverless-models-{local_state.safe_name(self.stack)}-{endpoint}"

    def _start_emulators(self, needs_s3: bool, needs_gcs: bool) -> None:
        log_dir = self.log_dir
        errors: list[BaseException] = []

        def run(emu: S3Emulator | GCSEmulator) -> None:
            try:
                emu.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below from the main thread
                errors.append(exc)

        threads = []
        if needs_s3:
            self.s3 = S3Emulator(log_dir, region=self.region)
            threads.append(threading.Thread(target=run, args=(self.s3,)))
        if needs_gcs:
            self.gcs = GCSEmulator(log_dir, project=GCP_PROJECT)
            threads.append(threading.Thread(target=run, args=(self.gcs,)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _upload_models(self, by_key: dict[tuple[str, str], Any], aws_eps: Sequence[Any] = (),
                       gcp_eps: Sequence[Any] = ()) -> None:
        for cloud, eps in (("aws", aws_eps), ("gcp", gcp_eps)):  # the bucket `smodels publish` writes to
            emulator = self.s3 if cloud == "aws" else self.gcs
            if emulator is not None and any(_follows_pointer(ep) for ep in eps):
                emulator.ensure_bucket(self.bucket)
        done: set[tuple[str, str]] = set()
        for (cloud, _), build in by_key.items():
            for model in (build.model, getattr(build, "canary", None)):  # the canary's object like the stable's
                if model is None or (cloud, model.key) in done:
                    continue
                emulator = self.s3 if cloud == "aws" else self.gcs
                if emulator is None:
                    continue
                emulator.put(self.bucket, model.key, Path(model.path))
                done.add((cloud, model.key))
                self._say(f"  uploaded {cloud} {model.key} ({Path(model.path).stat().st_size} bytes)")

    def _model_uri(self, cloud: str, build: Any, canary: bool = False) -> str | None:
        model = getattr(build, "canary", None) if canary else build.model
        if model is None:
            return None
        scheme = "s3" if cloud == "aws" else "gs"
        return f"{scheme}://{self.bucket}/{model.key}"

    def _function_env(self, build: Any, ttl: int, uri: str | None, canary_uri: str | None = None,
                      pointer_uri: str | None = None) -> dict[str, str]:
        extra = {k: v for k, v in (("canary_uri", canary_uri), ("pointer_uri", pointer_uri)) if v}
        env = build.function_env(uri, ttl, **extra)
        return {k: str(v) for k, v in env.items() if v is not None}

    def _start_lambdas(self, eps: list[Any], by_key: dict[tuple[str, str], Any], rt: Path) -> None:
        unpack_root = self.build_dir / "local" / "unpacked"
        for ep in eps:
            build = by_key[("aws", ep.name)]
            task = _unpack(Path(build.archive), unpack_root, build.archive_sha256)
            layer_path: Path | None = None
            if getattr(build, "layer", None) is not None:
                layer_path = _unpack(Path(build.layer.archive), unpack_root, build.layer.archive_sha256) / "python"
            name = self._lambda_name(ep.name)
            env = lambda_base_env(
                function_name=name,
                handler=build.handler or ep.lambda_handler,
                memory_mb=ep.memory,
                region=self.region,
                package_dir=task,
                runtime_path=rt,
                layer_path=layer_path,
                s3_endpoint=self.s3.url if self.s3 else None,
            )
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"  # the program sets logging_config log_format=JSON
            env["AWS_LAMBDA_FUNCTION_VERSION"] = str(self.versions[("aws", ep.name)])  # invoked through the alias
            env.update(self._envs[("aws", ep.name)])
            if self.iam is not None:  # its execution role's session, as Lambda hands it over
                env.pop("AWS_SESSION_TOKEN", None)
                env.update(self.iam.functions[ep.name].env())
            fn = LambdaFunction(
                name=ep.name,
                handler=build.handler or ep.lambda_handler,
                package_dir=task,
                env=env,
                timeout_s=ep.timeout,
                log_dir=self.log_dir,
                pool_size=self.pool_size,
                echo=self.logs,
                region=self.region,
            )
            fn.arn = f"arn:aws:lambda:{self.region}:000000000000:function:{name}"
            fn.start()
            self.lambdas[ep.name] = fn
        assert self.access is not None
        self.front = FrontServer(self.lambdas, port=self.port, access_log=self.logs,
                                 auth=self.access.aws_verifier(), kinds={ep.name: ep.kind for ep in eps}).start()
        self.access.aws_url = self.front.url
        for ep in eps:
            build = by_key[("aws", ep.name)]
            self.endpoints.append(LocalEndpoint(
                cloud="aws", name=ep.name, kind=ep.kind, url=f"{self.front.url}/{ep.name}", runtime=build.runtime,
                model_uri=self._model_uri("aws", build), model_sha256=build.model.sha256 if build.model else None,
                manifest=build.model.manifest if build.model else None, build=build,
                version=self.versions[("aws", ep.name)], refresh=_refresh_mode(ep),
                pointer_uri=self._pointer_uri("aws", ep), auth="aws_iam" if self.private else "none",
            ))

    def _start_gcp(self, eps: list[Any], by_key: dict[tuple[str, str], Any]) -> None:
        unpack_root = self.build_dir / "local" / "unpacked"
        for i, ep in enumerate(eps):
            build = by_key[("gcp", ep.name)]
            src = _unpack(Path(build.archive), unpack_root, build.archive_sha256)
            if not (src / "main.py").is_file():
                raise LocalStackError(f"gcp {ep.name}: the source archive {build.archive} has no main.py")
            uri = self._model_uri("gcp", build)
            service = f"serverless-models-{local_state.safe_name(self.stack)}-{ep.name}"
            version = self.versions[("gcp", ep.name)]
            fn = CloudFunction(
                name=ep.name, entry_point=build.entry_point or ep.entry_point, source_dir=src, project=GCP_PROJECT,
                service=service, log_dir=self.log_dir,
                env={"K_REVISION": f"{service}-{version:05d}-loc", **self._envs[("gcp", ep.name)]},
                storage_emulator_host=self.gcs.host if self.gcs is not None else None, echo=self.logs,
            )
            # Cloud Run's front end is the function's URL; functions-framework listens behind it. The front binds its
            # port first: a pointer endpoint's /_refresh is told its own URL (the push's audience).
            front = CloudRunFront(ep.name, fn.url, port=self.port + 1 + i if self.port else 0, access_log=self.logs,
                                  timeout_s=float(ep.timeout) + 5)
            self.gcp_fronts[ep.name] = front
            account = runtime_account(self.cfg.project_dir, self.stack, ep.name)
            assert self.access is not None
            if _follows_pointer(ep):  # not in the version fingerprint: the URLs change with every run's ports
                issuer = self.access.issuer
                fn.add_env(refresh_env(front.url.rstrip("/"), account, platform_verified=self.private,
                                       issuer=issuer.url, certs_url=issuer.jwks_url))
            self.gcp_functions[ep.name] = fn.start()
            front.check = self.access.gcp_check(ep.name, front.url, account, _follows_pointer(ep))
            front.start()
            self.endpoints.append(LocalEndpoint(
                cloud="gcp", name=ep.name, kind=ep.kind, url=front.url, runtime=build.runtime,
                model_uri=uri, model_sha256=build.model.sha256 if build.model else None,
                manifest=build.model.manifest if build.model else None, build=build,
                version=version, refresh=_refresh_mode(ep), pointer_uri=self._pointer_uri("gcp", ep),
                auth="google_id_token" if self.private else "none", runtime_account=account,
            ))

    def _wait_ready(self) -> None:
        for fn in [*self.lambdas.values(), *self.gcp_functions.values()]:
            fn.wait_ready(self.ready_timeout)

    def _start_notifier(self, endpoints: list[LocalEndpoint]) -> None:
        """Watch every pointer object; a change reaches the endpoint's function as the cloud's trigger would."""
        watches = []
        for ep in endpoints:
            key = pointer_key(ep.name)
            if ep.cloud == "aws":
                watches.append(Watch("aws", ep.name, self.bucket, key, self.lambdas[ep.name].invoke))
            else:
                # infra.names: the push subscription `<prefix>-<endpoint>-refresh-push`, whose OIDC token is the
                # runtime account's, audience the function URL.
                subscription = f"serverless-models-{local_state.safe_name(self.stack)}-{ep.name}-refresh-push"
                watches.append(Watch("gcp", ep.name, self.bucket, key, ep.url, subscription,
                                     token=self._push_token(ep.url, ep.runtime_account)))
        log_path = self.log_dir / "triggers.log"

        def log(line: str) -> None:
            self._say(line)
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.notifier = Notifier(watches, s3_url=self.s3.url if self.s3 else None,
                                 gcs_url=self.gcs.url if self.gcs else None, region=self.region, project=GCP_PROJECT,
                                 interval=self.notify_interval, log=log,
                                 s3_credentials=self.s3.credentials if self.s3 else None).start()
        for w in watches:
            self._say(f"  watching {w.cloud} {w.endpoint}: {w.bucket}/{w.key} every {self.notify_interval:g}s")

    def _push_token(self, url: str, account: str | None) -> Any:
        """A function minting the Pub/Sub push's ID token (the runtime account's, for the function URL)."""
        access = self.client_access
        if access is None or account is None:
            return None
        return lambda: client.local_id_token(access, url.rstrip("/"), account)

    # -- state and output ----------------------------------------------------------------------------------

    def child_pids(self) -> list[dict[str, Any]]:
        """Every child process we started (each is its own process-group leader)."""
        out: list[dict[str, Any]] = []
        procs: list[ManagedProcess] = [e.proc for e in (self.s3, self.gcs) if e is not None]
        procs += [fn.proc for fn in self.gcp_functions.values()]
        procs += [w.proc for fn in self.lambdas.values() for w in fn.workers if w.proc is not None]
        for p in procs:
            if p.pid is not None and p.alive():
                out.append({"name": p.name, "pid": p.pid, "pgid": p.pid})
        return out

    def outputs(self) -> dict[str, Any]:
        """Stack-output-shaped endpoints: `{"aws": {"pred": {"url", "model_uri", "model_sha256"}}, "gcp": ...}`."""
        out: dict[str, dict[str, Any]] = {}
        for ep in self.endpoints:
            out.setdefault(ep.cloud, {})[ep.name] = ep.as_output()
        return out

    def write_state(self) -> None:
        """Write the state file: our pid, every child's pid/pgid, the endpoints, the start-up timings."""
        state = {
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "stack": self.stack,
            "children": self.child_pids(),
            "endpoints": self.outputs(),
            "emulators": {"s3": self.s3.url if self.s3 else None, "gcs": self.gcs.url if self.gcs else None},
            "buckets": {"aws": self.bucket if self.s3 else None, "gcp": self.bucket if self.gcs else None},
            "logs": str(self.log_dir),
            "versions": str(self.run_dir / VERSIONS_FILE),
            "triggers": ({"interval_s": self.notify_interval, "log": str(self.log_dir / "triggers.log")}
                         if self.notifier is not None else None),
            "private": self.private,
            "local": self.access.summary() if self.access is not None else None,
            "iam": ({**self.iam.summary(), "region": self.region, "file": str(local_state.iam_path(self.run_dir))}
                    if self.iam is not None else None),
            "timings": {"total_s": self.timings.total, "steps_s": self.timings.steps},
            "cached_builds": all(b.cached for b in self.builds.values()),
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def table(self) -> str:
        """The endpoint table `smodels serve` prints (cloud, endpoint, version, URL, model sha256[:12], runtime,
        refresh: `pointer` when the endpoint follows `smodels publish`, else `-`)."""
        rows = [("CLOUD", "ENDPOINT", "VERSION", "URL", "MODEL", "RUNTIME", "REFRESH")]
        for ep in self.endpoints:
            rows.append((ep.cloud, ep.name, str(ep.version) if ep.version is not None else "-", ep.url,
                         (ep.model_sha256 or "-")[:12], ep.runtime, "pointer" if ep.refresh == "pointer" else "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)

    # -- stop ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every server and child process (idempotent)."""
        if not self._started:
            return
        self._started = False
        if self.notifier is not None:  # first: no event for a function on its way out
            self.notifier.stop()
        if self.client_access is not None:
            client.unregister_local(self.client_access)
        if self.front is not None:
            self.front.stop()
        for front in self.gcp_fronts.values():
            front.stop()
        if self.access is not None:
            self.access.stop()
        threads = [threading.Thread(target=fn.stop, daemon=True) for fn in self.lambdas.values()]
        threads += [threading.Thread(target=fn.stop, daemon=True) for fn in self.gcp_functions.values()]
        threads += [threading.Thread(target=e.stop, daemon=True) for e in (self.s3, self.gcs) if e is not None]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        try:
            self.state_file.unlink()
        except FileNotFoundError:
            pass
