"""Real packages: built once per session for cp313 manylinux x86_64, then run under python3.13 as Lambda runs them.

The first build downloads wheels (uv's cache keeps them); the rest reuse the session's dependency trees.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from build_support import BOOK_PROBABILITY, BOOK_REQUEST, options, run_lambda, stack, zip_names

import smodels.packager.deps as deps_mod
from smodels.packager import LAMBDA_DIRECT_UPLOAD_LIMIT, BuildError, build_function, build_stack, prepare_model
from smodels.packager.archive import sha256_file

pytestmark = pytest.mark.slow


def _build(build_dir: Path, endpoints: dict, cloud: str = "aws", top: dict | None = None, **kw):
    cfg = stack(endpoints, clouds=(cloud,), **(top or {}))
    return build_function(cfg, cfg.endpoints[0], cloud, options(build_dir, **kw))


@pytest.fixture(scope="session")
def onnx_pkg(build_dir, logreg_dir):
    return _build(build_dir, {"pred": {"model": logreg_dir, "runtime": "onnx"}})


@pytest.fixture(scope="session")
def native_pkg(build_dir, logreg_dir):
    return _build(build_dir, {"native": {"model": logreg_dir, "runtime": "native"}})


@pytest.fixture(scope="session")
def keras_onnx_pkg(build_dir, keras_dir, onnx_pkg):
    return _build(build_dir, {"predict": {"model": keras_dir, "runtime": "onnx"}})


def _no_uv(monkeypatch) -> None:
    def fail(args):
        raise AssertionError(f"uv was called on a cached build: {args}")

    monkeypatch.setattr(deps_mod, "_run_uv", fail)


def _sample_events(manifest) -> tuple[list[dict], list[float]]:
    events = [{k: str(int(v) if float(v).is_integer() else v) for k, v in s.input.items()} for s in manifest.samples]
    return events, [s.output for s in manifest.samples]


@pytest.mark.target
@pytest.mark.parametrize("which", ["onnx_pkg", "native_pkg"])
def test_logreg_package_answers_the_book_request(which, request, py313) -> None:
    build = request.getfixturevalue(which)
    events, expected = _sample_events(build.model.manifest)
    out = run_lambda(py313, build.archive, build.model, [BOOK_REQUEST, *events])
    bodies = [json.loads(r["body"]) for r in out]
    assert out[0]["statusCode"] == 200, out[0]
    assert bodies[0]["prediction"] == pytest.approx(BOOK_PROBABILITY, abs=1e-9)
    for body, want in zip(bodies[1:], expected, strict=True):
        assert body["prediction"] == pytest.approx(want, abs=1e-6)


@pytest.mark.target
def test_keras_onnx_package_answers_the_samples(keras_onnx_pkg, py313) -> None:
    events, expected = _sample_events(keras_onnx_pkg.model.manifest)
    out = run_lambda(py313, keras_onnx_pkg.archive, keras_onnx_pkg.model, [BOOK_REQUEST, *events])
    assert all(r["statusCode"] == 200 for r in out), out
    for r, want in zip(out[1:], expected, strict=True):
        assert json.loads(r["body"])["prediction"] == pytest.approx(want, abs=1e-5)


@pytest.mark.target
def test_echo_package_answers(build_dir, py313) -> None:
    build = _build(build_dir, {"echo": {}})
    assert build.handler == "functions.aws.echo_handler"
    assert all(not n.startswith(("numpy", "onnxruntime")) for n in zip_names(build.archive))
    out = run_lambda(py313, build.archive, None, [{"msg": "hello"}], handler="echo_handler")
    assert json.loads(out[0]["body"]) == {"response": "hello", "success": True}


def _deps_meta(build) -> dict:
    """The dependency tree's record of a Lambda build (raw, slimmed and bytecode sizes)."""
    key = json.loads(build.archive.with_suffix(".json").read_text())["deps_key"]
    return json.loads((build.archive.parents[2] / "deps" / key[:16] / "meta.json").read_text())


def test_package_contents_and_sizes(onnx_pkg, native_pkg) -> None:
    # Size targets are for cp313 x86_64 before bytecode: ONNX <= 120 MB; scikit-learn native is 169 MB
    # (161 MiB) after slimming, so the bound here guards against regressions only.
    for build, limit in ((onnx_pkg, 120e6), (native_pkg, 170e6)):
        names = zip_names(build.archive)
        assert "functions/aws.py" in names and "functions/app.py" in names
        assert not any(n.split("/")[0] in ("boto3", "botocore") for n in names)
        assert not any("/tests/" in n or n.endswith((".pyi", ".pyx", ".h")) for n in names)
        assert any(n.endswith(".dist-info/METADATA") for n in names)
        # bytecode compiled by the target: unchecked-hash pycs for cpython-313
        assert any(n.endswith(".cpython-313.pyc") for n in names)
        meta = _deps_meta(build)
        assert meta["slimmed_bytes"] <= limit < meta["raw_bytes"]
        assert meta["bytecode_bytes"] > 0 and meta["import_checked_with"]
        assert build.unzipped_bytes == sum(zipfile.ZipFile(build.archive).getinfo(n).file_size for n in names)
        assert build.archive.stat().st_size == build.zipped_bytes
        assert build.needs_s3 == (build.zipped_bytes > LAMBDA_DIRECT_UPLOAD_LIMIT)  # 49 MiB: see types.py
    assert native_pkg.needs_s3 and not onnx_pkg.needs_s3


