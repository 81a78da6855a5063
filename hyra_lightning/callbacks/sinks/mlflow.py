"""The MLflow sink: step-indexed images on the run of an ``MLFlowLogger``, curves as JSON artifacts."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from lightning.pytorch.loggers import MLFlowLogger

from hyra_lightning.callbacks.sinks.base import Sink, check_logger
from hyra_lightning.callbacks.sinks.raster import check_rgb_uint8

__all__ = ["MLflowSink", "curve_artifact", "image_artifact"]


def image_artifact(tag: str, step: int) -> str:
    """Artifact path of image ``tag`` at ``step`` where MLflow has no step-indexed images (before 2.12).

    Example:
        >>> image_artifact("hyra/sample_0", 200)
        'images/hyra/sample_0/0000200.png'
    """
    return f"images/{tag}/{step:07d}.png"


def curve_artifact(tag: str, step: int) -> str:
    """Artifact path of the curves ``tag`` at ``step``.

    Example:
        >>> curve_artifact("fsds/curve", 200)
        'curves/fsds/curve/0000200.json'
    """
    return f"curves/{tag}/{step:07d}.json"


def _supports_step_images(client: Any) -> bool:
    """Whether ``client.log_image`` takes ``key`` and ``step`` (MLflow 2.12 and later)."""
    try:
        return "step" in inspect.signature(client.log_image).parameters
    except (TypeError, ValueError):  # pragma: no cover - a client without an inspectable signature
        return False


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).reshape(-1)]


class MLflowSink(Sink):
    """Writes a monitor's media to the run of a :class:`~lightning.pytorch.loggers.MLFlowLogger`.

    - images: ``MlflowClient.log_image(run_id, image, key=tag, step=step)``, MLflow's step-indexed images (the
      run's "Artifacts" tab and image charts with a step slider; MLflow 2.12 or later). With an older MLflow,
      the image is a PNG artifact at :func:`image_artifact` (``images/<tag>/<step:07d>.png``). MLflow images
      have no caption: ``caption`` is dropped;
    - figures: rasterised by Agg and written as images (:meth:`Sink.log_figure`), so they are step-indexed too
      (``MlflowClient.log_figure`` keeps one file per name, without a step);
    - curves: a JSON artifact at :func:`curve_artifact` (``curves/<tag>/<step:07d>.json``) holding ``tag``,
      ``step``, ``x_label``, ``y_label``, ``x`` and ``series`` (name -> values; non-finite values are
      ``null``), to load and compare across runs with ``MlflowClient.download_artifacts``;
    - layouts: ignored.

    The logger's ``prefix`` applies to image keys as it does to metrics (``<prefix>-<tag>``).

    Args:
        logger: an ``MLFlowLogger`` (needs ``mlflow`` or ``mlflow-skinny``:
            ``pip install hyra-lightning[mlflow]``).

    Raises:
        TypeError: if ``logger`` is not an ``MLFlowLogger``.
        ModuleNotFoundError: if ``mlflow`` is not installed.
    """

    logger: MLFlowLogger

    def __init__(self, logger: MLFlowLogger) -> None:
        check_logger("MLflowSink", logger, MLFlowLogger, "mlflow", "mlflow")
        super().__init__(logger)

    def _key(self, tag: str) -> str:
        prefix = getattr(self.logger, "_prefix", "")
        return f"{prefix}{self.logger.LOGGER_JOIN_CHAR}{tag}" if prefix else tag

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """Write ``image`` (``H x W x 3`` ``uint8``) as ``tag`` at ``step`` (MLflow has no captions)."""
        image = check_rgb_uint8(image)
        client = self.logger.experiment
        run_id = self.logger.run_id
        key = self._key(tag)
        if _supports_step_images(client):
            client.log_image(run_id, image, key=key, step=step)
        else:
            client.log_image(run_id, image, image_artifact(key, step))

    def log_curve(
        self,
        tag: str,
        x: np.ndarray,
        series: Mapping[str, np.ndarray],
        step: int,
        *,
        x_label: str,
        y_label: str,
    ) -> None:
        """Write ``series`` (name -> values over ``x``) as the JSON artifact :func:`curve_artifact` ``(tag, step)``."""
        xs = _finite_or_none(x)
        data: dict[str, Any] = {
            "tag": tag,
            "step": int(step),
            "x_label": x_label,
            "y_label": y_label,
            "x": xs,
        }
        data["series"] = {}
        for name, values in series.items():
            ys = _finite_or_none(values)
            if len(ys) != len(xs):
                raise ValueError(
                    f"Expected `series[{name!r}]` to hold {len(xs)} values (one per `x`), got {len(ys)}."
                )
            data["series"][str(name)] = ys
        self.logger.experiment.log_dict(self.logger.run_id, data, curve_artifact(self._key(tag), step))

    def flush(self) -> None:
        """Wait for MLflow's asynchronous artifact and metric logging (``MLFLOW_ENABLE_ASYNC_LOGGING``)."""
        import mlflow

        for name in ("flush_artifact_async_logging", "flush_async_logging"):
            flush = getattr(mlflow, name, None)
            if flush is not None:
                flush()
