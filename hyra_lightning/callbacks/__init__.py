"""Lightning callbacks that show, in TensorBoard, an SR network becoming a low-pass filter while it trains.

- :class:`ImpulseResponseMonitor`: the response to one LR pixel (``impulse/...``) on a step schedule.
- :class:`HyRAMonitor`: linear / non-linear decomposition of fixed validation images (``hyra/...``).
- :class:`FrequencySimilarityMonitor`: FSDS and its frequency curve on the validation set (``fsds/...``).

All three run their forward passes on every rank and write on global rank zero only; TensorBoard receives
scalars, images, figures and a custom-scalars layout, other loggers receive the scalars.
"""

from hyra_lightning.callbacks.frequency_similarity_monitor import FrequencySimilarityMonitor
from hyra_lightning.callbacks.hyra_monitor import HyRAMonitor
from hyra_lightning.callbacks.impulse_response_monitor import ImpulseResponseMonitor

__all__ = ["FrequencySimilarityMonitor", "HyRAMonitor", "ImpulseResponseMonitor"]
