"""The ``hyra-lightning analyze`` and ``hyra-lightning score`` commands (app layer).

``analyze`` probes trained networks (any published checkpoint, this package's, or a reference upsampler) and
writes a report; ``score`` turns folders of SR results into PSNR, SSIM and FSDS tables. Both are plain
functions as well (:func:`~hyra_lightning.commands.analyze.analyze`, :func:`~hyra_lightning.commands.score.score`).
"""

from __future__ import annotations

from hyra_lightning.checks import check_choice

COMMANDS: tuple[str, ...] = ("analyze", "score")


def run_command(name: str, argv: list[str]) -> int:
    """Run the command ``name`` (one of :data:`COMMANDS`) with its command-line arguments; returns the exit code."""
    check_choice("name", name, COMMANDS)
    if name == "analyze":
        from hyra_lightning.commands.analyze import main
    else:
        from hyra_lightning.commands.score import main
    return main(argv)
