"""Shared pieces of the training scripts: the games data, the holdout split, AUC, samples and the manifest.

Both `train_sklearn` and `train_keras` read the book's games data (columns G1..G10 as 0/1 and `label`) from a
path or an http(s) URL, split it with the same seeded 80/20 recipe, and write a `model.json` beside the
artifact with `smodels.manifest`, so the two models are evaluated and described the same way. The manifest's
training profile (what `smodels drift` measures production against) is made by the same functions `smodels
add-model` uses, on the rows the served model was fit on. `--refresh-manifest` rewrites only the manifest of the
committed artifact (its bytes unchanged), keeping what it records of its training and adding the profile.
"""

from __future__ import annotations

import csv
import hashlib
import io
import platform
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from smodels.manifest import (
    SCHEMA_VERSION,
    Feature,
    Holdout,
    Manifest,
    ManifestError,
    Parity,
    Sample,
    TrainingData,
    load_manifest,
    sha256_file,
    write_manifest,
)

DEFAULT_DATA_URL = "https://raw.githubusercontent.com/bgweber/Twitch/master/Recommendations/games-expand.csv"
FEATURES = tuple(f"G{i}" for i in range(1, 11))
LABEL = "label"
HOLDOUT_FRACTION = 0.2
SEED = 42
PARITY_ROWS = 250
URL_TIMEOUT_S = 30

# The book's request (G1=1, rest 0) first, then a few others that exercise different weights.
SAMPLE_INPUTS: tuple[dict[str, int], ...] = (
    {f: int(f == "G1") for f in FEATURES},
    {f: 0 for f in FEATURES},
    {f: 1 for f in FEATURES},
    {f: int(f in ("G2", "G5", "G9")) for f in FEATURES},
    {f: int(f in ("G3", "G4", "G6", "G7", "G8", "G10")) for f in FEATURES},
)


class DataError(ValueError):
    """The training data could not be read or is not in the expected format."""


@dataclass(frozen=True)
class GamesData:
    """The games data set: features (float64, model column order), labels (0/1) and provenance."""

    x: np.ndarray
    y: np.ndarray
    source: str
    sha256: str

    @property
    def rows(self) -> int:
        """Number of data rows."""
        return int(self.x.shape[0])


def read_source(source: str) -> bytes:
    """Raw bytes of ``source``: an http(s) URL (fetched with urllib) or a local path."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=URL_TIMEOUT_S) as resp:  # noqa: S310 (scheme checked)
                return resp.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(
                f"could not download the training data from {source}: {exc}. "
                "If this machine cannot reach it, pass a local copy with --data PATH."
            ) from None
    if "://" in source:
        raise DataError(f"unsupported data source {source!r}: give a local path or an http(s) URL")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"training data file not found: {path}. Pass the games CSV with --data PATH.")
    return path.read_bytes()


def parse_games_csv(raw: bytes, source: str) -> GamesData:
    """Parse and check the CSV: columns G1..G10 and label must exist and hold only 0 or 1."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise DataError(f"{source}: empty file, expected a header with {', '.join(FEATURES)}, {LABEL}")
    header = [h.strip() for h in header]
    missing = [c for c in (*FEATURES, LABEL) if c not in header]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (header: {', '.join(header)})")
    dupes = sorted({h for h in header if header.count(h) > 1 and h in (*FEATURES, LABEL)})
    if dupes:
        raise DataError(f"{source}: duplicate column(s) {', '.join(dupes)}")
    cols = [header.index(c) for c in (*FEATURES, LABEL)]
    values: list[list[int]] = []
    # Line numbers are 1-based file lines (the header is line 1), as an editor shows them.
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{source}: line {line_no} has {len(row)} fields, the header has {len(header)}")
        parsed = []
        for name, idx in zip((*FEATURES, LABEL), cols, strict=True):
            cell = row[idx].strip()
            if cell not in ("0", "1"):
                raise DataError(f"{source}: column {name}, line {line_no}: expected 0 or 1, got {cell!r}")
            parsed.append(int(cell))
        values.append(parsed)
    if not values:
        raise DataError(f"{source}: no data rows")
    arr = np.asarray(values, dtype=np.float64)
    y = arr[:, -1].astype(np.int64)
    if len(np.unique(y)) < 2:
        raise DataError(f"{source}: column {LABEL} has a single class; a classifier needs both 0 and 1")
    return GamesData(x=np.ascontiguousarray(arr[:, :-1]), y=y, source=source,
                     sha256=hashlib.sha256(raw).hexdigest())


