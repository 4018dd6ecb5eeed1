"""End to end under the mock engine with the real packager: the handler and entry point declared in the graph
resolve inside the very archives the graph ships.

Each archive is opened from the FileArchive/FileAsset path recorded in the graph, extracted, and imported in a
fresh interpreter with nothing but the extracted tree (and, for Lambda, its layer) on the path: Lambda zips under
the target Python (3.13, found via pyenv), GCP source archives under the dev venv (Cloud Build installs their
requirements.txt; the venv has the same pins).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mockprogram import ProgramRun, base_config, run_program

from smodels.packager import find_interpreter

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _python313() -> str | None:
    """The target interpreter as the packager finds it (any 3.13.x from pyenv, PATH or SMODELS_PYTHON313)."""
    return os.environ.get("SMODELS_TARGET_PYTHON") or find_interpreter("3.13")


def _extract(archive: Path, dest: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest


def _resolve(python: str, paths: list[Path], module: str, attr: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Import `module` in a fresh isolated interpreter with only `paths` in front; check `attr` is callable."""
    code = (
        "import sys, importlib\n"
        f"sys.path[:0] = {[str(p) for p in paths]!r}\n"
        f"m = importlib.import_module({module!r})\n"
        f"fn = getattr(m, {attr!r})\n"
        "assert callable(fn), fn\n"
        "import functions\n"
        f"assert functions.__file__.startswith({str(paths[0])!r}), functions.__file__\n"
        "print(m.__file__, fn.__name__)\n"
    )
    return subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    if not (REPO / "models" / "logreg" / "model.json").is_file():
        pytest.skip("models/logreg is not trained yet")
    if _python313() is None:
        pytest.skip("no working CPython 3.13 (pyenv 3.13.0) to build and import the Lambda package")
    mp = pytest.MonkeyPatch()
    try:
        import infra.artifacts

        # run_program installs the builder it is given: give it the real seam.
        return run_program(mp, base_config(), infra.artifacts.builds_for)
    finally:
        mp.undo()


def test_lambda_handlers_resolve_inside_the_shipped_zips(real_run: ProgramRun, tmp_path: Path) -> None:
    python = _python313()
    assert python
    functions = real_run.mocks.of_type("aws:lambda/function:Function")
    assert {f.inputs["handler"] for f in functions} == {"functions.aws.echo_handler", "functions.aws.lambda_handler"}
    for fn in functions:
        inputs = fn.inputs
        if "code" in inputs:
            archive = Path(inputs["code"].path)
        else:  # shipped through S3: the object the function's s3Key names
            obj = next(
                r
                for r in real_run.mocks.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
                if r.inputs["key"] == inputs["s3Key"]
            )
            archive = Path(obj.inputs["source"].path)
        root = _extract(archive, tmp_path / fn.name)
        paths = [root]
        for layer in real_run.mocks.of_type("aws:lambda/layerVersion:LayerVersion"):
            if layer.name == f"{fn.name}-layer":
                paths.append(_extract(Path(layer.inputs["code"].path), tmp_path / f"{fn.name}-layer") / "python")
        module, _, attr = inputs["handler"].rpartition(".")
        proc = _resolve(python, paths, module, attr, tmp_path)
        assert proc.returncode == 0, f"{fn.name}: {proc.stderr[-2000:]}"
        assert attr in proc.stdout


def test_gcp_entry_points_resolve_inside_the_shipped_sources(real_run: ProgramRun, tmp_path: Path) -> None:
    functions = real_run.mocks.of_type("gcp:cloudfunctionsv2/function:Function")
    assert {f.inputs["buildConfig"]["entryPoint"] for f in functions} == {"echo", "pred"}
    sources = {r.inputs["name"]: r for r in real_run.mocks.of_type("gcp:storage/bucketObject:BucketObject")}
    for fn in functions:
        build = fn.inputs["buildConfig"]
        obj = sources[build["source"]["storageSource"]["object"]]
        archive = Path(obj.inputs["source"].path)
        root = _extract(archive, tmp_path / fn.name)
        assert (root / "requirements.txt").is_file() and (root / "main.py").is_file()
        proc = _resolve(sys.executable, [root], "main", build["entryPoint"], tmp_path)
        assert proc.returncode == 0, f"{fn.name}: {proc.stderr[-2000:]}"


def test_real_build_graph_has_model_objects_matching_the_env(real_run: ProgramRun) -> None:
    import hashlib

    env = real_run.inputs("aws:lambda/function:Function", "aws-pred")["environment"]["variables"]
    # runtime auto picks the first of pure -> onnx -> native that reproduces the model (issue 15): pure for logreg
    assert env["MODEL_FORMAT"] in ("pure", "onnx")
    ext = env["MODEL_URI"].rsplit(".", 1)[1]  # the object key's extension, as the packager chose it
    for typ, key in (
        ("aws:s3/bucketObjectv2:BucketObjectv2", "key"),
        ("gcp:storage/bucketObject:BucketObject", "name"),
    ):
        models = [r for r in real_run.mocks.of_type(typ) if r.inputs[key].startswith("models/")]
        assert len(models) == 1
        obj = models[0].inputs
        digest = hashlib.sha256(Path(obj["source"].path).read_bytes()).hexdigest()
        assert obj[key] == f"models/games-logreg/{digest}.{ext}"
    assert env["MODEL_URI"].endswith(f"{env['MODEL_SHA256']}.{ext}")
    assert env["MODEL_SCHEMA"] == "model_schema.json"  # shipped in the package, beside functions/
    fn = real_run.inputs("aws:lambda/function:Function", "aws-pred")
    with zipfile.ZipFile(fn["code"].path) as zf:
        schema = json.loads(zf.read("model_schema.json"))
    assert [f["name"] for f in schema["features"]] == [f"G{i}" for i in range(1, 11)]
    assert {f["type"] for f in schema["features"]} == {"binary"} and schema["task"] == "binary-classification"
