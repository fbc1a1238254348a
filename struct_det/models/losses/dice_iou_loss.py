"""Soft Dice / IoU loss on a soft target (the ``1 - Dice-IoU`` term of OPDAI)."""
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import nn

_MODES = ('dice', 'iou')


@MODELS.register_module()
class DiceIoULoss(nn.Module):
    """``1 - soft Dice`` (or ``1 - soft IoU``) per image, averaged over the batch.

    With probabilities ``p`` and a soft target ``t`` on the valid pixels,
    ``I = sum(p t)``; Dice is ``(2 I + s) / (sum p + sum t + s)`` and IoU (Jaccard) is
    ``(I + s) / (sum p + sum t - I + s)``. The smoothing ``s`` makes a clean image
    (empty target) pull its prediction to zero instead of dividing by zero. Unlike MSE
    the term does not shrink with the region's size, so small distortions count.

    Args:
        mode: ``'dice'`` or ``'iou'``.
        smooth: the smoothing ``s`` (in pixels).
        loss_weight: weight of this term in the total loss.
        use_sigmoid: the predictions are logits.
        loss_name: key of this term in the loss dict (must contain ``loss``).
    """

    def __init__(self, mode: str = 'dice', smooth: float = 1.0, loss_weight: float = 1.0,
                 use_sigmoid: bool = True, loss_name: str = 'loss_dice_iou') -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f'DiceIoULoss: mode must be one of {_MODES}, got {mode!r}')
        if not smooth > 0:
            raise ValueError(f'DiceIoULoss: smooth must be > 0, got {smooth!r}')
        self.mode = mode
        self.smooth = float(smooth)
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
            target: ``(N, 1, H, W)`` soft target in [0, 1].
            valid: ``(N, 1, H, W)`` bool mask of the pixels that count, or None.

        Returns:
            torch.Tensor: scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ in shape')
        prob = pred.sigmoid() if self.use_sigmoid else pred
        target = target.to(prob)
        if valid is not None:
            valid = valid.to(prob)
            prob, target = prob * valid, target * valid
        dims = tuple(range(1, prob.dim()))
        inter = (prob * target).sum(dims)
        total = prob.sum(dims) + target.sum(dims)
        if self.mode == 'dice':
            coef = (2 * inter + self.smooth) / (total + self.smooth)
        else:
            coef = (inter + self.smooth) / (total - inter + self.smooth)
        return self.loss_weight * (1 - coef).mean()
