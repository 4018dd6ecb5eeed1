"""Fast packager checks: deterministic zips, wheel-tag verification, pins, and the errors raised before any install."""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from build_support import options, stack

from smodels.manifest import load_manifest
from smodels.packager import BuildError, Target, build_function, prepare_model, requirements_for
from smodels.packager.archive import write_zip
from smodels.packager.deps import PINS, slim
from smodels.packager.target import verify_wheel_tags


def test_zip_is_byte_identical_with_fixed_time_and_modes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("A = 1\n")
    (src / "pkg" / "lib.so").write_bytes(b"\x7fELF fake")
    (src / "pkg" / "lib.so").chmod(0o700)
    entries = [("pkg/lib.so", src / "pkg" / "lib.so"), ("pkg/a.py", src / "pkg" / "a.py"), ("x.txt", b"bytes")]
    sha1 = write_zip(tmp_path / "one.zip", entries)
    (src / "pkg" / "a.py").touch()  # a newer mtime must not change the archive
    sha2 = write_zip(tmp_path / "two.zip", list(reversed(entries)))
    assert sha1 == sha2
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["pkg/a.py", "pkg/lib.so", "x.txt"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {"pkg/a.py": 0o644, "pkg/lib.so": 0o755, "x.txt": 0o644}


def _dist(site: Path, name: str, tags: list[str]) -> None:
    d = site / f"{name}-1.0.dist-info"
    d.mkdir(parents=True)
    (d / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags))


def test_wheel_tags_for_the_target_pass(tmp_path: Path) -> None:
    _dist(tmp_path, "numpy", ["cp313-cp313-manylinux_2_27_x86_64", "cp313-cp313-manylinux_2_28_x86_64"])
    _dist(tmp_path, "pure", ["py3-none-any"])
    _dist(tmp_path, "stable", ["cp39-abi3-manylinux2014_x86_64"])
    verify_wheel_tags(tmp_path, Target("3.13", "x86_64"))


@pytest.mark.parametrize(
    ("tag", "target"),
    [
        ("cp313-cp313-macosx_11_0_arm64", Target("3.13", "x86_64")),
        ("cp311-cp311-manylinux_2_17_x86_64", Target("3.13", "x86_64")),  # another CPython ABI
        ("cp313-cp313-manylinux_2_17_aarch64", Target("3.13", "x86_64")),  # another CPU
        ("cp313-cp313-musllinux_1_2_x86_64", Target("3.13", "x86_64")),
        ("cp313-cp313-manylinux_2_39_x86_64", Target("3.13", "x86_64")),  # newer glibc than Amazon Linux 2023
        ("cp311-cp311-manylinux_2_28_x86_64", Target("3.11", "x86_64")),  # newer glibc than Amazon Linux 2
    ],
)
def test_wrong_platform_wheel_is_rejected(tmp_path: Path, tag: str, target: Target) -> None:
    _dist(tmp_path, "good", ["py3-none-any"])
    _dist(tmp_path, "bad", [tag])
    with pytest.raises(BuildError, match=r"bad-1\.0\.dist-info.*" + tag.replace(".", r"\.")):
        verify_wheel_tags(tmp_path, target)


def test_pins_match_the_dev_venv() -> None:
    """The parity check runs the venv's onnxruntime; the package must ship the same one."""
    for name in ("numpy", "onnxruntime", "scipy", "skops", "functions-framework"):
        assert PINS[name] == version(name), name


def test_slim_keeps_dist_info_and_drops_the_rest(tmp_path: Path) -> None:
    site = tmp_path
    (site / "pkg" / "tests").mkdir(parents=True)
    (site / "pkg" / "tests" / "test_x.py").write_text("x")
    (site / "pkg" / "__init__.py").write_text("")
    (site / "pkg" / "core.pyi").write_text("")
    (site / "pkg" / "fast.pyx").write_text("")
    (site / "pkg" / "fast.h").write_text("")
    (site / "pkg" / "__pycache__").mkdir()
    (site / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"0")
    (site / "boto3").mkdir()
    (site / "boto3" / "__init__.py").write_text("")
    d = site / "boto3-1.0.dist-info"
    d.mkdir()
    (d / "RECORD").write_text("boto3/__init__.py,,\nboto3-1.0.dist-info/RECORD,,\n")
    keep = site / "pkg-1.0.dist-info"
    keep.mkdir()
    (keep / "RECORD").write_text("pkg/__init__.py,,\n")
    reports = slim(site)
    left = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert left == ["pkg-1.0.dist-info/RECORD", "pkg/__init__.py"]
    assert sum(r.files for r in reports) == 7


def _tampered(src: Path, dest: Path, edit) -> Path:
    shutil.copytree(src, dest)
    data = json.loads((dest / "model.json").read_text())
    edit(data)
    (dest / "model.json").write_text(json.dumps(data))
    return dest


def test_sklearn_version_mismatch_is_a_build_error(tmp_path: Path, logreg_dir: Path, build_dir: Path) -> None:
    model = _tampered(logreg_dir, tmp_path / "old", lambda d: d.update(framework_version="1.8.0",
                                                                         requirements={"scikit-learn": "1.8.0"}))
    cfg = stack({"pred": {"model": model, "runtime": "native"}})
    with pytest.raises(BuildError, match=r"scikit-learn 1\.8\.0.*would install scikit-learn 1\.9\.1"):
        build_function(cfg, cfg.endpoints[0], "aws", options(build_dir))
    with pytest.raises(BuildError, match="1.8.0"):
        requirements_for("gcp", "model", "native", load_manifest(model))


