"""CI tests the versions pyproject.toml declares: the floor pins and the declared floors stay identical."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def _floors(requirements: list[str]) -> dict[str, tuple[int, ...] | None]:
    out: dict[str, tuple[int, ...] | None] = {}
    for req in requirements:
        name, _, spec = _REQ.match(req).groups()
        floor = re.search(r">=\s*([0-9.]+)", spec)
        out[_name(name)] = _version(floor.group(1)) if floor else None
    return out


def _pins() -> dict[str, tuple[int, ...]]:
    out = {}
    for line in (ROOT / ".ci" / "floor-requirements.txt").read_text().splitlines():
        if "# transitive" in line:  # a dependency of a dependency, held back: not a floor of ours
            continue
        line = line.split("#")[0].strip()
        if line:
            name, _, spec = _REQ.match(line).groups()
            pinned = re.fullmatch(r"==\s*([0-9.]+)", spec.strip())
            assert pinned, f"Expected an exact pin `name==version` in floor-requirements.txt, got {line!r}."
            out[_name(name)] = _version(pinned.group(1))
    return out


def test_floor_pins_are_the_declared_floors():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _floors(project["dependencies"])
    extras = _floors([r for reqs in project["optional-dependencies"].values() for r in reqs])
    pins = _pins()
    for name, floor in runtime.items():
        assert floor is not None, f"Expected a floor (`>=`) for the dependency {name!r} in pyproject.toml."
        assert pins.get(name) == floor, f"{name}: pyproject floor {floor}, CI pins {pins.get(name)}."
    for name, pinned in pins.items():
        declared = runtime.get(name, extras.get(name))
        assert declared == pinned, f"{name}: CI pins {pinned}, pyproject declares the floor {declared}."


def test_ci_runs_the_suite_on_the_floors():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^venv_suite floors \.ci/floor-requirements\.txt ", ci, flags=re.M)


def _ci_extras(variable: str) -> set[str]:
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(rf'^{variable}="([^"]*)"', ci, flags=re.M)
    assert match, f"Expected .ci/run to set {variable}."
    return set(match.group(1).split(","))


def test_ci_runs_the_readme_environment_then_the_extras_then_the_floors():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = ci.index("pip install torch==2.13.0 && pip install")
    # the extras environment runs what the readme one skipped: the tests marked `requires` (tests/optional.py)
    extras = ci.index('-r .ci/extras-requirements.txt && $pip_ -e ".[$EXTRAS_EXTRAS]"')
    assert ci.index("-m pytest -q -m requires", extras) > extras
    floors = ci.index('venv_suite floors .ci/floor-requirements.txt "$FLOORS_EXTRAS"')
    assert readme < extras < floors


def test_extras_environment_installs_every_test_only_package():
    from tests.optional import OPTIONAL_PACKAGES

    ci = (ROOT / ".ci" / "run").read_text()
    installed = set()
    for variable in ("TEST_ONLY", "TEST_ONLY_NO_DEPS"):
        match = re.search(rf'^{variable}="([^"]*)"', ci, flags=re.M)
        assert match, f"Expected .ci/run to set {variable}."
        installed |= {name.replace("-", "_") for name in match.group(1).split()}
    # the packages of the extras come with the package's extras; pyiqa is listed but not used by any test yet
    extras_packages = {"wandb", "mlflow", "sqlalchemy", "alembic", "spandrel", "torchvision", "safetensors"}
    assert set(OPTIONAL_PACKAGES) - extras_packages - {"pyiqa"} <= installed


def test_extras_environment_has_the_readme_torch_and_every_extra_but_zoo():
    tomllib = pytest.importorskip("tomllib")
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert _ci_extras("EXTRAS_EXTRAS") == extras - {
        "zoo"
    }  # PyPI's torchvision does not load beside CPU torch
    assert _ci_extras("FLOORS_EXTRAS") == extras
    readme_torch = re.search(r"pip install (torch==[0-9.]+)", (ROOT / "README.md").read_text()).group(1)
    pins = [
        line.split("#")[0].strip()
        for line in (ROOT / ".ci" / "extras-requirements.txt").read_text().splitlines()
    ]
    assert [pin for pin in pins if pin] == [readme_torch]
