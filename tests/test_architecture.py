"""The package's shape, checked: layers without cycles, no kind special-cased outside its own
package, small modules, and every built-in replaceable by a plugin."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pytest_llmops.suites.builtins import default_registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_llmops"
MAX_LINES = 400
# Where no kind may be named: the layers every kind passes through.
KIND_NEUTRAL = ("core", "report", "gates", "terminal.py")


def test_import_layers_hold() -> None:
    """import-linter's layers contract in pyproject.toml (grimp counts function-level imports)."""
    command = shutil.which("lint-imports")
    assert command, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run([command, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each a set of modules in a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_import_cycles_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_any_two_modules() -> None:
    """Within layers too, counting imports inside functions and under TYPE_CHECKING (grimp sees all)."""
    import grimp

    graph = grimp.build_graph("pytest_llmops", include_external_packages=False, cache_dir=None)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert import_cycles(edges) == []


def _layer_names() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return {name.strip() for layer in contract["layers"] for name in layer.split("|")}


def test_every_module_is_in_a_layer() -> None:
    """The layers contract is not exhaustive (it cannot list core/ beside core.specs), so check
    here that each top-level module, each package and each module of core/ and integrations/ is placed."""
    layers = _layer_names()
    placed = set()
    for path in PACKAGE.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        if path.name in ("__init__.py", "__pycache__", "py.typed") or path.suffix not in (".py", ""):
            continue
        if name in ("core", "integrations"):
            for inner in path.iterdir():
                if inner.name not in ("__init__.py", "__pycache__"):
                    placed.add(f"{name}.{inner.stem}")
            continue
        placed.add(name)
    assert placed - layers == set(), "modules missing from the [tool.importlinter] layers"


def _python_files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        target = PACKAGE / part
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return files


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _python_files(".")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def kind_mentions(source: str, kinds: set[str]) -> list[str]:
    """Where code (not docstrings or comments) names a kind: a string that is a kind name or a
    suite path under one (``"regression"``, ``"latency/*"``), or an identifier containing one."""
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value.strip()
            if any(text == k or text.startswith((f"{k}/", f"{k}:")) for k in kinds):
                found.append(f"line {node.lineno}: string {node.value!r}")
        names = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.alias):
            names.append(node.asname or node.name)
        for name in names:
            if any(k in name.lower() for k in kinds):
                found.append(f"line {getattr(node, 'lineno', '?')}: name {name!r}")
    return found


def test_kind_mentions_finds_what_it_should() -> None:
    kinds = {"latency", "regression"}
    assert kind_mentions('x = "regression"\ny = "latency/*"\n', kinds) == ["line 1: string 'regression'",
                                                                       "line 2: string 'latency/*'"]
    assert kind_mentions("def regression_rows():\n    '''regression rows'''\n", kinds) == [
        "line 1: name 'regression_rows'"]
    assert kind_mentions("# latency\nx = 'p95 latency in ms'\n", kinds) == []


def test_no_kind_is_named_in_core_report_gates_or_terminal() -> None:
    """So a kind registered by a plugin is shown exactly as well as a built-in."""
    kinds = set(default_registry().kinds)
    assert {"functional", "adversarial", "metamorphic", "regression", "latency", "garak"} <= kinds
    mentions = {str(path.relative_to(ROOT)): kind_mentions(path.read_text(encoding="utf-8"), kinds)
                for path in _python_files(*KIND_NEUTRAL)}
    assert {path: found for path, found in mentions.items() if found} == {}


@pytest.mark.parametrize("module", ["pytest_llmops.plugin", "pytest_llmops.session", "pytest_llmops.cli"])
def test_modules_import_on_their_own(module: str) -> None:
    """Each entry module imports in a fresh interpreter (no order-dependent import cycle)."""
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True, timeout=120)
