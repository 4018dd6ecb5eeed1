"""Helpers shared by the packager tests: stack configs, options, and running a built Lambda package."""

from __future__ import annotations

import json
import subprocess
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

from smodels.config import load_stack_config
from smodels.packager import BuildOptions

REPO = Path(__file__).resolve().parents[3]
BOOK_REQUEST = {f"G{i}": "1" if i == 1 else "0" for i in range(1, 11)}
BOOK_PROBABILITY = 0.06745113592634559


def stack(endpoints: dict, clouds=("aws",), **top) -> object:
    """A StackConfig for `endpoints` (model paths absolute) rooted at the repo."""
    mapping = {
        "serverless-models:clouds": json.dumps(list(clouds)),
        "serverless-models:endpoints": json.dumps({k: {**v, "model": str(v["model"])} if "model" in v else v
                                                   for k, v in endpoints.items()}),
        **{f"serverless-models:{k}": v for k, v in top.items()},
    }
    return load_stack_config(mapping, REPO)


def options(build_dir: Path, **kw) -> BuildOptions:
    """BuildOptions writing to the session build dir."""
    return replace(BuildOptions(out_dir=build_dir), **kw)


def run_lambda(py: str, archive: Path, model, events: list, handler: str = "lambda_handler") -> list[dict]:
    """Unzip `archive` and call functions.aws.<handler> on each event under `py`, alone on sys.path as Lambda does."""
    with tempfile.TemporaryDirectory(prefix="smodels-pkg-") as tmp:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        env = {"PATH": "/usr/bin:/bin", "ENDPOINT_NAME": "pred"}
        if model is not None:
            env |= {
                "MODEL_URI": model.path.resolve().as_uri(),
                "MODEL_SHA256": model.sha256,
                "MODEL_FORMAT": model.format,
                "MODEL_FEATURES": json.dumps(model.manifest.feature_names),
                "MODEL_NAME": model.manifest.name,
            }
        code = (
            f"import sys, json; sys.path.insert(0, {tmp!r})\n"
            f"from functions.aws import {handler} as h\n"
            f"for ev in json.loads(sys.argv[1]):\n"
            f"    print('RESULT ' + json.dumps(h(ev, None)))\n"
        )
        res = subprocess.run([py, "-I", "-c", code, json.dumps(events)], env=env, capture_output=True, text=True,
                             timeout=120, cwd=tmp)
        assert res.returncode == 0, res.stderr[-3000:]
        out = [json.loads(line[7:]) for line in res.stdout.splitlines() if line.startswith("RESULT ")]
        assert len(out) == len(events), res.stdout[-2000:]
        return out


def zip_names(path: Path) -> list[str]:
    """Entry names of a zip."""
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()

