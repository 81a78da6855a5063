"""Lightning callbacks that show, in TensorBoard, an SR network becoming a low-pass filter while it trains.

- :class:`ImpulseResponseMonitor`: the response to one LR pixel (``impulse/...``) on a step schedule.
- :class:`HyRAMonitor`: linear / non-linear decomposition of fixed validation images (``hyra/...``).
- :class:`FrequencySimilarityMonitor`: FSDS and its frequency curve on the validation set (``fsds/...``).
- :class:`LocalAttributionMonitor`: the local attribution map of one box of one validation image and its
  diffusion index (``lam/...``).
- :func:`log_fsds`: the ``fsds/...`` tags of a metric to any Lightning logger, outside a monitor.

The monitors run their forward passes on every rank and write on global rank zero only. Scalars go to every
logger; images and figures go to every logger through its sink (:mod:`hyra_lightning.callbacks.sinks`:
TensorBoard images and a custom-scalars layout, W&B images and line plots, MLflow step-indexed images, PNG
files for a ``CSVLogger``, ...). Drawing and writing happen
on one background thread per process (``blocking=True`` keeps them on the training thread); everything is
written by the time ``fit``/``validate``/``test`` returns.
"""

from hyra_lightning.callbacks.frequency_similarity_monitor import FrequencySimilarityMonitor
from hyra_lightning.callbacks.fsds_logging import log_fsds
from hyra_lightning.callbacks.hyra_monitor import HyRAMonitor
from hyra_lightning.callbacks.impulse_response_monitor import ImpulseResponseMonitor
from hyra_lightning.callbacks.local_attribution_monitor import LocalAttributionMonitor

__all__ = [
    "FrequencySimilarityMonitor",
    "HyRAMonitor",
    "ImpulseResponseMonitor",
    "LocalAttributionMonitor",
    "log_fsds",
]
