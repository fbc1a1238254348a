"""MSE between a predicted heatmap and the soft annotator-agreement map."""
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import nn


def masked_mean(values: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``values`` over the valid pixels (all pixels when ``valid`` is None)."""
    if valid is None:
        return values.mean()
    valid = valid.to(values.dtype)
    return (values * valid).sum() / valid.sum().clamp(min=1.0)


@MODELS.register_module()
class HeatmapMSELoss(nn.Module):
    """Mean squared error of ``sigmoid(logits)`` against a soft target in [0, 1].

    The RAHF baseline and the structure track's heatmap teams train on the soft
    annotator map with MSE. Padded pixels (``valid`` false) do not count.

    Args:
        loss_weight: weight of this term in the total loss.
        use_sigmoid: the predictions are logits (mmseg's one-channel heads); False for
            predictions that already are probabilities.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, use_sigmoid: bool = True,
                 loss_name: str = 'loss_heatmap_mse') -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.use_sigmoid = use_sigmoid
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: key of this term in the model's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The weighted loss.

        Args:
            pred: ``(N, 1, H, W)`` logits (or probabilities, ``use_sigmoid=False``).
            target: ``(N, 1, H, W)`` soft target.
            valid: ``(N, 1, H, W)`` bool mask of the pixels that count, or None.

        Returns:
            torch.Tensor: scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ in shape')
        prob = pred.sigmoid() if self.use_sigmoid else pred
        return self.loss_weight * masked_mean((prob - target.to(prob)).pow(2), valid)
