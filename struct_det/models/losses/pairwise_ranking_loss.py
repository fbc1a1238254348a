"""Pairwise margin ranking loss over all ordered pairs of a batch."""
import torch
from mmdet.registry import MODELS

from .score_loss_utils import ScoreLoss


def pairwise_ranking_loss(pred: torch.Tensor,
                          target: torch.Tensor,
                          margin: float = 0.1,
                          tie_tolerance: float = 1e-6) -> torch.Tensor:
    """Hinge on every pair whose targets differ: ``relu(margin - (p_i - p_j))``
    for ``t_i > t_j``, averaged over those pairs.

    Tied targets (frequent: MOS are means of 3 integer ratings) give no pair. A
    batch whose targets are all tied returns a zero that still depends on
    ``pred``, so the backward pass works.

    Args:
        pred: predicted scores ``(N,)``.
        target: target scores ``(N,)``.
        margin: required score gap between a better and a worse sample, in
            score units.
        tie_tolerance: target differences up to this count as ties.

    Returns:
        torch.Tensor: scalar loss.
    """
    target_gap = target[:, None] - target[None, :]
    better = target_gap > tie_tolerance
    if not bool(better.any()):
        return pred.sum() * 0
    pred_gap = pred[:, None] - pred[None, :]
    return torch.relu(margin - pred_gap[better]).mean()


@MODELS.register_module()
class PairwiseRankingLoss(ScoreLoss):
    """Margin ranking loss between all pairs of a batch with different MOS.

    Args:
        loss_weight: weight of this term in the total loss.
        margin: required score gap (in the model's score units) between a
            better and a worse sample.
        tie_tolerance: target differences up to this count as ties and are
            skipped.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    min_batch = 2

    def __init__(self,
                 loss_weight: float = 1.0,
                 margin: float = 0.1,
                 tie_tolerance: float = 1e-6,
                 loss_name: str = 'loss_rank') -> None:
        super().__init__(loss_weight, loss_name)
        if margin < 0:
            raise ValueError('PairwiseRankingLoss: margin must be >= 0, got '
                             f'{margin}')
        self.margin = margin
        self.tie_tolerance = tie_tolerance

    def compute(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return pairwise_ranking_loss(pred, target, self.margin,
                                     self.tie_tolerance)
