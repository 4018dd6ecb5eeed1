"""OpenAPI path items for the protocols beside the book's contract: Open Inference Protocol v2 and MLflow scoring.

Like the book's paths (smodels/openapi.py), each is exact where JSON Schema can be: a positive case is a request
the function answers 200, a negative one a request it refuses with a 4xx. OIP's tensor form cannot tie a shape to
its data's length in JSON Schema, so the documented infer request is one row as one ``[1, F]`` tensor (the
function takes any N, and one tensor per feature too); MLflow's ``dataframe_split`` columns are the features in
model order. Both reuse the book's row schemas (``Row``, ``RowValues``) for the values.
"""

from __future__ import annotations

from typing import Any

from functions import oip

#: OIP datatypes a row of numbers takes in the documented [1, F] form; integers (the book's 0/1 flags) take the
#: integer datatypes too.
FLOAT_DATATYPES = ["FP16", "FP32", "FP64"]
INT_DATATYPES = ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _oip_error(codes: list[int]) -> dict[str, Any]:
    body = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "minLength": 1}}}
    return {str(c): {"description": "OIP error.", "content": _json(body)} for c in codes}


def _matrix_items(row_values: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """One row's values as OIP data: numbers only (an OIP FP or INT tensor holds no strings)."""
    items = row_values.get("items") or {}
    ref = items.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        items = components.get(ref.rsplit("/", 1)[1], {})
    if items.get("anyOf"):  # the book's binary flags: 0 or 1 as a number, not as a string
        numbers = [s for s in items["anyOf"] if s.get("type") in ("number", "integer")]
        items = numbers[0] if numbers else {"type": "number"}
    items = {k: v for k, v in items.items() if k != "description"}
    return {"type": "array", "minItems": row_values["minItems"], "maxItems": row_values["maxItems"], "items": items}


def oip_paths(endpoint: str, schema: Any, components: dict[str, Any]) -> dict[str, Any]:
    """``/v2/models/<endpoint>`` (metadata), ``/ready`` and ``/infer`` for a model endpoint."""
    width = len(schema.features)
    data = _matrix_items(components["RowValues"], components)
    integers = set(data["items"].get("enum", [0.5])) <= {0, 1}
    # The one tensor's name is free, but not a feature's (a tensor named by a feature is that feature's column).
    tensor = {"type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "minLength": 1, "not": {"enum": list(schema.names)}},
                             "shape": {"type": "array", "items": {"type": "integer"}, "enum": [[1, width]]},
                             "datatype": {"type": "string",
                                          "enum": FLOAT_DATATYPES + (INT_DATATYPES if integers else [])},
                             "data": data,
                             "parameters": {"type": "object", "not": {"required": ["binary_data_size"]}}}}
    # The binary tensor extension is refused: its flags may only say false.
    no_binary_output = {"type": "object", "properties": {"binary_data_output": {"type": "boolean", "enum": [False]}}}
    no_binary = {"type": "object", "properties": {"binary_data": {"type": "boolean", "enum": [False]}}}
    outputs = oip.output_names(schema)
    request = {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": tensor},
        "parameters": no_binary_output,
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "additionalProperties": False,
                                               "properties": {"name": {"type": "string", "enum": list(outputs)},
                                                              "parameters": no_binary}}}}}
    out_tensor = {"type": "object", "required": ["name", "datatype", "shape", "data"], "properties": {
        "name": {"type": "string", "enum": list(outputs)}, "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}}, "data": {"type": "array"},
        "parameters": {"type": "object"}}}
    response = {"type": "object", "required": ["model_name", "model_version", "outputs"], "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": out_tensor}}}
    tensor_meta = {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string", "enum": list(oip.DATATYPES)},
        "shape": {"type": "array", "items": {"type": "integer"}}}}
    metadata = {"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"], "properties": {
        "name": {"type": "string", "enum": [endpoint]}, "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"}, "inputs": {"type": "array", "items": tensor_meta},
        "outputs": {"type": "array", "items": tensor_meta}, "parameters": {"type": "object"}}}
    base = f"/v2/models/{endpoint}"
    return {
        base: {"get": {"operationId": f"{endpoint}_oip_metadata", "summary": "OIP model metadata.",
                       "responses": {"200": {"description": "Metadata.", "content": _json(metadata)},
                                     **_oip_error([404, 503])}}},
        f"{base}/ready": {"get": {"operationId": f"{endpoint}_oip_ready", "summary": "OIP model readiness.",
                                  "responses": {"200": {"description": "The model is loaded."},
                                                **_oip_error([404, 503])}}},
        f"{base}/infer": {"post": {
            "operationId": f"{endpoint}_oip_infer",
            "summary": f"OIP inference: one [N, {width}] tensor in feature order ({', '.join(schema.names)}), or "
                       "one tensor per feature named by it.",
            "requestBody": {"required": True, "content": _json(request)},
            "responses": {"200": {"description": "The outputs asked for (all by default).", "content": _json(response)},
                          **_oip_error([400, 404, 405, 413, 415, 422, 503])}}},
    }


def mlflow_paths(endpoint: str, schema: Any, components: dict[str, Any], error_responses: dict[str, Any],
                 max_rows: int) -> dict[str, Any]:
    """``/<endpoint>/invocations``: MLflow's scoring bodies (JSON) answered in the batch contract."""
    rows = {"type": "array", "minItems": 1, "maxItems": max_rows,
            "items": {"oneOf": [{"$ref": "#/components/schemas/Row"}, {"$ref": "#/components/schemas/RowValues"}]}}
    names = list(schema.names)
    # Any order of the columns where every feature takes the same values (the data follow the columns); else the
    # model's order, the one JSON Schema can tie the row values to.
    same = bool(components["RowValues"].get("items"))
    columns = ({"type": "array", "items": {"type": "string", "enum": names}, "minItems": len(names),
                "maxItems": len(names), "uniqueItems": True} if same
               else {"type": "array", "items": {"type": "string"}, "enum": [names]})
    params = {"params": {"type": "object"}}
    split = {"type": "object", "required": ["dataframe_split"], "additionalProperties": False, "properties": {
        "dataframe_split": {"type": "object", "required": ["columns", "data"], "additionalProperties": False,
                            "properties": {"columns": columns,
                                           "data": {**rows, "items": {"$ref": "#/components/schemas/RowValues"}}}},
        **params}}
    records = {"type": "object", "required": ["dataframe_records"], "additionalProperties": False, "properties": {
        "dataframe_records": {**rows, "items": {"$ref": "#/components/schemas/Row"}}, **params}}
    tensors = [{"type": "object", "required": [key], "additionalProperties": False, "properties": {key: rows,
                                                                                                  **params}}
               for key in ("instances", "inputs")]
    return {f"/{endpoint}/invocations": {"post": {
        "operationId": f"{endpoint}_mlflow_invocations",
        "summary": "MLflow scoring (dataframe_split, dataframe_records, instances, inputs; text/csv too).",
        "requestBody": {"required": True, "content": _json({"oneOf": [split, records, *tensors]})},
        "responses": {"200": {"description": "The batch contract: predictions (and probabilities).",
                              "content": _json({"$ref": "#/components/schemas/BatchPrediction"})},
                      **error_responses}}}}
