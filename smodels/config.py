"""Stack configuration: typed dataclasses and up-front validation.

The Pulumi program, the builder and the local runner all read the same `serverless-models:*` keys through
`load_stack_config`, so a mistake fails the same way at `pulumi preview` and at `smodels serve`: one
`ConfigError` that lists every problem with the key it belongs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.contract import canary_percent_problem, ttl_problem

if TYPE_CHECKING:
    from smodels.manifest import Manifest

NAMESPACE = "serverless-models"
CLOUDS = ("aws", "gcp")
PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")
ARCHITECTURES = ("x86_64", "arm64")
# auto: ONNX where the model converts and passes parity, else native (the packager decides and says why).
RUNTIMES = ("auto", "native", "onnx", "pure")
KINDS = ("echo", "model")

# Platform ranges, checked per cloud the endpoint deploys to.
# Lambda: 128..32,768 MB in 1 MB steps, as the provider documents memory_size (SDK pulumi_aws/lambda_/function.py:89,
# "Valid value between 128 MB to 32,768 MB (32 GB)"; tests/infra/provider_rules.py checks the same range).
LAMBDA_MEMORY_MB = (128, 32768)
GCP_MEMORY_MB = (128, 32768)
LAMBDA_TIMEOUT_S = (1, 900)
GCP_TIMEOUT_S = (1, 3600)
MEMORY_RANGES = {"aws": ("AWS Lambda", LAMBDA_MEMORY_MB), "gcp": ("Cloud Functions", GCP_MEMORY_MB)}
TIMEOUT_RANGES = {"aws": ("AWS Lambda", LAMBDA_TIMEOUT_S), "gcp": ("Cloud Functions", GCP_TIMEOUT_S)}

TOP_KEYS = (
    "clouds",
    "pythonVersion",
    "architecture",
    "public",
    "invokers",
    "throttle",
    "publisher",
    "lambdaLayer",
    "bytecode",
    "alarms",
    "alertEmail",
    "alarmThresholds",
    "endpoints",
)
ENDPOINT_KEYS = (
    "kind",
    "model",
    "runtime",
    "memory",
    "timeout",
    "maxInstances",
    "minInstances",
    "reservedConcurrency",
    "ttlSeconds",
    "clouds",
    "entryPoint",
    "snapStart",
    "canary",
    "refresh",
    "drift",
)
CANARY_KEYS = ("model", "percent")

# Every setting's default, in one place: the stack's and an endpoint's. The dataclasses below have no defaults
# of their own, so nothing can disagree with these tables.
STACK_DEFAULTS: dict[str, Any] = {
    "clouds": list(CLOUDS),
    "pythonVersion": "3.13",
    "architecture": "x86_64",
    "public": False,
    "invokers": [],
    "throttle": {"rateLimit": 50, "burstLimit": 100},
    "publisher": False,
    "lambdaLayer": False,
    "bytecode": True,
    # Alarms the program declares on both clouds (infra/aws_alarms.py, infra/gcp_alarms.py); false: none at all.
    "alarms": True,
    # An address that gets the alarms by email (an SNS subscription on AWS, a notification channel on GCP);
    # without it the alarms exist with no action.
    "alertEmail": None,
    "alarmThresholds": {},  # merged over ALARM_THRESHOLD_DEFAULTS, key by key
}
ENDPOINT_DEFAULTS: dict[str, Any] = {
    "runtime": "auto",
    "memory": 512,
    "timeout": 30,
    "maxInstances": 10,
    "minInstances": 0,
    "reservedConcurrency": None,
    "ttlSeconds": 0,
    "snapStart": False,
    "canary": None,  # {model: <manifest dir>, percent: 0 < p <= 100}: a second model answering p% of requests
    # "redeploy": a new model reaches the function through `pulumi up`. "pointer": also through `smodels publish`,
    # which moves the pointer object the function re-reads every ttlSeconds (and at once on a storage trigger).
    "refresh": "redeploy",
    # Drift counts in the function's prediction log line (per feature bins / categories against the training
    # profile, read by `smodels drift`); false turns them off for this endpoint (the packager reads it).
    "drift": True,
}
REFRESH_MODES = ("redeploy", "pointer")
# `alarmThresholds` (all optional, merged over these defaults). An alarm fires when its value over one period is
# above its threshold: CloudWatch GreaterThanThreshold, Cloud Monitoring COMPARISON_GT (metric-threshold conditions
# take only COMPARISON_GT and COMPARISON_LT: SDK pulumi_gcp/monitoring/_inputs.py, MetricThreshold.comparison).
ALARM_THRESHOLD_DEFAULTS: dict[str, int] = {
    "errors": 0,  # AWS: Lambda Errors (unhandled exceptions, timeouts) of the alias `live`, per period
    "throttles": 0,  # AWS: Lambda Throttles of the alias `live`; GCP: 429 responses (no instance available)
    "http5xx": 0,  # AWS: 5xx responses of the HTTP API; GCP: 5xx responses of the function's Cloud Run service
    "p99LatencyMs": 5000,  # AWS: p99 Lambda Duration of the alias `live`; GCP: p99 Cloud Run request latency
    "outOfRange": 10,  # both: prediction requests with an out-of-range or unseen input value, per period
    "periodSeconds": 300,  # the period every alarm evaluates; one period above its threshold fires it
}
# (lowest, highest) of each threshold. periodSeconds: whole minutes (CloudWatch takes 10, 20, 30 or multiples of 60,
# TF-AWS cloudwatch/metric_alarm.go period; Cloud Monitoring alignment periods are at least 60 s) up to an hour.
# p99LatencyMs: up to the longest timeout either cloud allows (Cloud Functions 3600 s).
ALARM_THRESHOLD_RANGES: dict[str, tuple[int, int]] = {
    "errors": (0, 1_000_000),
    "throttles": (0, 1_000_000),
    "http5xx": (0, 1_000_000),
    "p99LatencyMs": (1, 3_600_000),
    "outOfRange": (0, 1_000_000),
    "periodSeconds": (60, 3600),
}
# An address SNS (email protocol) and a Cloud Monitoring email channel take: one mailbox, no display name.
EMAIL_RE = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
EMAIL_MAX = 254  # RFC 5321 path limit
# The book's three endpoints. The default runtime auto picks ONNX for both book models: a package a third the size
# of scikit-learn's, a cold start several times faster, no executing deserialiser, and the Keras model fits Lambda.
BOOK_ENDPOINTS: dict[str, dict[str, Any]] = {
    "echo": {"kind": "echo", "memory": 128, "timeout": 10},
    "pred": {"kind": "model", "model": "models/logreg"},
    "predict": {"kind": "model", "model": "models/keras"},
}
# Endpoint names become part of function names (infra/names.py): a letter first, no '-' last (Cloud Functions
# names are RFC 1035 labels), at most 31 characters (the room the stack prefix leaves under 63).
NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,29}[a-z0-9])?$")
# Cloud Functions runtimes this project has confirmed (`gcloud functions runtimes list`); python314 is not
# confirmed there yet, while Lambda lists python3.14 (SDK pulumi_aws/lambda_/_enums.py, Runtime.PYTHON3D14).
GCP_PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
# onnxruntime releases checked to start and detect the CPU on arm64 Lambda, where /sys/devices/system/cpu/possible
# is missing (onnxruntime#10038). 1.32.0 is not among them: its aarch64 wheel still fails cpuinfo without those
# files (upstream PR #28230's sysfs fallback is not in effect in it; docs/DESIGN.md has the check).
ONNXRUNTIME_ARM64_LAMBDA_OK: frozenset[str] = frozenset()
# Lambda caps a function's environment at 4 KB (keys plus values). The packager may add a few variables of its
# own (e.g. KERAS_BACKEND): keep this much of the 4 KB for them.
LAMBDA_ENV_LIMIT_BYTES = 4096
LAMBDA_ENV_RESERVE_BYTES = 256
S3_BUCKET_NAME_MAX = 63
# Lambda SnapStart (docs.aws.amazon.com/lambda/latest/dg/snapstart.html, "Supported features and limitations"):
# Python 3.12 and later; published versions only (the program always publishes); not with provisioned
# concurrency, EFS, or ephemeral storage over 512 MB (none of which the program configures).
SNAPSTART_MIN_PYTHON = (3, 12)
# Cloud Storage: "up to 10 notification configurations set to trigger for a specific event" per bucket
# (cloud.google.com/storage/docs/pubsub-notifications, Limits). Each GCP `refresh: pointer` endpoint has one on
# OBJECT_FINALIZE of the model bucket (infra/gcp.py PointerRefresh).
GCS_POINTER_ENDPOINTS_MAX = 10
GCP_MEMBER_RE = re.compile(r"^(user|serviceAccount|group|domain|principal|principalSet):\S+$")


class ConfigError(ValueError):
    """Raised with every problem found in the stack config, each naming its key."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid stack config:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class AlarmThresholds:
    """`alarmThresholds`, validated (defaults: ALARM_THRESHOLD_DEFAULTS). Each alarm fires above its threshold."""

    errors: int
    throttles: int
    http5xx: int
    p99_latency_ms: int
    out_of_range: int
    period_seconds: int


