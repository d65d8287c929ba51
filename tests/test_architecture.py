"""The package as layers (docs/architecture.md): imports run one way, modules and functions stay small.

Every module of mlmkit is parsed with ``ast``; its imports of other mlmkit modules (module-level and
inside functions, relative and absolute) are the edges of the import graph.  The checks:

(a) the graph has no cycle;
(b) no module imports a module of a higher layer (same layer is fine, as long as (a) holds);
(c) no module over 600 lines, no function (or method) over 80 lines;
(d) every module is in :data:`LAYERS`, so a new module has to be placed.

Modules are keyed by their dotted path relative to ``mlmkit`` (``"lmm"``, ``"engine.lmer_fit"``; a
subpackage's ``__init__.py`` is ``"engine"``, the package's own ``"__init__"``).  The folders are the
layers: ``spec/`` (model specification), ``engine/``, ``inference/``; the top level holds the base
modules, the result classes and the teaching helpers a learner imports (``from mlmkit import plots``).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mlmkit"

#: bottom → top; a module may import modules of its own layer or of lower ones.
LAYER_ORDER = ["base", "model specification", "engine", "inference", "results and display", "teaching", "package"]

LAYERS: dict[str, str] = {
    # base: no statistics, no mlmkit imports beyond this layer
    "errors": "base", "frozen": "base", "rformat": "base", "qnorm": "base", "rng": "base",
    # model specification: formula → design (X, Z, Λ template), families, the GLM response
    "spec.formula": "model specification", "spec.safe_eval": "model specification", "spec.validate": "model specification",
    "spec.design": "model specification", "spec.reterms": "model specification", "spec.families": "model specification",
    "spec.glmresp": "model specification", "spec.rescale": "model specification", "spec.factors": "model specification",
    # engine: the criteria, their factorisations, PIRLS, optimisers, refits
    "engine.linalg": "engine", "engine.profiled": "engine", "engine.crossed": "engine", "engine.gradient": "engine", "engine.wpls": "engine",
    "engine.onefactor": "engine", "engine.pirls": "engine", "engine.optimize": "engine", "engine.lmer_fit": "engine", "engine.glmer_fit": "engine",
    "engine.batchfit": "engine",
    # inference: works on fitted models by duck typing and on the engine, never on the result classes
    "inference.parameters": "inference", "inference.profile": "inference", "inference.intervals": "inference", "inference.bootstrap": "inference",
    "inference.montecarlo": "inference", "inference.anova": "inference", "inference.condvar": "inference",
    # results and display: the result classes (which may call inference for m.confint() etc.)
    "results": "results and display", "lmm": "results and display", "glmm": "results and display",
    "display": "results and display",
    # teaching helpers: simulation studies, data, figures, exercises
    "simulate": "teaching", "power": "teaching", "datasets": "teaching", "plots": "teaching",
    "diagram": "teaching", "explore": "teaching", "checks": "teaching", "feedback": "teaching",
    "plain": "teaching", "bayes": "teaching",
    # the subpackages' own __init__ (docstrings only)
    "spec": "model specification", "engine": "engine", "inference": "inference",
    # the package namespace (mlmkit.lmer, mlmkit.glmer, ...)
    "__init__": "package",
}

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _key(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] or ["__init__"]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_key(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _package_of(key: str, path: Path) -> list[str]:
    """The dotted package (relative to mlmkit) that a module's relative imports start from."""
    rel = list(path.relative_to(PACKAGE).parent.parts)
    return rel


def _resolve(base: list[str], name: str, modules: dict[str, Path]) -> str | None:
    """The module key for dotted ``name`` under ``base``, or the longest prefix that is a module."""
    parts = base + [p for p in name.split(".") if p]
    while parts:
        key = ".".join(parts)
        if key in modules:
            return key
        parts = parts[:-1]
    return "__init__" if "__init__" in modules else None


