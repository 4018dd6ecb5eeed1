"""Validation of a parsed manifest: the one builder of both schemas and the checks of its compound fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smodels.manifest.artifact import verify_artifact_file
from smodels.manifest.features import _CHECK_VALUE, _features
from smodels.manifest.fields import (
    _artifact,
    _backend,
    _choice,
    _format,
    _int,
    _name,
    _num,
    _obj,
    _prob,
    _python_version,
    _sha,
    _str,
    _training_data,
    _unknown_keys,
    _version,
)
from smodels.manifest.model import Feature, Holdout, Manifest, ManifestError, Parity, Sample, TrainingData
from smodels.manifest.outputs import _classes, _output_checker, default_output
from smodels.manifest.profile import _profile
from smodels.manifest.schema import (
    _PACKAGE_RE,
    _RULES,
    _VERSION_RE,
    FRAMEWORK_PACKAGES,
    METRICS,
    MIN_SAMPLES,
    SCHEMA_VERSIONS,
    _Rules,
)


def manifest_from_dict(data: Any, directory: Path | str, *, verify_artifact: bool = True) -> Manifest:
    """Validate a parsed manifest; with ``verify_artifact`` the artifact must exist and match sha256/size."""
    if not isinstance(data, dict):
        raise ManifestError("manifest", "must be a JSON object")
    if "schema" not in data:
        raise ManifestError("schema", "is required")
    schema = data["schema"]
    if isinstance(schema, bool) or schema not in SCHEMA_VERSIONS:
        raise ManifestError("schema", f"must be one of {', '.join(map(str, SCHEMA_VERSIONS))}, got {schema!r}")
    manifest = _manifest(data, Path(directory).resolve(), _RULES[schema])
    if verify_artifact:
        verify_artifact_file(manifest)
    return manifest


def _manifest(data: dict[str, Any], directory: Path, rules: _Rules) -> Manifest:
    """A manifest of either schema, field by field in one order; ``rules`` holds what the versions differ in."""
    legacy = rules.legacy
    unknown = sorted(set(data) - set(rules.keys))
    if unknown:
        raise ManifestError(unknown[0], "unknown key")
    missing = [k for k in rules.required if k not in data]
    if missing:
        raise ManifestError(missing[0], "is required")
    name = _name(data)
    framework = _choice(data, "framework", "framework", rules.frameworks)
    framework_version = _version(data)
    requirements = _requirements(data.get("requirements"), framework, framework_version)  # schema 1: the default
    backend = _backend(data, framework)
    python_version = data.get("python_version")
    if python_version is not None or legacy:
        python_version = _python_version(python_version)
    fmt = _format(data, framework, rules.formats)
    artifact = _artifact(data)
    task = _choice(data, "task", "task", rules.tasks)
    classes = None if legacy else _classes(data.get("classes"), task)  # None: (0, 1), what schema 1 means
    if legacy:  # schema 1 checks output first
        output = _output(data, task, classes, legacy)
        description = _description(data, legacy)
    else:
        description = _description(data, legacy)
        output = _output(data, task, classes, legacy)
    features = _features(data["features"], rules)
    label = _label(data, features, legacy)
    raw_training = data.get("training_data")
    training = None if raw_training is None and not legacy else _training_data(raw_training)
    holdout = _holdout_v1(data, training) if legacy else _holdout_v2(data.get("holdout"), task, training)
    profile = _profile(data.get("profile"), features, task, classes or (), rules.drift_profile)  # schema 1: None
    check_output = _output_checker(task, len(classes or ()))  # schema 1: binary, a probability
    check_value = _CHECK_VALUE[rules.version]
    return Manifest(
        schema=rules.version,
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
        samples=_samples(data["samples"], features, check_output, check_value),
        parity=_parity(data["parity"], features, rules.min_parity_rows, check_output, check_value),
        directory=directory,
    )


def _description(data: dict[str, Any], legacy: bool) -> str:
    """Schema 1: a non-blank string; schema 2: any string, "" when left out."""
    if legacy:
        return _str(data, "description", "description")
    return _str({"description": "", **data}, "description", "description", allow_empty=True)


def _output(data: dict[str, Any], task: str, classes: tuple[Any, ...] | None, legacy: bool) -> str:
    """What the output means; schema 2 derives it from the task when null or left out."""
    if legacy:
        return _str(data, "output", "output")
    output = data.get("output")
    if output is None:
        return default_output(task, classes or (), data.get("label"))
    if not isinstance(output, str) or not output.strip():
        raise ManifestError("output", f"must be null or a non-empty string, got {output!r}")
    return output


def _label(data: dict[str, Any], features: tuple[Feature, ...], legacy: bool) -> str | None:
    """The label column's name (schema 2: null or left out when unknown); never a feature's name."""
    if legacy:
        label = _str(data, "label", "label")
    else:
        label = data.get("label")
        if label is not None and (not isinstance(label, str) or not label):
            raise ManifestError("label", f"must be null or a non-empty string, got {label!r}")
    if label in {f.name for f in features}:
        raise ManifestError("label", f"{label!r} is also a feature")
    return label


def _holdout_v1(data: dict[str, Any], training: TrainingData) -> Holdout:
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
    return holdout


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