def load_games(source: str) -> GamesData:
    """Read and check the games data from a path or an http(s) URL."""
    return parse_games_csv(read_source(source), source)


def source_label(source: str) -> str:
    """What the manifest records as the data source: a URL as given, a local path as its file name only."""
    if source.startswith(("http://", "https://")):
        return source
    return Path(source).name


def holdout_split(rows: int, fraction: float = HOLDOUT_FRACTION, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, holdout) row indices: a seeded permutation, the first ``fraction`` held out."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    perm = np.random.default_rng(seed).permutation(rows)
    n_hold = int(round(rows * fraction))
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_true, scores))


def sample_matrix() -> np.ndarray:
    """The sample requests as a float64 matrix in model column order."""
    return np.asarray([[s[f] for f in FEATURES] for s in SAMPLE_INPUTS], dtype=np.float64)


def parity_indices(holdout_idx: np.ndarray, rows: int = PARITY_ROWS) -> np.ndarray:
    """The first ``rows`` holdout rows (holdout order): the parity slice every serving path must match."""
    if len(holdout_idx) < rows:
        raise ValueError(f"holdout has {len(holdout_idx)} rows, the parity slice needs {rows}")
    return holdout_idx[:rows]


@dataclass(frozen=True)
class ModelCard:
    """What a training script says about the model it saved (the manifest's descriptive fields)."""

    artifact: str
    name: str
    description: str
    framework: str
    framework_version: str
    backend: str | None
    fmt: str
    note: str  # how the holdout figure was measured


def games_profile(data: GamesData, predict: Callable[[np.ndarray], np.ndarray],
                  rows: np.ndarray | None = None) -> dict[str, Any]:
    """The training profile on ``rows`` of the data (default: all, as the book fits): per feature the 0/1 frequencies
    and range, and the distribution of ``predict``'s P(label == 1), by smodels.add_model's profile functions."""
    import pandas as pd

    from smodels.add_model.profile import feature_profile, output_profile

    x = data.x if rows is None else data.x[rows]
    out = np.asarray(predict(x), dtype=np.float64).reshape(-1)
    return {"features": {f: feature_profile(pd.Series(x[:, j]), Feature(name=f, type="binary"))
                         for j, f in enumerate(FEATURES)},
            "output": output_profile(out, "binary-classification", (0, 1))}


def write_games_manifest(card: ModelCard, out_dir: Path, data: GamesData, holdout_idx: np.ndarray, auc: float,
                         predict: Callable[[np.ndarray], np.ndarray], trained_on: np.ndarray | None = None) -> Manifest:
    """Describe the artifact ``card`` names in ``out_dir``, write model.json and return the manifest; ``trained_on``:
    the rows the served model was fit on (its profile's rows; default all)."""
    manifest = build_manifest(out_dir=out_dir, artifact=card.artifact, name=card.name, description=card.description,
                              framework=card.framework, framework_version=card.framework_version,
                              backend=card.backend, fmt=card.fmt, data=data, holdout_idx=holdout_idx, auc=auc,
                              note=card.note, predict=predict, profile=games_profile(data, predict, trained_on))
    save_manifest(manifest, out_dir)
    return manifest