def test_native_keras_on_lambda_is_refused(keras_dir: Path, build_dir: Path) -> None:
    cfg = stack({"predict": {"model": keras_dir, "runtime": "native"}})
    with pytest.raises(BuildError, match="does not fit Lambda.*runtime onnx"):
        build_function(cfg, cfg.endpoints[0], "aws", options(build_dir))


def test_parity_failure_names_the_gap_and_the_row(tmp_path: Path, logreg_dir: Path) -> None:
    def bump(d: dict) -> None:
        d["parity"]["outputs"][7] = min(1.0, d["parity"]["outputs"][7] + 0.01)

    model = _tampered(logreg_dir, tmp_path / "bad", bump)
    with pytest.raises(BuildError, match=r"parity failed .* max abs difference 0\.01 > 1e-05 at parity row 7"):
        prepare_model(model, "onnx", tmp_path / "out")


@pytest.mark.slow
def test_size_limit_names_the_size(tmp_path: Path, build_dir: Path) -> None:
    cfg = stack({"echo": {}})
    with pytest.raises(BuildError, match=r"aws/echo: [\d,]+ bytes unzipped .* limit of 1,000 bytes; biggest packages: "
                                         r"functions"):
        build_function(cfg, cfg.endpoints[0], "aws", options(tmp_path, size_limit=1000))


def test_missing_function_module_is_named(tmp_path: Path) -> None:
    fdir = tmp_path / "functions"
    fdir.mkdir()
    for name in ("__init__.py", "contract.py", "http.py", "apps.py", "aws.py"):
        (fdir / name).write_text("")
    cfg = stack({"echo": {}})
    with pytest.raises(BuildError, match="lacks echo.py"):
        build_function(cfg, cfg.endpoints[0], "aws", options(tmp_path, functions_dir=fdir))


def test_bad_target_is_named() -> None:
    with pytest.raises(BuildError, match="arch"):
        Target("3.13", "sparc")
    with pytest.raises(BuildError, match="python"):
        Target("3.x", "x86_64")


@pytest.mark.slow
def test_host_mode_targets_this_interpreter(tmp_path: Path) -> None:
    import sys

    from smodels.packager.builder import resolve_target

    target = resolve_target(stack({"echo": {}}), options(tmp_path, host=True))
    assert target.host and target.uv_args() == ["--python", sys.executable]
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == target.python
    cfg = stack({"echo": {}})
    build = build_function(cfg, cfg.endpoints[0], "aws", options(tmp_path, host=True))
    assert build.cloud_runtime == f"python{target.python}"
    names = zipfile.ZipFile(build.archive).namelist()
    assert f"functions/__pycache__/echo.{sys.implementation.cache_tag}.pyc" in names


def test_cross_target_resolves_for_amazon_linux() -> None:
    assert Target("3.13", "x86_64").uv_args() == ["--python-platform", "x86_64-manylinux_2_34", "--python-version",
                                                  "3.13"]
    assert Target("3.12", "arm64").uv_platform == "aarch64-manylinux_2_34"
    assert Target("3.11", "x86_64").glibc == (2, 26)  # Amazon Linux 2


@pytest.mark.slow
def test_cli_build_json(tmp_path: Path, capsys) -> None:
    from smodels.cli import main

    (tmp_path / "functions").symlink_to(Path(__file__).resolve().parents[3] / "functions")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  serverless-models:endpoints:\n    echo: {}\n"
    )
    assert main(["build", "--project-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["cloud"], r["endpoint"]) for r in out] == [("aws", "echo"), ("gcp", "echo")]
    assert out[0]["handler"] == "functions.aws.echo_handler" and out[1]["entry_point"] == "echo"
    assert out[1]["object_name"] == f"echo-{out[1]['archive_sha256'][:16]}.zip"
    assert all(Path(r["archive"]).is_file() and r["zipped_bytes"] > 0 for r in out)
    assert main(["build", "--project-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "aws/echo" in text and "(cached)" in text


def test_missing_wheel_names_the_package_and_platform(tmp_path: Path, monkeypatch) -> None:
    """uv's real answer for numpy 2.4.6 on Amazon Linux 2 (python3.11: no manylinux_2_17 wheel) becomes a BuildError."""
    import subprocess

    import smodels.packager.deps as deps_mod

    uv_said = (
        "error: No solution found when resolving dependencies\n  cause: Because numpy==2.4.6 has no usable wheels "
        "and you require numpy==2.4.6, we can conclude that your requirements are unsatisfiable."
    )
    monkeypatch.setattr(deps_mod, "_run_uv", lambda args: subprocess.CompletedProcess(args, 1, "", uv_said))
    with pytest.raises(BuildError, match=r"no installable wheel of numpy for cp311 x86_64-manylinux_2_17"):
        deps_mod.install(tmp_path, ("numpy==2.4.6", "onnxruntime==1.32.0"), Target("3.11", "x86_64"))