@dataclass(frozen=True)
class EndpointConfig:
    """One endpoint (function) of the stack, as deployed to each cloud in `clouds` (defaults: ENDPOINT_DEFAULTS)."""

    name: str
    kind: str
    clouds: tuple[str, ...]
    model: Path | None
    manifest: Manifest | None  # the validated manifest of `model` (its artifact's sha256 checked)
    runtime: str
    memory: int
    timeout: int
    max_instances: int
    min_instances: int
    reserved_concurrency: int | None
    ttl_seconds: int
    entry_point: str
    snap_start: bool  # AWS only: Lambda SnapStart on the published versions
    canary_model: Path | None  # `canary.model`: a second model with the same input schema and task
    canary_manifest: Manifest | None  # its validated manifest (artifact sha256 checked)
    canary_percent: float | None  # `canary.percent`: the share of requests it answers, 0 < p <= 100
    refresh: str  # REFRESH_MODES: "pointer" follows `endpoints/<name>/live.json` (smodels publish)
    drift: bool  # drift counts in the prediction log line (the packager reads it; `smodels drift` uses them)

    @property
    def lambda_handler(self) -> str:
        """The handler string Lambda is given for this endpoint."""
        return "functions.aws.echo_handler" if self.kind == "echo" else "functions.aws.lambda_handler"


