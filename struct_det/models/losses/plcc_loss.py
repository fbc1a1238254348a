"""(1 - PLCC) / 2: the loss the LoDa paper states."""
import torch
from mmdet.registry import MODELS

from .score_loss_utils import BatchScoreLoss, standardise


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
class PLCCLoss(BatchScoreLoss):
    """Pearson-correlation loss ``(1 - PLCC) / 2``, invariant to the score's
    scale.

    Takes the arguments of :class:`BatchScoreLoss`; ``loss_name`` defaults
    to ``'loss_plcc'``.
    """

    default_loss_name = 'loss_plcc'
    loss_fn = staticmethod(plcc_loss)
