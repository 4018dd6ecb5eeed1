"""Model manifest (``models/<name>/model.json``): read, validate, write; schemas 1 and 2 (see ``schema``)."""

# The manifest is the contract between the training scripts (and ``smodels add-model``), the packager, the
# Pulumi program and the local runner: it names the artifact beside it, pins its sha256, lists the features in
# model input order with their types, names the task and the class labels, and carries sample and parity
# outputs that any serving path must reproduce. Pure Python + stdlib, so the builder and the Pulumi program can
# import it without numpy or a model framework.

from __future__ import annotations

from smodels.manifest.artifact import sha256_file, verify_artifact_file
from smodels.manifest.files import dumps_manifest, load_manifest, write_manifest
from smodels.manifest.model import Feature, Holdout, Manifest, ManifestError, Parity, Sample, TrainingData
from smodels.manifest.outputs import default_output
from smodels.manifest.schema import _KEYS as _KEYS
from smodels.manifest.schema import _KEYS_V1 as _KEYS_V1
from smodels.manifest.schema import _KEYS_V2 as _KEYS_V2
from smodels.manifest.schema import _REQUIRED_V2 as _REQUIRED_V2
from smodels.manifest.schema import (
    FEATURE_TYPES,
    FRAMEWORK_FORMATS,
    FRAMEWORK_PACKAGES,
    FRAMEWORKS,
    MANIFEST_FILE,
    METRICS,
    MIN_PARITY_ROWS,
    MIN_PARITY_ROWS_V2,
    MIN_SAMPLES,
    PROBABILITY_SUM_TOLERANCE,
    PROFILE_QUANTILES,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    TASKS,
)
from smodels.manifest.validate import manifest_from_dict

__all__ = [
    "FEATURE_TYPES",
    "FRAMEWORKS",
    "FRAMEWORK_FORMATS",
    "FRAMEWORK_PACKAGES",
    "MANIFEST_FILE",
    "METRICS",
    "MIN_PARITY_ROWS",
    "MIN_PARITY_ROWS_V2",
    "MIN_SAMPLES",
    "PROBABILITY_SUM_TOLERANCE",
    "PROFILE_QUANTILES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "TASKS",
    "Feature",
    "Holdout",
    "Manifest",
    "ManifestError",
    "Parity",
    "Sample",
    "TrainingData",
    "default_output",
    "dumps_manifest",
    "load_manifest",
    "manifest_from_dict",
    "sha256_file",
    "verify_artifact_file",
    "write_manifest",
]