@dataclass(frozen=True)
class StackConfig:
    """The validated `serverless-models:*` configuration of one stack (defaults: STACK_DEFAULTS)."""

    project_dir: Path
    clouds: tuple[str, ...]
    python_version: str
    architecture: str
    public: bool
    invokers: tuple[str, ...]
    throttle_rate: float
    throttle_burst: int
    publisher: bool
    lambda_layer: bool
    bytecode: bool
    alarms: bool  # declare the alarms (infra/aws_alarms.py, infra/gcp_alarms.py)
    alert_email: str | None  # who gets them by email; None: the alarms have no action
    alarm_thresholds: AlarmThresholds
    endpoints: tuple[EndpointConfig, ...]

    @property
    def lambda_runtime(self) -> str:
        """Lambda runtime identifier, e.g. `python3.13`."""
        return f"python{self.python_version}"

    @property
    def gcp_runtime(self) -> str:
        """Cloud Functions runtime identifier, e.g. `python313`."""
        return "python" + self.python_version.replace(".", "")

    def endpoints_for(self, cloud: str) -> list[EndpointConfig]:
        """The endpoints deployed to `cloud`, in config order."""
        return [e for e in self.endpoints if cloud in e.clouds and cloud in self.clouds]


def _decode(value: Any) -> Any:
    """Pulumi hands every config value over as a string; structured ones are JSON."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[{" or text in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", text):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def _bool(key: str, value: Any, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    problems.append(f"{NAMESPACE}:{key}: expected true or false, got {value!r}")
    return False


def _int(key: str, value: Any, lo: int | None, hi: int | None, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{key}: expected a whole number, got {value!r}")
        return lo or 0
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        problems.append(f"{key}: {value} is outside the allowed range {lo}..{hi}")
    return value


def _clouds(key: str, value: Any, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        problems.append(f"{key}: expected a non-empty list drawn from {list(CLOUDS)}, got {value!r}")
        return ()
    bad = [c for c in value if c not in CLOUDS]
    if bad:
        problems.append(f"{key}: unknown cloud(s) {bad}; allowed: {list(CLOUDS)}")
    return tuple(c for c in CLOUDS if c in value)


def _alert_email(value: Any, problems: list[str]) -> str | None:
    """`alertEmail`: one address, or None (the alarms then have no action)."""
    if value is None:
        return None
    key = f"{NAMESPACE}:alertEmail"
    if not isinstance(value, str) or len(value) > EMAIL_MAX or not EMAIL_RE.match(value.strip()):
        problems.append(f"{key}: expected one email address (name@example.com), got {value!r}")
        return None
    return value.strip()


def _alarm_thresholds(raw: Any, problems: list[str]) -> AlarmThresholds:
    """`alarmThresholds`: whole numbers within ALARM_THRESHOLD_RANGES, merged over ALARM_THRESHOLD_DEFAULTS."""
    key = f"{NAMESPACE}:alarmThresholds"
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        problems.append(f"{key}: expected a mapping of threshold name to number, e.g. {{errors: 0}}, got {raw!r}")
        raw = {}
    unknown = sorted(set(raw) - set(ALARM_THRESHOLD_DEFAULTS))
    if unknown:
        problems.append(f"{key}: unknown threshold(s) {unknown}; allowed: {list(ALARM_THRESHOLD_DEFAULTS)}")
    merged = {**ALARM_THRESHOLD_DEFAULTS, **{k: v for k, v in raw.items() if k in ALARM_THRESHOLD_DEFAULTS}}
    values: dict[str, int] = {}
    for name, value in merged.items():
        lo, hi = ALARM_THRESHOLD_RANGES[name]
        values[name] = _int(f"{key}.{name}", value, lo, hi, problems)
    period = values["periodSeconds"]
    lo, hi = ALARM_THRESHOLD_RANGES["periodSeconds"]
    if lo <= period <= hi and period % 60:
        problems.append(f"{key}.periodSeconds: {period} is not a whole number of minutes (60, 120, ..., 3600)")
    return AlarmThresholds(
        errors=values["errors"],
        throttles=values["throttles"],
        http5xx=values["http5xx"],
        p99_latency_ms=values["p99LatencyMs"],
        out_of_range=values["outOfRange"],
        period_seconds=period,
    )


def _python(value: Any, problems: list[str]) -> str:
    key = f"{NAMESPACE}:pythonVersion"
    if isinstance(value, float):
        problems.append(f'{key}: {value!r} is a number; quote it ("3.13"), YAML reads 3.10 as 3.1')
        return STACK_DEFAULTS["pythonVersion"]
    text = str(value).strip().removeprefix("python")
    if text not in PYTHON_VERSIONS:
        hint = ' (YAML reads an unquoted 3.10 as 3.1: quote it, "3.10")' if re.fullmatch(r"3\.\d", text) else ""
        problems.append(f"{key}: {value!r} is not supported; use one of {list(PYTHON_VERSIONS)}{hint}")
        return STACK_DEFAULTS["pythonVersion"]
    return text


def _platform_int(
    key: str,
    value: Any,
    unit: str,
    clouds: tuple[str, ...],
    ranges: Mapping[str, tuple[str, tuple[int, int]]],
    problems: list[str],
) -> int:
    """A whole number that must fit the range of every platform the endpoint deploys to."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{key}: expected a whole number of {unit}, got {value!r}")
        return 0
    for cloud in clouds:
        platform, (lo, hi) = ranges[cloud]
        if not lo <= value <= hi:
            problems.append(f"{key}: {value} {unit} is outside {platform}'s range {lo}..{hi} {unit}")
    return value


