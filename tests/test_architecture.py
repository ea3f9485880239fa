"""The architecture as a test: the public API is what ``__all__`` says, the apps use only
that, dependencies point one way (the import-linter contract in pyproject.toml), no import
cycle, no module or function past the size the style guide allows."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ragkit

ROOT = Path(__file__).resolve().parents[1]
APPS = [ROOT / "ingest" / "cli.py", ROOT / "ui" / "app.py", ROOT / "ragkit" / "cli.py",
        ROOT / "ragkit" / "cli_eval.py", ROOT / "ragkit" / "cli_doctor.py"]


class TestPublicAPI:
    @pytest.mark.parametrize("app", APPS, ids=lambda p: p.parent.name + "/" + p.name)
    def test_apps_use_only_the_public_api(self, app: Path) -> None:
        used = _ragkit_names(ast.parse(app.read_text(encoding="utf-8")))
        # app modules may import each other
        apps = {"ragkit.cli", "ragkit.cli_eval", "ragkit.cli_doctor", "ragkit.cli_serve"}
        private = sorted(f"{mod}.{name}" for mod, name in used
                         if mod not in apps and (mod != "ragkit" or name not in ragkit.__all__))
        assert private == [], f"{app.name} reaches past ragkit.__all__"

    def test_the_check_sees_a_private_import(self) -> None:
        tree = ast.parse("from ragkit._rag import MANIFEST_FILE\nimport ragkit\nragkit.RAG\n")
        assert _ragkit_names(tree) == {("ragkit._rag", "MANIFEST_FILE"), ("ragkit", "RAG")}


def _ragkit_names(tree: ast.AST) -> set[tuple[str, str]]:
    """(module, name) of every name taken from ragkit: ``from ragkit.x import y`` and
    ``ragkit.y`` attribute reads."""
    out: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ragkit":
            out.update((node.module or "", a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            out.update((a.name, "*") for a in node.names
                       if a.name.startswith("ragkit.") and not a.name.startswith("ragkit_"))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "ragkit"):
            out.add(("ragkit", node.attr))
    return out


class TestLayers:
    def test_import_linter_contracts_hold(self) -> None:
        exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
        assert exe, "import-linter is in the dev extra (scripts/bootstrap dev)"
        out = subprocess.run([exe, str(ROOT / "pyproject.toml")], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert "BROKEN" not in out.stdout and "KEPT" in out.stdout

    def test_the_contract_catches_an_upward_import(self, tmp_path: Path) -> None:
        pkg = tmp_path / "toy"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "high.py").write_text("")
        (pkg / "low.py").write_text("from toy import high\n")
        (tmp_path / "contract.toml").write_text(
            '[tool.importlinter]\nroot_package = "toy"\n[[tool.importlinter.contracts]]\n'
            'name = "toy"\ntype = "layers"\nlayers = ["toy.high", "toy.low"]\n')
        exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
        assert exe
        out = subprocess.run([exe, "contract.toml"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120,
                             env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert out.returncode == 1 and "BROKEN" in out.stdout

    def test_no_import_cycle(self) -> None:
        graph = _module_imports(ROOT / "ragkit")
        assert _cycles(graph) == []

    def test_the_cycle_finder_finds_one(self) -> None:
        assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _module_imports(root: Path) -> dict[str, set[str]]:
    """Module -> ragkit modules it imports at import time (function-level imports and
    ``if TYPE_CHECKING`` blocks are not import-time edges)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in tree.body:  # top level only
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):
                    edges.add(t)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


class TestSizes:
    """Style guide: modules under ~400 lines, functions under ~50 (a little slack: ~)."""

    def test_modules_and_functions_stay_small(self) -> None:
        big_modules, big_functions = [], []
        for path in sorted((ROOT / "ragkit").rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            name = str(path.relative_to(ROOT))
            if text.count("\n") > 440:
                big_modules.append(name)
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > 60:
                        big_functions.append(f"{name}:{node.name} ({length} lines)")
        assert big_modules == [] and big_functions == []
