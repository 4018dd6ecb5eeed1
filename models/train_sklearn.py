"""Train the book's scikit-learn model: ``python -m models.train_sklearn --data PATH [--out models/logreg]``.

``LogisticRegression(solver="liblinear")`` fit on every row, as the book does; the holdout AUC comes from the
same recipe fit on the other 80%. The model is saved with skops (a format that does not run code on load)
as ``model.skops`` with a ``model.json`` manifest beside it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from models.common import (
    DEFAULT_DATA_URL,
    DataError,
    GamesData,
    build_manifest,
    holdout_split,
    load_games,
    roc_auc,
    save_manifest,
)
from smodels.manifest import Manifest

ARTIFACT = "model.skops"
NAME = "games-logreg"
BOOK_REQUEST_PROBABILITY = 0.06745113592634559
HOLDOUT_NOTE = (
    "same recipe (LogisticRegression liblinear) fit on the other 80%; "
    "the served model is fit on all rows like the book"
)


def make_model():  # -> sklearn.linear_model.LogisticRegression
    """The book's estimator."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="liblinear")


def train(data: GamesData, out_dir: Path) -> Manifest:
    """Fit, evaluate, save ``model.skops`` and ``model.json`` into ``out_dir``; return the manifest."""
    import sklearn
    import skops.io

    train_idx, hold_idx = holdout_split(data.rows)
    evaluator = make_model().fit(data.x[train_idx], data.y[train_idx])
    auc = roc_auc(data.y[hold_idx], evaluator.predict_proba(data.x[hold_idx])[:, 1])

    # A plain float64 array (no DataFrame), so the model has no feature names and numpy input never warns.
    model = make_model().fit(np.ascontiguousarray(data.x, dtype=np.float64), data.y)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = skops.io.dumps(model)
    _atomic_write(out_dir / ARTIFACT, payload)

    manifest = build_manifest(
        out_dir=out_dir,
        artifact=ARTIFACT,
        name=NAME,
        description="The book's LogisticRegression (liblinear) on the games data: P(label == 1) from G1..G10.",
        framework="scikit-learn",
        framework_version=sklearn.__version__,
        backend=None,
        fmt="skops",
        data=data,
        holdout_idx=hold_idx,
        auc=auc,
        note=HOLDOUT_NOTE,
        predict=lambda x: model.predict_proba(x)[:, 1],
    )
    save_manifest(manifest, out_dir)
    return manifest


def _atomic_write(path: Path, payload: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=f".{path.name}.") as tmp:
        tmp.write(payload)
    Path(tmp.name).chmod(0o644)  # NamedTemporaryFile creates 0600; the artifact is committed and shipped
    Path(tmp.name).replace(path)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m models.train_sklearn", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA_URL, help="games CSV: local path or http(s) URL "
                        "(default: the book's GitHub copy)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "logreg",
                        help="output directory (default: models/logreg)")
    args = parser.parse_args(argv)
    try:
        data = load_games(args.data)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = train(data, args.out)
    book = manifest.samples[0].output
    print(f"wrote {manifest.artifact_path} ({manifest.size_bytes} bytes) and model.json")
    print(f"rows={data.rows} holdout_auc={manifest.holdout.value:.6f} book_request={book!r} "
          f"(book: {BOOK_REQUEST_PROBABILITY!r}, diff {abs(book - BOOK_REQUEST_PROBABILITY):.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