def _load_manifest(manifest: Path, key: str, problems: list[str]) -> Manifest | None:
    """The manifest with its artifact's sha256 verified, or None and a problem. Imported lazily: config stays light."""
    from smodels.manifest import ManifestError, load_manifest

    try:
        return load_manifest(manifest, verify_artifact=True)
    except ManifestError as exc:
        problems.append(f"{key}: {manifest}: {exc}")
    except OSError as exc:
        problems.append(f"{key}: {manifest}: cannot read: {exc}")
    return None


def _manifest_at(path: Path, key: str, problems: list[str]) -> Manifest | None:
    """The validated manifest of a model directory (or model.json) `path`, or None and a problem naming `key`."""
    manifest_file = path / "model.json" if path.suffix != ".json" else path
    if not manifest_file.is_file():
        problems.append(f"{key}: no model manifest at {manifest_file}")
        return None
    return _load_manifest(manifest_file, key, problems)


def _schema_without_ranges(manifest: Manifest) -> dict[str, Any]:
    """The input schema and task a function serves, without the observed ranges (which only count drift)."""
    doc = manifest.input_schema()
    return {**doc, "features": [{k: v for k, v in f.items() if k not in ("low", "high")} for f in doc["features"]]}


def _canary(
    key: str, raw: Any, project_dir: Path, stable: Manifest | None, problems: list[str]
) -> tuple[Path | None, Manifest | None, float | None]:
    """`canary: {model, percent}`: its manifest (same input schema and task as the stable model's) and percent."""
    if raw is None:
        return None, None, None
    if not isinstance(raw, dict):
        problems.append(f"{key}: expected {{model: <manifest dir>, percent: <0 < p <= 100>}}, got {raw!r}")
        return None, None, None
    unknown = sorted(set(raw) - set(CANARY_KEYS))
    if unknown:
        problems.append(f"{key}: unknown setting(s) {unknown}; allowed: {list(CANARY_KEYS)}")
    percent: float | None = None
    if "percent" not in raw:
        problems.append(f"{key}.percent: required, the share of requests the canary answers (0 < p <= 100)")
    else:
        problem = canary_percent_problem(raw["percent"])
        if problem:
            problems.append(f"{key}.percent: {problem}")
        else:
            percent = float(raw["percent"])
    if not isinstance(raw.get("model"), str) or not raw["model"]:
        problems.append(f"{key}.model: the path of the canary's model manifest directory is required")
        return None, None, percent
    path = (project_dir / raw["model"]).resolve()
    manifest = _manifest_at(path, f"{key}.model", problems)
    if manifest is not None and stable is not None:
        mine, theirs = _schema_without_ranges(manifest), _schema_without_ranges(stable)
        if mine != theirs:
            what = [w for w in ("task", "classes", "features") if mine.get(w) != theirs.get(w)]
            problems.append(
                f"{key}.model: {manifest.name} does not take the stable model {stable.name}'s input schema and task "
                f"(its {', '.join(what)} differ); a canary must be a drop-in replacement"
            )
            manifest = None
    return path, manifest, percent


