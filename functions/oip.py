"""The Open Inference Protocol (KServe v2) over a model endpoint: metadata, readiness and ``infer`` in JSON.

An infer request is read into the rows today's request parser takes (:meth:`functions.schema.ModelSchema.parse`),
so every value passes the very same checks; only the tensor envelope is checked here. Two tabular shapes are
accepted, as clients send them:

- one 2-D tensor ``[N, F]`` in the schema's feature order (any name; FP64, FP32, FP16, the INT/UINT types, BOOL);
- one tensor per feature, named by the feature, shape ``[N]`` or ``[N, 1]`` (MLServer's pandas codec; BYTES for
  categorical columns).

The answer's outputs: ``prediction`` (FP64: the regression value or, binary, P(classes[1]); multiclass: the
label), ``label`` (binary), ``probabilities`` ``[N, K]`` (classifiers, class order in its ``parameters``). The
binary tensor extension is refused with a 400. Errors are ``{"error": "..."}`` as the protocol says.
Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

from functions.http import ApiError, Response, refuse_unknown_fields
from functions.schema import ModelSchema

#: JSON element checks per datatype: numbers (never booleans), integers, booleans, strings.
_FLOATS = ("FP16", "FP32", "FP64")
_INTS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
DATATYPES = (*_FLOATS, *_INTS, "BOOL", "BYTES")
#: The datatype metadata announces per feature type (any numeric datatype is accepted for a number).
FEATURE_DATATYPE = {"numeric": "FP64", "integer": "INT64", "binary": "INT64", "boolean": "BOOL",
                    "categorical": "BYTES"}
#: Paths below a base: /v2/health/live|ready, /v2/models/<name>[/versions/<v>][/ready|/infer].
_PATH = re.compile(r"(?:.*/)?v2/(?:health/(?P<health>live|ready)|models/(?P<model>[^/]+)"
                   r"(?:/versions/(?P<version>[^/]+))?(?:/(?P<action>ready|infer))?)/?$")
#: Headers and parameters of the binary tensor extension (not supported: refused, never misread).
_BINARY_HEADER = "inference-header-content-length"


class Route:
    """An OIP path, parsed: ``health`` ("live"/"ready") or ``model`` with its ``version`` and ``action``
    ("" for metadata, "ready", "infer")."""

    __slots__ = ("health", "model", "version", "action")

    def __init__(self, health: str | None, model: str | None, version: str | None, action: str | None) -> None:
        self.health, self.model, self.version, self.action = health, model, version, action or ""


def route(path: str) -> Route | None:
    """The OIP route ``path`` names, or None for any other path (today's contract answers those)."""
    m = _PATH.fullmatch(path or "")
    return None if m is None else Route(m["health"], m["model"], m["version"], m["action"])


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An OIP error response: ``{"error": message}``."""
    return Response(status, {"error": message}, dict(headers or {}))


def from_api_error(err: ApiError) -> Response:
    """Today's ApiError as the protocol's error body, its message naming the field."""
    return error(err.status, err.message, err.headers)


def metadata(schema: ModelSchema, name: str, version: str, platform: str) -> dict[str, Any]:
    """``GET /v2/models/<name>``: the inputs (one per feature, in model order) and the outputs of the task."""
    inputs = [{"name": f.name, "datatype": FEATURE_DATATYPE[f.type], "shape": [-1]} for f in schema.features]
    return {"name": name, "versions": [version], "platform": platform, "inputs": inputs,
            "outputs": _output_metadata(schema),
            "parameters": {"task": schema.task, "feature_order": list(schema.names),
                           "matrix_input": {"shape": [-1, len(schema.features)], "datatype": "FP64"}}}


def _label_datatype(schema: ModelSchema) -> str:
    classes = schema.classes
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    return "BYTES"


def _output_metadata(schema: ModelSchema) -> list[dict[str, Any]]:
    if schema.task == "regression":
        return [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    k, label = len(schema.classes), _label_datatype(schema)
    probabilities = {"name": "probabilities", "datatype": "FP64", "shape": [-1, k],
                     "parameters": {"classes": list(schema.classes)}}
    if schema.task == "binary-classification":
        return [{"name": "prediction", "datatype": "FP64", "shape": [-1]},
                {"name": "label", "datatype": label, "shape": [-1]}, probabilities]
    return [{"name": "prediction", "datatype": label, "shape": [-1]}, probabilities]


def output_names(schema: ModelSchema) -> tuple[str, ...]:
    """The outputs this model's infer answers, in order."""
    return tuple(o["name"] for o in _output_metadata(schema))


class InferRequest:
    """An infer request read into ``payload`` (``{"instances": [row objects]}`` for the schema parser), with its
    ``id``, the outputs asked for and how to name a row's field in an error."""

    __slots__ = ("payload", "id", "outputs", "_where")

    def __init__(self, payload: dict[str, Any], request_id: str | None, outputs: tuple[str, ...],
                 where: dict[str, tuple[int, bool]]) -> None:
        self.payload, self.id, self.outputs, self._where = payload, request_id, outputs, where

    def rename(self, err: ApiError) -> ApiError:
        """The schema parser's error for ``instances[i].<feature>`` restated for the tensor it came from."""
        m = re.match(r"instances\[(\d+)\](?:\.(.+)|\[(\d+)\])$", err.field or "")
        names = list(self._where)
        feature = m and (m[2] or (names[int(m[3])] if m[3] is not None and int(m[3]) < len(names) else None))
        if m is None or feature not in self._where:
            return err
        row = int(m[1])
        k, matrix = self._where[feature]
        column = names.index(feature)
        field = (f"inputs[{k}].data[{row * len(self._where) + column}]" if matrix
                 else f"inputs[{k}].data[{row}]")
        place = f"{field} (row {row}, feature {feature})"
        return ApiError(err.status, err.code, err.message.replace(err.field, place, 1), field, err.headers)


def _flat(data: Any, where: str) -> list[Any]:
    """A tensor's ``data``: flat row-major, or nested lists (both are valid JSON tensors)."""
    if not isinstance(data, list):
        raise ApiError(400, "invalid_request", f"{where} must be a list", where)
    out = data
    for _ in range(8):  # one level per pass: a tensor nests as deep as its rank (the JSON depth limit is 8)
        if not any(isinstance(v, list) for v in out):
            return out
        out = [x for v in out for x in (v if isinstance(v, list) else (v,))]
    raise ApiError(400, "invalid_request", f"{where} is nested deeper than a tensor's rank", where)


def _shape(raw: Any, where: str) -> list[int]:
    if not isinstance(raw, list) or not raw or not all(type(d) is int and d >= 0 for d in raw):
        raise ApiError(400, "invalid_request", f"{where} must be a non-empty list of non-negative integers", where)
    return raw


def _checked(values: list[Any], datatype: str, where: str) -> list[Any]:
    """Element types as the datatype says: numbers for FP*, integers for INT*/UINT*, booleans for BOOL (as 0/1),
    strings for BYTES; null passes through (a nullable feature takes it; the parser refuses it elsewhere)."""
    if datatype in _FLOATS:
        bad = next((i for i, v in enumerate(values) if v is not None and (type(v) not in (int, float))), None)
        what = "numbers"
    elif datatype in _INTS:
        bad = next((i for i, v in enumerate(values) if v is not None and type(v) is not int), None)
        what = "integers"
    elif datatype == "BOOL":
        bad = next((i for i, v in enumerate(values) if v is not None and type(v) is not bool), None)
        what = "true or false"
    else:
        bad = next((i for i, v in enumerate(values) if v is not None and type(v) is not str), None)
        what = "strings"
    if bad is not None:
        v = values[bad]
        got = "a boolean" if type(v) is bool else type(v).__name__
        raise ApiError(400, "invalid_value", f"{where}[{bad}]: datatype {datatype} takes {what}, got {got}",
                       f"{where}[{bad}]")
    return values


def _tensor(raw: Any, k: int) -> tuple[str, str, list[int], list[Any]]:
    where = f"inputs[{k}]"
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_request", f"{where} must be an object with name, shape, datatype, data", where)
    for key in ("name", "shape", "datatype", "data"):
        if key not in raw:
            raise ApiError(400, "invalid_request", f"{where} lacks {key!r}", f"{where}.{key}")
    _known(raw, _TENSOR_KEYS, where)
    params = _parameters(raw, where)
    if params is not None and "binary_data_size" in params:
        raise _binary_refused()
    name, datatype = raw["name"], raw["datatype"]
    if not isinstance(name, str) or not name:
        raise ApiError(400, "invalid_request", f"{where}.name must be a non-empty string", f"{where}.name")
    if datatype not in DATATYPES:
        raise ApiError(400, "invalid_value", f"{where}.datatype {str(datatype)[:20]!r} is not one of "
                       f"{', '.join(DATATYPES)}", f"{where}.datatype")
    shape = _shape(raw["shape"], f"{where}.shape")
    data = _flat(raw["data"], f"{where}.data")
    size = 1
    for d in shape:
        size *= d
    if size != len(data):
        raise ApiError(400, "invalid_request", f"{where}: shape {shape} holds {size} values; data has {len(data)}",
                       f"{where}.data")
    values = _checked(data, datatype, f"{where}.data")
    if datatype == "BOOL":
        values = [v if v is None else int(v) for v in values]
    return name, datatype, shape, values


#: The keys the protocol defines (a typo or anything else is refused, naming it, as today's contract does).
_REQUEST_KEYS = ("id", "inputs", "outputs", "parameters")
_TENSOR_KEYS = ("name", "shape", "datatype", "data", "parameters")


def _known(raw: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    refuse_unknown_fields(raw, keys, where, f"the protocol defines {', '.join(keys)}")


def _parameters(raw: dict[str, Any], where: str) -> dict[str, Any] | None:
    """`raw`'s optional ``parameters`` object (None when absent); ApiError 400 when it is not an object."""
    params = raw.get("parameters")
    if params is not None and not isinstance(params, dict):
        field = f"{where}.parameters" if where else "parameters"
        shown = field if where else f"'{field}'"
        raise ApiError(400, "invalid_request", f"{shown} must be an object", field)
    return params


def _binary_refused() -> ApiError:
    return ApiError(400, "unsupported_extension", "the binary tensor data extension is not supported: send every "
                    "tensor as JSON data (tritonclient: binary_data=False on inputs and outputs)")


def parse_infer(doc: Any, headers: dict[str, str], schema: ModelSchema, max_rows: int) -> InferRequest:
    """Read an infer request body into the rows the schema parser takes; ApiError (400/413) naming the field."""
    if _BINARY_HEADER in headers:
        raise _binary_refused()
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_request", 'body must be a JSON object: {"inputs": [...]}')
    _known(doc, _REQUEST_KEYS, "")
    params = _parameters(doc, "")
    if params is not None and params.get("binary_data_output", False) is not False:
        raise _binary_refused()
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(400, "invalid_request", "'inputs' must be a non-empty list of tensors", "inputs")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ApiError(400, "invalid_request", "'id' must be a string", "id")
    outputs = _requested(doc.get("outputs"), schema)
    tensors = [_tensor(raw, k) for k, raw in enumerate(inputs)]
    features = schema.names
    width = len(features)
    if len(tensors) == 1 and tensors[0][0] not in features or (len(tensors) == 1 and width == 1
                                                                and len(tensors[0][2]) == 2):
        name, _, shape, values = tensors[0]
        if len(shape) != 2 or shape[1] != width:
            raise ApiError(400, "invalid_request", f"inputs[0] ({name!r}) is one tensor: its shape must be [N, {width}]"
                           f" (the features {', '.join(features)} in this order), got {shape}", "inputs[0].shape")
        n = shape[0]
        _rows_within(n, max_rows, "inputs[0].shape")
        rows = [values[i * width:(i + 1) * width] for i in range(n)]  # positional: the parser's list rows
        where = {f: (0, True) for f in features}
    else:
        by_name: dict[str, tuple[int, list[int], list[Any]]] = {}
        for k, (name, _, shape, values) in enumerate(tensors):
            if name not in schema._index:
                raise ApiError(400, "unknown_input", f"inputs[{k}]: {name[:60]!r} is not a feature of this model "
                               f"({', '.join(features)}); send one tensor per feature, or one [N, {width}] tensor",
                               f"inputs[{k}].name")
            if name in by_name:
                raise ApiError(400, "invalid_request", f"inputs[{k}]: a second tensor named {name!r}",
                               f"inputs[{k}].name")
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise ApiError(400, "invalid_request", f"inputs[{k}] ({name}): a feature's tensor has shape [N] or "
                               f"[N, 1], got {shape}", f"inputs[{k}].shape")
            by_name[name] = (k, shape, values)
        missing = [f for f in features if f not in by_name]
        if missing:
            raise ApiError(400, "missing_feature", f"no tensor for feature(s) {', '.join(missing)}; expected one per "
                           f"feature ({', '.join(features)})", "inputs")
        counts = {len(v) for _, _, v in by_name.values()}
        if len(counts) != 1:
            raise ApiError(400, "invalid_request", "the feature tensors have different lengths "
                           f"({', '.join(f'{f}: {len(by_name[f][2])}' for f in features)})", "inputs")
        n = counts.pop()
        _rows_within(n, max_rows, "inputs")
        columns = [by_name[f][2] for f in features]
        rows = [dict(zip(features, row, strict=True)) for row in zip(*columns, strict=True)]
        where = {f: (by_name[f][0], False) for f in features}
    if not rows:
        raise ApiError(400, "empty_batch", "the tensors hold no rows; send at least one", "inputs")
    return InferRequest({"instances": rows}, request_id, outputs, where)


def _rows_within(n: int, max_rows: int, field: str) -> None:
    if n > max_rows:
        raise ApiError(413, "batch_too_large", f"the request has {n} rows; the limit is {max_rows}", field)


def _requested(raw: Any, schema: ModelSchema) -> tuple[str, ...]:
    names = output_names(schema)
    if raw is None:
        return names
    if not isinstance(raw, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in raw):
        raise ApiError(400, "invalid_request", "'outputs' must be a list of {\"name\": ...}", "outputs")
    for k, o in enumerate(raw):
        _known(o, ("name", "parameters"), f"outputs[{k}]")
        params = _parameters(o, f"outputs[{k}]")
        if params is not None and params.get("binary_data", False) is not False:
            raise _binary_refused()
        if o["name"] not in names:
            raise ApiError(400, "unknown_output", f"outputs[{k}]: {o['name'][:60]!r} is not an output of this model "
                           f"({', '.join(names)})", f"outputs[{k}].name")
    return tuple(o["name"] for o in raw)


def infer_response(schema: ModelSchema, values: list[Any], request: InferRequest, name: str,
                   version: str) -> dict[str, Any]:
    """The infer answer: the requested outputs of ``values`` ([N] floats, or [N][K] class probabilities)."""
    n, task, classes = len(values), schema.task, schema.classes
    tensors: dict[str, dict[str, Any]] = {}
    if task == "regression":
        tensors["prediction"] = {"datatype": "FP64", "shape": [n], "data": values}
    else:
        label = _label_datatype(schema)
        if task == "binary-classification":
            probabilities = [[1.0 - p, p] for p in values]
            tensors["prediction"] = {"datatype": "FP64", "shape": [n], "data": values}
            tensors["label"] = {"datatype": label, "shape": [n],
                                "data": [classes[1 if p >= 0.5 else 0] for p in values]}
        else:
            probabilities = values
            tensors["prediction"] = {"datatype": label, "shape": [n],
                                     "data": [classes[max(range(len(r)), key=r.__getitem__)] for r in values]}
        tensors["probabilities"] = {"datatype": "FP64", "shape": [n, len(classes)],
                                    "data": [p for row in probabilities for p in row],
                                    "parameters": {"classes": list(classes)}}
    out: dict[str, Any] = {"model_name": name, "model_version": version,
                           "outputs": [{"name": o, **tensors[o]} for o in request.outputs]}
    if request.id is not None:
        out["id"] = request.id
    return out
