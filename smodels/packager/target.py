"""The platform a package is built for: Python version, CPU, glibc, wheel tags and the interpreter to compile with.

Lambda runs python3.12+ on Amazon Linux 2023 (glibc 2.34) and python3.11 on Amazon Linux 2 (glibc 2.26), so
wheels are resolved for those manylinux levels whatever machine builds. Host mode targets the running
interpreter instead (the local runner executes Lambda packages on this machine).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag, sys_tags

from smodels.packager.types import BuildError

MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Target:
    """Where a package will run: `python` ("3.13"), `arch` ("x86_64" | "arm64"), or the host itself."""

    python: str
    arch: str
    host: bool = False

    @classmethod
    def for_host(cls) -> Target:
        """The running interpreter and machine."""
        machine = platform.machine().lower()
        arch = "arm64" if machine in ("aarch64", "arm64") else machine
        return cls(python=f"{sys.version_info.major}.{sys.version_info.minor}", arch=arch, host=True)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise BuildError(f"python: {self.python!r} is not a Python version like 3.13")
        if not self.host and self.arch not in MACHINES:
            raise BuildError(f"arch: {self.arch!r} is not one of {sorted(MACHINES)}")

    @property
    def version_tuple(self) -> tuple[int, int]:
        """(3, 13) for "3.13"."""
        major, minor = self.python.split(".")
        return int(major), int(minor)

    @property
    def machine(self) -> str:
        """The CPU as wheel tags spell it (x86_64, aarch64)."""
        return MACHINES.get(self.arch, self.arch)

    @property
    def glibc(self) -> tuple[int, int]:
        """glibc of the Lambda OS for this Python: Amazon Linux 2 (2.26) for 3.11, Amazon Linux 2023 (2.34) after."""
        return (2, 26) if self.version_tuple <= (3, 11) else (2, 34)

    @property
    def uv_platform(self) -> str:
        """uv's platform name. uv knows no manylinux_2_26, so Amazon Linux 2 resolves as manylinux_2_17."""
        minor = self.glibc[1] if self.glibc >= (2, 28) else 17
        return f"{self.machine}-manylinux_{self.glibc[0]}_{minor}"

    @property
    def lambda_runtime(self) -> str:
        """Lambda runtime identifier, e.g. python3.13."""
        return f"python{self.python}"

    def describe(self) -> str:
        """Human form for messages, e.g. `cp313 x86_64-manylinux_2_34`."""
        if self.host:
            return f"host cp{self.python.replace('.', '')} {platform.machine()} ({sys.executable})"
        return f"cp{self.python.replace('.', '')} {self.uv_platform}"

    def key(self) -> str:
        """Stable identity for cache keys."""
        if self.host:
            return f"host:{sys.implementation.cache_tag}:{platform.machine()}:{sys.executable}"
        return f"cp{self.python}:{self.uv_platform}"

    def uv_args(self) -> list[str]:
        """The arguments that make `uv pip install --target` resolve for this target."""
        if self.host:
            return ["--python", sys.executable]
        return ["--python-platform", self.uv_platform, "--python-version", self.python]

    @functools.cached_property
    def platforms(self) -> list[str]:
        """Every platform tag a wheel may carry to run here, best first."""
        if self.host:
            return []
        major, top = self.glibc
        plats = [f"manylinux_{major}_{minor}_{self.machine}" for minor in range(top, 4, -1)]
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        for minor, name in legacy.items():
            if minor <= top and (self.machine == "x86_64" or minor == 17):
                plats.append(f"{name}_{self.machine}")
        return plats

    @functools.cached_property
    def supported_tags(self) -> frozenset[Tag]:
        """The wheel tags a wheel must match (any one of its tags) to be installed for this target."""
        if self.host:
            return frozenset(sys_tags())
        version = self.version_tuple
        interp = f"cp{version[0]}{version[1]}"
        tags = set(cpython_tags(version, abis=[interp, "abi3", "none"], platforms=self.platforms))
        tags |= set(compatible_tags(version, interp, self.platforms))
        return frozenset(tags)


def wheel_tags(dist_info: Path) -> list[str]:
    """The `Tag:` lines of a `.dist-info/WHEEL` file (empty if the file is missing)."""
    wheel = dist_info / "WHEEL"
    if not wheel.is_file():
        return []
    return [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]


def verify_wheel_tags(site: Path, target: Target) -> None:
    """Raise BuildError if any installed distribution's wheel cannot run on `target`.

    Guards against a wrong-platform wheel ending up in the package (macOS, musl, another CPython ABI),
    whatever resolved it.
    """
    supported = target.supported_tags
    bad: list[str] = []
    for dist_info in sorted(site.glob("*.dist-info")):
        tags = wheel_tags(dist_info)
        if not tags:
            bad.append(f"{dist_info.name}: no WHEEL tags (not installed from a wheel)")
            continue
        parsed = set()
        for tag in tags:
            parsed |= set(parse_tag(tag))
        if not parsed & supported:
            bad.append(f"{dist_info.name}: wheel tag(s) {', '.join(tags)}")
    if bad:
        raise BuildError(
            f"wheel(s) not compatible with the target {target.describe()}:\n"
            + "\n".join(f"  - {b}" for b in bad)
        )


def _runs(candidate: Path | str, python: str) -> str | None:
    """The interpreter path if it exists, runs, and reports version `python`; else None."""
    path = shutil.which(str(candidate)) if not os.path.isabs(str(candidate)) else str(candidate)
    if not path or not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout + out.stderr).strip()
    if out.returncode == 0 and re.match(rf"Python {re.escape(python)}\.\d+", text):
        return path
    return None


@functools.cache
def find_interpreter(python: str) -> str | None:
    """A CPython `python` (e.g. "3.13") that actually runs: this one, pyenv's, or one on PATH; None if absent.

    PATH entries may be pyenv shims that exist but answer "command not found", hence the `--version` call.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    env = os.environ.get(f"SMODELS_PYTHON{python.replace('.', '')}")
    if env and (found := _runs(env, python)):
        return found
    candidates: list[Path | str] = []
    pyenv = shutil.which("pyenv")
    roots = []
    if pyenv:
        try:
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10).stdout.strip()
            if root:
                roots.append(Path(root))
        except (OSError, subprocess.SubprocessError):
            pass
    roots.append(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")))
    for root in roots:
        versions = sorted((root / "versions").glob(f"{python}.*"), reverse=True)
        candidates += [v / "bin" / f"python{python}" for v in versions if re.fullmatch(rf"{python}\.\d+", v.name)]
    candidates.append(f"python{python}")
    for candidate in candidates:
        if found := _runs(candidate, python):
            return found
    return None


def interpreter_version(path: str) -> str:
    """Full version string of an interpreter (`Python 3.13.0`), for cache keys."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).strip()