def refresh_manifest(out_dir: Path, data: GamesData, predict: Callable[[np.ndarray], np.ndarray],
                     trained_on: np.ndarray | None = None) -> Manifest:
    """Rewrite ``out_dir/model.json`` for the committed artifact (its sha256 is checked, its bytes untouched): the
    current manifest schema with the training profile; everything the manifest records of the training (versions,
    samples, parity, holdout) stays as it was."""
    try:
        current = load_manifest(out_dir)
    except ManifestError as exc:
        raise DataError(f"cannot refresh {out_dir / 'model.json'}: {exc}") from None
    if current.training_data is None or current.training_data.sha256 != data.sha256:
        raise DataError(f"{data.source} is not the data {out_dir / 'model.json'} was trained on (sha256 "
                        f"{data.sha256[:12]}..., the manifest records "
                        f"{current.training_data.sha256[:12] if current.training_data else 'none'}...)")
    manifest = replace(current, schema=SCHEMA_VERSION, profile=games_profile(data, predict, trained_on))
    save_manifest(manifest, out_dir)
    return manifest


def add_script_arguments(parser: Any, artifact: str, default_out: Path) -> None:
    """The arguments both training scripts take: --data, --out and --refresh-manifest."""
    parser.add_argument("--data", default=DEFAULT_DATA_URL, help="games CSV: local path or http(s) URL "
                        "(default: the book's GitHub copy)")
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"output directory (default: models/{default_out.name})")
    parser.add_argument("--refresh-manifest", action="store_true",
                        help=f"do not train: rewrite OUT/model.json for the {artifact} already there")


def data_or_exit(args: Any, refresh: Callable[[GamesData, Path], Manifest]) -> GamesData | int:
    """The training data of ``args.data``, or the exit code: 2 (said on stderr) when it cannot be read, 0 once
    ``--refresh-manifest`` has rewritten the manifest with ``refresh(data, out)``."""
    import sys

    try:
        data = load_games(args.data)
        if args.refresh_manifest:
            refreshed = refresh(data, args.out)
            print(f"rewrote {args.out / 'model.json'} (schema {refreshed.schema}) for {refreshed.artifact_path}")
            return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return data


def build_manifest(
    *,
    out_dir: Path,
    artifact: str,
    name: str,
    description: str,
    framework: str,
    framework_version: str,
    backend: str | None,
    fmt: str,
    data: GamesData,
    holdout_idx: np.ndarray,
    auc: float,
    note: str,
    predict: Callable[[np.ndarray], np.ndarray],
    profile: dict[str, Any] | None = None,
) -> Manifest:
    """Describe the artifact at ``out_dir/artifact``; samples and parity come from ``predict`` (native outputs)."""
    path = out_dir / artifact
    samples_x = sample_matrix()
    sample_out = np.asarray(predict(samples_x), dtype=np.float64).reshape(-1)
    par_idx = parity_indices(holdout_idx)
    par_x = data.x[par_idx]
    par_out = np.asarray(predict(par_x), dtype=np.float64).reshape(-1)
    return Manifest(
        schema=SCHEMA_VERSION,
        name=name,
        description=description,
        framework=framework,
        framework_version=framework_version,
        backend=backend,
        python_version=platform.python_version(),
        format=fmt,
        artifact=artifact,
        sha256=sha256_file(path),
        size_bytes=path.stat().st_size,
        task="binary-classification",
        output=f"probability that {LABEL} == 1",
        features=tuple(Feature(name=f, type="binary") for f in FEATURES),
        label=LABEL,
        training_data=TrainingData(source=source_label(data.source), sha256=data.sha256, rows=data.rows),
        holdout=Holdout(fraction=HOLDOUT_FRACTION, seed=SEED, rows=int(len(holdout_idx)), metric="roc_auc",
                        value=round(auc, 6), note=note),
        samples=tuple(
            Sample(input={f: int(v) for f, v in zip(FEATURES, row, strict=True)}, output=float(o))
            for row, o in zip(samples_x, sample_out, strict=True)
        ),
        parity=Parity(rows=tuple(tuple(int(v) for v in r) for r in par_x), outputs=tuple(float(o) for o in par_out)),
        profile=profile,
        directory=out_dir.resolve(),
    )


def save_manifest(manifest: Manifest, out_dir: Path) -> Path:
    """Write model.json and return its path."""
    return write_manifest(manifest, out_dir)
