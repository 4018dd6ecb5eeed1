"""The generic model endpoint: ``GET`` metadata, ``POST`` one row (the book's flat object) or a batch.

Configured from the environment at first use (:mod:`functions.contract`), so the same code serves any
endpoint; the request is checked against the model's input schema (:mod:`functions.schema`) and answered in
its task's contract (docs/DESIGN.md). The model itself loads on the first prediction (:mod:`functions.model_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

from functions import contract, predictors
from functions.drift import DriftCounter
from functions.http import (
    ApiError,
    Request,
    Response,
    error_response,
    internal_error,
    json_response,
    log_event,
    method_not_allowed,
    parse_json_body,
    write_log_line,
)
from functions.model_cache import Loaded, ModelCache, ModelUnavailable
from functions.pointer import PointerFollower
from functions.schema import NAN, Batch, ModelSchema
from functions.settings import MisconfiguredError, Settings, read_env

#: The golden-ratio step of the routing sequence without a request key: over any N consecutive requests the
#: canary's share is within about 1/N of its percent (a low-discrepancy sequence), with no randomness.
_GOLDEN = 0.6180339887498949
#: The MLflow scoring route (oip.Route marks the OIP ones).
MLFLOW = "mlflow"
#: After a canary fails to load, its share goes to the stable model; the next attempt waits this long.
CANARY_RETRY_SECONDS = 30.0


class ModelApp:
    """The model endpoint. ``handle`` never raises: every outcome is a JSON response."""

    def __init__(self, settings: Settings, loader: Callable[[bytes], Any] | None = None,
                 cache: ModelCache | None = None, canary_cache: ModelCache | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.schema: ModelSchema = settings.model_schema()
        self._loader = loader or self._default_loader
        self._log_heads: dict[tuple[str, str], str] = {}
        # Class labels as JSON keys (probability maps) and values, computed once.
        self._keys = [str(c) for c in self.schema.classes]
        self._label_json = [json.dumps(c, separators=(",", ":")) for c in self.schema.classes]
        self._model_json: dict[tuple[str, str], str] = {}
        # Following a pointer, the artifacts are content-addressed and immutable: the pointer is what is re-read.
        self.cache = cache or ModelCache(
            settings.model_uri, settings.model_sha256, self._loader,
            0 if settings.pointer_uri else settings.ttl_seconds, name=settings.model_name, clock=clock,
        )
        self.follower: PointerFollower | None = None
        if settings.pointer_uri:
            self.follower = PointerFollower(settings.pointer_uri, settings.endpoint, settings.model_format,
                                            self.cache, settings.ttl_seconds, clock=clock)
        # The canary: its own cache (pinned by its own sha256), loaded on the first request routed to it.
        self.canary_cache: ModelCache | None = canary_cache
        if canary_cache is None and settings.has_canary:
            self.canary_cache = ModelCache(
                settings.canary_uri, settings.canary_sha256,
                loader if loader is not None else self._canary_loader, settings.ttl_seconds,
                clock=clock, name=settings.canary_name, retry_seconds=CANARY_RETRY_SECONDS,
            )
        self._counter = 0
        self._route_lock = threading.Lock()
        # Drift counting against the training profile shipped in the schema file (functions.drift); None: off.
        self._drift = DriftCounter(settings.drift, self.schema) if settings.drift is not None else None

    def _default_loader(self, data: bytes) -> Any:
        return self._load_model(data, self.settings.model_format)

    def _canary_loader(self, data: bytes) -> Any:
        return self._load_model(data, self.settings.canary_format)

    def _load_model(self, data: bytes, fmt: str) -> Any:
        model = predictors.load(data, fmt, self.schema)
        # Probe once so a model with a different input width fails at load (503), not per request.
        probe = Batch([[f.categories[0] if f.categories else (NAN if f.nullable else 0.0)
                        for f in self.schema.features]], False)
        try:
            out = model.predict(probe)
        except Exception as exc:
            raise predictors.PredictorError(
                f"model does not accept the {len(self.schema.features)} features of its schema: {exc}") from None
        want = (1, len(self.schema.classes)) if self.schema.task == "multiclass-classification" else (1,)
        shape = _shape(out)
        if shape != want:
            raise predictors.PredictorError(f"model returned shape {shape} for one row; expected {want}")
        return model

    def metadata(self) -> dict[str, Any]:
        """What ``GET`` returns: enough to check which model an endpoint serves and what it takes."""
        s, schema = self.settings, self.schema
        loaded = self.cache.loaded
        model: dict[str, Any] = {
            "name": (loaded.name if loaded is not None else "") or s.model_name,
            "version": loaded.sha256 if loaded is not None else s.model_sha256,
            "framework": s.framework, "format": s.model_format,
            "task": schema.task, "features": list(schema.names),
            "schema": [f.to_json() for f in schema.features], "loaded": loaded is not None,
        }
        if schema.task != "regression":
            model["classes"] = list(schema.classes)
        out: dict[str, Any] = {"success": True, "endpoint": s.endpoint, "model": model}
        if self.canary_cache is not None:
            out["canary"] = {"name": s.canary_name, "version": s.canary_sha256, "format": s.canary_format,
                             "percent": s.canary_percent, "loaded": self.canary_cache.loaded is not None,
                             "request_key_header": contract.REQUEST_KEY_HEADER}
        f = self.follower
        out["refresh"] = {"mode": "redeploy", "ttl_seconds": s.ttl_seconds} if f is None else {
            "mode": "pointer", "pointer": f.pointer_uri, "ttl_seconds": s.ttl_seconds,
            "deployed": {"name": s.model_name, "version": s.model_sha256},
            "last_check": f.last or None, "refused": f.refused}
        return {
            **out,
            "runtime": {"python": platform.python_version(), "implementation": platform.python_implementation()},
            "limits": {"max_batch_rows": s.max_batch_rows, "max_body_bytes": s.max_body_bytes},
        }

    def handle(self, request: Request) -> Response:
        """Serve one request: today's contract on any path, and beside it the Open Inference Protocol
        (``.../v2/models/<endpoint>[/ready|/infer]``, ``.../v2/health/live|ready``; functions.oip) and MLflow's
        scoring path (``.../invocations``; functions.mlflow_scoring). A failed prediction request is logged
        (``request_failed``) with the model it was routed to, if any, so that rollout figures count errors per
        model version; an OIP request's errors are ``{"error": ...}`` as that protocol says."""
        started = time.perf_counter()
        route: list[Any] = []  # (loaded, arm) once the request is routed to a model
        protocol = _protocol_of(request.path)
        is_oip = protocol is not None and protocol is not MLFLOW
        try:
            method = request.method.upper()
            if protocol is not None:
                return self._protocol(request, method, protocol, started, route)
            if method == "GET":
                return json_response(self.metadata())
            if method != "POST":
                raise method_not_allowed(request.method, "GET, POST")
            return self._predict(request, started, route)
        except ApiError as err:
            response = _oip().from_api_error(err) if is_oip else err.to_response()
            code = err.code
        except Exception:
            response = internal_error(self.settings.endpoint)
            if is_oip:
                response = _oip().error(500, "internal error; see the function's logs")
            code = "internal"
        # Every prediction request's failure is logged; OIP's metadata, readiness and health probes are not.
        if route or not is_oip or protocol.action == "infer":
            self._log_failure(response.status, code, route, started)
        return response

    def _predict(self, request: Request, started: float, route: list[Any]) -> Response:
        s = self.settings
        payload = parse_json_body(request, s.max_body_bytes)
        batch = self.schema.parse(payload, s.max_batch_rows)
        loaded, name, arm, values, nested, total = self._run(request, batch, route)
        text = None if batch.is_batch or nested else self._one_answer(values[0], name, loaded.sha256)
        if text is None:
            body = self._answer(values, batch.is_batch)
            body["model"] = {"name": name, "version": loaded.sha256}
            response = json_response(body)
        else:
            response = Response(200, text=text)
        self._record(name, loaded, arm, batch, values, nested, total, started)
        return response

    def _run(self, request: Request, batch: Batch, route: list[Any]) -> tuple[Loaded, str, str, list[Any], bool,
                                                                             float]:
        """Route ``batch`` to a model and predict: (loaded, its name, arm, values, nested, their sum). ``values``:
        [N] floats, or [N][K] class probabilities (``nested``); ApiError 422 for an output that is not finite."""
        s = self.settings
        loaded, arm = self._choose(request)
        route.extend((loaded, arm))
        name = loaded.name or (s.canary_name if arm == "canary" else s.model_name)
        self._check_range(batch, getattr(loaded.model, "input_limit", None),
                          getattr(loaded.model, "returns_lists", False))
        out = loaded.model.predict(batch)
        # [N] floats, or [N][K] for multiclass: a pure predictor returns lists already (numpy is not in its package)
        values = out if isinstance(out, list) else _float_lists(out)
        if len(values) != len(batch):
            raise RuntimeError(f"model returned {len(values)} values for {len(batch)} rows")
        nested = bool(values) and isinstance(values[0], list)
        total = sum(map(sum, values)) if nested else sum(values)
        if total - total != 0.0:  # some output is inf or nan (cheaper than a numpy pass for one row)
            # Finite but extreme inputs can overflow inside a float32 model (inf - inf): the input's fault,
            # reported as such rather than as a NaN prediction or a 500.
            i = next(i for i, row in enumerate(values) if any(p - p != 0.0 for p in (row if nested else (row,))))
            where = f"instances[{i}]" if batch.is_batch else None
            raise ApiError(422, "non_finite_output", f"the model's output for {where or 'this row'} is not finite; "
                           "the input values are too extreme for it", where)
        return loaded, name, arm, values, nested, total

    def _record(self, name: str, loaded: Loaded, arm: str, batch: Batch, values: list[Any], nested: bool,
                total: float, started: float) -> None:
        """The prediction's log line, with its drift counts."""
        drift = "" if self._drift is None else self._drift.count(batch.rows, values)[0]
        if nested:  # multiclass: the figures are over each row's top class probability (its mean is not fixed at 1/K)
            values = [max(row) for row in values]
            total = sum(values)
        self._log_prediction(name, loaded.sha256, arm, values, total, len(batch), batch.out_of_range, started, drift)

    # --- the protocols beside the book's contract ----------------------------------------------------------------

    def _protocol(self, request: Request, method: str, protocol: Any, started: float,
                  route: list[Any]) -> Response:
        if protocol is MLFLOW:
            if method != "POST":
                raise method_not_allowed(request.method, "POST")
            return self._invocations(request, started, route)
        oip = _oip()
        r = protocol
        s = self.settings
        if r.health is not None:
            if method != "GET":
                raise method_not_allowed(request.method, "GET")
            if r.health == "live":
                return json_response({"live": True})
            ready = self._ready()
            return json_response({"ready": ready}, 200 if ready else 503)
        if r.model != s.endpoint:
            raise ApiError(404, "not_found", f"model {r.model[:60]!r} is not served here; this endpoint serves "
                           f"{s.endpoint!r}")
        versions = self._versions()
        if r.version is not None and r.version not in versions:
            raise ApiError(404, "not_found", f"version {r.version[:70]!r} of {s.endpoint!r} is not served; it serves "
                           f"{', '.join(versions)}")
        allowed = "POST" if r.action == "infer" else "GET"
        if method != allowed:
            raise method_not_allowed(request.method, allowed)
        if r.action == "":
            return json_response(oip.metadata(self.schema, s.endpoint, versions[0],
                                              f"smodels_{s.framework}_{s.model_format}") | {"versions": versions})
        if r.action == "ready":
            ready = self._ready()
            return json_response({"name": s.endpoint, "ready": ready}, 200 if ready else 503)
        infer = oip.parse_infer(parse_json_body(request, s.max_body_bytes), request.headers, self.schema,
                                s.max_batch_rows)
        batch, (loaded, name, arm, values, nested, total) = self._run_read(request, infer, route)
        body = oip.infer_response(self.schema, values, infer, s.endpoint, loaded.sha256)
        self._record(name, loaded, arm, batch, values, nested, total, started)
        return json_response(body)

    def _invocations(self, request: Request, started: float, route: list[Any]) -> Response:
        """``POST .../invocations``: an MLflow scoring body (JSON or CSV), answered in the batch contract."""
        from functions import mlflow_scoring

        s = self.settings
        if mlflow_scoring.is_csv(request.header("content-type")):
            if len(request.body) > s.max_body_bytes:
                raise ApiError(413, "body_too_large", f"request body is {len(request.body)} bytes; the limit is "
                               f"{s.max_body_bytes}")
            invocation = mlflow_scoring.parse_csv(request.body, self.schema, s.max_batch_rows)
        else:
            invocation = mlflow_scoring.parse_json(parse_json_body(request, s.max_body_bytes), self.schema,
                                                   s.max_batch_rows)
        batch, (loaded, name, arm, values, nested, total) = self._run_read(request, invocation, route)
        body = self._answer(values, True)
        body["model"] = {"name": name, "version": loaded.sha256}
        self._record(name, loaded, arm, batch, values, nested, total, started)
        return json_response(body)

    def _run_read(self, request: Request, read: Any, route: list[Any]) -> tuple[Batch, tuple[Any, ...]]:
        """Parse and run a protocol reader's rows (``read``: oip.InferRequest or mlflow_scoring.Invocation), its
        ``rename`` restating any ApiError for the place in its body the value came from."""
        try:
            batch = self.schema.parse(read.payload, self.settings.max_batch_rows)
            return batch, self._run(request, batch, route)
        except ApiError as err:
            raise read.rename(err) from None

    def _versions(self) -> list[str]:
        """The model versions (sha256) this endpoint answers with: the stable one, then the canary's."""
        loaded = self.cache.loaded
        out = [loaded.sha256 if loaded is not None else self.settings.model_sha256]
        if self.canary_cache is not None and self.settings.canary_sha256 not in out:
            out.append(self.settings.canary_sha256)
        return out

    def _ready(self) -> bool:
        """Whether the stable model is loaded, loading it if it is not yet (a readiness probe before the first
        request then finds a ready model rather than a cold one)."""
        try:
            self._stable()
        except ApiError:
            return False
        return True

    def _stable(self) -> Loaded:
        """The stable model: following the pointer first when it is due (the first request waits for that check;
        later ones are answered by the model serving while one request re-reads the pointer)."""
        f = self.follower
        if f is not None and f.due():
            warm = self.cache.loaded is not None
            f.check("ttl" if warm else "first_request", wait=not warm)
        try:
            return self.cache.get()
        except ModelUnavailable as exc:
            raise ApiError(503, "model_unavailable", str(exc)) from None

    def refresh(self, trigger: str) -> Response:
        """A storage trigger (S3 event, Pub/Sub push) says the pointer moved: re-read it now. The trigger's
        content is never trusted: only the pointer (and the artifact's hash) decides what is served. An
        unreadable pointer is a 503, so a push subscription retries; a refused one is a 200 (retrying cannot help)."""
        f = self.follower
        if f is None:
            return error_response(404, "not_found", f"endpoint {self.settings.endpoint} does not follow a published "
                                  "pointer (its config's refresh is redeploy)")
        result = f.check(trigger)
        if self.cache.loaded is None and result["outcome"] in ("absent", "refused"):
            try:  # nothing serving yet: load the deployed model, as the first request would
                self.cache.get()
            except ModelUnavailable:
                pass
        loaded = self.cache.loaded
        body = {"success": result["outcome"] != "unreadable", "refresh": result,
                "model": {"name": loaded.name, "version": loaded.sha256} if loaded is not None else None}
        return json_response(body, 503 if result["outcome"] == "unreadable" else 200)

    def to_canary(self, key: str | None) -> bool:
        """Whether this request belongs to the canary's share. With a request key: a stable hash of it (the same
        key, the same model); without one: the next step of a golden-ratio sequence (exact shares, no randomness)."""
        percent = self.settings.canary_percent
        if self.canary_cache is None or percent <= 0:
            return False
        if key:
            bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 10000
            return bucket < round(percent * 100)
        with self._route_lock:
            self._counter += 1
            i = self._counter
        return (i * _GOLDEN) % 1.0 < percent / 100

    def _choose(self, request: Request) -> tuple[Loaded, str]:
        """The model for this request and its arm: the canary's for a request in its share, else the stable one
        (raises ApiError 503 if that cannot load). A canary that cannot load never takes traffic from the stable
        model: its share goes to the stable one, one ``canary_unavailable`` line per failed attempt says why, and
        the next attempt waits CANARY_RETRY_SECONDS."""
        s = self.settings
        if not self.to_canary(request.header(contract.REQUEST_KEY_HEADER)):
            return self._stable(), "stable"
        cache = self.canary_cache
        assert cache is not None
        try:
            return cache.get(), "canary"
        except ModelUnavailable as exc:
            if exc.stage != "retry_wait":  # a retry_wait failure was already said once
                log_event("canary_unavailable", endpoint=s.endpoint, model=s.canary_name, version=s.canary_sha256,
                          stage=exc.stage, reason=str(exc), serving=s.model_name,
                          retry_in_seconds=CANARY_RETRY_SECONDS)
            return self._stable(), "stable"

    def _one_answer(self, p: Any, name: str, version: str) -> str | None:
        """The JSON text of a one-row regression or binary answer, written directly (the same bytes ``_answer``'s
        body encodes to: a finite float's JSON is its repr); None for anything else."""
        if type(p) is not float:
            return None
        model = self._model_json.get((name, version))
        if model is None:
            model = json.dumps({"name": name, "version": version}, separators=(",", ":"))
            self._model_json = {**(self._model_json if len(self._model_json) < 4 else {}), (name, version): model}
        if self.schema.task == "regression":
            return f'{{"success":true,"prediction":{p!r},"model":{model}}}'
        label = self._label_json[1 if p >= 0.5 else 0]
        return f'{{"success":true,"response":"{p!r}","prediction":{p!r},"label":{label},"model":{model}}}'

    def _answer(self, values: list[Any], is_batch: bool) -> dict[str, Any]:
        """The task's response body (docs/DESIGN.md, "Response contract per task")."""
        task, classes = self.schema.task, self.schema.classes
        if task == "regression":
            return ({"success": True, "predictions": values} if is_batch
                    else {"success": True, "prediction": values[0]})
        if task == "binary-classification":
            if is_batch:
                neg, pos = self._keys
                return {"success": True, "predictions": values,
                        "probabilities": [{neg: 1.0 - p, pos: p} for p in values]}
            p = values[0]
            return {"success": True, "response": str(p), "prediction": p, "label": classes[1 if p >= 0.5 else 0]}
        maps = [dict(zip(self._keys, row, strict=True)) for row in values]
        labels = [classes[max(range(len(row)), key=row.__getitem__)] for row in values]
        if is_batch:
            return {"success": True, "predictions": labels, "probabilities": maps}
        return {"success": True, "prediction": labels[0], "probabilities": maps[0]}

    def _log_prediction(self, name: str, version: str, arm: str, outputs: list[float], total: float, rows: int,
                        out_of_range: int, started: float, drift: str = "") -> None:
        """The drift log line, the same JSON ``log_event`` writes; its constant head is encoded once per model
        version, since this runs on every prediction (all the numbers here are finite floats and ints). For a
        multiclass model the output figures are over each row's top class probability (the model's confidence; the
        mean over every class probability would always be 1/K). ``arm``: "stable" or "canary". ``drift``: the
        counts' fragment (``,"unseen":U,"drift":{...}``, functions.drift), "" when the endpoint counts none."""
        head = self._log_heads.get((name, version, arm))
        if head is None:
            head = json.dumps({"event": "prediction", "endpoint": self.settings.endpoint, "model": name,
                               "model_version": version, "arm": arm}, separators=(",", ":"))[:-1]
            heads = self._log_heads if len(self._log_heads) < 4 else {}  # stable + canary, across a reload or two
            self._log_heads = {**heads, (name, version, arm): head}
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        if rows == 1 and type(outputs[0]) is float:  # mean, min and max are the one output
            one = repr(outputs[0])
            figures = f'{{"mean":{one},"min":{one},"max":{one}}}'
        else:
            figures = f'{{"mean":{total / len(outputs)!r},"min":{min(outputs)!r},"max":{max(outputs)!r}}}'
        write_log_line(f'{head},"rows":{rows},"latency_ms":{latency_ms!r},"out_of_range":{out_of_range},'
                       f'"output":{figures}{drift}}}')

    def _log_failure(self, status: int, code: str, route: list[Any], started: float) -> None:
        """The ``request_failed`` line of a failed prediction request, naming its model when it was routed to one."""
        fields: dict[str, Any] = {"endpoint": self.settings.endpoint, "status": status, "error": code,
                                  "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
        if route:
            loaded, arm = route
            fields.update(model=loaded.name, model_version=loaded.sha256, arm=arm)
        log_event("request_failed", **fields)

    def _check_range(self, batch: Batch, limit: float | None, lists: bool = False) -> None:
        """Values a float32 model input cannot hold would become inf in the cast: a client error, not a 500.
        ``lists``: the model is a pure predictor, whose package has no numpy."""
        if limit is None:
            return
        if self.schema.numeric and not lists:
            import numpy as np

            bad = np.argwhere(np.abs(batch.matrix()) > limit)
            where = [(int(bad[0][0]), int(bad[0][1]))] if bad.size else []
        else:  # categories and NaN stand beside the numbers: look at the numbers only
            where = [(i, j) for i, row in enumerate(batch.rows) for j, v in enumerate(row)
                     if type(v) is float and abs(v) > limit][:1]
        if where:
            i, j = where[0]
            name = self.schema.names[j]
            field = f"instances[{i}].{name}" if batch.is_batch else name
            raise ApiError(400, "invalid_value", f"{field} is outside the range this model's float32 input holds "
                           f"(|x| <= {limit:.4g})", field)


def _float_lists(out: Any) -> list[Any]:
    """A predictor's numpy output as float64 lists ([N] or [N][K])."""
    import numpy as np

    return np.asarray(out, dtype=np.float64).tolist()


def _shape(out: Any) -> tuple[int, ...]:
    """The shape of a predictor's output: plain lists (pure) or an array."""
    if isinstance(out, list):
        return (len(out), len(out[0])) if out and isinstance(out[0], list) else (len(out),)
    import numpy as np

    return tuple(np.shape(out))


def _protocol_of(path: str) -> Any:
    """The protocol route a path names: an oip.Route, MLFLOW, or None for today's contract. The protocol modules
    are imported on the first such request only (cold start and the book's path stay as they were)."""
    if "v2/" not in path and not path.endswith(("invocations", "invocations/")):
        return None
    from functions import mlflow_scoring

    return _oip().route(path) or (MLFLOW if mlflow_scoring.is_invocations(path) else None)


def _oip() -> Any:
    from functions import oip

    return oip


_app: ModelApp | None = None
_app_lock = threading.Lock()


def get_app() -> ModelApp:
    """The process-wide app, built from the environment on first use; raises MisconfiguredError if misconfigured."""
    global _app
    if _app is not None:
        return _app
    with _app_lock:
        if _app is None:
            _app = ModelApp(read_env(os.environ))
        return _app


def reset_app() -> None:
    """Forget the process-wide app (tests change the environment between cases)."""
    global _app
    with _app_lock:
        _app = None


def _process_app() -> ModelApp | Response:
    """The process-wide app, or the logged JSON 503 a misconfigured environment answers with."""
    try:
        return get_app()
    except MisconfiguredError as exc:
        log_event("config_error", message=str(exc))
        return error_response(503, "misconfigured", f"the function is misconfigured: {exc}")


def handle(request: Request) -> Response:
    """Serve ``request`` with the process-wide app; a misconfigured environment is a logged JSON 503."""
    app = _process_app()
    return app if isinstance(app, Response) else app.handle(request)


def refresh(trigger: str) -> Response:
    """A storage trigger reached the process-wide app: re-read the pointer now (see :meth:`ModelApp.refresh`)."""
    app = _process_app()
    if isinstance(app, Response):
        return app
    try:
        return app.refresh(trigger)
    except Exception:
        return internal_error(f"{app.settings.endpoint} refresh")
