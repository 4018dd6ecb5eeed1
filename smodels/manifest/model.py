"""The manifest as Python objects: ``Manifest`` and its parts, ``ManifestError``, and the JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smodels.manifest.schema import _KEYS_V1, FRAMEWORK_PACKAGES, SCHEMA_VERSION


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
        """The JSON form (what model.json holds); ``directory`` is left out. Schema 1 has no requirements,
        classes or profile and needs training_data and holdout."""
        legacy = self.schema == 1
        if legacy and (self.training_data is None or self.holdout is None):
            raise ManifestError("schema", "schema 1 needs training_data and holdout")
        out_json = _as_written if legacy else _out_json  # schema 1 writes outputs as held
        out = {
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
            "features": [f.to_dict(self.schema) for f in self.features],
            "label": self.label,
            "training_data": None if self.training_data is None else {
                "source": self.training_data.source,
                "sha256": self.training_data.sha256,
                "rows": self.training_data.rows,
            },
            "holdout": None if self.holdout is None else _holdout_dict(self.holdout),
            "profile": self.profile,
            "samples": [{"input": dict(s.input), "output": out_json(s.output)} for s in self.samples],
            "parity": {"rows": [list(r) for r in self.parity.rows],
                       "outputs": [out_json(o) for o in self.parity.outputs]},
        }
        return {k: v for k, v in out.items() if k in _KEYS_V1} if legacy else out


def _holdout_dict(ho: Holdout) -> dict[str, Any]:
    return {"fraction": ho.fraction, "seed": ho.seed, "rows": ho.rows, "metric": ho.metric, "value": ho.value,
            "note": ho.note}


def _out_json(output: Any) -> Any:
    return list(output) if isinstance(output, tuple) else output


def _as_written(output: Any) -> Any:
    return output