def _endpoint(
    name: str, raw: Any, stack_clouds: tuple[str, ...], project_dir: Path, problems: list[str]
) -> EndpointConfig | None:
    key = f"{NAMESPACE}:endpoints.{name}"
    if not NAME_RE.match(str(name)):
        problems.append(
            f"{key}: endpoint names are 1-31 lower-case letters, digits and '-', starting with a letter and not "
            "ending with '-'"
        )
        return None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        problems.append(f"{key}: expected a mapping of settings, got {raw!r}")
        return None
    unknown = sorted(set(raw) - set(ENDPOINT_KEYS))
    if unknown:
        problems.append(f"{key}: unknown setting(s) {unknown}; allowed: {list(ENDPOINT_KEYS)}")
    merged = {**BOOK_ENDPOINTS.get(name, {}), **raw}
    kind = merged.get("kind", "model" if "model" in merged else None)
    if kind not in KINDS:
        problems.append(f"{key}.kind: expected one of {list(KINDS)} (or give a model), got {kind!r}")
        return None
    clouds = _clouds(f"{key}.clouds", merged["clouds"], problems) if "clouds" in merged else stack_clouds
    merged = {**ENDPOINT_DEFAULTS, **merged}
    model_path: Path | None = None
    manifest: Manifest | None = None
    runtime = merged["runtime"]
    if kind == "model":
        if "model" not in merged:
            problems.append(f"{key}.model: a model endpoint needs the path of its manifest directory")
        else:
            model_path = (project_dir / str(merged["model"])).resolve()
            manifest = _manifest_at(model_path, f"{key}.model", problems)
        if runtime not in RUNTIMES:
            problems.append(f"{key}.runtime: expected one of {list(RUNTIMES)}, got {runtime!r}")
    memory = _platform_int(f"{key}.memory", merged["memory"], "MB", clouds, MEMORY_RANGES, problems)
    timeout = _platform_int(f"{key}.timeout", merged["timeout"], "s", clouds, TIMEOUT_RANGES, problems)
    max_i = _int(f"{key}.maxInstances", merged["maxInstances"], 1, 1000, problems)
    min_i = _int(f"{key}.minInstances", merged["minInstances"], 0, 1000, problems)
    if min_i > max_i:
        problems.append(f"{key}.minInstances: {min_i} is more than maxInstances {max_i}")
    reserved = merged["reservedConcurrency"]
    if reserved == 0 and not isinstance(reserved, bool):
        # SDK pulumi_aws/lambda_/function.py:97: "A value of 0 disables lambda from being triggered".
        problems.append(
            f"{key}.reservedConcurrency: 0 disables the function (Lambda never runs it); leave the key out for no "
            "reservation. Note that a new AWS account (account concurrency 10) cannot reserve any: Lambda keeps "
            "10 unreserved"
        )
    elif reserved is not None:
        reserved = _int(f"{key}.reservedConcurrency", reserved, 1, 1000, problems)
    ttl = merged["ttlSeconds"]
    problem = ttl_problem(ttl)
    if problem:
        problems.append(f"{key}.ttlSeconds: {problem}")
    default_entry = name if name in BOOK_ENDPOINTS else ("echo" if kind == "echo" else "pred")
    entry = str(merged.get("entryPoint", default_entry))
    if entry not in ("echo", "pred", "predict"):
        problems.append(f"{key}.entryPoint: expected echo, pred or predict, got {entry!r}")
    snap_start = _bool(f"endpoints.{name}.snapStart", merged["snapStart"], problems)
    canary_model, canary_manifest, canary_percent = None, None, None
    if kind == "model":
        canary_model, canary_manifest, canary_percent = _canary(
            f"{key}.canary", merged["canary"], project_dir, manifest, problems)
    elif merged["canary"] is not None:
        problems.append(f"{key}.canary: only a model endpoint can have a canary")
    drift = _bool(f"endpoints.{name}.drift", merged["drift"], problems)
    refresh = merged["refresh"]
    if refresh not in REFRESH_MODES:
        problems.append(f"{key}.refresh: expected one of {list(REFRESH_MODES)}, got {refresh!r}")
    elif refresh == "pointer" and kind != "model":
        problems.append(f"{key}.refresh: only a model endpoint can follow a published pointer")
    elif refresh == "pointer" and isinstance(ttl, int) and not isinstance(ttl, bool) and ttl == 0:
        problems.append(
            f"{key}.refresh: pointer needs ttlSeconds > 0 (e.g. 60): it is how often every instance re-reads the "
            "pointer; the storage trigger reaches one instance only"
        )
    return EndpointConfig(
        name=name,
        kind=kind,
        clouds=clouds,
        model=model_path if kind == "model" else None,
        manifest=manifest if kind == "model" else None,
        runtime=runtime if kind == "model" else "native",
        memory=memory,
        timeout=timeout,
        max_instances=max_i,
        min_instances=min_i,
        reserved_concurrency=reserved,
        ttl_seconds=ttl,
        entry_point=entry,
        snap_start=snap_start,
        canary_model=canary_model,
        canary_manifest=canary_manifest,
        canary_percent=canary_percent,
        refresh=refresh if refresh in REFRESH_MODES else "redeploy",
        drift=drift,
    )


