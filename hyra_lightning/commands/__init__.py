"""The ``hyra-lightning analyze`` and ``hyra-lightning score`` commands (app layer).

``analyze`` probes trained networks (any published checkpoint, this package's, or a reference upsampler) and
writes a report; ``score`` turns folders of SR results into PSNR, SSIM and FSDS tables. Both are plain
functions as well (:func:`~hyra_lightning.commands.analyze.analyze`, :func:`~hyra_lightning.commands.score.score`).
"""

from __future__ import annotations

import argparse

from hyra_lightning.checks import check_choice

COMMANDS: tuple[str, ...] = ("analyze", "score")

#: One line per command, for the list of commands in ``hyra-lightning --help``.
SUMMARIES: dict[str, str] = {
    "analyze": "Probe trained networks (impulse response, HyRA, FSDS against bicubic) and write a report.",
    "score": "PSNR, SSIM and FSDS of a folder of SR images against a folder of HR images.",
}


class HelpFormatter(argparse.HelpFormatter):
    """The ``--help`` layout of the commands: defaults shown once, examples kept as written.

    An option's help gets ``(default: ...)`` only where there is a default to show: not on required
    arguments, flags, options without a default (``None``), or help that already names its default. In the
    description and the epilog, indented lines (the example commands) keep their line breaks; the other lines
    are wrapped to the terminal as usual.

    Example:
        >>> parser = argparse.ArgumentParser(prog="demo", formatter_class=HelpFormatter, epilog="e.g.:\\n  demo -n 2")
        >>> _ = parser.add_argument("-n", type=int, default=1, help="count")
        >>> _ = parser.add_argument("--out", required=True, help="output file")
        >>> text = parser.format_help()
        >>> "count (default: 1)" in text, "output file (default" in text, "\\n  demo -n 2" in text
        (True, False, True)
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            action.required
            or not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if line.startswith(" ") or not line.strip():
                lines.append(indent + line if line.strip() else "")
            else:
                lines.append(super()._fill_text(line, width, indent))
        return "\n".join(lines)


def run_command(name: str, argv: list[str]) -> int:
    """Run the command ``name`` (one of :data:`COMMANDS`) with its command-line arguments; returns the exit code."""
    check_choice("name", name, COMMANDS)
    if name == "analyze":
        from hyra_lightning.commands.analyze import main
    else:
        from hyra_lightning.commands.score import main
    return main(argv)
