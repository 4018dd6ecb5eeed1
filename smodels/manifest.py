"""Model manifest (``models/<name>/model.json``): read, validate, write.

The manifest is the contract between the training scripts, the packager, the Pulumi program and the local
runner: it names the artifact beside it, pins its sha256, lists the features in model input order and carries
sample and parity outputs that any serving path must reproduce. Pure Python + stdlib, so the builder and the
Pulumi program can import it without numpy or a model framework.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import FEATURE_TYPES, FORMATS

SCHEMA_VERSION = 1
MANIFEST_FILE = "model.json"
FRAMEWORKS = ("scikit-learn", "keras")
TASKS = ("binary-classification",)
MIN_SAMPLES = 3
MIN_PARITY_ROWS = 200

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^\d+(\.\d+)*([.+\-\w]*)$")
_FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_KEYS = (
    "schema",
    "name",
    "description",
    "framework",
    "framework_version",
    "backend",
    "python_version",
    "format",
    "artifact",
    "sha256",
    "size_bytes",
    "task",
    "output",
    "features",
    "label",
    "training_data",
    "holdout",
    "samples",
    "parity",
)


class ManifestError(ValueError):
    """A manifest problem; ``field`` is the dotted path of the offending field (e.g. ``samples[2].output``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Feature:
    """One model input column."""

    name: str
    type: str = "binary"


@dataclass(frozen=True)
class TrainingData:
    """Where the training data came from (as given on the command line) and its fingerprint."""

    source: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Holdout:
    """The held-out evaluation: split recipe and metric value."""

    fraction: float
    seed: int
    rows: int
    metric: str
    value: float
    note: str


@dataclass(frozen=True)
class Sample:
    """One request (feature name -> value) and the model's native output for it."""

    input: dict[str, float]
    output: float


@dataclass(frozen=True)
class Parity:
    """Holdout rows (model input order) and the model's native outputs; every serving path must match them."""

    rows: tuple[tuple[float, ...], ...]
    outputs: tuple[float, ...]


@dataclass(frozen=True)
class Manifest:
    """A validated model manifest. ``directory`` is where model.json lives (not serialised)."""

    name: str
    description: str
    framework: str
    framework_version: str
    backend: str | None
    python_version: str
    format: str
    artifact: str
    sha256: str
    size_bytes: int
    task: str
    output: str
    features: tuple[Feature, ...]
    label: str
    training_data: TrainingData
    holdout: Holdout
    samples: tuple[Sample, ...]
    parity: Parity
    directory: Path
    schema: int = SCHEMA_VERSION

    @property
    def artifact_path(self) -> Path:
        """Absolute path of the artifact file beside the manifest."""
        return (self.directory / self.artifact).resolve()

    @property
    def feature_names(self) -> list[str]:
        """Feature names in model input order."""
        return [f.name for f in self.features]

    def sample_rows(self) -> list[list[float]]:
        """The samples' inputs as rows in model input order."""
        return [[s.input[n] for n in self.feature_names] for s in self.samples]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what model.json holds); ``directory`` is left out."""
        return {
            "schema": self.schema,
            "name": self.name,
            "description": self.description,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "backend": self.backend,
            "python_version": self.python_version,
            "format": self.format,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "task": self.task,
            "output": self.output,
            "features": [{"name": f.name, "type": f.type} for f in self.features],
            "label": self.label,
            "training_data": {
                "source": self.training_data.source,
                "sha256": self.training_data.sha256,
                "rows": self.training_data.rows,
            },
            "holdout": {
                "fraction": self.holdout.fraction,
                "seed": self.holdout.seed,
                "rows": self.holdout.rows,
                "metric": self.holdout.metric,
                "value": self.holdout.value,
                "note": self.holdout.note,
            },
            "samples": [{"input": dict(s.input), "output": s.output} for s in self.samples],
            "parity": {"rows": [list(r) for r in self.parity.rows], "outputs": list(self.parity.outputs)},
        }


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- field validators -------------------------------------------------------------------------------------


def _str(d: dict[str, Any], key: str, field: str, *, allow_empty: bool = False) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise ManifestError(field, f"must be a string, got {type(v).__name__}")
    if not allow_empty and not v.strip():
        raise ManifestError(field, "must not be empty")
    return v


def _int(d: dict[str, Any], key: str, field: str, *, minimum: int = 0) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ManifestError(field, f"must be an integer, got {type(v).__name__}")
    if v < minimum:
        raise ManifestError(field, f"must be >= {minimum}, got {v}")
    return v


def _num(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ManifestError(field, f"must be a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise ManifestError(field, "must be finite")
    return float(v)


def _prob(v: Any, field: str) -> float:
    x = _num(v, field)
    if not 0.0 <= x <= 1.0:
        raise ManifestError(field, f"must be a probability in [0, 1], got {x}")
    return x


def _choice(d: dict[str, Any], key: str, field: str, choices: tuple[str, ...]) -> str:
    v = d.get(key)
    if v not in choices:
        raise ManifestError(field, f"must be one of {', '.join(choices)}; got {v!r}")
    return v


def _obj(d: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise ManifestError(field, f"must be an object, got {type(v).__name__}")
    return v


def _sha(d: dict[str, Any], key: str, field: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not _SHA_RE.match(v):
        raise ManifestError(field, "must be 64 lowercase hex characters (a sha256)")
    return v


def _features(raw: Any) -> tuple[Feature, ...]:
    if not isinstance(raw, list) or not raw:
        raise ManifestError("features", "must be a non-empty list")
    out: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = f"features[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f, "must be an object with name and type")
        unknown = set(item) - {"name", "type"}
        if unknown:
            raise ManifestError(f"{f}.{sorted(unknown)[0]}", "unknown key")
        name = _str(item, "name", f"{f}.name")
        if not _FEATURE_RE.match(name):
            raise ManifestError(f"{f}.name", f"must be an identifier, got {name!r}")
        if name in seen:
            raise ManifestError(f"{f}.name", f"duplicate feature {name!r}")
        seen.add(name)
        out.append(Feature(name=name, type=_choice(item, "type", f"{f}.type", FEATURE_TYPES)))
    return tuple(out)


def _check_value(v: Any, feature: Feature, field: str) -> float:
    x = _num(v, field)
    if feature.type == "binary" and x not in (0.0, 1.0):
        raise ManifestError(field, f"binary feature {feature.name} must be 0 or 1, got {v!r}")
    return v  # keep int vs float as written, so load -> to_dict -> write round-trips byte for byte


def _samples(raw: Any, features: tuple[Feature, ...]) -> tuple[Sample, ...]:
    if not isinstance(raw, list) or len(raw) < MIN_SAMPLES:
        raise ManifestError("samples", f"must be a list of at least {MIN_SAMPLES} samples")
    names = [f.name for f in features]
    out: list[Sample] = []
    for i, item in enumerate(raw):
        f = f"samples[{i}]"
        if not isinstance(item, dict) or set(item) != {"input", "output"}:
            raise ManifestError(f, "must be an object with exactly input and output")
        inp = item["input"]
        if not isinstance(inp, dict):
            raise ManifestError(f"{f}.input", "must be an object of feature name -> value")
        if set(inp) != set(names):
            missing = [n for n in names if n not in inp]
            extra = sorted(set(inp) - set(names))
            raise ManifestError(f"{f}.input", f"must name every feature exactly; missing {missing}, unknown {extra}")
        values = {ft.name: _check_value(inp[ft.name], ft, f"{f}.input.{ft.name}") for ft in features}
        out.append(Sample(input=values, output=_prob(item["output"], f"{f}.output")))
    return tuple(out)


def _parity(raw: Any, features: tuple[Feature, ...]) -> Parity:
    if not isinstance(raw, dict) or set(raw) != {"rows", "outputs"}:
        raise ManifestError("parity", "must be an object with exactly rows and outputs")
    rows, outputs = raw["rows"], raw["outputs"]
    if not isinstance(rows, list) or len(rows) < MIN_PARITY_ROWS:
        raise ManifestError("parity.rows", f"must be a list of at least {MIN_PARITY_ROWS} rows")
    if not isinstance(outputs, list) or len(outputs) != len(rows):
        raise ManifestError("parity.outputs", f"must be a list with one output per row ({len(rows)})")
    out_rows: list[tuple[float, ...]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(features):
            raise ManifestError(f"parity.rows[{i}]", f"must be a list of {len(features)} values")
        out_rows.append(tuple(_check_value(v, ft, f"parity.rows[{i}][{j}]") for j, (v, ft) in
                              enumerate(zip(row, features, strict=True))))
    outs = tuple(_prob(v, f"parity.outputs[{i}]") for i, v in enumerate(outputs))
    return Parity(rows=tuple(out_rows), outputs=outs)


def manifest_from_dict(data: Any, directory: Path | str, *, verify_artifact: bool = True) -> Manifest:
    """Validate a parsed manifest; with ``verify_artifact`` the artifact must exist and match sha256/size."""
    if not isinstance(data, dict):
        raise ManifestError("manifest", "must be a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ManifestError(unknown[0], "unknown key")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ManifestError(missing[0], "is required")
    if data["schema"] != SCHEMA_VERSION or isinstance(data["schema"], bool):
        raise ManifestError("schema", f"must be {SCHEMA_VERSION}, got {data['schema']!r}")

    name = _str(data, "name", "name")
    if not _NAME_RE.match(name):
        raise ManifestError("name", f"must match [a-z0-9-]+ (no leading/trailing/double dash), got {name!r}")
    framework = _choice(data, "framework", "framework", FRAMEWORKS)
    framework_version = _str(data, "framework_version", "framework_version")
    if not _VERSION_RE.match(framework_version):
        raise ManifestError("framework_version", f"must be a version like 1.9.1, got {framework_version!r}")
    backend = data["backend"]
    if backend is not None and (not isinstance(backend, str) or not backend):
        raise ManifestError("backend", "must be null or a non-empty string")
    if framework == "keras" and backend is None:
        raise ManifestError("backend", "is required for keras (the training backend, e.g. torch)")
    if framework == "scikit-learn" and backend is not None:
        raise ManifestError("backend", "must be null for scikit-learn")
    python_version = _str(data, "python_version", "python_version")
    if not re.match(r"^3\.\d+\.\d+", python_version):
        raise ManifestError("python_version", f"must be a CPython version like 3.11.7, got {python_version!r}")
    fmt = _choice(data, "format", "format", tuple(FORMATS))
    allowed = {"scikit-learn": ("skops", "onnx", "joblib", "pickle"), "keras": ("keras", "onnx")}[framework]
    if fmt not in allowed:
        raise ManifestError("format", f"{fmt!r} is not a format for {framework} (one of {', '.join(allowed)})")
    artifact = _str(data, "artifact", "artifact")
    if "/" in artifact or "\\" in artifact or artifact in (".", "..") or artifact == MANIFEST_FILE:
        raise ManifestError("artifact", f"must be a plain file name beside the manifest, got {artifact!r}")
    sha = _sha(data, "sha256", "sha256")
    size = _int(data, "size_bytes", "size_bytes", minimum=1)
    task = _choice(data, "task", "task", TASKS)
    output = _str(data, "output", "output")
    description = _str(data, "description", "description")
    features = _features(data["features"])
    label = _str(data, "label", "label")
    if label in {f.name for f in features}:
        raise ManifestError("label", f"{label!r} is also a feature")

    td = _obj(data, "training_data", "training_data")
    for k in sorted(set(td) - {"source", "sha256", "rows"}):
        raise ManifestError(f"training_data.{k}", "unknown key")
    training = TrainingData(
        source=_str(td, "source", "training_data.source"),
        sha256=_sha(td, "sha256", "training_data.sha256"),
        rows=_int(td, "rows", "training_data.rows", minimum=1),
    )

    ho = _obj(data, "holdout", "holdout")
    for k in sorted(set(ho) - {"fraction", "seed", "rows", "metric", "value", "note"}):
        raise ManifestError(f"holdout.{k}", "unknown key")
    fraction = _num(ho.get("fraction"), "holdout.fraction")
    if not 0.0 < fraction < 1.0:
        raise ManifestError("holdout.fraction", f"must be in (0, 1), got {fraction}")
    holdout = Holdout(
        fraction=fraction,
        seed=_int(ho, "seed", "holdout.seed"),
        rows=_int(ho, "rows", "holdout.rows", minimum=1),
        metric=_choice(ho, "metric", "holdout.metric", ("roc_auc",)),
        value=_prob(ho.get("value"), "holdout.value"),
        note=_str(ho, "note", "holdout.note"),
    )
    if holdout.rows >= training.rows:
        raise ManifestError("holdout.rows", f"must be fewer than training_data.rows ({training.rows})")

    manifest = Manifest(
        schema=SCHEMA_VERSION,
        name=name,
        description=description,
        framework=framework,
        framework_version=framework_version,
        backend=backend,
        python_version=python_version,
        format=fmt,
        artifact=artifact,
        sha256=sha,
        size_bytes=size,
        task=task,
        output=output,
        features=features,
        label=label,
        training_data=training,
        holdout=holdout,
        samples=_samples(data["samples"], features),
        parity=_parity(data["parity"], features),
        directory=Path(directory).resolve(),
    )
    if verify_artifact:
        verify_artifact_file(manifest)
    return manifest


def verify_artifact_file(manifest: Manifest) -> None:
    """Raise ``ManifestError`` unless the artifact exists and its size and sha256 match the manifest."""
    path = manifest.artifact_path
    if not path.is_file():
        raise ManifestError("artifact", f"file not found: {path}")
    size = path.stat().st_size
    if size != manifest.size_bytes:
        raise ManifestError("size_bytes", f"manifest says {manifest.size_bytes}, {path.name} has {size} bytes")
    actual = sha256_file(path)
    if actual != manifest.sha256:
        raise ManifestError("sha256", f"manifest says {manifest.sha256}, {path.name} hashes to {actual}")


def load_manifest(path: Path | str, *, verify_artifact: bool = True) -> Manifest:
    """Read and validate ``path`` (a model directory or its model.json); see ``manifest_from_dict``."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_FILE
    if not p.is_file():
        raise ManifestError("manifest", f"file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except ManifestError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError("manifest", f"{p} is not valid JSON: {exc}") from None
    return manifest_from_dict(data, p.parent, verify_artifact=verify_artifact)


def _reject_constant(name: str) -> Any:
    raise ManifestError("manifest", f"non-standard JSON constant {name} is not allowed")


def dumps_manifest(manifest: Manifest) -> str:
    """Stable JSON text: sorted keys, indent 2, trailing newline."""
    return json.dumps(manifest.to_dict(), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_manifest(manifest: Manifest, directory: Path | str) -> Path:
    """Write ``directory/model.json`` (stable JSON) and return its path. The manifest is validated first."""
    out = Path(directory) / MANIFEST_FILE
    manifest_from_dict(manifest.to_dict(), manifest.directory, verify_artifact=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps_manifest(manifest), encoding="utf-8")
    return out
