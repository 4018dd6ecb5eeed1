"""Model manifest (``models/<name>/model.json``): read, validate, write.

The manifest is the contract between the training scripts (and ``smodels add-model``), the packager, the
Pulumi program and the local runner: it names the artifact beside it, pins its sha256, lists the features in
model input order with their types, names the task and the class labels, and carries sample and parity
outputs that any serving path must reproduce. Pure Python + stdlib, so the builder and the Pulumi program can
import it without numpy or a model framework.

Two schemas load (docs/DESIGN.md, "Own models"):

- schema 1, the book's two models: binary classification of 0/1 labels, features ``binary`` or ``numeric``
  named like identifiers, at least 200 parity rows, a ROC AUC on a holdout split;
- schema 2 (what ``smodels add-model`` writes): frameworks scikit-learn, xgboost, lightgbm and keras; tasks
  binary-classification, multiclass-classification (labels as trained: strings or integers) and regression;
  any non-empty feature name; feature types numeric, integer, binary, boolean and categorical (with its
  categories, ``nullable`` and ``ignore_unknown``); the libraries the native model needs (``requirements``);
  a training ``profile``; samples and parity rows whose values are what a client sends (strings, booleans,
  ``null``) and whose outputs are the task's (regression: the value; binary: P(classes[1]); multiclass: the
  list of probabilities in ``classes`` order).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import FORMATS

SCHEMA_VERSION = 2  # what this module (and smodels add-model) writes
SCHEMA_VERSIONS = (1, 2)  # what loads
MANIFEST_FILE = "model.json"
FRAMEWORKS = ("scikit-learn", "xgboost", "lightgbm", "keras")
TASKS = ("binary-classification", "multiclass-classification", "regression")
FEATURE_TYPES = ("numeric", "integer", "binary", "boolean", "categorical")
METRICS = {"roc_auc": ("binary-classification",),
           "accuracy": ("binary-classification", "multiclass-classification"),
           "r2": ("regression",)}
#: The distribution (``requirements`` key) of each framework; its version is ``framework_version``.
FRAMEWORK_PACKAGES = {"scikit-learn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm",
                      "keras": "keras"}
#: Formats each framework's artifact may have (schema 2). A booster inside a scikit-learn Pipeline is
#: framework scikit-learn with xgboost/lightgbm in ``requirements``.
FRAMEWORK_FORMATS = {
    "scikit-learn": ("skops", "onnx", "joblib", "pickle"),
    "xgboost": ("xgboost", "skops", "onnx", "joblib", "pickle"),
    "lightgbm": ("lightgbm", "skops", "onnx", "joblib", "pickle"),
    "keras": ("keras", "onnx"),
}
PROFILE_QUANTILES = ("0.01", "0.5", "0.99")
MIN_SAMPLES = 3
MIN_PARITY_ROWS = 200  # schema 1 (a holdout slice of the book's data)
MIN_PARITY_ROWS_V2 = 3  # schema 2: rows of whatever example the user gave (add-model takes up to 250)
PROBABILITY_SUM_TOLERANCE = 1e-4  # multiclass outputs must sum to 1 within this

# schema 1: what the book's manifests hold (unchanged)
_FRAMEWORKS_V1 = ("scikit-learn", "keras")
_FEATURE_TYPES_V1 = ("binary", "numeric")
_FORMATS_V1 = {"scikit-learn": ("skops", "onnx", "joblib", "pickle"), "keras": ("keras", "onnx")}

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^\d+(\.\d+)*([.+\-\w]*)$")
_FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")

_KEYS_V1 = (
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
_KEYS = _KEYS_V1  # kept for callers of the old name
#: schema 2: required keys; the others may be left out (null, or derived: description "", requirements from
#: the framework, output from the task). ``to_dict`` always writes every key.
_REQUIRED_V2 = ("schema", "name", "framework", "framework_version", "format", "artifact", "sha256", "size_bytes",
                "task", "features", "samples", "parity")
_KEYS_V2 = (*_KEYS_V1, "requirements", "classes", "profile")


class ManifestError(ValueError):
    """A manifest problem; ``field`` is the dotted path of the offending field (e.g. ``samples[2].output``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Feature:
    """One model input column. ``categories`` and ``ignore_unknown`` are for categorical features only."""

    name: str
    type: str = "binary"
    nullable: bool = False  # null (a missing value) is accepted: the model takes missing values itself
    categories: tuple[str, ...] = ()  # categorical: every category the model knows
    ignore_unknown: bool = False  # categorical: the model encodes an unseen category itself (no 400)

    def to_dict(self, schema: int = SCHEMA_VERSION) -> dict[str, Any]:
        """The manifest form: schema 1 has name and type only."""
        if schema == 1:
            return {"name": self.name, "type": self.type}
        out: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.type == "categorical":
            out["categories"] = list(self.categories)
            out["ignore_unknown"] = self.ignore_unknown
        return out


@dataclass(frozen=True)
class TrainingData:
    """Where the training data came from (as given on the command line) and its fingerprint."""

    source: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Holdout:
    """The evaluation: split recipe (schema 2: null when the metric is on the example rows) and metric value."""

    fraction: float | None
    seed: int | None
    rows: int
    metric: str
    value: float
    note: str


@dataclass(frozen=True)
class Sample:
    """One request (feature name -> value as a client sends it) and the model's native output for it."""

    input: dict[str, Any]
    output: Any  # float, or a tuple of K probabilities (multiclass)


@dataclass(frozen=True)
class Parity:
    """Rows (model input order; None = missing) and the model's native outputs; every serving path must match."""

    rows: tuple[tuple[Any, ...], ...]
    outputs: tuple[Any, ...]


@dataclass(frozen=True)
class Manifest:
    """A validated model manifest. ``directory`` is where model.json lives (not serialised).

    ``requirements`` defaults to ``{<framework's package>: framework_version}``; ``classes`` to ``(0, 1)`` for
    binary classification and ``()`` otherwise (schema 1 manifests mean exactly that).
    """

    name: str
    description: str
    framework: str
    framework_version: str
    backend: str | None
    python_version: str | None
    format: str
    artifact: str
    sha256: str
    size_bytes: int
    task: str
    output: str
    features: tuple[Feature, ...]
    label: str | None
    training_data: TrainingData | None
    holdout: Holdout | None
    samples: tuple[Sample, ...]
    parity: Parity
    directory: Path
    schema: int = SCHEMA_VERSION
    requirements: dict[str, str] | None = None
    classes: tuple[Any, ...] | None = None
    profile: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.requirements is None:
            package = FRAMEWORK_PACKAGES.get(self.framework, self.framework)
            object.__setattr__(self, "requirements", {package: self.framework_version})
        if self.classes is None:
            object.__setattr__(self, "classes", (0, 1) if self.task == "binary-classification" else ())
        else:
            object.__setattr__(self, "classes", tuple(self.classes))

    @property
    def artifact_path(self) -> Path:
        """Absolute path of the artifact file beside the manifest."""
        return (self.directory / self.artifact).resolve()

    @property
    def feature_names(self) -> list[str]:
        """Feature names in model input order."""
        return [f.name for f in self.features]

    def sample_rows(self) -> list[list[Any]]:
        """The samples' inputs as rows in model input order (None = missing)."""
        return [[s.input[n] for n in self.feature_names] for s in self.samples]

    def input_schema(self) -> dict[str, Any]:
        """The function's input schema and task: the document ``functions.schema.ModelSchema.from_json`` reads.

        Features in model order with type, ``nullable``, ``categories`` and ``ignore_unknown`` (categorical), and
        ``low``/``high``: the observed range from the profile (numeric and integer features with a profile).
        """
        from functions.schema import Feature as InputFeature
        from functions.schema import ModelSchema

        stats = (self.profile or {}).get("features", {})
        features = []
        for f in self.features:
            s = stats.get(f.name, {})
            ranged = f.type in ("numeric", "integer") and s.get("min") is not None and s.get("max") is not None
            features.append(InputFeature(f.name, f.type, f.nullable, tuple(f.categories), f.ignore_unknown,
                                         float(s["min"]) if ranged else None, float(s["max"]) if ranged else None))
        return ModelSchema(tuple(features), self.task, tuple(self.classes or ())).to_json()

    def model_schema(self) -> Any:
        """The input schema as the function will hold it (functions.schema.ModelSchema), validated as it will be."""
        from functions.schema import ModelSchema

        return ModelSchema.from_json(self.input_schema())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what model.json holds); ``directory`` is left out."""
        if self.schema == 1:
            return self._to_dict_v1()
        return {
            "schema": self.schema,
            "name": self.name,
            "description": self.description,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "requirements": dict(self.requirements or {}),
            "backend": self.backend,
            "python_version": self.python_version,
            "format": self.format,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "task": self.task,
            "classes": list(self.classes or ()),
            "output": self.output,
            "features": [f.to_dict(2) for f in self.features],
            "label": self.label,
            "training_data": None if self.training_data is None else {
                "source": self.training_data.source,
                "sha256": self.training_data.sha256,
                "rows": self.training_data.rows,
            },
            "holdout": None if self.holdout is None else _holdout_dict(self.holdout),
            "profile": self.profile,
            "samples": [{"input": dict(s.input), "output": _out_json(s.output)} for s in self.samples],
            "parity": {"rows": [list(r) for r in self.parity.rows],
                       "outputs": [_out_json(o) for o in self.parity.outputs]},
        }

    def _to_dict_v1(self) -> dict[str, Any]:
        td, ho = self.training_data, self.holdout
        if td is None or ho is None:
            raise ManifestError("schema", "schema 1 needs training_data and holdout")
        return {
            "schema": 1,
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
            "features": [f.to_dict(1) for f in self.features],
            "label": self.label,
            "training_data": {"source": td.source, "sha256": td.sha256, "rows": td.rows},
            "holdout": _holdout_dict(ho),
            "samples": [{"input": dict(s.input), "output": s.output} for s in self.samples],
            "parity": {"rows": [list(r) for r in self.parity.rows], "outputs": list(self.parity.outputs)},
        }


def _holdout_dict(ho: Holdout) -> dict[str, Any]:
    return {"fraction": ho.fraction, "seed": ho.seed, "rows": ho.rows, "metric": ho.metric, "value": ho.value,
            "note": ho.note}


def _out_json(output: Any) -> Any:
    return list(output) if isinstance(output, tuple) else output


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


def _bool(d: dict[str, Any], key: str, field: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise ManifestError(field, f"must be true or false, got {v!r}")
    return v


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


def _unknown_keys(d: dict[str, Any], allowed: set[str] | tuple[str, ...], field: str) -> None:
    for k in sorted(set(d) - set(allowed)):
        raise ManifestError(f"{field}.{k}" if field else k, "unknown key")


# --- schema 1 ---------------------------------------------------------------------------------------------


def _features_v1(raw: Any) -> tuple[Feature, ...]:
    if not isinstance(raw, list) or not raw:
        raise ManifestError("features", "must be a non-empty list")
    out: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = f"features[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f, "must be an object with name and type")
        _unknown_keys(item, {"name", "type"}, f)
        name = _str(item, "name", f"{f}.name")
        if not _FEATURE_RE.match(name):
            raise ManifestError(f"{f}.name", f"must be an identifier, got {name!r}")
        if name in seen:
            raise ManifestError(f"{f}.name", f"duplicate feature {name!r}")
        seen.add(name)
        out.append(Feature(name=name, type=_choice(item, "type", f"{f}.type", _FEATURE_TYPES_V1)))
    return tuple(out)


def _check_value_v1(v: Any, feature: Feature, field: str) -> Any:
    x = _num(v, field)
    if feature.type == "binary" and x not in (0.0, 1.0):
        raise ManifestError(field, f"binary feature {feature.name} must be 0 or 1, got {v!r}")
    return v  # keep int vs float as written, so load -> to_dict -> write round-trips byte for byte


def _manifest_v1(data: dict[str, Any], directory: Path) -> Manifest:
    unknown = sorted(set(data) - set(_KEYS_V1))
    if unknown:
        raise ManifestError(unknown[0], "unknown key")
    missing = [k for k in _KEYS_V1 if k not in data]
    if missing:
        raise ManifestError(missing[0], "is required")
    name = _name(data)
    framework = _choice(data, "framework", "framework", _FRAMEWORKS_V1)
    framework_version = _version(data)
    backend = _backend(data, framework)
    python_version = _python_version(data["python_version"])
    fmt = _format(data, framework, _FORMATS_V1)
    artifact = _artifact(data)
    task = _choice(data, "task", "task", ("binary-classification",))
    output = _str(data, "output", "output")
    description = _str(data, "description", "description")
    features = _features_v1(data["features"])
    label = _str(data, "label", "label")
    if label in {f.name for f in features}:
        raise ManifestError("label", f"{label!r} is also a feature")
    training = _training_data(data["training_data"])

    ho = _obj(data, "holdout", "holdout")
    _unknown_keys(ho, {"fraction", "seed", "rows", "metric", "value", "note"}, "holdout")
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

    return Manifest(
        schema=1,
        name=name,
        description=description,
        framework=framework,
        framework_version=framework_version,
        backend=backend,
        python_version=python_version,
        format=fmt,
        artifact=artifact,
        sha256=_sha(data, "sha256", "sha256"),
        size_bytes=_int(data, "size_bytes", "size_bytes", minimum=1),
        task=task,
        output=output,
        features=features,
        label=label,
        training_data=training,
        holdout=holdout,
        samples=_samples(data["samples"], features, lambda v, f: _prob(v, f), _check_value_v1),
        parity=_parity(data["parity"], features, MIN_PARITY_ROWS, lambda v, f: _prob(v, f), _check_value_v1),
        directory=directory,
    )


# --- shared fields ----------------------------------------------------------------------------------------


def _name(data: dict[str, Any]) -> str:
    name = _str(data, "name", "name")
    if not _NAME_RE.match(name):
        raise ManifestError("name", f"must match [a-z0-9-]+ (no leading/trailing/double dash), got {name!r}")
    return name


def _version(data: dict[str, Any]) -> str:
    v = _str(data, "framework_version", "framework_version")
    if not _VERSION_RE.match(v):
        raise ManifestError("framework_version", f"must be a version like 1.9.1, got {v!r}")
    return v


def _backend(data: dict[str, Any], framework: str) -> str | None:
    backend = data.get("backend")
    if backend is not None and (not isinstance(backend, str) or not backend):
        raise ManifestError("backend", "must be null or a non-empty string")
    if framework == "keras" and backend is None:
        raise ManifestError("backend", "is required for keras (the training backend, e.g. torch)")
    if framework != "keras" and backend is not None:
        raise ManifestError("backend", f"must be null for {framework}")
    return backend


def _python_version(v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^3\.\d+\.\d+", v):
        raise ManifestError("python_version", f"must be a CPython version like 3.11.7, got {v!r}")
    return v


def _format(data: dict[str, Any], framework: str, allowed_by: dict[str, tuple[str, ...]]) -> str:
    fmt = _choice(data, "format", "format", tuple(FORMATS))
    allowed = allowed_by[framework]
    if fmt not in allowed:
        raise ManifestError("format", f"{fmt!r} is not a format for {framework} (one of {', '.join(allowed)})")
    return fmt


def _artifact(data: dict[str, Any]) -> str:
    artifact = _str(data, "artifact", "artifact")
    if "/" in artifact or "\\" in artifact or artifact in (".", "..") or artifact == MANIFEST_FILE:
        raise ManifestError("artifact", f"must be a plain file name beside the manifest, got {artifact!r}")
    return artifact


def _training_data(raw: Any) -> TrainingData:
    if not isinstance(raw, dict):
        raise ManifestError("training_data", f"must be an object, got {type(raw).__name__}")
    _unknown_keys(raw, {"source", "sha256", "rows"}, "training_data")
    return TrainingData(
        source=_str(raw, "source", "training_data.source"),
        sha256=_sha(raw, "sha256", "training_data.sha256"),
        rows=_int(raw, "rows", "training_data.rows", minimum=1),
    )


def _samples(raw: Any, features: tuple[Feature, ...], check_output: Any, check_value: Any) -> tuple[Sample, ...]:
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
        values = {ft.name: check_value(inp[ft.name], ft, f"{f}.input.{ft.name}") for ft in features}
        out.append(Sample(input=values, output=check_output(item["output"], f"{f}.output")))
    return tuple(out)


def _parity(raw: Any, features: tuple[Feature, ...], min_rows: int, check_output: Any, check_value: Any) -> Parity:
    if not isinstance(raw, dict) or set(raw) != {"rows", "outputs"}:
        raise ManifestError("parity", "must be an object with exactly rows and outputs")
    rows, outputs = raw["rows"], raw["outputs"]
    if not isinstance(rows, list) or len(rows) < min_rows:
        raise ManifestError("parity.rows", f"must be a list of at least {min_rows} rows")
    if not isinstance(outputs, list) or len(outputs) != len(rows):
        raise ManifestError("parity.outputs", f"must be a list with one output per row ({len(rows)})")
    out_rows: list[tuple[Any, ...]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(features):
            raise ManifestError(f"parity.rows[{i}]", f"must be a list of {len(features)} values")
        out_rows.append(tuple(check_value(v, ft, f"parity.rows[{i}][{j}]") for j, (v, ft) in
                              enumerate(zip(row, features, strict=True))))
    outs = tuple(check_output(v, f"parity.outputs[{i}]") for i, v in enumerate(outputs))
    return Parity(rows=tuple(out_rows), outputs=outs)


# --- schema 2 ---------------------------------------------------------------------------------------------


def _features_v2(raw: Any) -> tuple[Feature, ...]:
    if not isinstance(raw, list) or not raw:
        raise ManifestError("features", "must be a non-empty list")
    out: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = f"features[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f, "must be an object with name and type")
        _unknown_keys(item, {"name", "type", "nullable", "categories", "ignore_unknown"}, f)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ManifestError(f"{f}.name", f"must be a non-empty string, got {name!r}")
        if name in seen:
            raise ManifestError(f"{f}.name", f"duplicate feature {name!r}")
        seen.add(name)
        ftype = _choice(item, "type", f"{f}.type", FEATURE_TYPES)
        nullable = _bool(item, "nullable", f"{f}.nullable")
        categories: tuple[str, ...] = ()
        ignore_unknown = False
        if ftype == "categorical":
            cats = item.get("categories")
            if not isinstance(cats, list) or not cats:
                raise ManifestError(f"{f}.categories", "a categorical feature needs a non-empty list of categories")
            for j, c in enumerate(cats):
                if not isinstance(c, str):
                    raise ManifestError(f"{f}.categories[{j}]", f"must be a string, got {type(c).__name__}")
            if len(set(cats)) != len(cats):
                raise ManifestError(f"{f}.categories", "categories must be distinct")
            categories = tuple(cats)
            ignore_unknown = _bool(item, "ignore_unknown", f"{f}.ignore_unknown")
        else:
            for key in ("categories", "ignore_unknown"):
                if key in item:
                    raise ManifestError(f"{f}.{key}", f"only for categorical features ({name!r} is {ftype})")
        out.append(Feature(name=name, type=ftype, nullable=nullable, categories=categories,
                           ignore_unknown=ignore_unknown))
    return tuple(out)


def _check_value_v2(v: Any, feature: Feature, field: str) -> Any:
    """A value as a client sends it: checked against the feature, returned as written (int stays int)."""
    if v is None:
        if not feature.nullable:
            raise ManifestError(field, f"null, but feature {feature.name!r} is not nullable")
        return v
    t = feature.type
    if t == "categorical":
        if not isinstance(v, str):
            raise ManifestError(field, f"categorical feature {feature.name!r} takes a string, got {v!r}")
        if v not in feature.categories and not feature.ignore_unknown:
            raise ManifestError(field, f"{v!r} is not one of the categories of {feature.name!r}")
        return v
    if t == "boolean":
        if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
            return v
        raise ManifestError(field, f"boolean feature {feature.name!r} takes true or false, got {v!r}")
    x = _num(v, field)
    if t == "binary" and x not in (0.0, 1.0):
        raise ManifestError(field, f"binary feature {feature.name!r} must be 0 or 1, got {v!r}")
    if t == "integer" and not x.is_integer():
        raise ManifestError(field, f"integer feature {feature.name!r} must be a whole number, got {v!r}")
    return v


def _classes(raw: Any, task: str) -> tuple[Any, ...]:
    if task == "regression":
        if raw not in (None, []):
            raise ManifestError("classes", "a regressor has no classes (null or [])")
        return ()
    if not isinstance(raw, list):
        raise ManifestError("classes", f"a classifier needs its class labels as a list, got {type(raw).__name__}")
    want = "exactly 2" if task == "binary-classification" else "at least 2"
    if (task == "binary-classification" and len(raw) != 2) or len(raw) < 2:
        raise ManifestError("classes", f"{task} needs {want} classes, got {len(raw)}")
    for i, c in enumerate(raw):
        if isinstance(c, bool) or not isinstance(c, (str, int)) or c == "":
            raise ManifestError(f"classes[{i}]", f"must be a non-empty string or an integer, got {c!r}")
    if len({type(c) for c in raw}) != 1:
        raise ManifestError("classes", "labels must be all strings or all integers")
    if len(set(raw)) != len(raw):
        raise ManifestError("classes", "labels must be distinct")
    return tuple(raw)


def _output_checker(task: str, k: int) -> Any:
    """The validator of one task output: regression a number, binary a probability, multiclass K of them."""
    if task == "regression":
        return _num
    if task == "binary-classification":
        return _prob

    def multi(v: Any, field: str) -> tuple[float, ...]:
        if not isinstance(v, list) or len(v) != k:
            raise ManifestError(field, f"must be a list of {k} probabilities (one per class)")
        ps = tuple(_prob(p, f"{field}[{i}]") for i, p in enumerate(v))
        if abs(math.fsum(ps) - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise ManifestError(field, f"probabilities must sum to 1, got {math.fsum(ps)}")
        return tuple(v)

    return multi


def _requirements(raw: Any, framework: str, framework_version: str) -> dict[str, str]:
    package = FRAMEWORK_PACKAGES[framework]
    if raw is None:
        return {package: framework_version}
    if not isinstance(raw, dict) or not raw:
        raise ManifestError("requirements", "must be an object of package name -> exact version")
    for name, version in raw.items():
        if not _PACKAGE_RE.match(name):
            raise ManifestError(f"requirements.{name}", "is not a package name")
        if not isinstance(version, str) or not _VERSION_RE.match(version):
            raise ManifestError(f"requirements.{name}", f"must be a version like 1.9.1, got {version!r}")
    if raw.get(package) != framework_version:
        raise ManifestError(f"requirements.{package}",
                            f"must be framework_version {framework_version!r} (the {framework} the model needs)")
    return dict(raw)


def _holdout_v2(raw: Any, task: str, training: TrainingData | None) -> Holdout | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ManifestError("holdout", f"must be null or an object, got {type(raw).__name__}")
    _unknown_keys(raw, {"fraction", "seed", "rows", "metric", "value", "note"}, "holdout")
    metric = _choice(raw, "metric", "holdout.metric", tuple(METRICS))
    if task not in METRICS[metric]:
        raise ManifestError("holdout.metric", f"{metric} does not fit task {task}")
    value = _num(raw.get("value"), "holdout.value")
    if (metric != "r2" and not 0.0 <= value <= 1.0) or value > 1.0:
        raise ManifestError("holdout.value", f"{metric} must be {'<= 1' if metric == 'r2' else 'in [0, 1]'}, "
                            f"got {value}")
    fraction = raw.get("fraction")
    if fraction is not None:
        fraction = _num(fraction, "holdout.fraction")
        if not 0.0 < fraction < 1.0:
            raise ManifestError("holdout.fraction", f"must be null or in (0, 1), got {fraction}")
    seed = raw.get("seed")
    if seed is not None:
        seed = _int(raw, "seed", "holdout.seed")
    rows = _int(raw, "rows", "holdout.rows", minimum=1)
    if fraction is not None and training is not None and rows >= training.rows:
        raise ManifestError("holdout.rows", f"must be fewer than training_data.rows ({training.rows})")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ManifestError("holdout.note", f"must be a string, got {type(note).__name__}")
    return Holdout(fraction=fraction, seed=seed, rows=rows, metric=metric, value=raw["value"], note=note)


def _opt_num(v: Any, field: str) -> Any:
    if v is not None:
        _num(v, field)
    return v


def _quantiles(raw: Any, field: str, check: Any) -> None:
    if not isinstance(raw, dict):
        raise ManifestError(field, "must be an object of quantile (\"0.5\") -> value")
    for q, v in raw.items():
        try:
            ok = 0.0 <= float(q) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            raise ManifestError(f"{field}.{q}", "the key must be a quantile in [0, 1] such as \"0.5\"")
        check(v, f"{field}.{q}")


def _profile(raw: Any, features: tuple[Feature, ...], task: str, classes: tuple[Any, ...]) -> dict[str, Any] | None:
    """The training profile: per feature observed range, quantiles, null fraction and category frequencies; the
    distribution of the outputs (multiclass: per class, in classes order)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ManifestError("profile", f"must be null or an object, got {type(raw).__name__}")
    _unknown_keys(raw, {"features", "output"}, "profile")
    by_name = {f.name: f for f in features}
    feats = raw.get("features", {})
    if not isinstance(feats, dict):
        raise ManifestError("profile.features", "must be an object of feature name -> statistics")
    for name, stats in feats.items():
        where = f"profile.features.{name}"
        if name not in by_name:
            raise ManifestError(where, "is not a feature")
        if not isinstance(stats, dict):
            raise ManifestError(where, "must be an object")
        _unknown_keys(stats, {"min", "max", "quantiles", "null_fraction", "frequencies"}, where)
        lo, hi = _opt_num(stats.get("min"), f"{where}.min"), _opt_num(stats.get("max"), f"{where}.max")
        if lo is not None and hi is not None and lo > hi:
            raise ManifestError(f"{where}.min", f"{lo} is above max {hi}")
        if "quantiles" in stats:
            _quantiles(stats["quantiles"], f"{where}.quantiles", _opt_num)
        if "null_fraction" in stats:
            _prob(stats["null_fraction"], f"{where}.null_fraction")
        if "frequencies" in stats:
            freq = stats["frequencies"]
            if by_name[name].type != "categorical":
                raise ManifestError(f"{where}.frequencies", "only for categorical features")
            if not isinstance(freq, dict):
                raise ManifestError(f"{where}.frequencies", "must be an object of category -> fraction")
            for c, p in freq.items():
                _prob(p, f"{where}.frequencies.{c}")
    out = raw.get("output")
    if out is not None:
        if not isinstance(out, dict):
            raise ManifestError("profile.output", "must be an object")
        _unknown_keys(out, {"mean", "min", "max", "quantiles", "frequencies"}, "profile.output")
        if task == "multiclass-classification":
            k = len(classes)

            def check(v: Any, field: str) -> None:
                if not isinstance(v, list) or len(v) != k:
                    raise ManifestError(field, f"must be a list of {k} numbers (one per class)")
                for i, x in enumerate(v):
                    _num(x, f"{field}[{i}]")
        else:
            def check(v: Any, field: str) -> None:
                _num(v, field)
        for key in ("mean", "min", "max"):
            if key in out:
                check(out[key], f"profile.output.{key}")
        if "quantiles" in out:
            _quantiles(out["quantiles"], "profile.output.quantiles", check)
        if "frequencies" in out:
            freq = out["frequencies"]
            labels = {str(c) for c in classes}
            if task == "regression" or not isinstance(freq, dict):
                raise ManifestError("profile.output.frequencies", "an object of class label -> fraction "
                                    "(classifiers only)")
            for c, p in freq.items():
                if c not in labels:
                    raise ManifestError(f"profile.output.frequencies.{c}", "is not a class label")
                _prob(p, f"profile.output.frequencies.{c}")
    return raw


