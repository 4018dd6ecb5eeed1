"""OpenAPI 3.0 description of the endpoints (`smodels openapi`), generated from the model manifests.

The document is exact about what a model endpoint accepts, so that a schema-driven fuzzer (schemathesis)
can hold the functions to it: every case generated from the schema must get a 200, every case that breaks
it must get a 4xx with the JSON error body. Concretely, for a model with features F1..Fn:

- single row: an object with exactly the n features (``additionalProperties: false``), each a JSON number
  or a numeric string (``"1"``, ``"-0.5"``, ``"2e3"``: ASCII decimal, optional sign, fraction and exponent,
  no blanks, no ``nan``/``inf``);
- batch: ``{"instances": [...]}`` with 1..MAX_BATCH_ROWS rows, each such an object or a list of exactly n
  values in feature order; nothing beside ``instances``;
- answers: 200 success shapes, 4xx ``{"success": false, "error": {"code", "message", "field"}}``, 503 when
  the model cannot be loaded.

Two bounds cannot be written in JSON Schema and are enforced by the function instead: a numeric string
whose value overflows a float64 (``"1e999"``) is refused with 400, and the body limit (MAX_BODY_BYTES)
answers 413. The schema keeps generated strings inside the finite range (at most 20 integer digits, 20
fraction digits and a two-digit exponent), so positive cases never hit either.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functions.contract import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES, ERROR_CODES, FLOAT32_MAX
from functions.schema import ModelSchema

OPENAPI_VERSION = "3.0.3"
# ASCII digits only: JSON Schema patterns are ECMA-262, where \d is [0-9].
NUMERIC_STRING_PATTERN = r"^[+-]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][+-]?[0-9]{1,2})?$"
# For a float32 model input: a one-digit exponent keeps every matching string under 1e30.
NUMERIC_STRING_PATTERN_FLOAT32 = r"^[+-]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][+-]?[0-9])?$"
ERROR_CODES_4XX = tuple(code for code, status in ERROR_CODES.items() if 400 <= status < 422)
BINARY_VALUE = {
    "anyOf": [{"type": "number", "enum": [0, 1]}, {"type": "string", "enum": ["0", "1"]}],
    "description": "A binary feature: 0 or 1, as a JSON number or the string \"0\" / \"1\".",
}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error"],
        "additionalProperties": False,
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message", "field"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "minLength": 1},
                    "message": {"type": "string", "minLength": 1},
                    "field": {"type": "string", "nullable": True},
                },
            },
        },
    }


def _error_responses(codes: Sequence[int]) -> dict[str, Any]:
    texts = {
        400: "Bad request: invalid JSON, missing/unknown feature, non-numeric or non-finite value, empty batch.",
        405: "Method not allowed (the Allow header lists the allowed ones).",
        413: "Request body over MAX_BODY_BYTES, or a batch over MAX_BATCH_ROWS rows.",
        422: "Valid input, but the model's output for it is not finite (values too extreme for the model).",
        415: "Content type other than application/json (a missing content type is accepted).",
        503: "The model cannot be loaded right now (store unreachable, integrity check failed) or the "
             "function is misconfigured.",
    }
    return {
        str(code): {
            "description": texts[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _value_schema(max_abs: float | None) -> dict[str, Any]:
    if max_abs is None:
        return {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMERIC_STRING_PATTERN}],
            "description": "A JSON number or a numeric string; must be finite as a float64.",
        }
    return {
        "anyOf": [
            {"type": "number", "minimum": -max_abs, "maximum": max_abs},
            {"type": "string", "pattern": NUMERIC_STRING_PATTERN_FLOAT32},
        ],
        "description": f"A JSON number or a numeric string, |x| <= {max_abs:.8g} (the model's float32 input).",
    }


def input_limit(framework: str, runtime: str) -> float | None:
    """Largest |value| the served model's input holds: float32 for Keras (any runtime), else None (float64).

    The packager converts scikit-learn models to ONNX with a double input, and Keras MLPs with a float32 one.
    """
    return FLOAT32_MAX if framework == "keras" else None


def _feature_schema(f: Any, max_abs: float | None) -> dict[str, Any]:
    """What one feature accepts (functions/schema.py): numbers, 0/1, booleans, or its categories."""
    if f.type == "binary":
        out: dict[str, Any] = {"$ref": "#/components/schemas/BinaryValue"}
    elif f.type == "categorical":
        out = {"type": "string", "description": "One of the categories seen in training"
               + (" (others are accepted: the model ignores unknown categories)." if f.ignore_unknown else ".")}
        if not f.ignore_unknown:
            out["enum"] = list(f.categories)
    elif f.type == "boolean":
        out = {"type": "boolean"}
    elif f.type == "integer":
        out = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[+-]?[0-9]{1,15}$"}],
               "description": "A whole number (JSON integer or integer string)."}
    else:
        out = {"$ref": "#/components/schemas/FeatureValue"}
    if f.nullable:
        out = {"allOf": [out], "nullable": True} if "$ref" in out else {**out, "nullable": True}
    return out


def _model_components(schema: Any, max_batch_rows: int, max_abs: float | None = None) -> dict[str, Any]:
    features = list(schema.names)
    props = {f.name: _feature_schema(f, max_abs) for f in schema.features}
    row = {
        "type": "object",
        "description": "One row: every feature by name (the book's request).",
        "required": features,
        "additionalProperties": False,
        "properties": props,
        "example": {f.name: (f.categories[0] if f.categories else "1" if i == 0 else "0")
                    for i, f in enumerate(schema.features)},
    }
    kinds = {json.dumps(v, sort_keys=True) for v in props.values()}
    positional = {
        "type": "array",
        "description": f"One row as {len(features)} values in feature order: {', '.join(features)}.",
        "minItems": len(features),
        "maxItems": len(features),
        # OpenAPI 3.0 has no per-position item schemas: exact when every feature takes the same values.
        "items": next(iter(props.values())) if len(kinds) == 1 else {},
    }
    batch = {
        "type": "object",
        "required": ["instances"],
        "additionalProperties": False,
        "properties": {
            "instances": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch_rows,
                "items": {"oneOf": [{"$ref": "#/components/schemas/Row"}, {"$ref": "#/components/schemas/RowValues"}]},
            }
        },
    }
    model_ref = {
        "type": "object",
        "required": ["name", "version"],
        "properties": {"name": {"type": "string"}, "version": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    }
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    labels = list(schema.classes)
    label = {"enum": labels, "description": "A class label as trained."}
    keys = [str(c) for c in labels]
    prob_map = {"type": "object", "required": keys, "additionalProperties": False,
                "properties": {k: probability for k in keys}, "description": "Probability of each class label."}
    ok = {"type": "boolean", "enum": [True]}
    if schema.task == "regression":
        single = {"prediction": {"type": "number"}}
        many = {"predictions": {"type": "array", "minItems": 1, "maxItems": max_batch_rows,
                                "items": {"type": "number"}}}
    elif schema.task == "binary-classification":
        single = {"response": {"type": "string", "description": "The probability as a string (the book's field)."},
                  "prediction": {**probability, "description": f"Probability of the class {labels[1]!r}."},
                  "label": label}
        many = {"predictions": {"type": "array", "minItems": 1, "maxItems": max_batch_rows, "items": probability},
                "probabilities": {"type": "array", "minItems": 1, "maxItems": max_batch_rows, "items": prob_map}}
    else:
        single = {"prediction": label, "probabilities": prob_map}
        many = {"predictions": {"type": "array", "minItems": 1, "maxItems": max_batch_rows, "items": label},
                "probabilities": {"type": "array", "minItems": 1, "maxItems": max_batch_rows, "items": prob_map}}
    prediction = {
        "type": "object",
        "required": ["success", *single, "model"],
        "additionalProperties": False,
        "properties": {"success": ok, **single, "model": model_ref},
    }
    batch_prediction = {
        "type": "object",
        "required": ["success", *many, "model"],
        "additionalProperties": False,
        "properties": {"success": ok, **many, "model": model_ref},
    }
    metadata = {
        "type": "object",
        "required": ["success", "endpoint", "model", "limits"],
        "properties": {
            "success": ok,
            "endpoint": {"type": "string"},
            "model": {
                "type": "object",
                "required": ["name", "version", "task", "features"],
                "properties": {
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                    "framework": {"type": "string"},
                    "format": {"type": "string"},
                    "task": {"type": "string", "enum": [schema.task]},
                    "features": {"type": "array", "items": {"type": "string"}},
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "classes": {"type": "array"},
                    "loaded": {"type": "boolean"},
                },
            },
            "runtime": {"type": "object"},
            "limits": {
                "type": "object",
                "properties": {"max_batch_rows": {"type": "integer"}, "max_body_bytes": {"type": "integer"}},
            },
        },
    }
    return {
        "FeatureValue": _value_schema(max_abs),
        "BinaryValue": BINARY_VALUE,
        "Row": row,
        "RowValues": positional,
        "BatchRequest": batch,
        "Prediction": prediction,
        "BatchPrediction": batch_prediction,
        "Metadata": metadata,
    }


def _model_path_item(endpoint: str, features: Sequence[str], model_name: str | None) -> dict[str, Any]:
    what = f"model {model_name!r}" if model_name else "the model"
    return {
        "get": {
            "operationId": f"{endpoint}_metadata",
            "summary": f"Which model {endpoint} serves, its features and limits.",
            "responses": {
                "200": {
                    "description": "Metadata.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Metadata"}}},
                },
                **_error_responses([503]),
            },
        },
        "post": {
            "operationId": f"{endpoint}_predict",
            "summary": f"Probability from {what} for one row ({', '.join(features)}) or a batch.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Row"},
                                {"$ref": "#/components/schemas/BatchRequest"},
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The prediction (single row) or predictions (batch, in row order).",
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Prediction"},
                                    {"$ref": "#/components/schemas/BatchPrediction"},
                                ]
                            }
                        }
                    },
                },
                **_error_responses([400, 405, 413, 415, 422, 503]),
            },
        },
    }


def _echo_path_item(endpoint: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{endpoint}_echo",
            "summary": "The book's echo: returns msg.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["msg"],
                            "properties": {"msg": {"type": "string"}},
                            "example": {"msg": "hello"},
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The message back.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["response", "success"],
                                "additionalProperties": False,
                                "properties": {
                                    "response": {"type": "string"},
                                    "success": {"type": "boolean", "enum": [True]},
                                },
                            }
                        }
                    },
                },
                **_error_responses([400, 405, 413, 415]),
            },
        }
    }


def _document(title: str, description: str, paths: dict[str, Any], components: dict[str, Any],
              server: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1", "description": description},
        "paths": paths,
        "components": {"schemas": {"Error": _error_schema(), **components}},
    }
    if server:
        doc["servers"] = [{"url": server}]
    return doc


def _check_features(features: Sequence[str]) -> list[str]:
    names = list(features)
    if not names:
        raise ValueError("features: at least one feature name is needed")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ValueError(f"features[{i}]: must be a non-empty string, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"features: duplicate names in {names}")
    return names


def build_spec(
    features: Sequence[str],
    endpoint: str = "pred",
    *,
    path: str | None = None,
    model_name: str | None = None,
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    max_abs: float | None = None,
    feature_types: Sequence[str] = (),
    schema: Any = None,
    server: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI document of one model endpoint taking ``features`` (model input order).

    ``path`` defaults to ``/<endpoint>`` (Cloud Functions' URL path; functions-framework serves any path).
    ``max_abs``: the largest |value| the model input holds (``FLOAT32_MAX`` for a float32 model; None: any
    finite float64). ``feature_types``: one of functions.contract.FEATURE_TYPES per feature (default: all numeric);
    ``schema``: a functions.schema.ModelSchema (types, categories, task, classes) instead of names and types.
    Raises ValueError naming the argument if the features or limits are unusable.
    """
    names = _check_features(features)
    if max_abs is not None and not (isinstance(max_abs, (int, float)) and 0 < max_abs < float("inf")):
        raise ValueError(f"max_abs: must be a positive finite number or None, got {max_abs!r}")
    if isinstance(max_batch_rows, bool) or not isinstance(max_batch_rows, int) or max_batch_rows < 1:
        raise ValueError(f"max_batch_rows: must be a positive integer, got {max_batch_rows!r}")
    route = path or f"/{endpoint}"
    model_schema = schema or ModelSchema.simple(names, feature_types)
    components = _model_components(model_schema, max_batch_rows, max_abs)
    return _document(
        f"serverless-models: {endpoint}",
        f"Prediction endpoint {endpoint!r}" + (f" serving {model_name!r}" if model_name else "")
        + f". Features in model order: {', '.join(names)}. Limits: {max_batch_rows} rows per batch, "
        f"{DEFAULT_MAX_BODY_BYTES} bytes per body (defaults; MAX_BATCH_ROWS / MAX_BODY_BYTES). Beside the book's "
        "contract: the Open Inference Protocol v2 (/v2/models/...) and MLflow scoring (/<endpoint>/invocations).",
        {route: _model_path_item(endpoint, names, model_name),
         **_protocol_paths(endpoint, model_schema, components, max_batch_rows)},
        components,
        server,
    )


