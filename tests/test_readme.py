"""The README's commands are the contract with users and CI: keep them true."""

import pathlib
import re

from tests.optional import OPTIONAL_PACKAGES

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one_verbatim_in_a_new_empty_venv():
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    assert len(blocks) >= 2
    main_cmd, test_cmd = blocks[0], blocks[1]
    assert main_cmd.startswith("pip install torch==2.13.0")
    assert test_cmd.startswith("pip install torch==2.13.0") and test_cmd.endswith("python -m pytest -q")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci, "the README's test command must appear verbatim as a line of .ci/run"
    run = ci.index(test_cmd)
    made = [i for i, line in enumerate(ci[:run]) if re.match(r"python -m venv ", line)]
    assert made, "the README's test command must run in a virtual environment that .ci/run makes first"
    venv = ci[made[-1]].split()[-1].strip('"')
    steps = [line.replace('"', "") for line in ci[made[-1] + 1 : run]]
    assert f"source {venv}/bin/activate" in steps, "the README's commands run with its venv activated"
    installs = [line for line in steps if re.search(r"\b(pip|uv)\b.*\binstall\b", line)]
    assert installs == [], f"nothing but what the README says is installed before its command: {installs}"
    assert ci.index(test_cmd) < min(i for i, line in enumerate(ci) if line.startswith("venv_suite "))


def test_no_pytorch_lightning_imports():
    for path in (ROOT / "hyra_lightning").rglob("*.py"):
        text = path.read_text()
        assert "import pytorch_lightning" not in text and "from pytorch_lightning" not in text, path


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """Every ```python block of the README runs as written (in a scratch folder)."""
    import pytest

    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), {})
        except ModuleNotFoundError as err:  # the loggers' block needs the optional extras
            if not any(package in (err.name or str(err)) for package in OPTIONAL_PACKAGES):
                pytest.fail(f"README python block {i} failed: {type(err).__name__}: {err}")
            continue
        except Exception as err:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {i} failed: {type(err).__name__}: {err}")


def test_quickstart_duration_is_the_same_in_the_readme_and_the_config():
    import yaml

    readme = " ".join((ROOT / "README.md").read_text().split())
    config_text = (ROOT / "configs" / "quickstart.yaml").read_text()
    config = " ".join(line.lstrip("# ") for line in config_text.splitlines() if line.startswith("#"))
    durations = set(re.findall(r"(\d+ to \d+ minutes|\d+ minutes|five minutes|a few minutes)", config))
    assert len(durations) == 1, durations
    (duration,) = durations
    assert f"{duration} on an idle 2-core" in readme
    assert "a few minutes" not in readme
    assert "max_time" not in yaml.safe_load(config_text)["trainer"]  # no time limit: the run always completes
