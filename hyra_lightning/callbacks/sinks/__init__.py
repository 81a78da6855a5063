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
import os
from collections.abc import Iterable

from lightning.pytorch.loggers import Logger, TensorBoardLogger

from hyra_lightning.callbacks.sinks.base import Sink
from hyra_lightning.callbacks.sinks.files import ImageFileSink
from hyra_lightning.callbacks.sinks.tensorboard import TensorBoardSink

__all__ = ["ImageFileSink", "Sink", "TensorBoardSink", "sinks_for"]

#: Logger class name -> (module, class) of its sink, imported on first use.
_LAZY_SINKS: dict[str, tuple[str, str]] = {
    "WandbLogger": ("hyra_lightning.callbacks.sinks.wandb", "WandbSink"),
    "MLFlowLogger": ("hyra_lightning.callbacks.sinks.mlflow", "MLflowSink"),
}


def _lazy_sink(logger: Logger) -> type[Sink] | None:
    for cls in type(logger).__mro__:
        target = _LAZY_SINKS.get(cls.__name__)
        if target is None:
            continue
        module_name, class_name = target
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        sink = getattr(module, class_name, None)
        return sink if isinstance(sink, type) and issubclass(sink, Sink) else None
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
