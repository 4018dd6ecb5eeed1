"""The entry points: load_artifact, save_model (model + example -> endpoint directory) and add_model."""

from __future__ import annotations

import platform
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smodels.add_model.errors import AddModelError, _stderr
from smodels.add_model.inference import _infer_features, feature_columns, read_example
from smodels.add_model.inspection import _Model, inspect_model
from smodels.add_model.mlflow_dir import _load_mlflow
from smodels.add_model.parity import (
    MAX_PARITY_ROWS,
    RELOAD_TOLERANCE,
    _check_missing,
    _client_value,
    _predict_rows,
    _schema_of,
)
from smodels.add_model.profile import PROFILE_MAX_ROWS, _metric, _output_profile, _sample_indices, feature_profile
from smodels.add_model.readers import _PICKLE_SUFFIXES, Loaded, _load_keras, _load_pickle, _load_skops
from smodels.add_model.writers import _write_artifact
from smodels.manifest import (
    SCHEMA_VERSION,
    Holdout,
    Manifest,
    ManifestError,
    Parity,
    Sample,
    default_output,
    load_manifest,
    sha256_file,
    write_manifest,
)

_NAME_SLUG = re.compile(r"[^a-z0-9]+")


def load_artifact(path: str | Path, *, say: Callable[[str], None] = _stderr) -> Loaded:
    """Read ARTIFACT: a joblib/pickle file (with a warning), ``.skops``, ``.keras`` or an MLflow model directory."""
    p = Path(path)
    if p.is_dir():
        if (p / "MLmodel").is_file():
            return _load_mlflow(p, say)
        raise AddModelError("artifact", f"{p} is a directory without an MLmodel file (not an MLflow model)")
    if not p.is_file():
        raise AddModelError("artifact", f"file not found: {p}")
    suffix = p.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        return Loaded(_load_pickle(p, say), p.name)
    if suffix == ".skops":
        return Loaded(_load_skops(p.read_bytes(), str(p)), p.name)
    if suffix == ".keras":
        return Loaded(_load_keras(p), p.name)
    raise AddModelError("artifact", f"{p.name}: unknown kind of artifact; give a .joblib/.pkl/.pickle file, a "
                        ".skops or .keras file, or an MLflow model directory")


def _slug(text: str) -> str:
    return _NAME_SLUG.sub("-", text.lower()).strip("-")


