"""What a new user finds with ``--help``: every command listed, whole descriptions, examples, one default each."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from hyra_lightning.cli import SUBCOMMAND_SUMMARIES
from hyra_lightning.commands import COMMANDS, SUMMARIES
from tests.conftest import ROOT, run_cli


def _help(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        run_cli(args, capture=False)
    assert exc.value.code == 0
    return out.getvalue() + capsys.readouterr().out


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_top_level_help_lists_every_command_with_a_whole_sentence(capsys):
    text = _flat(_help(["--help"], capsys))
    summaries = {**SUBCOMMAND_SUMMARIES, **SUMMARIES}
    assert list(summaries) == ["fit", "validate", "test", "predict", "analyze", "score"]
    assert "{fit,validate,test,predict,analyze,score}" in text
    for name, summary in summaries.items():
        assert summary.endswith((".", ")")), summary
        assert f"{name} {summary}" in text, name
    assert "never run on your" not in text and "Useful to" not in text


def test_fit_without_a_config_points_to_the_quickstart_config(capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(["fit"], capture=False)
    assert exc.value.code == 2
    err = _flat(capsys.readouterr().err)
    assert "fit.model.model" in err
    assert "`hyra-lightning fit --config configs/quickstart.yaml`" in err
    assert (ROOT / "configs" / "quickstart.yaml").is_file()


def test_options_before_analyze_or_score_are_refused_with_the_way_to_run_them(tmp_path, capsys):
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    with pytest.raises(SystemExit) as exc:
        run_cli(["--config", str(config), "score"], capture=False)
    assert exc.value.code == 2
    assert "run `hyra-lightning score ...`" in _flat(capsys.readouterr().err)


def test_fit_help_lists_the_package_monitors_as_callbacks(capsys):
    text = _flat(_help(["fit", "--help"], capsys))
    callbacks = text[text.index("--trainer.callbacks CALLBACKS, --trainer.callbacks+") :]
    callbacks = callbacks[: callbacks.index("--trainer.fast_dev_run")].replace(" ", "")
    for monitor in ("ImpulseResponseMonitor", "HyRAMonitor", "FrequencySimilarityMonitor"):
        assert f"hyra_lightning.{monitor}" in callbacks, monitor


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_shows_examples_that_parse_and_each_default_once(command, capsys):
    from hyra_lightning.commands.analyze import build_parser as analyze_parser
    from hyra_lightning.commands.score import build_parser as score_parser

    raw = _help([command, "--help"], capsys)
    text = _flat(raw)
    assert "(default: None)" not in text
    assert not re.search(r"\(default: [^)]*\) \(default:", text), "a default shown twice"
    assert text.count("(default: the two held-out bundled photographs)") == (command == "analyze")
    assert ("(default: 33)" in text) if command == "analyze" else ("(default: 4)" in text)
    examples = [
        line.strip() for line in raw.splitlines() if line.strip().startswith(f"hyra-lightning {command} ")
    ]
    assert len(examples) >= 2, raw
    parser = analyze_parser() if command == "analyze" else score_parser()
    for example in examples:
        parser.parse_args(shlex.split(example)[2:])  # exits on a typo in the example
