"""Plain MSE between predicted scores and MOS."""
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from .score_loss_utils import ScoreLoss


@MODELS.register_module()
class ScoreMSELoss(ScoreLoss):
    """Mean squared error in MOS units.

    Unlike the correlation losses it fixes the scale of the prediction, so pair
    it with a model whose output range covers the MOS range (LoDa's
    ``score_range``). Named apart from mmdet's ``MSELoss``, which has a
    per-element weight/avg-factor interface.

    Args:
        loss_weight: weight of this term in the total loss.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mse') -> None:
        super().__init__(loss_weight, loss_name)

    def compute(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target)
