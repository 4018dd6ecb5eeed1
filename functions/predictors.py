"""Turn verified artifact bytes into a predictor by ``MODEL_FORMAT``.

Every predictor has ``predict(rows: np.ndarray[N, F]) -> np.ndarray[N]``: the probability of the positive
class as float64. Each framework is imported only inside its loader, so an ONNX package never imports
scikit-learn and a skops package never imports onnxruntime. The caller (model_cache) has already checked
the bytes' sha256 against ``MODEL_SHA256``; that is what makes loading joblib/pickle acceptable at all.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from functions.contract import FLOAT32_MAX, FORMATS

_SAFE_TYPE_PREFIXES = ("sklearn.", "numpy.")


class PredictorError(Exception):
    """The artifact could not be turned into a predictor (refused type, wrong shape, broken file)."""


class Predictor(Protocol):
    """What the app calls. ``input_limit``: the largest |value| the model's input type holds (None: float64)."""

    input_limit: float | None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities of the positive class, shape [N]."""
        ...


def _positive_column(out: Any, what: str) -> np.ndarray:
    """[N,2] -> column 1, [N,1] -> column 0, [N] -> as is."""
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr[:, 1]
    if arr.ndim == 2 and arr.shape[1] == 1:
        return arr[:, 0]
    if arr.ndim == 1:
        return arr
    raise PredictorError(f"{what} returned shape {arr.shape}; expected [N,2], [N,1] or [N]")


class SklearnPredictor:
    """A scikit-learn estimator (from skops, joblib or pickle)."""

    def __init__(self, model: Any) -> None:
        if not hasattr(model, "predict_proba") and not hasattr(model, "predict"):
            raise PredictorError(f"loaded object of type {type(model).__name__} has no predict_proba/predict")
        self.model = model
        self._proba = hasattr(model, "predict_proba")
        self.input_limit: float | None = None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """``predict_proba(rows)[:, 1]`` (or ``predict`` for an estimator without probabilities)."""
        if self._proba:
            return _positive_column(self.model.predict_proba(rows), "predict_proba")
        return _positive_column(self.model.predict(rows), "predict")


class OnnxPredictor:
    """An onnxruntime session; input dtype follows the model's input type."""

    def __init__(self, data: bytes) -> None:
        import onnxruntime as ort  # lazy

        opts = ort.SessionOptions()
        # One request at a time per instance: extra threads cost cold start and buy nothing for tiny models.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph classes
            raise PredictorError(f"onnxruntime cannot load the model: {exc}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise PredictorError(f"ONNX model has {len(inputs)} inputs; expected exactly 1")
        self.input_name = inputs[0].name
        self.dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        self.input_limit: float | None = None if self.dtype is np.float64 else FLOAT32_MAX
        self.output_name = self._pick_output()

    def _pick_output(self) -> str:
        outputs = self.session.get_outputs()
        names = [o.name for o in outputs]
        for preferred in ("probabilities", "prob"):
            if preferred in names:
                return preferred
        floats = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
        if not floats:
            raise PredictorError(f"ONNX model has no float output (outputs: {names})")
        return floats[-1].name if len(floats) > 1 else floats[0].name

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Run the session on ``rows`` and return the positive-class probability."""
        (out,) = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(rows, self.dtype)})
        return _positive_column(out, f"ONNX output {self.output_name!r}")


class KerasPredictor:
    """A Keras 3 model (``.keras`` zip), run with whatever ``KERAS_BACKEND`` the environment selects."""

    def __init__(self, data: bytes) -> None:
        import keras  # lazy; reads KERAS_BACKEND at import

        fd, path = tempfile.mkstemp(suffix=".keras")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            # safe_mode (the default) refuses Lambda layers, which would run arbitrary code.
            self.model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:
            raise PredictorError(f"keras cannot load the model: {exc}") from None
        finally:
            os.unlink(path)
        self._to_numpy = keras.ops.convert_to_numpy
        self.input_limit: float | None = FLOAT32_MAX

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Call the model directly (``model.predict`` builds a data pipeline per call: much slower)."""
        out = self.model(np.asarray(rows, dtype=np.float32), training=False)
        return _positive_column(self._to_numpy(out), "keras model")


def skops_estimator(data: bytes) -> Any:
    """The estimator in a skops file, refusing any type outside scikit-learn and numpy (skops' trust list)."""
    import skops.io as sio  # lazy; pulls in scikit-learn

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise PredictorError(f"not a valid skops file: {exc}") from None
    refused = [t for t in untrusted if not t.startswith(_SAFE_TYPE_PREFIXES)]
    if refused:
        raise PredictorError(f"skops file contains types outside sklearn/numpy, refused: {', '.join(refused)}")
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as exc:
        raise PredictorError(f"skops cannot load the model: {exc}") from None


def sklearn_estimator(data: bytes, fmt: str) -> Any:
    """Deserialise a scikit-learn estimator stored as ``fmt`` (skops, joblib or pickle); PredictorError on failure.

    joblib and pickle run code while loading: call this only on bytes whose sha256 was checked against the pin.
    """
    if fmt == "skops":
        return skops_estimator(data)
    try:
        if fmt == "joblib":
            import joblib  # lazy

            return joblib.load(io.BytesIO(data))
        if fmt == "pickle":
            import pickle

            return pickle.loads(data)
    except Exception as exc:
        raise PredictorError(f"{fmt} cannot load the model: {exc}") from None
    raise PredictorError(f"format {fmt!r} does not hold a scikit-learn estimator")


def _sklearn_loader(fmt: str) -> Callable[[bytes], Predictor]:
    return lambda data: SklearnPredictor(sklearn_estimator(data, fmt))


_LOADERS: dict[str, Callable[[bytes], Predictor]] = {
    "skops": _sklearn_loader("skops"),
    "onnx": OnnxPredictor,
    "keras": KerasPredictor,
    "joblib": _sklearn_loader("joblib"),
    "pickle": _sklearn_loader("pickle"),
}


def load(data: bytes, fmt: str) -> Predictor:
    """Deserialise ``data`` (already sha256-verified) as format ``fmt``; raise PredictorError on failure."""
    try:
        loader = _LOADERS[fmt]
    except KeyError:
        raise PredictorError(f"unknown MODEL_FORMAT {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return loader(data)
