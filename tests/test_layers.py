"""The layering of ARCHITECTURE.md holds: no module imports from a layer below its own.

Every ``hyra_lightning.*`` import of every source file (module level, inside functions and under
``TYPE_CHECKING`` alike, relative imports resolved) is checked against the layer table. Docstring examples are
not code and are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hyra_lightning

ROOT = Path(hyra_lightning.__file__).resolve().parent

#: Layer of each module (the longest matching dotted prefix wins); everything else is the app layer.
LAYER_OF = {
    "hyra_lightning.checks": "ground",
    "hyra_lightning.options": "ground",
    "hyra_lightning.io": "ground",
    "hyra_lightning.tags": "ground",
    "hyra_lightning.batch": "ground",
    "hyra_lightning.spectral": "spectral",
    "hyra_lightning.functional": "functional",
    "hyra_lightning.metrics": "metrics",
    "hyra_lightning.losses": "losses",
    "hyra_lightning.analysis": "analysis",
    "hyra_lightning.callbacks": "callbacks",
}

#: What each layer may import from (ARCHITECTURE.md: the ground floor is open to every layer).
ALLOWED = {
    "ground": {"ground"},
    "spectral": {"ground", "spectral"},
    "functional": {"ground", "spectral", "functional"},
    "metrics": {"ground", "spectral", "functional", "metrics"},
    "losses": {"ground", "spectral", "functional", "losses"},
    "analysis": {"ground", "spectral", "functional", "analysis"},
    "callbacks": {"ground", "spectral", "functional", "metrics", "analysis", "callbacks"},
    "app": {"ground", "spectral", "functional", "metrics", "losses", "analysis", "callbacks", "app"},
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        layer = LAYER_OF.get(".".join(parts[:n]))
        if layer is not None:
            return layer
    return "app"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``hyra_lightning`` import in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from hyra_lightning.x import y` may import the submodule `x.y`: check the more specific name
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [
        (line, mod) for line, mod in found if mod == "hyra_lightning" or mod.startswith("hyra_lightning.")
    ]


SOURCES = sorted(ROOT.rglob("*.py"))


def test_every_layer_has_modules():
    layers = {layer_of(module_name(p)) for p in SOURCES}
    assert layers == set(ALLOWED)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_follow_the_layer_table(path):
    layer = layer_of(module_name(path))
    wrong = [
        f"line {line}: {target} ({layer_of(target)})"
        for line, target in package_imports(path)
        if layer_of(target) not in ALLOWED[layer]
    ]
    assert not wrong, f"{module_name(path)} ({layer} layer) imports from a lower layer: {wrong}"


def test_the_check_sees_a_violation():
    """A relative import from the analysis layer into the app layer is caught: the check can fail."""
    import unittest.mock

    source = "from ..module import SuperResolutionModule\nfrom hyra_lightning.checks import check_int\n"
    with unittest.mock.patch.object(Path, "read_text", return_value=source):
        imports = package_imports(ROOT / "analysis" / "_probe.py")
    assert imports == [
        (1, "hyra_lightning.module.SuperResolutionModule"),
        (2, "hyra_lightning.checks.check_int"),
    ]
    assert [layer_of(mod) for _, mod in imports] == ["app", "ground"]
    assert "app" not in ALLOWED["analysis"]


COMMANDS = "hyra_lightning.commands"


def _command_imports() -> dict[str, set[str]]:
    """``{command module: command modules it imports}`` (every import, lazy ones included)."""
    modules = {module_name(p): p for p in SOURCES if module_name(p).startswith(COMMANDS + ".")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for _, target in package_imports(path):
            # `from hyra_lightning.commands.report import write_report` names `...report.write_report`
            owner = next((m for m in modules if target == m or target.startswith(m + ".")), None)
            if owner is not None and owner != name:
                targets.add(owner)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_two_command_modules_import_each_other_in_a_circle():
    graph = _command_imports()
    assert {"hyra_lightning.commands.records", "hyra_lightning.commands.report"} <= set(graph)
    assert _cycle(graph) is None, f"import circle in the commands wing: {' -> '.join(_cycle(graph) or [])}"


def test_the_circle_check_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_scores_live_below_the_commands():
    """The commands score images with the functional layer, not by climbing back up to the LightningModule."""
    wrong = [
        f"{module_name(p)} line {line}: {target}"
        for p in SOURCES
        if module_name(p).startswith(COMMANDS)
        for line, target in package_imports(p)
        if target.startswith(("hyra_lightning.module", "hyra_lightning.cli"))
    ]
    assert not wrong