def _protocol_paths(endpoint: str, schema: Any, components: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """The OIP and MLflow paths of a model endpoint (smodels/openapi_protocols.py)."""
    from smodels.openapi_protocols import mlflow_paths, oip_paths

    return {**oip_paths(endpoint, schema, components),
            **mlflow_paths(endpoint, schema, components, _error_responses([400, 405, 413, 415, 422, 503]), max_rows)}


def build_echo_spec(endpoint: str = "echo", *, path: str | None = None, server: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of an echo endpoint."""
    return _document(f"serverless-models: {endpoint}", "The book's echo function.",
                     {path or f"/{endpoint}": _echo_path_item(endpoint)}, {}, server)


def build_stack_spec(cfg: Any, endpoints: Sequence[str] | None = None, server: str | None = None) -> dict[str, Any]:
    """One document for the endpoints of a validated ``StackConfig`` (all, or those named in ``endpoints``).

    Model endpoints share one feature set per document only if they agree; otherwise each model's schemas
    are prefixed with its endpoint name.
    """
    from smodels.manifest import load_manifest

    chosen = [e for e in cfg.endpoints if endpoints is None or e.name in endpoints]
    if endpoints is not None:
        unknown = sorted(set(endpoints) - {e.name for e in cfg.endpoints})
        if unknown:
            raise ValueError(f"--endpoint: not in the stack: {', '.join(unknown)}")
    if not chosen:
        raise ValueError("no endpoints selected")
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    models: list[str] = []
    for ep in chosen:
        if ep.kind == "echo":
            paths[f"/{ep.name}"] = _echo_path_item(ep.name)
            continue
        manifest = ep.manifest or load_manifest(ep.model, verify_artifact=False)
        models.append(f"{ep.name}: {manifest.name} ({', '.join(manifest.feature_names)})")
        comps = _model_components(manifest.model_schema(), DEFAULT_MAX_BATCH_ROWS,
                                  input_limit(manifest.framework, ep.runtime))
        items = {f"/{ep.name}": _model_path_item(ep.name, manifest.feature_names, manifest.name),
                 **_protocol_paths(ep.name, manifest.model_schema(), comps, DEFAULT_MAX_BATCH_ROWS)}
        prefix = "" if len([e for e in chosen if e.kind == "model"]) == 1 else _camel(ep.name)
        if prefix:  # several models: each one's schemas under its own names
            items = _prefixed(items, list(comps), prefix)
            comps = {f"{prefix}{k}": v for k, v in _prefixed(comps, list(comps), prefix).items()}
        paths.update(items)
        components.update(comps)
    names = ", ".join(e.name for e in chosen)
    desc = f"Endpoints {names}." + (" Models: " + "; ".join(models) + "." if models else "")
    return _document("serverless-models", desc, paths, components, server)


def _prefixed(doc: Any, keys: list[str], prefix: str) -> Any:
    """``doc`` with every reference to the schemas ``keys`` renamed ``<prefix><key>``."""
    text = json.dumps(doc)
    for key in keys:
        text = text.replace(f'"#/components/schemas/{key}"', f'"#/components/schemas/{prefix}{key}"')
    return json.loads(text)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def dumps_spec(spec: dict[str, Any]) -> str:
    """Stable JSON text (sorted keys, indent 2, trailing newline) for committing."""
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def spec_for_model(model_dir: str | Path, endpoint: str = "pred", server: str | None = None,
                   runtime: str = "onnx") -> dict[str, Any]:
    """The document of one model endpoint straight from a manifest directory (no stack config needed)."""
    from smodels.manifest import load_manifest

    manifest = load_manifest(model_dir, verify_artifact=False)
    return build_spec(manifest.feature_names, endpoint, model_name=manifest.name, server=server,
                      max_abs=input_limit(manifest.framework, runtime),
                      schema=manifest.model_schema())


def _run(args: argparse.Namespace) -> int:
    from smodels.config import load_stack_config, read_stack_file

    try:
        if args.model:
            if len(args.endpoint) > 1:
                raise ValueError("--model describes one endpoint; give at most one --endpoint")
            spec = spec_for_model(args.model, (args.endpoint or ["pred"])[0], args.server, args.runtime)
        else:
            project = Path(args.project_dir)
            cfg = load_stack_config(read_stack_file(project, args.stack), project)
            spec = build_stack_spec(cfg, args.endpoint or None, args.server)
    except (ValueError, OSError) as exc:  # ManifestError is a ValueError
        print(f"smodels openapi: {exc}", file=sys.stderr)
        return 2
    text = dumps_spec(spec)
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out} ({len(spec['paths'])} path(s))", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add `smodels openapi` to the CLI."""
    p = subparsers.add_parser("openapi", help="write the OpenAPI document of the stack's endpoints",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default: dev)")
    p.add_argument("--project-dir", default=".", help="project directory (default: .)")
    p.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                   help="only this endpoint (repeatable; default: every endpoint of the stack)")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="describe one model endpoint from this manifest directory instead of the stack")
    p.add_argument("--runtime", choices=["onnx", "native"], default="onnx",
                   help="with --model: the endpoint's runtime (default onnx, the stack default)")
    p.add_argument("--server", default=None, help="base URL to put in `servers` (default: none)")
    p.add_argument("--out", default=None, help="output file (default: stdout)")
    p.set_defaults(func=_run)
