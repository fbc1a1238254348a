"""Plain MSE between predicted scores and MOS."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS

from .score_loss_utils import flatten_score_pair


@MODELS.register_module()
class ScoreMSELoss(nn.Module):
    """Mean squared error in MOS units.

    Unlike the correlation losses it fixes the scale of the prediction, so pair it with a
    model whose output range covers the MOS range (LoDa's ``score_range``). Named apart
    from mmdet's ``MSELoss``, which has a per-element weight/avg-factor interface.

    Args:
        loss_weight: weight of this term in the total loss.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_mse') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: key of this term in the model's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted MSE.

        Args:
            pred: predicted scores ``(N,)`` or ``(N, 1)``.
            target: target MOS, N elements.

        Returns:
            torch.Tensor: scalar loss.
        """
        pred, target = flatten_score_pair(pred, target, type(self).__name__)
        return self.loss_weight * F.mse_loss(pred, target)
