"""(1 - PLCC) / 2: the loss the LoDa paper states."""
import torch
import torch.nn as nn
from mmdet.registry import MODELS

from .score_loss_utils import flatten_score_pair, standardise


def plcc_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
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
class PLCCLoss(nn.Module):
    """Pearson-correlation loss ``(1 - PLCC) / 2``, invariant to the score's scale.

    Args:
        loss_weight: weight of this term in the total loss.
        eps: stabiliser of the batch standard deviations.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    def __init__(self, loss_weight: float = 1.0, eps: float = 1e-8,
                 loss_name: str = 'loss_plcc') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: key of this term in the model's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted ``(1 - PLCC) / 2``.

        Args:
            pred: predicted scores ``(N,)`` or ``(N, 1)``, N >= 2.
            target: target MOS, N elements.

        Returns:
            torch.Tensor: scalar loss.
        """
        pred, target = flatten_score_pair(pred, target, type(self).__name__, min_batch=2)
        return self.loss_weight * plcc_loss(pred, target, self.eps)
