"""The layer contract: each layer imports only the layers below it, and no module cycles.

Every import counts, including the ones inside functions (a lazy import is still a
dependency). See docs/architecture.md for the table this encodes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "saewidgets"

# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "model": {"core"},
    "sae": {"core"},
    "corpus": {"core", "model"},
    "training": {"core", "model", "sae", "corpus"},
    "analysis": {"core", "model", "sae", "corpus"},
    "widgets": {"core", "model", "sae", "corpus", "analysis"},
}
TOP = {"saewidgets", "saewidgets.__main__", "saewidgets._moved"}  # public surface, CLI, old paths


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The saewidgets modules ``name`` imports (a `from pkg import sub` counts as pkg.sub)."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_pkg else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m == "saewidgets" or m.startswith("saewidgets.")}


def _layer(module: str) -> str | None:
    if module in TOP:
        return None
    return module.split(".")[1]


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) - {name} for name, path in mods.items()}


def test_every_module_belongs_to_a_layer():
    stray = [m for m in _modules() if m not in TOP and _layer(m) not in ALLOWED]
    assert not stray, f"modules outside the layer packages: {stray}"


def test_layers_import_only_downwards():
    bad = []
    for module, deps in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        for dep in deps:
            if dep in TOP:
                bad.append(f"{module} imports the top-level package {dep}")
                continue
            target = _layer(dep)
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"{module} ({layer}) imports {dep} ({target})")
    assert not bad, "layer contract broken:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_contract_check_sees_a_violation(tmp_path):
    # The checker itself must notice an upward import, or the tests above prove nothing.
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from saewidgets.widgets.base import SAEWidget\n")
    deps = _imports("saewidgets.core.fake", fake, set(_modules()))
    assert "saewidgets.widgets.base" in deps
    assert "widgets" not in ALLOWED["core"]
