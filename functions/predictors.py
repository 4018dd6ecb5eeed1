"""Turn verified artifact bytes into a predictor by ``MODEL_FORMAT``.

Every predictor has ``predict(batch: functions.schema.Batch) -> np.ndarray``: float64, [N] for regression
(the value) and binary classification (P(classes[1])), [N, K] for multiclass (in the classes' order). Each
framework is imported only inside its loader, so an ONNX package never imports scikit-learn and a skops
package never imports onnxruntime. The caller (model_cache) has already checked the bytes' sha256 against
``MODEL_SHA256``; that is what makes loading joblib/pickle acceptable at all.

Formats: ``skops``/``joblib``/``pickle`` (a scikit-learn estimator or Pipeline, possibly around an XGBoost or
LightGBM model), ``onnx`` (one float matrix input, or one [N, 1] input per feature), ``keras``, ``xgboost``
(XGBoost's JSON booster) and ``lightgbm`` (LightGBM's text booster); the last two never import scikit-learn.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from functions.contract import FLOAT32_MAX, FORMATS
from functions.schema import NUMERIC_TYPES, Batch, ModelSchema

if TYPE_CHECKING:  # numpy is imported where a predictor needs it: a pure package has none
    import numpy as np

_SAFE_TYPE_PREFIXES = ("sklearn.", "numpy.")
#: What a skops file may hold beyond sklearn/numpy when the manifest's `requirements` name the library (a
#: booster inside a Pipeline; LightGBM keeps an OrderedDict, which MLflow's own skops trust list names too).
TRUSTED_BY_REQUIREMENT: dict[str, tuple[str, ...]] = {
    "xgboost": ("xgboost.",), "lightgbm": ("lightgbm.", "collections.OrderedDict")}


#: ONNX metadata key (``metadata_props``) the packager writes when it converts a model with one input per
#: feature: a JSON object {graph input name: feature name}, since converters rename inputs (skl2onnx turns
#: "spend €" into "spend__"). Without it, graph inputs are matched to features by name.
ONNX_INPUTS_KEY = "smodels.inputs"


def trusted_prefixes(requirements: Any) -> tuple[str, ...]:
    """The extra skops trust prefixes for a manifest's `requirements` (names; unknown names add nothing)."""
    return tuple(p for name in sorted(requirements) for p in TRUSTED_BY_REQUIREMENT.get(name, ()))


def installed_trusted() -> tuple[str, ...]:
    """The extra skops trust prefixes of the boosting libraries installed here. In a function package that is
    what the manifest's `requirements` named: the packager ships xgboost/lightgbm only for a model that needs them."""
    return trusted_prefixes([name for name in TRUSTED_BY_REQUIREMENT if importlib.util.find_spec(name) is not None])


class PredictorError(Exception):
    """The artifact could not be turned into a predictor (refused type, wrong shape, broken file)."""


class Predictor(Protocol):
    """What the app calls. ``input_limit``: the largest |value| the model's input type holds (None: float64)."""

    input_limit: float | None

    def predict(self, batch: Batch) -> np.ndarray:
        """The task's output: [N] (regression value, binary P(classes[1])) or [N, K] (multiclass)."""
        ...


def task_output(out: Any, schema: ModelSchema, what: str) -> np.ndarray:
    """A model's raw output as the task's: binary [N,2] -> column 1, [N,1] -> column 0, [N] as is; regression
    [N,1] or [N]; multiclass [N, K] with K the number of classes."""
    import numpy as np

    arr = np.asarray(out, dtype=np.float64)
    if schema.task == "multiclass-classification":
        if arr.ndim == 2 and arr.shape[1] == len(schema.classes):
            return arr
        raise PredictorError(f"{what} returned shape {arr.shape}; expected [N, {len(schema.classes)}]")
    if arr.ndim == 2 and arr.shape[1] == 2 and schema.task == "binary-classification":
        return arr[:, 1]
    if arr.ndim == 2 and arr.shape[1] == 1:
        return arr[:, 0]
    if arr.ndim == 1:
        return arr
    raise PredictorError(f"{what} returned shape {arr.shape}; expected [N,2], [N,1] or [N]")


