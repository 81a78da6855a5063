"""torchmetrics metrics: FSDS with its dataset frequency-similarity curve."""

from hyra_lightning.metrics.fsds import (
    FSDS,
    FrequencySpectrumDistributionSimilarity,
    band_tag,
    plot_frequency_similarity,
)

__all__ = ["FSDS", "FrequencySpectrumDistributionSimilarity", "band_tag", "plot_frequency_similarity"]
