"""Train the book's scikit-learn model: ``python -m models.train_sklearn --data PATH [--out models/logreg]``.

``LogisticRegression(solver="liblinear")`` fit on every row, as the book does; the holdout AUC comes from the
same recipe fit on the other 80%. The model is saved with skops (a format that does not run code on load)
as ``model.skops`` with a ``model.json`` manifest beside it (its training profile on every row).
``--refresh-manifest`` rewrites only model.json for the committed ``model.skops`` (skops does not write the same
bytes twice: its zip records the time), adding the profile.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from models.common import (
    DataError,
    GamesData,
    ModelCard,
    add_script_arguments,
    data_or_exit,
    holdout_split,
    refresh_manifest,
    roc_auc,
    write_games_manifest,
)
from smodels.manifest import Manifest

ARTIFACT = "model.skops"
NAME = "games-logreg"
BOOK_REQUEST_PROBABILITY = 0.06745113592634559
DESCRIPTION = "The book's LogisticRegression (liblinear) on the games data: P(label == 1) from G1..G10."
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

    card = ModelCard(ARTIFACT, NAME, DESCRIPTION, "scikit-learn", sklearn.__version__, None, "skops", HOLDOUT_NOTE)
    return write_games_manifest(card, out_dir, data, hold_idx, auc, lambda x: model.predict_proba(x)[:, 1])


def refresh(data: GamesData, out_dir: Path) -> Manifest:
    """Rewrite ``out_dir/model.json`` for the ``model.skops`` already there (unchanged), with the training profile."""
    import skops.io

    payload = (out_dir / ARTIFACT).read_bytes()
    untrusted = skops.io.get_untrusted_types(data=payload)
    bad = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if bad:
        raise DataError(f"{out_dir / ARTIFACT} holds types other than scikit-learn's and numpy's: {bad}")
    model = skops.io.loads(payload, trusted=untrusted)
    return refresh_manifest(out_dir, data, lambda x: model.predict_proba(x)[:, 1])


def _atomic_write(path: Path, payload: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=f".{path.name}.") as tmp:
        tmp.write(payload)
    Path(tmp.name).chmod(0o644)  # NamedTemporaryFile creates 0600; the artifact is committed and shipped
    Path(tmp.name).replace(path)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m models.train_sklearn", description=__doc__.splitlines()[0])
    add_script_arguments(parser, ARTIFACT, Path(__file__).resolve().parent / "logreg")
    args = parser.parse_args(argv)
    data = data_or_exit(args, refresh)
    if isinstance(data, int):
        return data
    manifest = train(data, args.out)
    book = manifest.samples[0].output
    print(f"wrote {manifest.artifact_path} ({manifest.size_bytes} bytes) and model.json")
    print(f"rows={data.rows} holdout_auc={manifest.holdout.value:.6f} book_request={book!r} "
          f"(book: {BOOK_REQUEST_PROBABILITY!r}, diff {abs(book - BOOK_REQUEST_PROBABILITY):.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