def imports_of(key: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """mlmkit modules imported by one module (anywhere in it), with the line of the first import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package_of(key, path)
    found: dict[str, int] = {}

    def add(target: str | None, line: int) -> None:
        if target is not None and target != key:
            found.setdefault(target, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "mlmkit" or alias.name.startswith("mlmkit."):
                    add(_resolve([], alias.name[len("mlmkit"):].lstrip("."), modules), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else list(package)
            elif node.module == "mlmkit" or (node.module or "").startswith("mlmkit."):
                base = []
            else:
                continue
            module = (node.module or "") if node.level else node.module[len("mlmkit"):].lstrip(".")
            for alias in node.names:            # `from . import x` / `from .sub import mod`
                sub = ".".join(p for p in (module, alias.name) if p)
                target = _resolve(base, sub, modules)
                if target is None or target == ".".join(base) or target == "__init__":
                    target = _resolve(base, module, modules)
                add(target, node.lineno)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    return {k: imports_of(k, p, modules) for k, p in modules.items()}


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a cycle path."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
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
                out.append(_cycle_path(graph, set(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _cycle_path(graph, comp: set[str]) -> list[str]:
    """One concrete cycle inside a strongly connected component: a → b → ... → a."""
    start = min(comp)
    prev, frontier = {start: None}, [start]
    while frontier:                            # breadth-first back to start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1] + [start]                 # start → ... → v → start
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)


def test_every_module_is_placed_in_a_layer():
    missing = sorted(set(_modules()) - set(LAYERS))
    assert not missing, (f"modules without a layer: {missing}; add them to LAYERS in {Path(__file__).name} "
                         "and to docs/architecture.md")
    stale = sorted(set(LAYERS) - set(_modules()))
    assert not stale, f"LAYERS names modules that do not exist: {stale}"
    assert set(LAYERS.values()) <= set(LAYER_ORDER)


def test_no_import_cycles(graph):
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_imports_never_go_up_a_layer(graph):
    rank = {name: i for i, name in enumerate(LAYER_ORDER)}
    bad = []
    for src, targets in sorted(graph.items()):
        for dst, line in sorted(targets.items()):
            if src in LAYERS and dst in LAYERS and rank[LAYERS[dst]] > rank[LAYERS[src]]:
                bad.append(f"{src} ({LAYERS[src]}) imports {dst} ({LAYERS[dst]}) at line {line}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_engine_never_imports_inference_display_or_plots(graph):
    engine = [m for m, layer in LAYERS.items() if layer == "engine"]
    for m in engine:
        for dst in graph[m]:
            assert LAYERS[dst] in ("base", "model specification", "engine"), f"{m} imports {dst}"


def test_modules_and_functions_are_short():
    long_modules, long_functions = [], []
    for key, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            long_modules.append(f"{key}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{key}.{node.name} (line {node.lineno}): {length} lines")
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines: {long_modules}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"


def test_the_checker_sees_relative_absolute_and_function_level_imports(tmp_path):
    """The import finder itself, on a small made-up package."""
    pkg = tmp_path / "mlmkit"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from . import a\n",
        "a.py": "from .b import f\nimport mlmkit.c\n",
        "b.py": "def f():\n    from mlmkit import a\n    from .sub import d\n",
        "c.py": "",
        "sub/__init__.py": "",
        "sub/d.py": "from .. import c\nfrom ..b import f\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    global PACKAGE
    saved, PACKAGE = PACKAGE, pkg
    try:
        modules = _modules()
        g = {k: set(imports_of(k, p, modules)) for k, p in modules.items()}
    finally:
        PACKAGE = saved
    assert g["a"] == {"b", "c"}
    assert g["b"] == {"a", "sub.d"}
    assert g["sub.d"] == {"c", "b"}
    assert g["__init__"] == {"a"}
    cyc = _cycles({k: dict.fromkeys(v, 1) for k, v in g.items()})
    assert len(cyc) == 1 and cyc[0][0] == cyc[0][-1] and set(cyc[0]) == {"a", "b"}


#: the layer each subpackage holds; the top level holds the base, the result classes and teaching helpers
FOLDER_LAYER = {"spec": "model specification", "engine": "engine", "inference": "inference"}


def test_the_folders_are_the_layers():
    for key in _modules():
        folder = key.split(".")[0] if "." in key or key in FOLDER_LAYER else None
        if folder in FOLDER_LAYER:
            assert LAYERS[key] == FOLDER_LAYER[folder], f"mlmkit/{key.replace('.', '/')} is not {LAYERS[key]!r}"
        else:
            assert LAYERS[key] not in FOLDER_LAYER.values(), (
                f"mlmkit/{key}.py is in the {LAYERS[key]!r} layer: move it into "
                f"mlmkit/{[f for f, lay in FOLDER_LAYER.items() if lay == LAYERS[key]][0]}/")


def test_every_folder_is_installed():
    """A wheel holds only the packages pyproject.toml lists: a new folder must be added there."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(("mlmkit",) + p.parent.relative_to(PACKAGE).parts) for p in PACKAGE.rglob("__init__.py")}
    assert folders == listed
