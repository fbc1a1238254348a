"""(1 - PLCC) / 2: the loss the LoDa paper states."""
import torch
from mmdet.registry import MODELS

from .score_loss_utils import ScoreLoss, standardise


def plcc_loss(pred: torch.Tensor,
              target: torch.Tensor,
              eps: float = 1e-8) -> torch.Tensor:
    """``(1 - PLCC) / 2`` over the batch, in [0, 1].

    Args:
        pred: predicted scores ``(N,)``, N >= 2.
        target: target scores ``(N,)``.
        eps: stabiliser of the standard deviations.

    Returns:
        torch.Tensor: scalar loss.
    """
    plcc = (standardise(pred, eps) * standardise(target, eps)).mean()
    return (1 - plcc) / 2


@MODELS.register_module()
class PLCCLoss(ScoreLoss):
    """Pearson-correlation loss ``(1 - PLCC) / 2``, invariant to the score's
    scale.

    Args:
        loss_weight: weight of this term in the total loss.
        eps: stabiliser of the batch standard deviations.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    min_batch = 2

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1e-8,
                 loss_name: str = 'loss_plcc') -> None:
        super().__init__(loss_weight, loss_name)
        self.eps = eps

    def compute(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return plcc_loss(pred, target, self.eps)
