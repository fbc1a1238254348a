"""What the score (MOS) regression losses share: input checks and the module
skeleton.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn


def flatten_score_pair(
        pred: torch.Tensor,
        target: torch.Tensor,
        loss_name: str,
        min_batch: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Checks a batch of predicted and target scores and flattens both to
    ``(N,)``.

    Args:
        pred: predicted scores, shape ``(N,)`` or ``(N, 1)``.
        target: target scores (MOS), same number of elements as ``pred``.
        loss_name: name of the calling loss, used in error messages.
        min_batch: smallest batch the loss is defined for (losses that
            normalise by batch statistics need at least 2 samples).

    Returns:
        tuple: ``pred`` and ``target`` as float tensors of shape ``(N,)``; the
            target is cast to the prediction's dtype and device.

    Raises:
        ValueError: when the shapes disagree or the batch is too small.
    """
    if pred.dim() == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.dim() != 1:
        raise ValueError(f'{loss_name}: expected predicted scores of shape '
                         f'(N,) or (N, 1), got {tuple(pred.shape)}')
    target = target.reshape(-1).to(device=pred.device, dtype=pred.dtype)
    if target.numel() != pred.numel():
        raise ValueError(f'{loss_name}: {pred.numel()} predictions but '
                         f'{target.numel()} targets; every sample needs '
                         'exactly one MOS')
    if pred.numel() < min_batch:
        raise ValueError(
            f'{loss_name} normalises by batch statistics and needs at least '
            f'{min_batch} samples per batch, got {pred.numel()}: use '
            f'train_dataloader.batch_size >= {min_batch} and drop_last=True '
            '(a last batch of 1 breaks it)')
    return pred, target


def standardise(values: torch.Tensor, eps: float) -> torch.Tensor:
    """Zero mean, unit (population) standard deviation over the batch.

    Args:
        values: shape ``(N,)``.
        eps: added to the standard deviation so a constant batch gives zeros,
            not NaN.

    Returns:
        torch.Tensor: the standardised values, shape ``(N,)``.
    """
    centred = values - values.mean()
    return centred / (centred.pow(2).mean().sqrt() + eps)


class ScoreLoss(nn.Module):
    """Base of the score losses: weighting, the loss-dict key and the input
    checks.

    Subclasses implement :meth:`compute` on flattened ``(N,)`` tensors and set
    ``min_batch`` when the loss needs batch statistics.

    Args:
        loss_weight: weight of this term in the total loss.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    min_batch = 1

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_score') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: key of this term in the model's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """The weighted loss.

        Args:
            pred: predicted scores ``(N,)`` or ``(N, 1)``, N >= ``min_batch``.
            target: target MOS, N elements.

        Returns:
            torch.Tensor: scalar loss.
        """
        pred, target = flatten_score_pair(pred, target,
                                          type(self).__name__, self.min_batch)
        return self.loss_weight * self.compute(pred, target)

    def compute(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """The unweighted loss of flattened ``(N,)`` predictions and targets.
        """
        raise NotImplementedError


class BatchScoreLoss(ScoreLoss):
    """Base of the score losses on batch-standardised scores.

    Subclasses set :attr:`loss_fn` (``fn(pred, target, eps)``) and
    ``default_loss_name``.

    Args:
        loss_weight (float): Weight of this term in the total loss.
        eps (float): Stabiliser of the batch standard deviations.
        loss_name (str, optional): Key of this term in the loss dict (must
            contain ``loss``). Defaults to the class's ``default_loss_name``.
    """

    min_batch = 2
    default_loss_name = 'loss_score'

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1e-8,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            loss_weight,
            self.default_loss_name if loss_name is None else loss_name)
        self.eps = eps

    @staticmethod
    def loss_fn(pred: torch.Tensor, target: torch.Tensor,
                eps: float) -> torch.Tensor:
        """The unweighted loss on flattened ``(N,)`` tensors."""
        raise NotImplementedError

    def compute(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(pred, target, self.eps)
