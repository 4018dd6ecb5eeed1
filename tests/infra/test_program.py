"""The Pulumi program under the mock engine, with small real archives from a fake packager.

Every resource of the issue is checked with its key properties for aws only, gcp only and both; least privilege;
what a model change, a handler change and no change do to the graph; config errors through the program.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pulumi
import pytest
from mockprogram import FakeBuilder, ProgramRun, base_config, config_error, run_before_and_after_retrain, run_program

from infra.names import stack_names

FN = "aws:lambda/function:Function"
GFN = "gcp:cloudfunctionsv2/function:Function"
ALIAS = "aws:lambda/alias:Alias"
NAMES = stack_names("serverless-models", "dev")  # the mock engine's project and stack
PREFIX = NAMES.prefix  # sm-dev-<hash8>


def _run(monkeypatch: pytest.MonkeyPatch, builder: FakeBuilder, **overrides: Any) -> ProgramRun:
    return run_program(monkeypatch, base_config(**overrides), builder)


def _b64sha(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def _types(run: ProgramRun) -> set[str]:
    return {r.typ for r in run.mocks.resources}


# --- AWS ------------------------------------------------------------------------------------------------------


def test_aws_only_registers_every_aws_resource(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    assert not any(t.startswith("gcp:") for t in _types(run))

    bucket = run.inputs("aws:s3/bucket:Bucket", "aws-models")
    assert bucket["forceDestroy"] is True
    pab = run.inputs("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert run.inputs("aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]["status"] == "Enabled"
    sse = run.inputs("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    own = run.inputs("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert own["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    for r in ("aws-models-public-access", "aws-models-versioning", "aws-models-encryption"):
        assert r in run.depends_on["aws:s3/bucketObjectv2:BucketObjectv2::aws-model-games-logreg-onnx"]

    build = fake_builder(_cfg(clouds=["aws"]))[("aws", "pred")]
    obj = run.inputs("aws:s3/bucketObjectv2:BucketObjectv2", "model")
    assert obj["key"] == f"models/games-logreg/{build.model.sha256}.onnx"
    assert Path(obj["source"].path).read_bytes() == build.model.path.read_bytes()

    for ep, handler in (("echo", "functions.aws.echo_handler"), ("pred", "functions.aws.lambda_handler")):
        name = f"{PREFIX}-{ep}"
        logs = run.inputs("aws:cloudwatch/logGroup:LogGroup", f"aws-{ep}-logs")
        assert logs["name"] == f"/aws/lambda/{name}" and logs["retentionInDays"] > 0
        fn = run.inputs(FN, f"aws-{ep}")
        assert fn["name"] == name and fn["handler"] == handler
        assert fn["runtime"] == "python3.13" and fn["architectures"] == ["x86_64"]
        assert fn["loggingConfig"] == {"logFormat": "JSON", "logGroup": f"/aws/lambda/{name}"}
        archive = Path(fn["code"].path)
        assert archive.name == f"{ep}.zip" and archive.parent.name == "aws"
        assert fn["sourceCodeHash"] == _b64sha(archive)
        assert "s3Bucket" not in fn
        assert f"aws-{ep}-policy" in run.depends_on[f"{FN}::aws-{ep}"]
        assert run.mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"aws-{ep}-policy")
        assert "reservedConcurrentExecutions" not in fn

    pred = run.inputs(FN, "aws-pred")
    assert (pred["memorySize"], pred["timeout"]) == (512, 30)
    env = pred["environment"]["variables"]
    assert env == {
        "ENDPOINT_NAME": "pred",
        "MODEL_URI": f"s3://aws-models-bucket/models/games-logreg/{build.model.sha256}.onnx",
        "MODEL_SHA256": build.model.sha256,
        "MODEL_FORMAT": "onnx",
        "MODEL_NAME": "games-logreg",
        "MODEL_SCHEMA": "model_schema.json",
        "MODEL_FRAMEWORK": "scikit-learn 1.9.1",
        "MODEL_TTL_SECONDS": "0",
    }
    assert run.inputs(FN, "aws-echo")["environment"]["variables"] == {"ENDPOINT_NAME": "echo"}

    api = run.inputs("aws:apigatewayv2/api:Api")
    assert api["protocolType"] == "HTTP"
    for ep in ("echo", "pred"):
        integ = run.inputs("aws:apigatewayv2/integration:Integration", f"aws-{ep}-integration")
        assert integ["integrationType"] == "AWS_PROXY" and integ["payloadFormatVersion"] == "2.0"
        assert integ["integrationUri"].endswith(f"function:{PREFIX}-{ep}:live/invocations")  # the alias
        keys = {
            r.inputs["routeKey"]: r.inputs
            for r in run.mocks.of_type("aws:apigatewayv2/route:Route")
            if r.name.startswith(f"aws-{ep}-")
        }
        protocols = {f"GET /v2/models/{ep}", f"GET /v2/models/{ep}/ready", f"POST /v2/models/{ep}/infer",
                     f"POST /{ep}/invocations"} if ep == "pred" else set()
        assert set(keys) == {f"POST /{ep}", f"GET /{ep}"} | protocols
        assert all(
            r["authorizationType"] == "AWS_IAM" and r["target"] == f"integrations/aws-{ep}-integration-id"
            for r in keys.values()
        )
        perm = run.inputs("aws:lambda/permission:Permission", f"aws-{ep}-invoke")
        assert perm["principal"] == "apigateway.amazonaws.com" and perm["action"] == "lambda:InvokeFunction"
        assert perm["sourceArn"] == f"arn:aws:execute-api:us-east-1:123456789012:abc123api/*/*/{ep}"
        assert perm["qualifier"] == "live"
    stage = run.inputs("aws:apigatewayv2/stage:Stage")
    assert stage["name"] == "$default" and stage["autoDeploy"] is True
    assert stage["defaultRouteSettings"] == {"throttlingRateLimit": 50, "throttlingBurstLimit": 100}

    assert not run.mocks.of_type("aws:iam/user:User")  # no publisher unless asked
    out = run.outputs
    assert set(out["endpoints"]) == {"aws"}
    assert out["endpoints"]["aws"]["pred"]["url"] == "https://abc123api.execute-api.us-east-1.amazonaws.com/pred"
    assert out["endpoints"]["aws"]["pred"]["model_sha256"] == build.model.sha256
    assert out["endpoints"]["aws"]["pred"]["model_uri"] == env["MODEL_URI"]
    assert out["endpoints"]["aws"]["echo"]["model_uri"] is None
    assert out["buckets"] == {"aws": {"models": "aws-models-bucket"}}
    assert out["private"] is True


def _cfg(**overrides: Any) -> Any:
    from smodels.config import load_stack_config

    return load_stack_config(base_config(**overrides), Path(__file__).resolve().parents[2])


def test_aws_options_arm64_reserved_concurrency_throttle(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(
        monkeypatch,
        fake_builder,
        clouds=["aws"],
        architecture="arm64",
        pythonVersion="3.12",
        throttle={"rateLimit": 7.5, "burstLimit": 9},
        # runtime native: arm64 with onnxruntime 1.32.0 is refused (tested with the config errors below)
        endpoints={
            "pred": {
                "model": "models/logreg", "runtime": "native", "memory": 1024, "timeout": 60, "reservedConcurrency": 3,
            }
        },  # fmt: skip
    )
    fn = run.inputs(FN, "aws-pred")
    assert fn["architectures"] == ["arm64"] and fn["runtime"] == "python3.12"
    assert (fn["memorySize"], fn["timeout"], fn["reservedConcurrentExecutions"]) == (1024, 60, 3)
    # API Gateway's integration timeout caps at 30 s even when the function may run longer.
    assert run.inputs("aws:apigatewayv2/integration:Integration")["timeoutMilliseconds"] == 30000
    assert run.inputs("aws:apigatewayv2/stage:Stage")["defaultRouteSettings"] == {
        "throttlingRateLimit": 7.5,
        "throttlingBurstLimit": 9,
    }


def test_large_lambda_code_goes_through_s3_with_version(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    fake_builder.zipped_bytes_override[("aws", "pred")] = 60 * 1024 * 1024
    run = _run(monkeypatch, fake_builder, clouds=["aws"])
    code_obj = run.inputs("aws:s3/bucketObjectv2:BucketObjectv2", "aws-pred-code")
    archive = Path(code_obj["source"].path)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert code_obj["key"] == f"lambda/pred/{sha}.zip"
    fn = run.inputs(FN, "aws-pred")
    assert "code" not in fn
    assert fn["s3Bucket"] == "aws-models-bucket" and fn["s3Key"] == code_obj["key"]
    # No s3ObjectVersion (object and versioning may be created in one run); the key carries the sha256.
    assert "s3ObjectVersion" not in fn and fn["sourceCodeHash"] == _b64sha(archive)
    assert "code" in run.inputs(FN, "aws-echo")  # small one still direct


def test_lambda_layer_when_split(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    fake_builder.with_layer = True
    run = _run(monkeypatch, fake_builder, clouds=["aws"], lambdaLayer=True)
    layer = run.inputs("aws:lambda/layerVersion:LayerVersion", "aws-pred-layer")
    assert layer["compatibleRuntimes"] == ["python3.13"] and layer["compatibleArchitectures"] == ["x86_64"]
    assert layer["sourceCodeHash"] == _b64sha(Path(layer["code"].path))
    fn = run.inputs(FN, "aws-pred")
    assert fn["layers"] == [f"arn:aws:lambda:us-east-1:123456789012:layer:{PREFIX}-pred-deps:1"]


def test_publisher_user_put_only_under_models_with_secret_key(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["aws"], publisher=True)
    policy = json.loads(run.inputs("aws:iam/userPolicy:UserPolicy")["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "PutModels",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::aws-models-bucket/models/*"],
        }
    ]
    assert run.mocks.one("aws:iam/accessKey:AccessKey")
    assert run.outputs["publisher"]["secret_access_key"] == "fake-secret-aws-publisher"
    assert run.secret_outputs >= {"publisher.access_key_id", "publisher.secret_access_key"}


# --- GCP ------------------------------------------------------------------------------------------------------


def test_gcp_only_registers_every_gcp_resource(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"])
    assert not any(t.startswith("aws:") for t in _types(run))

    services = {r.inputs["service"]: r.inputs for r in run.mocks.of_type("gcp:projects/service:Service")}
    for svc in ("cloudfunctions", "cloudbuild", "run", "artifactregistry", "storage", "iam"):
        assert services[f"{svc}.googleapis.com"]["disableOnDestroy"] is False
    for b in run.mocks.of_type("gcp:storage/bucket:Bucket"):
        assert b.inputs["uniformBucketLevelAccess"] is True and b.inputs["publicAccessPrevention"] == "enforced"
        assert b.inputs["versioning"] == {"enabled": True} and b.inputs["forceDestroy"] is True
        assert b.inputs["location"] == "us-central1"

    build = {e: b for (_, e), b in fake_builder(_cfg(clouds=["gcp"])).items()}
    model_obj = run.inputs("gcp:storage/bucketObject:BucketObject", "gcp-model-")
    assert model_obj["bucket"] == "gcp-models-bucket"
    assert model_obj["name"] == f"models/games-logreg/{build['pred'].model.sha256}.onnx"

    build_sa = run.inputs("gcp:serviceaccount/account:Account", "gcp-build")
    assert build_sa["accountId"] == NAMES.build_account_id()
    # The documented build roles (the provider's "basic builder" example), on the project, unconditional: an IAM
    # condition on the gcf-v2-* buckets would not apply to buckets without uniform access.
    grants = run.mocks.of_type("gcp:projects/iAMMember:IAMMember")
    assert {r.inputs["role"] for r in grants} == {
        "roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin",
    }  # fmt: skip
    assert all("condition" not in r.inputs for r in grants)
    services = {r.inputs["service"] for r in run.mocks.of_type("gcp:projects/service:Service")}
    assert "cloudresourcemanager.googleapis.com" in services  # project IAM grants go through it

    for ep in ("echo", "pred"):
        src = run.inputs("gcp:storage/bucketObject:BucketObject", f"gcp-{ep}-source")
        assert src["bucket"] == "gcp-sources-bucket"
        assert build[ep].archive_sha256[:16] in src["name"]
        sa = run.inputs("gcp:serviceaccount/account:Account", f"gcp-{ep}-sa")
        fn = run.inputs(GFN, f"gcp-{ep}")
        bc, sc = fn["buildConfig"], fn["serviceConfig"]
        assert fn["name"] == f"{PREFIX}-{ep}" and fn["location"] == "us-central1" and fn["project"] == "my-project"
        assert bc["runtime"] == "python313" and bc["entryPoint"] == ep
        assert (
            bc["serviceAccount"]
            == f"projects/p/serviceAccounts/{build_sa['accountId']}@my-project.iam.gserviceaccount.com"
        )
        assert bc["source"]["storageSource"] == {"bucket": "gcp-sources-bucket", "object": src["name"]}
        assert sc["ingressSettings"] == "ALLOW_ALL"
        assert sc["serviceAccountEmail"] == f"{sa['accountId']}@my-project.iam.gserviceaccount.com"
        assert sc["maxInstanceCount"] == 10 and sc["minInstanceCount"] == 0
        assert fn["name"] == NAMES.function(ep) and sa["accountId"] == NAMES.runtime_account_id(ep)
        deps = run.depends_on[f"{GFN}::gcp-{ep}"]
        assert {"gcp-apis-ready", f"gcp-{ep}-iam-ready"} <= set(deps)
        invokers = [
            r
            for r in run.mocks.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
            if r.name.startswith(f"gcp-{ep}-")
        ]
        assert [(r.inputs["role"], r.inputs["member"]) for r in invokers] == [
            ("roles/run.invoker", "user:me@example.com")
        ]
        assert invokers[0].inputs["name"] == f"projects/my-project/locations/us-central1/services/{PREFIX}-{ep}"

    pred = run.inputs(GFN, "gcp-pred")["serviceConfig"]
    assert (pred["availableMemory"], pred["timeoutSeconds"]) == ("512M", 30)
    assert pred["environmentVariables"]["MODEL_URI"] == f"gs://gcp-models-bucket/{model_obj['name']}"
    assert pred["environmentVariables"]["MODEL_SHA256"] == build["pred"].model.sha256
    assert set(pred["environmentVariables"]) == {
        "ENDPOINT_NAME", "MODEL_URI", "MODEL_SHA256", "MODEL_FORMAT", "MODEL_NAME", "MODEL_SCHEMA",
        "MODEL_FRAMEWORK", "MODEL_TTL_SECONDS",
    }  # fmt: skip
    readers = run.mocks.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    model_readers = [r.inputs for r in readers if r.inputs["bucket"] == "gcp-models-bucket"]
    assert model_readers == [
        {
            "bucket": "gcp-models-bucket",
            "role": "roles/storage.objectViewer",
            "member": f"serviceAccount:{NAMES.runtime_account_id('pred')}@my-project.iam.gserviceaccount.com",
            "condition": {
                "title": "own-model-only",
                "description": "pred reads models/games-logreg/ only",
                "expression": 'resource.name.startsWith("projects/_/buckets/gcp-models-bucket/objects/'
                'models/games-logreg/")',
            },
        }
    ]  # only the model endpoint's runtime identity reads models, and only its own; echo's reads nothing

    out = run.outputs
    assert set(out["endpoints"]) == {"gcp"}
    assert out["endpoints"]["gcp"]["pred"]["url"] == f"https://us-central1-my-project.cloudfunctions.net/{PREFIX}-pred"
    assert out["buckets"] == {"gcp": {"models": "gcp-models-bucket", "sources": "gcp-sources-bucket"}}


def test_both_clouds_and_public_access(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    private = _run(monkeypatch, fake_builder)
    assert {"aws", "gcp"} == set(private.outputs["endpoints"])
    assert {r.typ.split(":")[0] for r in private.mocks.resources} >= {"aws", "gcp"}
    assert _no_public_access(private)

    public = _run(monkeypatch, fake_builder, public=True)
    routes = public.mocks.of_type("aws:apigatewayv2/route:Route")
    assert routes and all(r.inputs["authorizationType"] == "NONE" for r in routes)
    members = [r.inputs["member"] for r in public.mocks.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")]
    assert members == ["allUsers", "allUsers"]
    assert public.outputs["private"] is False
    assert not _no_public_access(public)


def _no_public_access(run: ProgramRun) -> bool:
    routes = run.mocks.of_type("aws:apigatewayv2/route:Route")
    members = [r.inputs["member"] for r in run.mocks.resources if "member" in r.inputs]
    return all(r.inputs["authorizationType"] == "AWS_IAM" for r in routes) and not {
        "allUsers",
        "allAuthenticatedUsers",
    } & set(members)


def test_private_gcp_without_invokers_grants_nobody(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, clouds=["gcp"], invokers=[])
    assert not run.mocks.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")


def test_least_privilege_iam(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    run = _run(monkeypatch, fake_builder, publisher=True)
    docs = [
        json.loads(r.inputs["policy"])
        for r in run.mocks.resources
        if r.typ in ("aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy")
    ]
    assert len(docs) == 3
    for doc in docs:
        for st in doc["Statement"]:
            assert st["Effect"] == "Allow"
            assert all("*" not in a for a in st["Action"]), st
            for res in st["Resource"]:
                if res.startswith("arn:aws:logs:"):
                    assert res.startswith(
                        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/"
                    ) and res.endswith(":*")
                    assert res.count("*") == 1
                else:
                    assert res in (
                        "arn:aws:s3:::aws-models-bucket/models/games-logreg/*",
                        "arn:aws:s3:::aws-models-bucket/models/*",
                    )
    echo_policy = json.loads(run.inputs("aws:iam/policy:Policy", "aws-echo")["policy"])
    assert [s["Sid"] for s in echo_policy["Statement"]] == ["WriteOwnLogs"]  # echo reads no model
    pred_policy = json.loads(run.inputs("aws:iam/policy:Policy", "aws-pred")["policy"])
    logs = next(s for s in pred_policy["Statement"] if s["Sid"] == "WriteOwnLogs")
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == [f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{PREFIX}-pred:*"]
    reads = next(s for s in pred_policy["Statement"] if s["Sid"] == "ReadOwnModel")
    assert reads["Action"] == ["s3:GetObject"]
    # No GCP role is granted on the project to a runtime identity; no primitive roles anywhere.
    for r in run.mocks.resources:
        role = r.inputs.get("role", "")
        assert role not in ("roles/owner", "roles/editor", "roles/viewer")
        if r.typ == "gcp:projects/iAMMember:IAMMember":
            assert r.inputs["member"].startswith(f"serviceAccount:{NAMES.build_account_id()}@")


# --- what changes do to the graph -----------------------------------------------------------------------------


def _diff(a: ProgramRun, b: ProgramRun) -> dict[str, set[str]]:
    assert set(a.snapshot) == set(b.snapshot), "the set of resources changed"
    out: dict[str, set[str]] = {}
    for key in a.snapshot:
        if a.snapshot[key] != b.snapshot[key]:
            out[key] = {
                k
                for k in set(a.snapshot[key]) | set(b.snapshot[key])
                if a.snapshot[key].get(k) != b.snapshot[key].get(k)
            }
    return out


def test_unchanged_program_yields_identical_inputs(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    first = _run(monkeypatch, fake_builder, publisher=True)
    second = _run(monkeypatch, fake_builder, publisher=True)
    assert _diff(first, second) == {}
    assert first.outputs == second.outputs
    assert len(first.snapshot) > 50


def test_model_change_touches_model_object_and_function_env_only(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    before, after = run_before_and_after_retrain(monkeypatch, fake_builder)
    assert _diff(before, after) == {
        "aws:s3/bucketObjectv2:BucketObjectv2::aws-model-games-logreg-onnx": {"key", "metadata", "source"},
        "gcp:storage/bucketObject:BucketObject::gcp-model-games-logreg-onnx": {"name", "metadata", "source"},
        f"{FN}::aws-pred": {"environment"},
        f"{ALIAS}::aws-pred-live": {"functionVersion"},  # a new published version; the alias follows
        f"{GFN}::gcp-pred": {"serviceConfig"},
    }
    env_a = before.snapshot[f"{GFN}::gcp-pred"]["serviceConfig"]
    env_b = after.snapshot[f"{GFN}::gcp-pred"]["serviceConfig"]
    assert {k for k in env_a if env_a[k] != env_b[k]} == {"environmentVariables"}
    changed = {k for k, v in env_a["environmentVariables"].items() if env_b["environmentVariables"][k] != v}
    assert changed == {"MODEL_URI", "MODEL_SHA256"}
    assert (
        after.outputs["endpoints"]["aws"]["pred"]["model_sha256"]
        != before.outputs["endpoints"]["aws"]["pred"]["model_sha256"]
    )


def test_handler_change_touches_only_that_function(monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder) -> None:
    before = _run(monkeypatch, fake_builder)
    fake_builder.handler_source[("aws", "pred")] = "# aws pred handler v2\n"
    fake_builder.handler_source[("gcp", "echo")] = "# gcp echo handler v2\n"
    after = _run(monkeypatch, fake_builder)
    assert _diff(before, after) == {
        f"{FN}::aws-pred": {"code", "sourceCodeHash"},
        f"{ALIAS}::aws-pred-live": {"functionVersion"},
        "gcp:storage/bucketObject:BucketObject::gcp-echo-source": {"name", "source"},
        f"{GFN}::gcp-echo": {"buildConfig"},
    }


# --- config errors through the program ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"clouds": ["aws", "azure"]}, "serverless-models:clouds: unknown cloud(s) ['azure']"),
        ({"regoin": "x"}, "serverless-models:regoin: unknown key"),
        ({"pythonVersion": "3.9"}, "serverless-models:pythonVersion: '3.9' is not supported"),
        (
            {"endpoints": {"pred": {"model": "models/nope"}}},
            "serverless-models:endpoints.pred.model: no model manifest",
        ),
        (
            {"endpoints": {"pred": {"model": "models/logreg", "memory": 40000}}},
            "endpoints.pred.memory: 40000 MB is outside AWS Lambda's range",
        ),
        ({"gcp:project": None}, "gcp:project: required when clouds includes gcp"),
    ],
)
def test_config_error_stops_program_before_any_resource(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder, overrides: dict[str, Any], needle: str
) -> None:
    message = config_error(monkeypatch, fake_builder, **overrides)
    assert needle in message
    assert message.startswith("invalid stack config:")


def test_packager_failure_is_a_clean_run_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cfg: Any) -> list[Any]:
        from infra.artifacts import BuildFailed

        raise BuildFailed("packaging failed: no wheel for onnxruntime on cp315")

    with pytest.raises(pulumi.RunError, match="no wheel for onnxruntime"):
        run_program(monkeypatch, base_config(), broken)
    with pytest.raises(pulumi.RunError, match="returned no gcp build for endpoint 'pred'"):
        run_program(
            monkeypatch,
            base_config(),
            lambda cfg: {k: b for k, b in FakeBuilder(Path("/tmp/x"))(cfg).items() if k != ("gcp", "pred")},
        )


def _sdk_classes(typ: str) -> tuple[type, type]:
    """The SDK resource class and its Args class for a type token like `aws:lambda/function:Function`."""
    import importlib

    pkg_name, module_path, cls_name = typ.split(":")
    pkg = importlib.import_module({"time": "pulumiverse_time"}.get(pkg_name, f"pulumi_{pkg_name}"))
    mod_name = module_path.split("/")[0]
    module = pkg if mod_name == "index" else getattr(pkg, mod_name, None) or getattr(pkg, f"{mod_name}_")
    return getattr(module, cls_name), getattr(module, f"{cls_name}Args")


def _deprecated_inputs(args_cls: type) -> set[str]:
    """Wire names of the Args properties the SDK marks deprecated (`@_utilities.deprecated`)."""
    names = set()
    for attr in vars(args_cls).values():
        fget = getattr(attr, "fget", None)
        if fget is not None and "_pulumi_deprecated_callable" in fget.__dict__:
            names.add(getattr(fget, "_pulumi_name", fget.__name__))
    return names


def test_program_uses_no_deprecated_resource_or_argument(
    monkeypatch: pytest.MonkeyPatch, fake_builder: FakeBuilder
) -> None:
    """No deprecated resource class (the SDK warns in its class body) and no deprecated input of any resource."""
    import inspect
    import sys

    fake_builder.with_layer = True
    fake_builder.zipped_bytes_override[("aws", "pred")] = 60 * 1024 * 1024
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: logged.append(msg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = _run(monkeypatch, fake_builder, public=True, publisher=True, lambdaLayer=True, endpoints={
            "echo": {}, "pred": {"model": "models/logreg", "ttlSeconds": 60, "refresh": "pointer"}})  # fmt: skip
    assert logged == []
    assert [str(w.message) for w in caught if "is deprecated" in str(w.message)] == []
    checked = 0
    for typ in sorted({r.typ for r in run.mocks.resources if not r.typ.startswith("serverless-models:")}):
        cls, args_cls = _sdk_classes(typ)
        source = inspect.getsource(sys.modules[cls.__module__])
        assert f"class {cls.__name__}(pulumi.CustomResource):\n    warnings.warn(" not in source, f"{typ} is deprecated"
        used = {k for r in run.mocks.of_type(typ) for k in r.inputs}
        assert not used & _deprecated_inputs(args_cls), (
            f"{typ}: deprecated inputs {used & _deprecated_inputs(args_cls)}"
        )
        checked += 1
    assert checked >= 25
