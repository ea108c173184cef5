"""The layout's promises (docs/architecture.md): the modules import each other without a cycle,
and no source file grows past about 400 lines."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "aegan"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _imports(name: str, path: Path, mods: dict) -> set[str]:
    """The aegan modules `name` imports (anywhere in the file), the package __init__s left out:
    importing a submodule runs its package's __init__ without depending on it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            out |= {t for t in [target] + [f"{target}.{a.name}" for a in node.names] if t in mods}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in mods}
    return {m for m in out if m != name and mods[m].name != "__init__.py"}


def test_no_import_cycle():
    mods = _modules()
    graph = {m: _imports(m, f, mods) for m, f in mods.items()}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done:
            return
        path.append(m)
        for n in sorted(graph[m]):
            visit(n)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)
    assert len(graph) > 40 and graph["aegan.runs.registry"] >= {"aegan.runs.tasks", "aegan.runs.recipe"}


def test_no_source_file_is_over_400_lines():
    sizes = {f.relative_to(PKG): len(f.read_text().splitlines()) for f in PKG.rglob("*.py")}
    assert max(sizes.values()) <= 400, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
