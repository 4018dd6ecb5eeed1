"""What each manifest schema version allows: names, choices, limits and the per-version rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Two schemas load (docs/DESIGN.md, "Own models"):
#
# - schema 1, the book's two models: binary classification of 0/1 labels, features ``binary`` or ``numeric``
#   named like identifiers, at least 200 parity rows, a ROC AUC on a holdout split;
# - schema 2 (what ``smodels add-model`` writes): frameworks scikit-learn, xgboost, lightgbm and keras; tasks
#   binary-classification, multiclass-classification (labels as trained: strings or integers) and regression;
#   any non-empty feature name; feature types numeric, integer, binary, boolean and categorical (with its
#   categories, ``nullable`` and ``ignore_unknown``); the libraries the native model needs (``requirements``);
#   a training ``profile``; samples and parity rows whose values are what a client sends (strings, booleans,
#   ``null``) and whose outputs are the task's (regression: the value; binary: P(classes[1]); multiclass: the
#   list of probabilities in ``classes`` order);
# - schema 3 (what ``smodels add-model`` and the book's training scripts write now): schema 2 whose profile, when
#   there is one, is complete enough to measure drift against (docs/DESIGN.md, "Drift"): decile ``bins`` of every
#   numeric and integer feature, category ``frequencies`` of every categorical, binary and boolean feature, and the
#   output's ``bins`` (regression, binary) or predicted-label ``frequencies`` (multiclass). Schema 1 and 2
#   manifests still load; ``smodels drift`` says "no profile: drift unavailable" for them.

SCHEMA_VERSION = 3  # what this module (and smodels add-model) writes
SCHEMA_VERSIONS = (1, 2, 3)  # what loads
MANIFEST_FILE = "model.json"
FRAMEWORKS = ("scikit-learn", "xgboost", "lightgbm", "keras")
TASKS = ("binary-classification", "multiclass-classification", "regression")
FEATURE_TYPES = ("numeric", "integer", "binary", "boolean", "categorical")
METRICS = {"roc_auc": ("binary-classification",),
           "accuracy": ("binary-classification", "multiclass-classification"),
           "r2": ("regression",)}
#: The distribution (``requirements`` key) of each framework; its version is ``framework_version``.
FRAMEWORK_PACKAGES = {"scikit-learn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm",
                      "keras": "keras"}
#: Formats each framework's artifact may have (schema 2). A booster inside a scikit-learn Pipeline is
#: framework scikit-learn with xgboost/lightgbm in ``requirements``.
FRAMEWORK_FORMATS = {
    "scikit-learn": ("skops", "onnx", "joblib", "pickle"),
    "xgboost": ("xgboost", "skops", "onnx", "joblib", "pickle"),
    "lightgbm": ("lightgbm", "skops", "onnx", "joblib", "pickle"),
    "keras": ("keras", "onnx"),
}
PROFILE_QUANTILES = ("0.01", "0.5", "0.99")
MIN_SAMPLES = 3
MIN_PARITY_ROWS = 200  # schema 1 (a holdout slice of the book's data)
MIN_PARITY_ROWS_V2 = 3  # schema 2: rows of whatever example the user gave (add-model takes up to 250)
PROBABILITY_SUM_TOLERANCE = 1e-4  # multiclass outputs must sum to 1 within this

# schema 1: what the book's manifests hold (unchanged)
_FRAMEWORKS_V1 = ("scikit-learn", "keras")
_FEATURE_TYPES_V1 = ("binary", "numeric")
_FORMATS_V1 = {"scikit-learn": ("skops", "onnx", "joblib", "pickle"), "keras": ("keras", "onnx")}

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^\d+(\.\d+)*([.+\-\w]*)$")
_FEATURE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")

_KEYS_V1 = (
    "schema",
    "name",
    "description",
    "framework",
    "framework_version",
    "backend",
    "python_version",
    "format",
    "artifact",
    "sha256",
    "size_bytes",
    "task",
    "output",
    "features",
    "label",
    "training_data",
    "holdout",
    "samples",
    "parity",
)
_KEYS = _KEYS_V1  # kept for callers of the old name
#: schema 2: required keys; the others may be left out (null, or derived: description "", requirements from
#: the framework, output from the task). ``to_dict`` always writes every key.
_REQUIRED_V2 = ("schema", "name", "framework", "framework_version", "format", "artifact", "sha256", "size_bytes",
                "task", "features", "samples", "parity")
_KEYS_V2 = (*_KEYS_V1, "requirements", "classes", "profile")


@dataclass(frozen=True)
class _Rules:
    """What one schema version allows. ``legacy`` (schema 1) also means: every key is required and not null,
    texts are not blank, feature names are identifiers, and there are no classes, requirements or profile."""

    version: int
    keys: tuple[str, ...]
    required: tuple[str, ...]
    frameworks: tuple[str, ...]
    formats: dict[str, tuple[str, ...]]
    tasks: tuple[str, ...]
    feature_types: tuple[str, ...]
    feature_keys: frozenset[str]
    min_parity_rows: int
    drift_profile: bool = False  # schema 3: a profile must carry what drift is measured against

    @property
    def legacy(self) -> bool:
        return self.version == 1


_RULES = {
    1: _Rules(1, _KEYS_V1, _KEYS_V1, _FRAMEWORKS_V1, _FORMATS_V1, ("binary-classification",), _FEATURE_TYPES_V1,
              frozenset({"name", "type"}), MIN_PARITY_ROWS),
    2: _Rules(2, _KEYS_V2, _REQUIRED_V2, FRAMEWORKS, FRAMEWORK_FORMATS, TASKS, FEATURE_TYPES,
              frozenset({"name", "type", "nullable", "categories", "ignore_unknown"}), MIN_PARITY_ROWS_V2),
    3: _Rules(3, _KEYS_V2, _REQUIRED_V2, FRAMEWORKS, FRAMEWORK_FORMATS, TASKS, FEATURE_TYPES,
              frozenset({"name", "type", "nullable", "categories", "ignore_unknown"}), MIN_PARITY_ROWS_V2,
              drift_profile=True),
}
