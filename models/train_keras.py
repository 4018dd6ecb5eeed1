"""Train the book's Keras model: ``python -m models.train_keras --data PATH [--epochs N] [--out models/keras]``.

The book's MLP (Dense 64 relu x3 with Dropout 0.1 after the first two, sigmoid output; rmsprop, binary
cross-entropy, batch 100), trained with the jax backend (CPU) on the seeded 80% split. The holdout AUC is measured
on the other 20% and that same model is the one served. Saved as native ``model.keras`` plus ``model.json`` (its
training profile on the 80% it was fit on). ``--refresh-manifest`` rewrites only model.json for the committed
``model.keras`` (trained with torch; retraining would give other weights), adding the profile.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# The backend must be chosen before keras is first imported anywhere in the process.
# jax: CPU-only wheels on PyPI (torch on Linux pulls the CUDA stack). The committed models/keras was trained
# with torch; the artifact does not depend on the backend (plain float32 weights), so it serves under any.
os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

from models.common import (  # noqa: E402
    SEED,
    GamesData,
    ModelCard,
    add_script_arguments,
    data_or_exit,
    holdout_split,
    refresh_manifest,
    roc_auc,
    write_games_manifest,
)
from smodels.manifest import Manifest  # noqa: E402

ARTIFACT = "model.keras"
NAME = "games-keras"
# The book trains 100 epochs. With jax on 2 busy cores a run takes ~9 s for 1 or 10 epochs (mostly compiling)
# and ~19 s for 100 (torch took 2-3 s per epoch). Measured holdout AUC with jax: 0.8170 after 10 epochs,
# 0.8131 after 30, 0.8105 after 100 (torch: 0.8171 / 0.8164 at 10 / 30): more epochs do not help on this
# data, so 10 is the default.
DEFAULT_EPOCHS = 10
BATCH_SIZE = 100
HOLDOUT_NOTE = "the served model itself: trained on the other 80% only, evaluated on this holdout"


def make_model(compiled: bool = True):  # -> keras.Sequential
    """The book's architecture, compiled as the book does (rmsprop, binary cross-entropy, AUC).

    Layers carry explicit names so config.json does not depend on how many models the process built before.
    The weights file names its groups by class and position instead (``layers/dense``, ``layers/dense_1``, ...
    ``layers/dense_3``, each ``vars/0`` kernel and ``vars/1`` bias); the ONNX converter reads those.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(10,), name="x"),
            keras.layers.Dense(64, activation="relu", name="dense_1"),
            keras.layers.Dropout(0.1, name="dropout_1"),
            keras.layers.Dense(64, activation="relu", name="dense_2"),
            keras.layers.Dropout(0.1, name="dropout_2"),
            keras.layers.Dense(64, activation="relu", name="dense_3"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ],
        name="games_mlp",
    )
    if compiled:
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model


def train(data: GamesData, out_dir: Path, epochs: int = DEFAULT_EPOCHS, verbose: int = 0) -> Manifest:
    """Fit on the 80% split, evaluate on the 20%, save ``model.keras`` + ``model.json``; return the manifest."""
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(f"KERAS_BACKEND is {backend!r}; this script trains with jax (set it before importing)")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    keras.utils.set_random_seed(SEED)
    train_idx, hold_idx = holdout_split(data.rows)
    x = data.x.astype(np.float32)
    y = data.y.astype(np.float32)
    model = make_model()
    model.fit(x[train_idx], y[train_idx], epochs=epochs, batch_size=BATCH_SIZE, verbose=verbose, shuffle=True)

    # Serve an uncompiled copy with the trained weights: no optimizer or metric state in the artifact
    # (half the bytes), and nothing that only training needs.
    served = make_model(compiled=False)
    served.set_weights(model.get_weights())

    def predict(rows: np.ndarray) -> np.ndarray:
        return served.predict(np.asarray(rows, dtype=np.float32), verbose=0).reshape(-1)

    auc = roc_auc(data.y[hold_idx], predict(x[hold_idx]))
    out_dir.mkdir(parents=True, exist_ok=True)
    served.save(out_dir / ARTIFACT)
    description = (f"The book's Keras MLP (3 x Dense 64 relu, Dropout 0.1, sigmoid) on the games data, "
                   f"{epochs} epochs, batch {BATCH_SIZE}, rmsprop: P(label == 1) from G1..G10.")
    card = ModelCard(ARTIFACT, NAME, description, "keras", keras.__version__, backend, "keras", HOLDOUT_NOTE)
    return write_games_manifest(card, out_dir, data, hold_idx, auc, predict, trained_on=train_idx)


def refresh(data: GamesData, out_dir: Path) -> Manifest:
    """Rewrite ``out_dir/model.json`` for the ``model.keras`` already there (unchanged), with the training profile
    on the rows it was fit on."""
    import keras

    served = keras.saving.load_model(out_dir / ARTIFACT, compile=False, safe_mode=True)
    train_idx, _ = holdout_split(data.rows)
    return refresh_manifest(out_dir, data, lambda rows: served.predict(np.asarray(rows, dtype=np.float32),
                                                                       verbose=0).reshape(-1), trained_on=train_idx)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m models.train_keras", description=__doc__.splitlines()[0])
    add_script_arguments(parser, ARTIFACT, Path(__file__).resolve().parent / "keras")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="keras fit verbosity")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    data = data_or_exit(args, refresh)
    if isinstance(data, int):
        return data
    t0 = time.perf_counter()
    manifest = train(data, args.out, epochs=args.epochs, verbose=args.verbose)
    print(f"wrote {manifest.artifact_path} ({manifest.size_bytes} bytes) and model.json "
          f"in {time.perf_counter() - t0:.1f} s")
    print(f"rows={data.rows} epochs={args.epochs} holdout_auc={manifest.holdout.value:.6f} "
          f"book_request={manifest.samples[0].output!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