def test_rebuild_with_nothing_changed_is_instant_and_installs_nothing(build_dir, logreg_dir, onnx_pkg,
                                                                      monkeypatch) -> None:
    _no_uv(monkeypatch)
    again = _build(build_dir, {"pred": {"model": logreg_dir, "runtime": "onnx"}})
    assert again.cached and again.seconds < 1.0
    assert again.archive_sha256 == onnx_pkg.archive_sha256 == sha256_file(again.archive)
    assert again.model.sha256 == onnx_pkg.model.sha256


def test_same_inputs_give_byte_identical_packages(tmp_path, logreg_dir, onnx_pkg) -> None:
    """A second cold build (fresh build dir: install, slim, bytecode, zip, ONNX conversion) gives the same bytes."""
    fresh = _build(tmp_path, {"pred": {"model": logreg_dir, "runtime": "onnx"}})
    assert not fresh.cached
    assert fresh.archive.read_bytes() == onnx_pkg.archive.read_bytes()
    assert fresh.model.path.read_bytes() == onnx_pkg.model.path.read_bytes()


def test_layer_split_and_handler_only_change(build_dir, logreg_dir, onnx_pkg, tmp_path, monkeypatch) -> None:
    _no_uv(monkeypatch)  # the dependency tree is the session's: nothing is installed for the layer either
    first = _build(build_dir, {"pred": {"model": logreg_dir, "runtime": "onnx"}}, top={"lambdaLayer": True})
    assert first.layer is not None and first.zipped_bytes < 250_000  # our modules and their bytecode: KBs, not MBs
    assert zip_names(first.archive) and all(n.startswith("functions/") or n == "model_schema.json"
                                            for n in zip_names(first.archive))
    layer_names = zip_names(first.layer.archive)
    assert all(n.startswith("python/") for n in layer_names) and "python/onnxruntime/__init__.py" in layer_names
    assert first.total_unzipped_bytes == first.unzipped_bytes + first.layer.unzipped_bytes

    functions = tmp_path / "functions"
    shutil.copytree(Path(__file__).resolve().parents[3] / "functions", functions,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (functions / "app.py").write_text((functions / "app.py").read_text() + "\n# handler-only change\n")
    second = _build(build_dir, {"pred": {"model": logreg_dir, "runtime": "onnx"}}, top={"lambdaLayer": True},
                    functions_dir=functions)
    assert second.archive_sha256 != first.archive_sha256
    assert second.layer.archive_sha256 == first.layer.archive_sha256 and second.layer.cached
    assert second.seconds < 5


def test_size_limit_lists_the_biggest_packages(build_dir, logreg_dir, onnx_pkg, monkeypatch) -> None:
    _no_uv(monkeypatch)
    with pytest.raises(BuildError, match=r"exceeds Lambda's limit of 10,000,000 bytes; biggest packages: "
                                         r"onnxruntime [\d.]+ MB, numpy"):
        _build(build_dir, {"pred": {"model": logreg_dir, "runtime": "onnx"}}, size_limit=10_000_000)


def test_gcp_source_archives(build_dir, logreg_dir, keras_dir) -> None:
    cfg = stack(
        {
            "echo": {},
            "pred": {"model": logreg_dir, "runtime": "native"},
            "predict": {"model": keras_dir, "runtime": "native"},
            "onnx": {"model": logreg_dir, "runtime": "onnx", "entryPoint": "pred"},
        },
        clouds=("gcp",),
    )
    builds = {b.endpoint: b for b in build_stack(cfg, options(build_dir)).values()}
    for b in builds.values():
        with zipfile.ZipFile(b.archive) as zf:
            assert zf.read("main.py") == b"from functions.gcp import echo, pred, predict  # noqa: F401\n"
            reqs = zf.read("requirements.txt").decode().split()
            assert "functions/gcp.py" in zf.namelist() and "functions/aws.py" not in zf.namelist()
        assert all("==" in r for r in reqs) and tuple(reqs) == b.requirements
        assert b.object_name == f"{b.endpoint}-{b.archive_sha256[:16]}.zip"
        assert b.cloud_runtime == "python313"
    assert builds["echo"].requirements == ("functions-framework==3.10.2",)
    assert "functions/app.py" not in zip_names(builds["echo"].archive)
    assert set(builds["pred"].requirements) >= {"scikit-learn==1.9.1", "skops==0.16.0", "numpy==2.4.6",
                                                "scipy==1.17.1"}
    keras_version = builds["predict"].model.manifest.framework_version
    assert f"keras=={keras_version}" in builds["predict"].requirements
    assert {"jax==0.10.2", "jaxlib==0.10.2"} <= set(builds["predict"].requirements)
    assert builds["predict"].environment == {"KERAS_BACKEND": "jax"}
    assert set(builds["onnx"].requirements) == {"onnxruntime==1.32.0", "numpy==2.4.6", "functions-framework==3.10.2"}
    assert builds["onnx"].model.format == "onnx" and builds["pred"].model.format == "skops"
    # a rebuild gives the same archive; a changed archive gets a new object name
    again = {b.endpoint: b for b in build_stack(cfg, options(build_dir)).values()}
    assert all(again[k].cached and again[k].archive_sha256 == b.archive_sha256 for k, b in builds.items())


def test_onnx_conversion_is_deterministic_and_keyed(tmp_path, logreg_dir, keras_dir) -> None:
    for model_dir in (logreg_dir, keras_dir):
        a = prepare_model(model_dir, "onnx", tmp_path / "a")
        b = prepare_model(model_dir, "onnx", tmp_path / "b")
        assert a.path.read_bytes() == b.path.read_bytes() and a.sha256 == b.sha256
        assert a.key == f"models/{a.manifest.name}/{a.sha256}.onnx"
        assert a.parity_max_abs_diff <= 1e-5
    native = prepare_model(logreg_dir, "native", tmp_path / "a")
    assert native.path == native.manifest.artifact_path and native.key.endswith(f"{native.sha256}.skops")