def _onnxruntime_pin() -> str:
    """The onnxruntime version the packager ships (imported lazily: config stays light)."""
    try:
        from smodels.packager.deps import PINS
    except ImportError:  # pragma: no cover - the packager is part of this package
        return "unknown"
    return PINS.get("onnxruntime", "unknown")


def lambda_env_bytes(ep: EndpointConfig) -> int:
    """The size Lambda counts for `ep`'s environment (keys plus values), an upper bound: the longest possible
    MODEL_URI. The input schema ships in the package (MODEL_SCHEMA names the file), so a wide model costs nothing.

    The model object's key is `models/<manifest name>/<sha256>.<ext>`, its bucket name at most 63 characters; the
    packager's own variables are covered by LAMBDA_ENV_RESERVE_BYTES.
    """
    from functions.contract import FORMATS, SCHEMA_FILE, pointer_key, write_env

    m = ep.manifest
    if m is None:
        env = write_env(ep.name)
    else:
        fmt = ep.runtime if ep.runtime in ("onnx", "pure") else m.format
        uri = f"s3://{'b' * S3_BUCKET_NAME_MAX}/models/{m.name}/{'0' * 64}.{FORMATS.get(fmt, fmt)}"
        c = ep.canary_manifest
        canary: dict[str, Any] = {}
        if c is not None:
            cfmt = ep.runtime if ep.runtime in ("onnx", "pure") else c.format
            canary = {"canary_uri": f"s3://{'b' * S3_BUCKET_NAME_MAX}/models/{c.name}/{'0' * 64}."
                                    f"{FORMATS.get(cfmt, cfmt)}",
                      "canary_sha256": "0" * 64, "canary_fmt": cfmt, "canary_name": c.name,
                      "canary_percent": ep.canary_percent}
        pointer = (f"s3://{'b' * S3_BUCKET_NAME_MAX}/{pointer_key(ep.name)}" if ep.refresh == "pointer" else None)
        env = write_env(
            ep.name, uri=uri, sha256="0" * 64, fmt=fmt, name=m.name, schema_file=SCHEMA_FILE,
            framework=f"{m.framework} {m.framework_version}", ttl_seconds=ep.ttl_seconds, pointer_uri=pointer,
            **canary,
        )  # fmt: skip
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in env.items())