def _manifest_v2(data: dict[str, Any], directory: Path) -> Manifest:
    unknown = sorted(set(data) - set(_KEYS_V2))
    if unknown:
        raise ManifestError(unknown[0], "unknown key")
    missing = [k for k in _REQUIRED_V2 if k not in data]
    if missing:
        raise ManifestError(missing[0], "is required")
    name = _name(data)
    framework = _choice(data, "framework", "framework", FRAMEWORKS)
    framework_version = _version(data)
    requirements = _requirements(data.get("requirements"), framework, framework_version)
    backend = _backend(data, framework)
    python_version = data.get("python_version")
    if python_version is not None:
        python_version = _python_version(python_version)
    fmt = _format(data, framework, FRAMEWORK_FORMATS)
    artifact = _artifact(data)
    task = _choice(data, "task", "task", TASKS)
    classes = _classes(data.get("classes"), task)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ManifestError("description", f"must be a string, got {type(description).__name__}")
    output = data.get("output")
    if output is None:
        output = default_output(task, classes, data.get("label"))
    elif not isinstance(output, str) or not output.strip():
        raise ManifestError("output", f"must be null or a non-empty string, got {output!r}")
    features = _features_v2(data["features"])
    label = data.get("label")
    if label is not None:
        if not isinstance(label, str) or not label:
            raise ManifestError("label", f"must be null or a non-empty string, got {label!r}")
        if label in {f.name for f in features}:
            raise ManifestError("label", f"{label!r} is also a feature")
    training = None if data.get("training_data") is None else _training_data(data["training_data"])
    holdout = _holdout_v2(data.get("holdout"), task, training)
    profile = _profile(data.get("profile"), features, task, classes)
    check_output = _output_checker(task, len(classes))
    return Manifest(
        schema=2,
        name=name,
        description=description,
        framework=framework,
        framework_version=framework_version,
        requirements=requirements,
        backend=backend,
        python_version=python_version,
        format=fmt,
        artifact=artifact,
        sha256=_sha(data, "sha256", "sha256"),
        size_bytes=_int(data, "size_bytes", "size_bytes", minimum=1),
        task=task,
        classes=classes,
        output=output,
        features=features,
        label=label,
        training_data=training,
        holdout=holdout,
        profile=profile,
        samples=_samples(data["samples"], features, check_output, _check_value_v2),
        parity=_parity(data["parity"], features, MIN_PARITY_ROWS_V2, check_output, _check_value_v2),
        directory=directory,
    )


