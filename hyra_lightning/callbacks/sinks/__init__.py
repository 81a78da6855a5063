"""Where the monitors' pictures go: one :class:`Sink` per logger family behind one small interface.

Scalars go to every logger through ``logger.log_metrics``; images, figures, curves and layouts go through the
sink of each logger, so several loggers at once each get their best form. :func:`sinks_for` picks the sinks:

=====================================  =====================================================================
logger                                 sink
=====================================  =====================================================================
``TensorBoardLogger``                  :class:`~hyra_lightning.callbacks.sinks.tensorboard.TensorBoardSink`
``WandbLogger``                        ``WandbSink`` (``hyra_lightning.callbacks.sinks.wandb``)
``MLFlowLogger``                       ``MLflowSink`` (``hyra_lightning.callbacks.sinks.mlflow``)
any other (``CSVLogger``, ...)          :class:`~hyra_lightning.callbacks.sinks.files.ImageFileSink`: PNG files
=====================================  =====================================================================

The W&B and MLflow sinks are imported only when such a logger is present; where they cannot be imported, that
logger gets an :class:`ImageFileSink`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterable

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger

from hyra_lightning.callbacks.sinks.base import IsolatedSink, Sink, failure_report, isolate
from hyra_lightning.callbacks.sinks.files import ImageFileSink
from hyra_lightning.callbacks.sinks.tensorboard import TensorBoardSink

__all__ = [
    "ImageFileSink",
    "IsolatedSink",
    "Sink",
    "TensorBoardSink",
    "failure_report",
    "isolate",
    "sinks_for",
]

#: Logger class -> (package it needs, module, class) of its sink, imported on first use (Lightning's logger
#: classes import without wandb/mlflow; their sinks need them).
_LAZY_SINKS: tuple[tuple[type[Logger], str, str, str], ...] = (
    (WandbLogger, "wandb", "hyra_lightning.callbacks.sinks.wandb", "WandbSink"),
    (MLFlowLogger, "mlflow", "hyra_lightning.callbacks.sinks.mlflow", "MLflowSink"),
)


def _lazy_sink(logger: Logger) -> type[Sink] | None:
    """The sink class of a W&B or MLflow logger, or ``None`` (other loggers, or the package is missing)."""
    for logger_class, package, module_name, class_name in _LAZY_SINKS:
        if not isinstance(logger, logger_class):
            continue
        if importlib.util.find_spec(package) is None:
            return None
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        return getattr(module, class_name)
    return None


def sinks_for(loggers: Iterable[Logger], *, default_root: str | os.PathLike[str] | None = None) -> list[Sink]:
    """One sink per logger, in the loggers' order (see the table above).

    Args:
        loggers: the trainer's loggers (``trainer.loggers``).
        default_root: directory for the PNG files of a logger that has no directory of its own (the trainer's
            ``default_root_dir``).

    Returns:
        The sinks; call them on global rank zero only.

    Example:
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> [type(s).__name__ for s in sinks_for([CSVLogger("logs")])]
        ['ImageFileSink']
    """
    sinks: list[Sink] = []
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            sinks.append(TensorBoardSink(logger))
            continue
        lazy = _lazy_sink(logger)
        sinks.append(lazy(logger) if lazy is not None else ImageFileSink(logger, root=default_root))
    return sinks