def _platform_problems(
    python: str, arch: str, clouds: tuple[str, ...], endpoints: list[EndpointConfig]
) -> list[str]:
    """What the platforms refuse for this combination of settings (each problem names its key)."""
    problems: list[str] = []
    endpoints = [e for e in endpoints if set(e.clouds) & set(clouds)]
    on_gcp = [ep.name for ep in endpoints if "gcp" in ep.clouds and "gcp" in clouds]
    if python not in GCP_PYTHON_VERSIONS and on_gcp:
        problems.append(
            f"{NAMESPACE}:pythonVersion: {python!r} is not a confirmed Cloud Functions runtime (python"
            f"{python.replace('.', '')}); endpoints {on_gcp} deploy to gcp. Use one of {list(GCP_PYTHON_VERSIONS)}, "
            f"or deploy them to aws only (clouds: [aws]); `gcloud functions runtimes list --region <r>` shows "
            "what your region offers"
        )
    ort = _onnxruntime_pin()
    if arch == "arm64" and ort not in ONNXRUNTIME_ARM64_LAMBDA_OK:
        for ep in endpoints:
            if ep.kind == "model" and ep.runtime == "onnx" and "aws" in ep.clouds and "aws" in clouds:
                problems.append(
                    f"{NAMESPACE}:architecture: arm64 with {NAMESPACE}:endpoints.{ep.name}.runtime onnx: "
                    f"onnxruntime {ort} cannot detect the CPU on arm64 Lambda (/sys/devices/system/cpu/possible "
                    "is missing there; onnxruntime#10038, fix PR #28230 not in effect in this release). Use "
                    "architecture x86_64, or runtime native for this endpoint"
                )
    pointer_gcp = [ep.name for ep in endpoints if ep.refresh == "pointer" and "gcp" in ep.clouds and "gcp" in clouds]
    if len(pointer_gcp) > GCS_POINTER_ENDPOINTS_MAX:
        problems.append(
            f"{NAMESPACE}:endpoints.{pointer_gcp[GCS_POINTER_ENDPOINTS_MAX]}.refresh: at most "
            f"{GCS_POINTER_ENDPOINTS_MAX} endpoints with refresh: pointer may deploy to gcp ({len(pointer_gcp)} do: "
            f"{pointer_gcp}); Cloud Storage allows {GCS_POINTER_ENDPOINTS_MAX} notification configurations per event "
            "type on a bucket. Use refresh: redeploy for the others, or deploy them to aws only"
        )
    snap_python = ".".join(map(str, SNAPSTART_MIN_PYTHON))
    for ep in endpoints:
        if "aws" not in ep.clouds or "aws" not in clouds:
            continue
        if ep.snap_start and tuple(int(x) for x in python.split(".")) < SNAPSTART_MIN_PYTHON:
            problems.append(
                f"{NAMESPACE}:endpoints.{ep.name}.snapStart: Lambda SnapStart needs Python {snap_python} or later, "
                f"and {NAMESPACE}:pythonVersion is {python!r}. SnapStart applies to published versions (the "
                "program publishes one on every change). Set pythonVersion to 3.12 or later, or drop snapStart"
            )
        size = lambda_env_bytes(ep)
        if size + LAMBDA_ENV_RESERVE_BYTES > LAMBDA_ENV_LIMIT_BYTES:
            problems.append(
                f"{NAMESPACE}:endpoints.{ep.name}.model: the Lambda environment would be up to {size} bytes; Lambda "
                f"allows {LAMBDA_ENV_LIMIT_BYTES} in all, {LAMBDA_ENV_RESERVE_BYTES} of them kept for the "
                "package's own variables. Shorten the model's name, or deploy this endpoint to gcp only"
            )
    return problems


