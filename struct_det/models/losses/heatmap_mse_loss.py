"""MSE between a predicted heatmap and the soft annotator-agreement map."""
from typing import Optional

import torch
from mmseg.registry import MODELS

from .pixel_loss_utils import PixelLoss, masked_mean


@MODELS.register_module()
class HeatmapMSELoss(PixelLoss):
    """Mean squared error of ``sigmoid(logits)`` against a soft target in
    [0, 1].

    The RAHF baseline and the structure track's heatmap teams train on the
    soft annotator map with MSE. Padded pixels (``valid`` false) do not
    count.

    Args:
        loss_weight (float): Weight of this term in the total loss.
            Defaults to 1.0.
        use_sigmoid (bool): Whether the predictions are logits; False for
            probabilities. Defaults to True.
        loss_name (str, optional): Key of this term in the loss dict.
            Defaults to 'loss_heatmap_mse'.
    """

    default_loss_name = 'loss_heatmap_mse'

    def compute(self, prob: torch.Tensor, target: torch.Tensor,
                valid: Optional[torch.Tensor]) -> torch.Tensor:
        """Mean squared error over the valid pixels."""
        return masked_mean((prob - target).pow(2), valid)
