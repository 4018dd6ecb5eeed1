"""The rooms of the house and which may import which (docs/DESIGN.md, "Rooms"), read from the code's own imports.

Every import counts, the lazy ones inside functions too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOMS = ("functions", "infra", "smodels")

# What code inside the cloud function may import beyond the standard library and `functions` itself: each is
# imported only where a model format or a cloud needs it, and only inside the package that ships it.
FUNCTIONS_OPTIONAL = {"numpy", "onnxruntime", "skops", "joblib", "keras", "pandas", "xgboost", "lightgbm",
                      "boto3", "botocore", "flask", "functions_framework", "google"}
# Modules outside smodels/local that may import it: the commands that start or drive the local stack.
LOCAL_IMPORTERS = {"smodels.cli", "smodels.smoke"}
# The modules of infra/ that smodels may import, each pure (standard library, and for policies functions.contract):
# - infra.names: the one place resource names are made; the CLI reads it to find what the program named;
# - infra.policies: the IAM policy documents the program declares, as plain dicts; the local stack creates the very
#   same documents in moto (smodels/local/iam.py), so there is no second copy of a policy (issue 20 part 3).
SHARED_WITH_SMODELS = {"infra.names": set(), "infra.policies": {"functions.contract"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for room in ROOMS for p in (REPO / room).rglob("*.py")}
    found["__main__"] = REPO / "__main__.py"
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The names `path` imports: project modules resolved to the deepest module named, others as given."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _project_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _packages_of(name: str) -> set[str]:
    """`name`'s package __init__ modules: importing a submodule runs them, so they are not a circle of their own."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_cycle_finder_sees_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle(graph: dict[str, set[str]]) -> None:
    edges = _project_edges(graph)
    # A package's __init__ re-exporting its submodules is how a package is read, not a circle between modules.
    edges = {m: {t for t in ts if t not in _packages_of(m)} for m, ts in edges.items()}
    assert _cycles(edges) == []


def test_functions_imports_only_itself_the_stdlib_and_declared_optionals(graph: dict[str, set[str]]) -> None:
    stdlib = set(sys.stdlib_module_names)
    bad = {
        (m, t) for m, targets in graph.items() if m.split(".")[0] == "functions" for t in targets
        if t.split(".")[0] not in stdlib | FUNCTIONS_OPTIONAL | {"functions", "__future__"}
    }
    assert bad == set()


def test_infra_takes_only_the_contract_from_functions(graph: dict[str, set[str]]) -> None:
    bad = {(m, t) for m, targets in graph.items() if m.split(".")[0] in ("infra", "__main__")
           for t in targets if t.split(".")[0] == "functions" and t != "functions.contract"}
    assert bad == set()


def test_nothing_below_imports_infra(graph: dict[str, set[str]]) -> None:
    """Except the pure modules of SHARED_WITH_SMODELS (never from functions/): `infra.names`, which the CLI reads
    to find what the program named (a log group) when a stack output is missing, and `infra.policies`, the IAM
    documents the local stack enforces in moto."""
    bad = {(m, t) for m, targets in graph.items() if m.split(".")[0] in ("functions", "smodels")
           for t in targets if t.split(".")[0] in ("infra", "pulumi", "pulumi_aws", "pulumi_gcp")
           and (t not in SHARED_WITH_SMODELS or m.split(".")[0] == "functions")}
    assert bad == set()
    for shared, allowed in SHARED_WITH_SMODELS.items():
        outside = {t for t in graph[shared] if t.split(".")[0] not in set(sys.stdlib_module_names) | {"__future__"}}
        assert outside <= allowed, f"{shared} must stay pure: it imports {sorted(outside - allowed)}"


def test_local_stack_is_imported_only_by_serve_and_smoke(graph: dict[str, set[str]]) -> None:
    bad = {(m, t) for m, targets in graph.items() if not m.startswith("smodels.local.") and m != "smodels.local"
           and m not in LOCAL_IMPORTERS for t in targets if t == "smodels.local" or t.startswith("smodels.local.")}
    assert bad == set()