def load_stack_config(mapping: Mapping[str, Any], project_dir: str | Path = ".") -> StackConfig:
    """Validate the `serverless-models:*` entries of `mapping` and return a `StackConfig`.

    `mapping` is Pulumi's flat config (`{"serverless-models:clouds": "[\\"aws\\"]", "aws:region": ...}`,
    values as strings or already decoded). Keys of other namespaces are ignored. Raises `ConfigError`
    listing every problem, each with the full key it belongs to.
    """
    project_dir = Path(project_dir).resolve()
    problems: list[str] = []
    ours: dict[str, Any] = {}
    for full_key, value in mapping.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if key not in TOP_KEYS:
            problems.append(f"{full_key}: unknown key; allowed: {list(TOP_KEYS)}")
            continue
        # pythonVersion stays text: decoding "3.10" as JSON would give the number 3.1.
        ours[key] = value if key == "pythonVersion" else _decode(value)
    ours = {**STACK_DEFAULTS, **ours}

    clouds = _clouds(f"{NAMESPACE}:clouds", ours["clouds"], problems)
    python = _python(ours["pythonVersion"], problems)
    arch = ours["architecture"]
    if arch not in ARCHITECTURES:
        problems.append(f"{NAMESPACE}:architecture: expected one of {list(ARCHITECTURES)}, got {arch!r}")
    public = _bool("public", ours["public"], problems)
    publisher = _bool("publisher", ours["publisher"], problems)
    layer = _bool("lambdaLayer", ours["lambdaLayer"], problems)
    bytecode = _bool("bytecode", ours["bytecode"], problems)
    alarms = _bool("alarms", ours["alarms"], problems)
    alert_email = _alert_email(ours["alertEmail"], problems)
    thresholds = _alarm_thresholds(ours["alarmThresholds"], problems)

    invokers = ours["invokers"]
    if isinstance(invokers, str):
        invokers = [invokers]
    if not isinstance(invokers, list):
        problems.append(f"{NAMESPACE}:invokers: expected a list of IAM members, got {invokers!r}")
        invokers = []
    for member in invokers:
        if not isinstance(member, str) or not GCP_MEMBER_RE.match(member):
            problems.append(
                f"{NAMESPACE}:invokers: {member!r} is not an IAM member (user:..., serviceAccount:..., group:...)"
            )

    throttle = {**STACK_DEFAULTS["throttle"], **(ours["throttle"] or {})} if isinstance(
        ours["throttle"], (dict, type(None))) else ours["throttle"]
    rate, burst = 0.0, 0
    if not isinstance(throttle, dict):
        problems.append(f"{NAMESPACE}:throttle: expected {{rateLimit: N, burstLimit: N}}, got {throttle!r}")
    else:
        unknown = sorted(set(throttle) - {"rateLimit", "burstLimit"})
        if unknown:
            problems.append(f"{NAMESPACE}:throttle: unknown setting(s) {unknown}; allowed: rateLimit, burstLimit")
        rate_raw = throttle["rateLimit"]
        if isinstance(rate_raw, bool) or not isinstance(rate_raw, (int, float)) or not 0 < rate_raw <= 10000:
            problems.append(f"{NAMESPACE}:throttle.rateLimit: expected a number in (0, 10000], got {rate_raw!r}")
        else:
            rate = float(rate_raw)
        burst = _int(f"{NAMESPACE}:throttle.burstLimit", throttle["burstLimit"], 1, 5000, problems)

    raw_endpoints = ours.get("endpoints", {name: {} for name in BOOK_ENDPOINTS})
    endpoints: list[EndpointConfig] = []
    if not isinstance(raw_endpoints, dict) or not raw_endpoints:
        problems.append(f"{NAMESPACE}:endpoints: expected a non-empty mapping of endpoint name to settings")
    else:
        for name, raw in raw_endpoints.items():
            ep = _endpoint(str(name), raw, clouds, project_dir, problems)
            if ep is not None:
                endpoints.append(ep)

    problems.extend(_platform_problems(python, arch, clouds, endpoints))

    if problems:
        raise ConfigError(problems)
    return StackConfig(
        project_dir=project_dir,
        clouds=clouds,
        python_version=python,
        architecture=arch,
        public=public,
        invokers=tuple(invokers),
        throttle_rate=rate,
        throttle_burst=burst,
        publisher=publisher,
        lambda_layer=layer,
        bytecode=bytecode,
        alarms=alarms,
        alert_email=alert_email,
        alarm_thresholds=thresholds,
        endpoints=tuple(endpoints),
    )


def read_stack_file(project_dir: str | Path = ".", stack: str = "dev") -> dict[str, Any]:
    """Read `Pulumi.<stack>.yaml` into the flat mapping `load_stack_config` takes (for the CLI)."""
    import yaml

    path = Path(project_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ConfigError([f"stack file {path} not found (pulumi stack init {stack}, or pass --stack)"])
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("config") or {})


def stack_config_for(project_dir: str | Path = ".", stack: str = "dev") -> StackConfig:
    """Read and validate a stack's config file in one call."""
    return load_stack_config(read_stack_file(project_dir, stack), project_dir)