def _check_matrix_schema(schema: ModelSchema, what: str, nulls: bool) -> None:
    """PredictorError unless every feature is a number (and, without ``nulls``, never missing)."""
    for f in schema.features:
        if f.type not in NUMERIC_TYPES:
            raise PredictorError(f"{what} takes one numeric matrix; feature {f.name!r} is categorical (serve it "
                                 "with a runtime that takes strings)")
        if f.nullable and not nulls:
            raise PredictorError(f"{what} takes one numeric matrix without missing values; feature {f.name!r} is "
                                 "nullable")


_BINARY_SCHEMA = ModelSchema.simple(["x"])  # the default task when a caller gives no schema


class SklearnPredictor:
    """A scikit-learn estimator (from skops, joblib or pickle)."""

    def __init__(self, model: Any, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        if not hasattr(model, "predict_proba") and not hasattr(model, "predict"):
            raise PredictorError(f"loaded object of type {type(model).__name__} has no predict_proba/predict")
        self.model = model
        self.schema = schema
        self._proba = schema.task != "regression" and hasattr(model, "predict_proba")
        self._frame = needs_frame(model, schema)
        self._numbers = all(f.type in NUMERIC_TYPES for f in schema.features)  # a float matrix, NaN for missing
        if not self._frame and hasattr(model, "feature_names_in_"):
            # Fitted on a DataFrame, served from a matrix in the same column order (pandas stays out of the
            # package): scikit-learn would warn about the missing names on the first call.
            warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
        self.input_limit: float | None = None

    def _input(self, batch: Batch) -> Any:
        if self._frame:
            return batch.frame(self.schema)
        return batch.matrix() if self._numbers else batch.objects()

    def predict(self, batch: Batch) -> np.ndarray:
        """``predict_proba`` for classifiers, ``predict`` for regressors, as the task's output."""
        x = self._input(batch)
        if self._proba:
            return task_output(self.model.predict_proba(x), self.schema, "predict_proba")
        return task_output(self.model.predict(x), self.schema, "predict")


def needs_frame(model: Any, schema: ModelSchema) -> bool:
    """True when the estimator is called with a pandas DataFrame (the package then ships pandas): it was fitted on
    one and selects columns by name, or has categorical features. Numbers alone (NaN for missing) go as a matrix."""
    return hasattr(model, "feature_names_in_") and (
        selects_by_name(model) or any(f.type not in NUMERIC_TYPES for f in schema.features))


def selects_by_name(model: Any) -> bool:
    """True if a ColumnTransformer anywhere in ``model`` picks columns by name (it then needs a DataFrame)."""
    todo = [model]
    while todo:
        node = todo.pop()
        for _, step, *_ in getattr(node, "steps", ()):
            todo.append(step)
        for _, trans, cols in getattr(node, "transformers_", ()):
            if isinstance(cols, str) or (isinstance(cols, (list, tuple)) and any(isinstance(c, str) for c in cols)):
                return True
            todo.append(trans)
    return False


class OnnxPredictor:
    """An onnxruntime session. Either one numeric input [N, F] (its dtype, float or double, follows the model's
    input type; missing values are NaN), or one [N, 1] input per feature, named by the graph and matched to the
    schema's features through the ``smodels.inputs`` metadata (else by name): double/float for numbers (NaN for a
    missing value), string for categories (a missing category is the empty string)."""

    def __init__(self, data: bytes, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        import numpy as np
        import onnxruntime as ort  # lazy

        self.schema = schema
        opts = ort.SessionOptions()
        # One request at a time per instance: extra threads cost cold start and buy nothing for tiny models.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # converters' declared shapes (e.g. LightGBM's label [1]) would warn per call
        try:
            self.session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph classes
            raise PredictorError(f"onnxruntime cannot load the model: {exc}") from None
        inputs = self.session.get_inputs()
        mapping = self.session.get_modelmeta().custom_metadata_map.get(ONNX_INPUTS_KEY)
        if len(inputs) == 1 and mapping is None and inputs[0].type != "tensor(string)":
            self.input_name = inputs[0].name
            if inputs[0].type not in _ONNX_NUMBERS:
                raise PredictorError(f"ONNX model input {inputs[0].name!r} is {inputs[0].type}; one input must be "
                                     "a float or double matrix")
            width = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
            if schema is not _BINARY_SCHEMA and isinstance(width, int) and width != len(schema.features):
                raise PredictorError(f"ONNX model takes {width} columns; the schema has {len(schema.features)} "
                                     "features")
            self.dtype = _onnx_dtype(inputs[0].type)
            self._columns: list[tuple[str, int, Any]] | None = None
            if schema is not _BINARY_SCHEMA:
                _check_matrix_schema(schema, "this ONNX model", nulls=True)
        else:
            self._columns = self._plan_columns(inputs, mapping)
            self.dtype = np.float64 if all(t is not np.float32 for _, _, t in self._columns) else np.float32
        self.input_limit: float | None = None if self.dtype is np.float64 else FLOAT32_MAX
        self.output_name = self._pick_output()

    def _plan_columns(self, inputs: list[Any], mapping: str | None) -> list[tuple[str, int, Any]]:
        """(graph input, feature index, numpy dtype or str) for every graph input."""
        kinds = [(i.name, i.type[len("tensor("):-1] if i.type.startswith("tensor(") else i.type) for i in inputs]
        plan = plan_inputs(self.schema, kinds, mapping, "ONNX model")
        return [(name, j, str if kind == "string" else _onnx_dtype(f"tensor({kind})")) for name, j, kind in plan]

    def _pick_output(self) -> str:
        return pick_output([(o.name, o.type[len("tensor("):-1]) for o in self.session.get_outputs()])

    def feeds(self, batch: Batch) -> dict[str, np.ndarray]:
        """The session's inputs for ``batch``."""
        import numpy as np

        if self._columns is None:
            return {self.input_name: batch.matrix(self.dtype)}
        n = len(batch.rows)
        out = {}
        for name, j, kind in self._columns:
            column = [row[j] for row in batch.rows]
            if kind is str:
                arr = np.array([v if isinstance(v, str) else "" for v in column], dtype=object)
            else:
                arr = np.array(column, dtype=np.float64)
                if kind is not np.float64:
                    arr = arr.astype(kind)
            out[name] = arr.reshape(n, 1)
        return out

    def predict(self, batch: Batch) -> np.ndarray:
        """Run the session on the batch and return the task's output."""
        (out,) = self.session.run([self.output_name], self.feeds(batch))
        return task_output(out, self.schema, f"ONNX output {self.output_name!r}")


def plan_inputs(schema: ModelSchema, inputs: list[tuple[str, str]], mapping: str | None,
                what: str) -> list[tuple[str, int, str]]:
    """(graph input, feature index, element type) for every (name, element type: double, float, int64, string) input
    of a graph taking one [N, 1] input per feature (OnnxPredictor, PurePredictor): each matched to its schema
    feature through ``mapping`` (the ``smodels.inputs`` metadata: input -> feature), else by name."""
    index = {name: j for j, name in enumerate(schema.names)}
    try:
        by_input = json.loads(mapping) if mapping is not None else {name: name for name, _ in inputs}
    except ValueError:
        by_input = None
    if not isinstance(by_input, dict):
        raise PredictorError(f"{what}: metadata {ONNX_INPUTS_KEY!r} must be a JSON object of input -> feature")
    plan = []
    for name, kind in inputs:
        feature = by_input.get(name)
        if feature not in index:
            raise PredictorError(f"{what} input {name!r} is not a feature of the schema ({', '.join(schema.names)})")
        f = schema.features[index[feature]]
        if kind == "string":
            if f.type != "categorical":
                raise PredictorError(f"{what} input {name!r} takes strings; feature {f.name!r} is {f.type}")
        elif kind in ("double", "float", "int64"):
            if f.type not in NUMERIC_TYPES:
                raise PredictorError(f"{what} input {name!r} takes numbers; feature {f.name!r} is categorical")
            if kind == "int64" and f.nullable:
                raise PredictorError(f"{what} input {name!r} takes int64; feature {f.name!r} may be missing")
        else:
            raise PredictorError(f"{what} input {name!r} has type {kind}; expected double, float, int64 or string")
        plan.append((name, index[feature], kind))
    return plan


def pick_output(outputs: list[tuple[str, str]]) -> str:
    """The output a predictor answers with, from (name, element type) of a graph's outputs: "probabilities" or
    "prob" when there is one, else the (last) float output."""
    names = [name for name, _ in outputs]
    for preferred in ("probabilities", "prob"):
        if preferred in names:
            return preferred
    floats = [name for name, kind in outputs if kind in ("float", "double")]
    if not floats:
        raise PredictorError(f"ONNX model has no float output (outputs: {names})")
    return floats[-1]


_ONNX_NUMBERS = ("tensor(double)", "tensor(float)")


def _onnx_dtype(kind: str) -> Any:
    """The numpy dtype of an ONNX input type (double, float, else int64)."""
    import numpy as np

    return {"tensor(double)": np.float64, "tensor(float)": np.float32}.get(kind, np.int64)


class PurePredictor:
    """A functions.pure program (an ONNX graph compiled to JSON at build time), run with the standard library.
    Inputs as ``OnnxPredictor`` takes them (one [N, F] matrix, or one [N, 1] input per feature matched through the
    ``smodels.inputs`` metadata); ``predict`` returns plain lists: [N] floats, or [N][K] for multiclass."""

    returns_lists = True  # functions.app: no numpy on this path

    def __init__(self, data: bytes, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        from functions import pure

        self.schema = schema
        try:
            self.program = pure.load_program(data)
        except pure.PureError as exc:
            raise PredictorError(f"the pure program cannot load: {exc}") from None
        self._T = pure.T
        inputs = self.program.inputs
        mapping = self.program.metadata.get(ONNX_INPUTS_KEY)
        self._columns: list[tuple[str, int, str]] | None = None
        if len(inputs) == 1 and mapping is None and inputs[0]["type"] != "string":
            self._input = inputs[0]["name"]
            self._kind = inputs[0]["type"]
            width = inputs[0].get("width")
            if schema is not _BINARY_SCHEMA and isinstance(width, int) and width != len(schema.features):
                raise PredictorError(f"the pure program takes {width} columns; the schema has "
                                     f"{len(schema.features)} features")
            if schema is not _BINARY_SCHEMA:
                _check_matrix_schema(schema, "this pure program", nulls=True)
            kinds = {self._kind}
        else:
            self._columns = plan_inputs(schema, [(i["name"], i["type"]) for i in inputs], mapping, "the pure program")
            kinds = {kind for _, _, kind in self._columns}
        self.input_limit: float | None = FLOAT32_MAX if "float" in kinds else None

    def predict(self, batch: Batch) -> list[Any]:
        """The task's output as plain lists: [N] (regression value, binary P(classes[1])) or [N][K]."""
        rows, n, T = batch.rows, len(batch.rows), self._T
        if self._columns is None:
            feeds = {self._input: T(self._kind, (n, len(rows[0]) if rows else 0), [v for row in rows for v in row])}
        else:
            feeds = {}
            for name, j, kind in self._columns:
                if kind == "string":
                    column = [row[j] if isinstance(row[j], str) else "" for row in rows]
                elif kind == "int64":
                    column = [int(row[j]) for row in rows]
                else:
                    column = [row[j] for row in rows]
                feeds[name] = T(kind, (n, 1), column)
        out = self.program.run(feeds)
        return pure_task_output(out.shape, out.data, self.schema)


def pure_task_output(shape: tuple[int, ...], data: list[Any], schema: ModelSchema) -> list[Any]:
    """``task_output`` for a flat row-major list of ``shape``, as lists."""
    what = "the pure program"
    if schema.task == "multiclass-classification":
        k = len(schema.classes)
        if len(shape) == 2 and shape[1] == k:
            return [[float(v) for v in data[i:i + k]] for i in range(0, len(data), k)]
        raise PredictorError(f"{what} returned shape {shape}; expected [N, {k}]")
    if len(shape) == 2 and shape[1] == 2 and schema.task == "binary-classification":
        return [float(v) for v in data[1::2]]
    if len(shape) == 2 and shape[1] == 1 or len(shape) == 1:
        return [float(v) for v in data]
    raise PredictorError(f"{what} returned shape {shape}; expected [N,2], [N,1] or [N]")


class KerasPredictor:
    """A Keras 3 model (``.keras`` zip), run with whatever ``KERAS_BACKEND`` the environment selects."""

    def __init__(self, data: bytes, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        import keras  # lazy; reads KERAS_BACKEND at import

        if not schema.numeric:  # checked once, at load (a 503), not on every request
            _check_matrix_schema(schema, "a Keras model", nulls=False)
        self.schema = schema
        import tempfile

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

    def predict(self, batch: Batch) -> np.ndarray:
        """Call the model directly (``model.predict`` builds a data pipeline per call: much slower)."""
        import numpy as np

        out = self.model(batch.matrix(np.float32), training=False)
        return task_output(self._to_numpy(out), self.schema, "keras model")


class XGBoostPredictor:
    """An XGBoost booster from its JSON model (``Booster.save_raw("json")``), fed a float64 matrix (NaN = missing).

    binary:logistic gives P(class 1), multi:softprob [N, K], any other objective (reg:*, count:*, ...) the value
    of a regression. scikit-learn is never imported.
    """

    CLASSIFIERS = {"binary:logistic": "binary-classification", "multi:softprob": "multiclass-classification"}

    def __init__(self, data: bytes, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        import xgboost  # lazy

        self.schema = schema
        try:
            self.booster = xgboost.Booster()
            self.booster.load_model(bytearray(data))
            self.booster.set_param({"nthread": 1})
            objective = json.loads(self.booster.save_config())["learner"]["objective"]["name"]
        except Exception as exc:  # XGBoostError, or a config without the objective
            raise PredictorError(f"xgboost cannot load the model: {exc}") from None
        _check_objective("XGBoost", objective, self.CLASSIFIERS, schema)
        _check_width("XGBoost booster", self.booster.num_features(), schema)
        if schema is not _BINARY_SCHEMA:
            _check_matrix_schema(schema, "an XGBoost booster", nulls=True)
        self._dmatrix = xgboost.DMatrix
        self.input_limit: float | None = FLOAT32_MAX  # XGBoost casts its input to float32

    def predict(self, batch: Batch) -> np.ndarray:
        """``Booster.predict`` on a DMatrix of the rows, as the task's output."""
        x = self._dmatrix(batch.matrix(), feature_names=self.booster.feature_names, nthread=1)
        return task_output(self.booster.predict(x), self.schema, "XGBoost booster")


class LightGBMPredictor:
    """A LightGBM booster from its text model (``Booster.model_to_string()``), fed a float64 matrix (NaN = missing).

    binary (and cross_entropy) gives P(class 1), multiclass [N, K], regression objectives the value.
    scikit-learn is never imported by the serving package (LightGBM only uses it when installed).
    """

    CLASSIFIERS = {"binary": "binary-classification", "cross_entropy": "binary-classification",
                   "xentropy": "binary-classification", "multiclass": "multiclass-classification",
                   "softmax": "multiclass-classification", "multiclassova": "multiclass-classification"}

    def __init__(self, data: bytes, schema: ModelSchema = _BINARY_SCHEMA) -> None:
        import lightgbm  # lazy

        self.schema = schema
        try:
            text = data.decode("utf-8")
            self.booster = lightgbm.Booster(model_str=text)
        except Exception as exc:  # LightGBMError, UnicodeDecodeError
            raise PredictorError(f"lightgbm cannot load the model: {exc}") from None
        objective = next((line[len("objective="):].split(" ")[0] for line in text.splitlines()[:50]
                          if line.startswith("objective=")), "")
        _check_objective("LightGBM", objective, self.CLASSIFIERS, schema)
        _check_width("LightGBM booster", self.booster.num_feature(), schema)
        if schema is not _BINARY_SCHEMA:
            _check_matrix_schema(schema, "a LightGBM booster", nulls=True)
        self.input_limit: float | None = None

    def predict(self, batch: Batch) -> np.ndarray:
        """``Booster.predict`` on the rows (one thread), as the task's output."""
        return task_output(self.booster.predict(batch.matrix(), num_threads=1), self.schema, "LightGBM booster")


def _check_objective(library: str, objective: str, classifiers: dict[str, str], schema: ModelSchema) -> None:
    """The booster's objective must give the schema's task (probabilities for a classifier)."""
    task = classifiers.get(objective, "regression")
    if schema is _BINARY_SCHEMA or task == schema.task:
        return
    wanted = " or ".join(k for k, v in classifiers.items() if v == schema.task) or "a regression objective"
    raise PredictorError(f"{library} objective {objective!r} gives {task}; this schema's task is {schema.task} "
                         f"(objective {wanted})")


def _check_width(what: str, width: int, schema: ModelSchema) -> None:
    if schema is not _BINARY_SCHEMA and width != len(schema.features):
        raise PredictorError(f"{what} takes {width} features; the schema has {len(schema.features)}")


def skops_estimator(data: bytes, extra_trusted: tuple[str, ...] = ()) -> Any:
    """The estimator in a skops file, refusing any type outside scikit-learn and numpy (skops' trust list)
    and ``extra_trusted`` (type-name prefixes, see ``trusted_prefixes``)."""
    import skops.io as sio  # lazy; pulls in scikit-learn

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise PredictorError(f"not a valid skops file: {exc}") from None
    refused = [t for t in untrusted if not t.startswith(_SAFE_TYPE_PREFIXES + tuple(extra_trusted))]
    if refused:
        raise PredictorError(f"skops file contains types outside sklearn/numpy, refused: {', '.join(refused)}")
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as exc:
        raise PredictorError(f"skops cannot load the model: {exc}") from None


def sklearn_estimator(data: bytes, fmt: str, extra_trusted: tuple[str, ...] | None = None) -> Any:
    """Deserialise a scikit-learn estimator stored as ``fmt`` (skops, joblib or pickle); PredictorError on failure.

    ``extra_trusted``: skops trust prefixes beyond sklearn/numpy (default: those of the boosting libraries
    installed here, see ``installed_trusted``; the packager passes the manifest's, ``trusted_prefixes``).
    joblib and pickle run code while loading: call this only on bytes whose sha256 was checked against the pin.
    """
    if fmt == "skops":
        return skops_estimator(data, installed_trusted() if extra_trusted is None else extra_trusted)
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


def _sklearn_loader(fmt: str) -> Callable[[bytes, ModelSchema], Predictor]:
    return lambda data, schema: SklearnPredictor(sklearn_estimator(data, fmt), schema)


_LOADERS: dict[str, Callable[[bytes, ModelSchema], Predictor]] = {
    "skops": _sklearn_loader("skops"),
    "onnx": OnnxPredictor,
    "keras": KerasPredictor,
    "joblib": _sklearn_loader("joblib"),
    "pickle": _sklearn_loader("pickle"),
    "xgboost": XGBoostPredictor,
    "lightgbm": LightGBMPredictor,
    "pure": PurePredictor,
}


def load(data: bytes, fmt: str, schema: ModelSchema | None = None) -> Predictor:
    """Deserialise ``data`` (already sha256-verified) as format ``fmt`` for ``schema``'s task (default: a binary
    classifier); raise PredictorError on failure."""
    try:
        loader = _LOADERS[fmt]
    except KeyError:
        raise PredictorError(f"unknown MODEL_FORMAT {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return loader(data, schema or _BINARY_SCHEMA)
