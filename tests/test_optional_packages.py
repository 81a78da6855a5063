"""Every test that needs an optional package is skipped cleanly without it (the README's environment has none).

A static reading of the test files: a test needs a package when it (or a helper or fixture of its module it
uses) imports it, builds a Lightning logger that refuses to exist without it (``WandbLogger``,
``MLFlowLogger``, also by class path in a config), or imports a module that needs it at import time. Such a test
carries ``@pytest.mark.requires("pkg")`` on itself, its class or its module (``pytestmark``): the root conftest
skips it where ``pkg`` does not import, and ``pytest -m requires`` selects exactly the tests that need an optional
package (CI's "extras" environment). A module that imports ``pkg`` when imported calls
``pytest.importorskip("pkg")`` first, and marks its tests too. Third-party imports that are neither a dependency
nor listed in ``tests/optional.py`` are reported, so the list stays complete.
"""

from __future__ import annotations

import ast
import pathlib
import sys
from dataclasses import dataclass, field

from tests.optional import DOCTEST_MODULES_NEEDING, LOGGER_PACKAGES, OPTIONAL_PACKAGES, available

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Import names of the runtime dependencies (pyproject.toml), of the `test` extra and of what Lightning and
#: TensorBoard bring along.
REQUIRED = {
    "torch",
    "lightning",
    "lightning_fabric",
    "torchmetrics",
    "tensorboard",
    "numpy",
    "matplotlib",
    "PIL",
    "jsonargparse",
    "yaml",
    "lightning_utilities",
    "typing_extensions",
    "tqdm",
    "pytest",
    "_pytest",
    "packaging",
    "google",
}
FIRST_PARTY = {"hyra_lightning", "tests", "conftest"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _strings(call: ast.Call) -> set[str]:
    return {
        a.value.split(".")[0] for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    }


def _requires(node: ast.AST | None, constants: dict[str, set[str]]) -> set[str]:
    """Packages named by ``pytest.mark.requires(...)`` in a decorator or a ``pytestmark`` value."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return set().union(*(_requires(e, constants) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Call) and _dotted(node.func).endswith("mark.requires"):
        names = _strings(node)
        for arg in node.args:  # `*_MLFLOW`: a module-level tuple of names
            if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
                names |= constants.get(arg.value.id, set())
        return names
    return set()


def _importorskips(node: ast.AST) -> set[str]:
    return {
        name
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and _dotted(call.func).endswith("importorskip")
        for name in _strings(call)
    }


@dataclass
class _Scope:
    needs: set[str] = field(default_factory=set)  # optional packages used directly
    calls: set[str] = field(default_factory=set)  # names called (helpers of the same module)
    guards: set[str] = field(default_factory=set)  # `requires` marks on it


@dataclass
class _File:
    path: pathlib.Path
    guards: set[str]  # module-level `pytestmark` requires
    skips: set[str]  # module-level importorskip
    top_needs: set[str]  # needed by the import of the module itself
    functions: dict[str, _Scope]  # module-level functions and fixtures, and Class.method
    tests: dict[str, tuple[ast.FunctionDef, set[str]]]  # test id -> (node, guards of its class)
    unknown: set[str]  # third-party modules neither required nor optional


def _local_needs(module: str) -> set[str]:
    """What importing a first-party module needs (its own module-level imports)."""
    parts = module.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return _read(candidate).top_needs
    return set()


def _uses(node: ast.AST, module_level: bool) -> tuple[set[str], set[str], set[str]]:
    """(optional packages, called names, unknown modules) of ``node``; at module level, functions excluded."""
    needs: set[str] = set()
    calls: set[str] = set()
    unknown: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        for child in ast.iter_child_nodes(current):
            if module_level and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            stack.append(child)
        modules = []
        if isinstance(current, ast.Import):
            modules = [a.name for a in current.names]
        elif isinstance(current, ast.ImportFrom) and current.level == 0 and current.module:
            modules = [current.module]
        for module in modules:
            top = module.split(".")[0]
            if top in OPTIONAL_PACKAGES:
                needs.add(top)
            elif top in FIRST_PARTY:
                needs |= _local_needs(module)
            elif top not in REQUIRED and top not in sys.stdlib_module_names:
                unknown.add(top)
        if isinstance(current, ast.Call):
            name = _dotted(current.func).split(".")[-1]
            calls.add(name)
            if name in LOGGER_PACKAGES:
                needs.add(LOGGER_PACKAGES[name])
            if (
                name == "importorskip"
            ):  # skipped without the package, so never run unless selected by its mark
                needs |= {s.split(".")[0] for s in _strings(current)} & set(OPTIONAL_PACKAGES)
        if isinstance(current, ast.Constant) and isinstance(current.value, str):
            for logger, package in LOGGER_PACKAGES.items():
                if current.value.endswith(f".{logger}"):  # a class path in a config
                    needs.add(package)
    return needs, calls, unknown


_CACHE: dict[pathlib.Path, _File] = {}


def _read(path: pathlib.Path) -> _File:
    """The reading of one file (cached; a module met again while it is read, an import cycle, needs nothing)."""
    if path not in _CACHE:
        _CACHE[path] = _File(path, set(), set(), set(), {}, {}, set())  # in progress
        _CACHE[path] = _read_file(path)
    return _CACHE[path]


def _read_file(path: pathlib.Path) -> _File:
    tree = ast.parse(path.read_text(), filename=str(path))
    constants: dict[str, set[str]] = {}  # module-level tuples of strings: `requires(*_MLFLOW)`
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, (ast.Tuple, ast.List)):
            values = {
                e.value for e in stmt.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = values
    guards: set[str] = set()
    skips: set[str] = set()
    top_needs: set[str] = set()
    unknown: set[str] = set()
    functions: dict[str, _Scope] = {}
    tests: dict[str, tuple[ast.FunctionDef, set[str]]] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs = [(stmt.name, stmt, set())]
        elif isinstance(stmt, ast.ClassDef):
            class_guards = set().union(*(_requires(d, constants) for d in stmt.decorator_list))
            for item in stmt.body:
                if isinstance(item, ast.Assign) and any(
                    getattr(t, "id", "") == "pytestmark" for t in item.targets
                ):
                    class_guards |= _requires(item.value, constants)
            defs = [
                (f"{stmt.name}.{item.name}", item, class_guards)
                for item in stmt.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
            needs, _, found = _uses(stmt, module_level=True)
            top_needs |= needs
            unknown |= found
        else:
            if isinstance(stmt, ast.Assign) and any(
                getattr(t, "id", "") == "pytestmark" for t in stmt.targets
            ):
                guards |= _requires(stmt.value, constants)
            skips |= _importorskips(stmt)
            needs, _, found = _uses(stmt, module_level=True)
            top_needs |= needs
            unknown |= found
            continue
        for name, node, class_guards in defs:
            needs, calls, found = _uses(node, module_level=False)
            unknown |= found
            own = set().union(*(_requires(d, constants) for d in node.decorator_list))
            functions[name] = _Scope(needs=needs, calls=calls, guards=own)
            if node.name.startswith("test"):
                tests[name] = (node, class_guards)
    top_needs -= skips
    return _File(path, guards, skips, top_needs, functions, tests, unknown)


def _fixtures_of(path: pathlib.Path) -> dict[str, _Scope]:
    """The functions of the conftest files above ``path`` (fixtures and helpers a test may use)."""
    scopes: dict[str, _Scope] = {}
    folder = path.parent
    while ROOT in folder.parents or folder == ROOT:
        conftest = folder / "conftest.py"
        if conftest.is_file():
            for name, scope in _read(conftest).functions.items():
                scopes.setdefault(name, scope)
        if folder == ROOT:
            break
        folder = folder.parent
    return scopes


def _closure(name: str, scopes: dict[str, _Scope], seen: set[str]) -> set[str]:
    """Packages ``name`` needs through itself and the same-module functions and fixtures it uses."""
    if name in seen or name not in scopes:
        return set()
    seen.add(name)
    scope = scopes[name]
    needs = set(scope.needs)
    for called in scope.calls:
        needs |= _closure(called, scopes, seen)
    return needs - scope.guards


def _test_files() -> list[pathlib.Path]:
    return [*sorted((ROOT / "tests").rglob("*.py")), ROOT / "conftest.py"]


def unguarded() -> list[str]:
    """One line per test (or module) that needs an optional package without a guard for it."""
    problems = []
    for path in _test_files():
        info = _read(path)
        rel = path.relative_to(ROOT)
        if info.top_needs:
            problems.append(
                f"{rel} imports {sorted(info.top_needs)} at module level: call pytest.importorskip first"
            )
        if info.skips - info.guards:
            marks = ", ".join(f'"{m}"' for m in sorted(info.skips - info.guards))
            problems.append(
                f"{rel} calls pytest.importorskip: mark its tests, pytestmark = pytest.mark.requires({marks})"
            )
        scopes = {**_fixtures_of(path), **info.functions}
        for test, (node, class_guards) in info.tests.items():
            needs = _closure(test, scopes, set())
            for arg in node.args.args:  # fixtures
                needs |= _closure(arg.arg, scopes, {test})
            missing = needs - info.guards - class_guards - scopes[test].guards
            if missing:
                marks = ", ".join(f'"{m}"' for m in sorted(missing))
                problems.append(
                    f"{rel}::{test} needs {sorted(missing)}: mark it @pytest.mark.requires({marks})"
                )
    return problems


def test_tests_needing_an_optional_package_are_guarded():
    assert unguarded() == []


def test_every_third_party_import_of_the_tests_is_a_dependency_or_listed_as_optional():
    unknown = {str(p.relative_to(ROOT)): sorted(_read(p).unknown) for p in _test_files() if _read(p).unknown}
    assert unknown == {}, "add these to OPTIONAL_PACKAGES in tests/optional.py (and guard their tests)"


def test_the_check_finds_an_unguarded_logger_an_import_and_a_helper(tmp_path, monkeypatch):
    """The reading above on a made-up test file: what it must flag and what it must let pass."""
    source = """
import pytest
from lightning.pytorch.loggers import WandbLogger

def _helper():
    import mlflow

@pytest.fixture
def zoo():
    import spandrel
    return spandrel

def test_logger():
    WandbLogger(offline=True)

def test_helper():
    _helper()

def test_fixture(zoo):
    pass

def test_config():
    return {"class_path": "lightning.pytorch.loggers.MLFlowLogger"}

@pytest.mark.requires("wandb")
def test_marked():
    WandbLogger(offline=True)

def test_importorskip():
    pytest.importorskip("mlflow")
    _helper()

class TestGroup:
    pytestmark = pytest.mark.requires("spandrel")

    def test_in_class(self, zoo):
        pass
"""
    fake = tmp_path / "tests" / "test_fake.py"
    fake.parent.mkdir()
    fake.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "_test_files", lambda: [fake])
    assert [line.split(" needs ")[0] for line in unguarded()] == [
        "tests/test_fake.py::test_logger",
        "tests/test_fake.py::test_helper",
        "tests/test_fake.py::test_fixture",
        "tests/test_fake.py::test_config",
        "tests/test_fake.py::test_importorskip",  # skipped, but not selected by `-m requires`
    ]
    fake.write_text("import wandb\n")
    _CACHE.clear()
    assert unguarded() == [
        "tests/test_fake.py imports ['wandb'] at module level: call pytest.importorskip first"
    ]
    fake.write_text('import pytest\nwandb = pytest.importorskip("wandb")\nimport wandb.sdk\nimport pyiqa_x\n')
    _CACHE.clear()
    assert unguarded() == [
        'tests/test_fake.py calls pytest.importorskip: mark its tests, pytestmark = pytest.mark.requires("wandb")'
    ]
    assert _read(fake).unknown == {"pyiqa_x"}
    fake.write_text(fake.read_text() + 'pytestmark = pytest.mark.requires("wandb")\n')
    _CACHE.clear()
    assert unguarded() == []
    _CACHE.clear()


def test_doctests_of_modules_needing_an_optional_package_are_skipped_without_it():
    """The package modules that import an optional package at import time are the ones the conftest skips."""
    needing = {}
    for path in sorted((ROOT / "hyra_lightning").rglob("*.py")):
        needs = _read(path).top_needs
        if needs:
            needing[str(path.relative_to(ROOT))] = needs
    assert {path: {package} for path, package in DOCTEST_MODULES_NEEDING.items()} == needing


def test_requires_names_the_install_command_of_a_missing_package(monkeypatch):
    from tests import optional

    assert available("wandb") == (optional.importlib.util.find_spec("wandb") is not None)
    optional.available.cache_clear()
    monkeypatch.setattr(optional.importlib.util, "find_spec", lambda name: None)
    try:
        assert optional.missing_reason(("wandb", "mlflow", "sqlalchemy")) == (
            'needs wandb (pip install "hyra-lightning[wandb]"); mlflow, sqlalchemy (pip install "hyra-lightning[mlflow]")'
        )
    finally:
        optional.available.cache_clear()
    import pytest

    with pytest.raises(ValueError, match="add it to OPTIONAL_PACKAGES"):
        available("not_a_listed_package")
