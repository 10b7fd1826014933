"""The module graph reads top to bottom, with no cycle and nothing hidden in a function:

    streamqnn (CLI) -> verif -> rtl_gen.designs, rtl_gen.compiler -> rtl_gen.blocks
        -> rtl_gen.hdl -> rtl_gen.model, rtl_gen.errors

A module may import modules of its own layer or of layers below it. A project module is
never imported inside a function (that is how a cycle hides); third-party modules may be
(lazy imports of heavy tools). The checker is shown to catch a planted cycle, an upward
import and a function-level import on a small synthetic tree.
"""

import ast
import re
from pathlib import Path

import pytest

from rtl_gen.compiler.layer_kinds import KINDS
from rtl_gen.model.execute import RUN
from rtl_gen.model.infer import RULES
from rtl_gen.model.netgraph import LAYER_TYPES

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("rtl_gen", "verif", "streamqnn")
LAYERS = {  # module prefix -> layer (the longest matching prefix wins)
    "rtl_gen": 0, "rtl_gen.errors": 0, "rtl_gen.model": 0,
    "rtl_gen.hdl": 1,
    "rtl_gen.blocks": 2,
    "rtl_gen.compiler": 3, "rtl_gen.designs": 3, "rtl_gen.importer": 3,
    "verif": 4,
    "streamqnn": 5,
}


def _modules(root, packages):
    mods = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            name = ".".join(f.relative_to(root).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = f
    return mods


def _imports(tree, mods, current):
    """(imported project module, line, inside a function?) for every import in ``tree``."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:   # relative import
                    parts = current.split(".")[:-child.level]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in child.names]
            else:
                visit(child, inner)
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != current:
                    found.append((t, child.lineno, in_function))
    visit(tree, False)
    return found


def _layer(mod, layers):
    best = max((p for p in layers if mod == p or mod.startswith(p + ".")), key=len)
    return layers[best]


def check_architecture(root, packages=PACKAGES, layers=None):
    """Problems in the import graph of ``packages`` under ``root``: a list of strings."""
    layers = layers or LAYERS
    mods = _modules(Path(root), packages)
    problems, deps = [], {m: set() for m in mods}
    for mod, path in mods.items():
        for target, line, in_function in _imports(ast.parse(path.read_text()), mods, mod):
            where = f"{path.relative_to(root)}:{line}"
            if in_function:
                problems.append(f"{where}: {mod} imports {target} inside a function")
            if _layer(target, layers) > _layer(mod, layers):
                problems.append(f"{where}: {mod} (layer {_layer(mod, layers)}) imports "
                                f"{target} (layer {_layer(target, layers)}), a layer above it")
            if not mod.startswith(target + "."):   # a package's own __init__ is not a cycle
                deps[mod].add(target)
    state = {}

    def dfs(m, stack):
        state[m] = 1
        stack.append(m)
        for d in sorted(deps[m]):
            if state.get(d) == 1:
                problems.append("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                dfs(d, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(mods):
        if m not in state:
            dfs(m, [])
    return problems


def test_module_graph_reads_top_to_bottom():
    assert check_architecture(REPO) == []


@pytest.mark.parametrize("files, expect", [
    ({"top/__init__.py": "", "top/a.py": "from top.b import x\n", "top/b.py": "import top.a\n"},
     "import cycle"),
    ({"top/__init__.py": "", "top/a.py": "def f():\n    from top.b import x\n",
      "top/b.py": "import top.a\n"}, "inside a function"),
    ({"top/__init__.py": "", "top/low.py": "from top.high import x\n", "top/high.py": ""},
     "a layer above it"),
])
def test_checker_catches_planted_problems(tmp_path, files, expect):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    layers = {"top": 0, "top.high": 1, "top.a": 0, "top.b": 0}
    problems = check_architecture(tmp_path, ("top",), layers)
    assert any(expect in p for p in problems), problems


def test_every_layer_kind_has_one_registry_entry():
    """Each layer class of the spec has its compiler entry, its type rule and its model
    function; nothing in the compiler, the testbenches or the CLI dispatches on layer
    classes (the spec rewrite that removes Fork layers looks at them, by its nature)."""
    classes = set(LAYER_TYPES.values())
    assert set(KINDS) == classes and set(RUN) == classes and set(RULES) == classes
    chain = re.compile(rf"isinstance\(\w+, \(?({'|'.join(LAYER_TYPES)})\b")
    files = [f for d in ("rtl_gen/compiler", "verif", "streamqnn") for f in (REPO / d).rglob("*.py")
             if f.name != "without_forks.py"]
    offenders = [f"{f.relative_to(REPO)}:{i}" for f in sorted(files)
                 for i, line in enumerate(f.read_text().splitlines(), 1) if chain.search(line)]
    assert offenders == [], "isinstance dispatch on layer classes outside the registries"
