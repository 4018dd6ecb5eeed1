"""`smodels add-model` and ``smodels.save_model``: a trained model becomes an endpoint directory.

From a model (in memory, or a joblib/pickle, ``.skops`` or ``.keras`` file, or an MLflow model directory) and an
example of its input (a DataFrame or a CSV; an MLflow input example stands in), write ``model.json``
(manifest schema 2, docs/DESIGN.md) and the artifact in a safe format where one exists:

- scikit-learn estimators and Pipelines -> skops, checked against the serving side's trust list
  (``functions.predictors.skops_estimator``: sklearn/numpy types, plus xgboost/lightgbm inside a Pipeline);
- a bare XGBoost model -> XGBoost's own JSON (format ``xgboost``); a bare LightGBM model -> its text model
  (format ``lightgbm``); both non-executing and loadable without scikit-learn;
- Keras -> ``.keras`` (loaded back in safe mode).

It infers the input schema (names in model order, types, categories, whether unknown categories are ignored,
nullable where the example has missing values and the model takes them), a training profile, samples and parity
rows with the native model's outputs computed on the values exactly as the endpoint parses them
(``functions.schema``), the task and class labels, and a metric on the example when its label column is named.
Every artifact written is loaded back and must reproduce those outputs.

Frameworks are imported inside the functions that need them: ``smodels`` stays cheap to import.
"""

from smodels.add_model.api import add_model, load_artifact, save_model
from smodels.add_model.cli import register
from smodels.add_model.errors import AddModelError
from smodels.add_model.inference import feature_columns, infer_type, read_example
from smodels.add_model.inspection import inspect_model
from smodels.add_model.parity import MAX_PARITY_ROWS, RELOAD_TOLERANCE, native_predict
from smodels.add_model.profile import MAX_FREQUENCIES, MAX_SAMPLES, PROFILE_MAX_ROWS, QUANTILES
from smodels.add_model.readers import PICKLE_WARNING, Loaded

__all__ = [
    "MAX_FREQUENCIES",
    "MAX_PARITY_ROWS",
    "MAX_SAMPLES",
    "PICKLE_WARNING",
    "PROFILE_MAX_ROWS",
    "QUANTILES",
    "RELOAD_TOLERANCE",
    "AddModelError",
    "Loaded",
    "add_model",
    "feature_columns",
    "infer_type",
    "inspect_model",
    "load_artifact",
    "native_predict",
    "read_example",
    "register",
    "save_model",
]
