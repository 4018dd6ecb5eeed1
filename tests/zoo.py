"""A zoo of small models a data scientist would bring, trained here on data that ships with scikit-learn or is
generated (never the book's, never downloaded): one per task, feature kind and framework the project serves.

Each entry gives the fitted model, the example DataFrame `smodels add-model` reads (features plus the label
column), the label's name, and rows to send. Training is seeded and small, so the whole zoo fits in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ZooModel:
    """One trained model and the data it came from."""

    name: str
    model: Any
    example: pd.DataFrame  # features + label column
    label: str
    task: str

    @property
    def features(self) -> pd.DataFrame:
        """The example without its label column."""
        return self.example.drop(columns=[self.label])


def regressor() -> ZooModel:
    """Diabetes progression: a GradientBoostingRegressor on ten numeric features (a tree ensemble)."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    return ZooModel("zoo-diabetes", model, X.assign(progression=y), "progression", "regression")


def multiclass() -> ZooModel:
    """Iris species as strings: a LogisticRegression in a scaling pipeline."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris(as_frame=True)
    X = data.data
    y = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    return ZooModel("zoo-iris", model, X.assign(species=y), "species", "multiclass-classification")


def categorical_pipeline() -> ZooModel:
    """Churn from a generated table whose column names have spaces and non-ASCII characters: one-hot (ignoring
    unseen categories), ordinal-free scaling, imputed missing spend; labels are strings."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    n = 600
    city = rng.choice(["Lyon", "Zürich", "São Paulo", "Oslo"], n)
    plan = rng.choice(["basic", "pro"], n, p=[0.7, 0.3])
    spend = np.round(rng.gamma(2.0, 40.0, n), 2)
    spend[rng.random(n) < 0.05] = np.nan
    months = rng.integers(1, 60, n)
    score = 0.02 * np.nan_to_num(spend, nan=80) - 0.05 * months + (plan == "pro") * 1.2 + (city == "Oslo") * 0.8
    churn = np.where(score + rng.normal(0, 0.7, n) > 0.5, "churn", "stay")
    X = pd.DataFrame({"home city": city, "plan": plan, "spend €": spend, "months active": months})
    pre = ColumnTransformer([
        ("cats", OneHotEncoder(handle_unknown="ignore"), ["home city", "plan"]),
        ("spend", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["spend €"]),
        ("months", StandardScaler(), ["months active"]),
    ])
    model = Pipeline([("prep", pre), ("clf", LogisticRegression(max_iter=500))]).fit(X, churn)
    return ZooModel("zoo-churn", model, X.assign(outcome=churn), "outcome", "binary-classification")


def xgboost_binary() -> ZooModel:
    """Breast cancer (first 8 features): an XGBoost classifier through its scikit-learn API."""
    from sklearn.datasets import load_breast_cancer
    from xgboost import XGBClassifier

    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :8]
    X.columns = [c.replace(" ", "_") for c in X.columns]
    model = XGBClassifier(n_estimators=20, max_depth=3, learning_rate=0.3, random_state=0).fit(X, data.target)
    return ZooModel("zoo-xgb", model, X.assign(malignant=data.target), "malignant", "binary-classification")


def lightgbm_multiclass() -> ZooModel:
    """Wine cultivars: a LightGBM classifier through its scikit-learn API, integer labels."""
    from lightgbm import LGBMClassifier
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    model = LGBMClassifier(n_estimators=20, num_leaves=8, random_state=0, verbose=-1).fit(data.data, data.target)
    return ZooModel("zoo-wine", model, data.data.assign(cultivar=data.target), "cultivar",
                    "multiclass-classification")


ZOO: dict[str, Callable[[], ZooModel]] = {
    "regressor": regressor,
    "multiclass": multiclass,
    "categorical": categorical_pipeline,
    "xgboost": xgboost_binary,
    "lightgbm": lightgbm_multiclass,
}