def save_model(model: Any, directory: str | Path, *, example: Any, label: str | None = None,
               name: str | None = None, say: Callable[[str], None] = _stderr) -> Manifest:
    """Write ``directory/model.json`` (manifest schema 2) and the model's artifact; return the loaded manifest.

    ``model``: a fitted scikit-learn estimator or Pipeline, XGBoost or LightGBM model (scikit-learn API or
    Booster), or Keras model; or the path of one (see ``load_artifact``). ``example``: a DataFrame or CSV path
    of inputs (the label column may be in it; name it with ``label`` to get a metric); None only for an MLflow
    directory with an input example. ``name``: the endpoint's model name ([a-z0-9-]); default from the directory.
    """
    out_dir = Path(directory)
    name = name if name is not None else _slug(out_dir.resolve().name)
    if not re.match(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", name or ""):
        raise AddModelError("name", f"must match [a-z0-9-]+ (lowercase letters, digits, single dashes), got {name!r}")
    source = f"a {type(model).__name__} object"
    if isinstance(model, (str, Path)):
        loaded = load_artifact(model, say=say)
        model, source = loaded.model, loaded.source
        if example is None and loaded.example is not None:
            say(f"using the MLflow input example ({len(loaded.example)} rows) as the example")
            example = loaded.example
    if example is None:
        raise AddModelError("example", "an example of the model's input is needed (a DataFrame or a CSV path; "
                            "--example)")
    m = inspect_model(model)
    frame, training = read_example(example)
    if label is not None and label not in frame.columns:
        raise AddModelError("label", f"column {label!r} is not in the example (columns: "
                            f"{', '.join(map(repr, frame.columns))})", label)
    columns = feature_columns(m, list(frame.columns), label)
    ignored = [c for c in frame.columns if c not in columns and c != label]
    if ignored:
        say(f"ignoring example columns the model does not take: {', '.join(map(repr, ignored))}")
    features = _infer_features(m, frame, columns)
    n = min(len(frame), PROFILE_MAX_ROWS)
    types = [f.type for f in features]
    rows = [[_client_value(v, t) for v, t in zip(r, types, strict=True)]
            for r in frame[columns].iloc[:n].itertuples(index=False, name=None)]
    schema = _schema_of(features, m.task, m.classes)
    out = _check_missing(m, features, rows, schema)

    def check(candidate: _Model, fmt: str) -> None:
        import numpy as np

        want = out[:MAX_PARITY_ROWS]
        got = _predict_rows(candidate, schema, rows[:MAX_PARITY_ROWS])
        scale = max(1.0, float(np.max(np.abs(want)))) if m.task == "regression" else 1.0
        gap = float(np.max(np.abs(got - want)))
        if not gap <= RELOAD_TOLERANCE * scale:
            raise AddModelError("model", f"the saved {fmt} artifact does not reproduce the model (max abs "
                                f"difference {gap:.3g} > {RELOAD_TOLERANCE * scale:.3g})")

    holdout = None
    if label is not None:
        scored = _metric(m, out, frame[label].iloc[:n])
        if scored is None:
            say(f"no metric: the label column {label!r} has fewer than 2 values")
        else:
            metric, value, k = scored
            holdout = Holdout(fraction=None, seed=None, rows=k, metric=metric, value=round(value, 6),
                              note=f"{metric} of the native model on {k} rows of the example given to add-model"
                              f"{' (its first ' + str(n) + ')' if n < len(frame) else ''}, not on a held-out "
                              "split: a fair estimate only if the model was not trained on these rows")
    if len(rows) < 200:
        say(f"note: the example has {len(rows)} rows, so the ONNX parity check covers only those; give 200 or more "
            "for a meaningful check")
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact, fmt = _write_artifact(m, out_dir, check)
    path = out_dir / artifact

    pick = _sample_indices(n, rows)

    def output(i: int) -> Any:
        return tuple(float(p) for p in out[i]) if m.task == "multiclass-classification" else float(out[i])

    manifest = Manifest(
        schema=SCHEMA_VERSION,
        name=name,
        description=f"{type(model).__name__} ({m.framework} {m.framework_version}) added by smodels add-model "
                    f"from {source}",
        framework=m.framework,
        framework_version=m.framework_version,
        requirements=dict(sorted(m.requirements.items())),
        backend=m.backend,
        python_version=platform.python_version(),
        format=fmt,
        artifact=artifact,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        task=m.task,
        classes=tuple(m.classes),
        output=default_output(m.task, m.classes, label),
        features=tuple(features),
        label=label,
        training_data=training,
        holdout=holdout,
        profile={"features": {f.name: feature_profile(frame[c], f) for f, c in zip(features, columns, strict=True)},
                 "output": _output_profile(out, m)},
        samples=tuple(Sample(input={f.name: rows[i][j] for j, f in enumerate(features)}, output=output(i))
                      for i in pick),
        parity=Parity(rows=tuple(tuple(r) for r in rows[:MAX_PARITY_ROWS]),
                      outputs=tuple(output(i) for i in range(min(n, MAX_PARITY_ROWS)))),
        directory=out_dir.resolve(),
    )
    try:
        write_manifest(manifest, out_dir)
        return load_manifest(out_dir)
    except ManifestError as exc:  # a bug here, not the user's: say what it was
        raise AddModelError("manifest", f"the manifest written would be invalid: {exc}") from None


def add_model(artifact: str | Path, *, example: str | Path | None, name: str, label: str | None = None,
              out: str | Path | None = None, say: Callable[[str], None] = _stderr) -> Manifest:
    """`smodels add-model`: ``save_model`` of the model at ``artifact`` into ``out`` (default models/NAME)."""
    return save_model(artifact, Path(out) if out is not None else Path("models") / name, example=example,
                      label=label, name=name, say=say)
