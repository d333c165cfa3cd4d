"""The package's import layering: ``utils <- ops <- {data, metrics, encoders, clusters, sampling,
transforms} <- models <- runner <- {cli, api, __main__}``.

A module may import its own layer or a lower one, never a higher one, and pyagc modules must not
import each other in a cycle. Every ``import`` / ``from ... import`` statement counts, wherever it
stands (module level, inside functions, under ``if``), relative ones included. ``pyagc/__init__.py``
(the package facade) is exempt from the layer rule, not from the cycle rule. Imports by string
(``importlib.import_module``) are not seen.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest

import pyagc

PACKAGE = "pyagc"
LAYERS: Dict[str, int] = {
    "utils": 0,
    "ops": 1,
    "data": 2, "metrics": 2, "encoders": 2, "clusters": 2, "sampling": 2, "transforms": 2,
    "models": 3,
    "runner": 4,
    "cli": 5, "api": 5, "__main__": 5,
}
FACADE_LAYER = max(LAYERS.values())  # importing ``pyagc`` itself runs the whole facade


class Import(NamedTuple):
    importer: str   # dotted module name
    path: Path      # its file
    line: int
    target: str     # the pyagc module it imports (a package means its ``__init__``)


def collect_modules(root: Path, package: str = PACKAGE) -> Dict[str, Path]:
    """Dotted name -> file of every module of the package under ``root / package``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, name: Optional[str]) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(base) - 1:
        raise ValueError(f"relative import beyond the top-level package in {module}")
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(module: str, path: Path, modules: Dict[str, Path],
               package: str = PACKAGE) -> List[Import]:
    """Every import of a module of ``package`` in one file (at any depth of the syntax tree)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module if not node.level else \
                _resolve_relative(module, is_package, node.level, node.module)
            # ``from pkg import name``: a submodule when pkg.name is one, else pkg itself
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                     for alias in node.names]
        else:
            continue
        for name in dict.fromkeys(names):
            if name == package or name.startswith(package + "."):
                found.append(Import(module, path, node.lineno, name))
    return found


def layer_of(module: str, package: str = PACKAGE) -> int:
    """The layer of a pyagc module: that of its top-level subpackage (or top-level module)."""
    if module == package:
        return FACADE_LAYER
    top = module.split(".")[1]
    if top not in LAYERS:
        raise KeyError(f"{module} belongs to no layer: add {package}.{top} to LAYERS in "
                       f"{Path(__file__).name}.")
    return LAYERS[top]


def upward_imports(imports: Sequence[Import], package: str = PACKAGE) -> List[str]:
    """One message per import of a higher layer (the facade ``pyagc/__init__.py`` is exempt)."""
    out = []
    for imp in imports:
        if imp.importer == package:
            continue
        low, high = layer_of(imp.importer, package), layer_of(imp.target, package)
        if high > low:
            out.append(f"{imp.path}:{imp.line}: {imp.importer} (layer {low}) imports "
                       f"{imp.target} (layer {high})")
    return out


def import_cycles(imports: Sequence[Import]) -> List[List[str]]:
    """Cycles ``[a, b, ..., a]`` of the import graph: for each strongly connected component of
    more than one module (Tarjan's algorithm), shortest cycles until each member is on one."""
    graph: Dict[str, List[str]] = {}
    for imp in imports:
        if imp.target != imp.importer:
            graph.setdefault(imp.importer, [])
            if imp.target not in graph[imp.importer]:
                graph[imp.importer].append(imp.target)
            graph.setdefault(imp.target, [])
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack = set()
    components: List[List[str]] = []

    def connect(node: str) -> None:  # recursive Tarjan; the graph is a few dozen modules
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles = []
    for component in sorted(components):
        covered = set()
        for start in component:
            if start not in covered:
                cycles.append(_shortest_cycle(graph, start, set(component)))
                covered.update(cycles[-1])
    return cycles


def _shortest_cycle(graph: Dict[str, List[str]], start: str, members: set) -> List[str]:
    """A shortest cycle through ``start`` that stays inside its component ``members``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for succ in graph[node]:
                if succ == start:
                    return paths[node] + [start]
                if succ in members and succ not in paths:
                    paths[succ] = paths[node] + [succ]
                    nxt.append(succ)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {sorted(members)}")  # not an SCC then


def check_tree(root: Path, package: str = PACKAGE) -> Tuple[List[str], List[List[str]]]:
    """``(upward imports, import cycles)`` of the package under ``root``."""
    modules = collect_modules(root, package)
    for name in modules:
        layer_of(name, package)  # a new subpackage must be given a layer
    imports = [imp for name, path in modules.items()
               for imp in imports_of(name, path, modules, package)]
    return upward_imports(imports, package), import_cycles(imports)


REAL_ROOT = Path(pyagc.__file__).resolve().parent.parent


def test_no_module_imports_a_higher_layer():
    upward, _ = check_tree(REAL_ROOT)
    assert not upward, "upward imports (see the layers in tests/test_layers.py):\n" + \
        "\n".join(upward)


def test_no_import_cycles_between_pyagc_modules():
    _, cycles = check_tree(REAL_ROOT)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# ------------------------------------------------------------------- the checker itself
def _write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _fake_tree(root: Path) -> Path:
    files = {f"pyagc/{p}/__init__.py": "" for p in ("utils", "ops", "data", "models", "runner")}
    files.update({
        "pyagc/__init__.py": "from pyagc.api import cluster\nfrom pyagc import runner\n",
        "pyagc/api.py": "def cluster():\n    from pyagc.runner import run\n",
        "pyagc/cli.py": "import argparse\n",
        "pyagc/utils/misc.py": "import os\n",
        "pyagc/ops/adjacency.py": "from pyagc.utils.misc import os\nfrom ..utils import misc\n",
        "pyagc/data/io.py": "from pyagc.ops import adjacency\nimport pyagc.utils.misc\n",
        "pyagc/models/gae.py": "from . import base\nfrom .base import Model\n",
        "pyagc/models/base.py": "from pyagc.data.io import load\n",
        "pyagc/runner/run.py": "from pyagc.models.gae import GAE\n",
    })
    return _write(root, files)


def test_checker_accepts_a_clean_tree(tmp_path):
    assert check_tree(_fake_tree(tmp_path)) == ([], [])


@pytest.mark.parametrize("rel, text, importer, target", [
    ("pyagc/ops/bad.py", "from pyagc.data.io import load\n", "pyagc.ops.bad", "pyagc.data.io"),
    ("pyagc/utils/bad.py", "def f():\n    if True:\n        import pyagc.models.gae\n",
     "pyagc.utils.bad", "pyagc.models.gae"),                       # nested function-level import
    ("pyagc/data/bad.py", "from ..models import gae\n", "pyagc.data.bad", "pyagc.models.gae"),
    ("pyagc/models/bad.py", "from pyagc.runner import x\n", "pyagc.models.bad", "pyagc.runner"),
    ("pyagc/ops/__init__.py", "from pyagc import api\n", "pyagc.ops", "pyagc.api"),
    ("pyagc/utils/bad.py", "import pyagc\n", "pyagc.utils.bad", "pyagc"),  # the whole facade
    ("pyagc/runner/bad.py", "from .. import cli\n", "pyagc.runner.bad", "pyagc.cli"),
])
def test_checker_names_the_file_and_the_module_of_an_upward_import(tmp_path, rel, text,
                                                                   importer, target):
    root = _write(_fake_tree(tmp_path), {rel: text})
    upward, _ = check_tree(root)
    assert len(upward) == 1, upward
    assert str(root / rel) in upward[0]
    assert f"{importer} (layer " in upward[0] and f"imports {target} (layer " in upward[0]


def test_checker_reports_a_cycle_through_function_level_and_relative_imports(tmp_path):
    root = _fake_tree(tmp_path)
    _write(root, {
        "pyagc/runner/experiment.py": "def run():\n    from pyagc.runner.outputs import W\n",
        "pyagc/runner/outputs.py": "def write():\n    from .report import table\n",
        "pyagc/runner/report.py": "from pyagc.runner.experiment import KEYS\n",
    })
    upward, cycles = check_tree(root)
    assert upward == []
    assert cycles == [["pyagc.runner.experiment", "pyagc.runner.outputs",
                       "pyagc.runner.report", "pyagc.runner.experiment"]]


def test_checker_reports_every_module_of_entangled_cycles(tmp_path):
    root = _fake_tree(tmp_path)
    _write(root, {
        "pyagc/runner/experiment.py": "from pyagc.runner.outputs import W\n",
        "pyagc/runner/outputs.py": "from pyagc.runner import report\n"
                                   "def plot():\n    from pyagc.runner.plots import p\n",
        "pyagc/runner/report.py": "from pyagc.runner.experiment import KEYS\n",
        "pyagc/runner/plots.py": "def p():\n    from pyagc.runner.outputs import need\n",
    })
    assert check_tree(root)[1] == [
        ["pyagc.runner.experiment", "pyagc.runner.outputs", "pyagc.runner.report",
         "pyagc.runner.experiment"],
        ["pyagc.runner.plots", "pyagc.runner.outputs", "pyagc.runner.plots"]]


def test_checker_reports_a_cycle_through_a_package_init(tmp_path):
    root = _fake_tree(tmp_path)
    _write(root, {"pyagc/ops/__init__.py": "from pyagc.ops.adjacency import x\n",
                  "pyagc/ops/adjacency.py": "from pyagc.ops import degree\n"})
    _, cycles = check_tree(root)
    assert cycles == [["pyagc.ops", "pyagc.ops.adjacency", "pyagc.ops"]]


def test_the_facade_is_exempt_from_layers_but_not_from_cycles(tmp_path):
    root = _fake_tree(tmp_path)
    assert check_tree(root)[0] == []      # pyagc/__init__.py imports api and runner: fine
    _write(root, {"pyagc/api.py": "import pyagc\n"})
    assert check_tree(root)[1] == [["pyagc", "pyagc.api", "pyagc"]]


def test_a_subpackage_without_a_layer_is_refused(tmp_path):
    root = _fake_tree(tmp_path)
    _write(root, {"pyagc/extras/__init__.py": "", "pyagc/extras/x.py": "import os\n"})
    with pytest.raises(KeyError, match="pyagc.extras"):
        check_tree(root)


@pytest.mark.parametrize("module, is_package, level, name, expected", [
    ("pyagc.models.gae", False, 1, "base", "pyagc.models.base"),
    ("pyagc.models.gae", False, 2, "ops", "pyagc.ops"),
    ("pyagc.models.gae", False, 1, None, "pyagc.models"),
    ("pyagc.models", True, 1, "gae", "pyagc.models.gae"),
    ("pyagc.models", True, 2, None, "pyagc"),
])
def test_relative_imports_resolve_like_python(module, is_package, level, name, expected):
    assert _resolve_relative(module, is_package, level, name) == expected
