"""Where the monitors' pictures go: one :class:`Sink` per logger family behind one small interface.

Scalars go to every logger through ``logger.log_metrics``; images, figures, curves and layouts go through the
sink of each logger, so several loggers at once each get their best form.
"""

from hyra_lightning.callbacks.sinks.base import Sink

__all__ = ["Sink"]