def default_output(task: str, classes: tuple[Any, ...] | list[Any], label: str | None) -> str:
    """What the output means, in words (the manifest's ``output`` when none is given)."""
    what = label or "the label"
    if task == "regression":
        return f"the predicted value of {what}"
    if task == "binary-classification":
        return f"probability that {what} == {classes[1]!r}" if len(classes) == 2 else "probability of classes[1]"
    return f"probability of each class of {what}, in classes order"


# --- entry points -----------------------------------------------------------------------------------------


def manifest_from_dict(data: Any, directory: Path | str, *, verify_artifact: bool = True) -> Manifest:
    """Validate a parsed manifest; with ``verify_artifact`` the artifact must exist and match sha256/size."""
    if not isinstance(data, dict):
        raise ManifestError("manifest", "must be a JSON object")
    if "schema" not in data:
        raise ManifestError("schema", "is required")
    schema = data["schema"]
    if isinstance(schema, bool) or schema not in SCHEMA_VERSIONS:
        raise ManifestError("schema", f"must be one of {', '.join(map(str, SCHEMA_VERSIONS))}, got {schema!r}")
    build = _manifest_v1 if schema == 1 else _manifest_v2
    manifest = build(data, Path(directory).resolve())
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
    """Stable JSON text: sorted keys, indent 2, trailing newline (non-ASCII feature names kept as they are)."""
    return json.dumps(manifest.to_dict(), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_manifest(manifest: Manifest, directory: Path | str) -> Path:
    """Write ``directory/model.json`` (stable JSON) and return its path. The manifest is validated first."""
    out = Path(directory) / MANIFEST_FILE
    manifest_from_dict(manifest.to_dict(), manifest.directory, verify_artifact=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps_manifest(manifest), encoding="utf-8")
    return out
