"""Norm-in-norm loss: MSE between batch-standardised predictions and targets.
"""
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from .score_loss_utils import BatchScoreLoss, standardise


def norm_in_norm_loss(pred: torch.Tensor,
                      target: torch.Tensor,
                      eps: float = 1e-8) -> torch.Tensor:
    """The loss LoDa's released code trains with.

    Both vectors are standardised by their batch mean and standard deviation;
    the loss is the mean of two MSE terms, each divided by 4: the standardised
    prediction against the standardised target, and the prediction rescaled by
    their correlation ``rho`` against the target. With unit-variance inputs
    this equals ``((1 - rho) / 2 + (1 - rho ** 2) / 4) / 2``, so it depends
    only on the linear correlation and ignores the scale and offset of the
    prediction.

    Args:
        pred: predicted scores ``(N,)``, N >= 2.
        target: target scores ``(N,)``.
        eps: stabiliser of the standard deviations.

    Returns:
        torch.Tensor: scalar loss.
    """
    pred_std = standardise(pred, eps)
    target_std = standardise(target, eps)
    direct = F.mse_loss(pred_std, target_std) / 4
    rho = (pred_std * target_std).mean()
    rescaled = F.mse_loss(rho * pred_std, target_std) / 4
    return (direct + rescaled) / 2


@MODELS.register_module()
class NormInNormLoss(BatchScoreLoss):
    """Norm-in-norm score regression loss (LoDa's default).

    Takes the arguments of :class:`BatchScoreLoss`; ``loss_name`` defaults
    to ``'loss_norm_in_norm'``.
    """

    default_loss_name = 'loss_norm_in_norm'
    loss_fn = staticmethod(norm_in_norm_loss)
