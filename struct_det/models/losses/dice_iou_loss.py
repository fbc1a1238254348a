"""Soft Dice / IoU loss on a soft target (the ``1 - Dice-IoU`` term of
OPDAI)."""
from typing import Optional

import torch
from mmseg.registry import MODELS

from .pixel_loss_utils import PixelLoss

_MODES = ('dice', 'iou')


@MODELS.register_module()
class DiceIoULoss(PixelLoss):
    """``1 - soft Dice`` (or ``1 - soft IoU``) per image, averaged over the
    batch.

    With probabilities ``p`` and a soft target ``t`` on the valid pixels,
    ``I = sum(p t)``; Dice is ``(2 I + s) / (sum p + sum t + s)`` and IoU
    (Jaccard) is ``(I + s) / (sum p + sum t - I + s)``. The smoothing ``s``
    makes a clean image (empty target) pull its prediction to zero instead
    of dividing by zero. Unlike MSE the term does not shrink with the
    region's size, so small distortions count.

    Args:
        mode (str): ``'dice'`` or ``'iou'``. Defaults to 'dice'.
        smooth (float): The smoothing ``s`` (in pixels), > 0.
            Defaults to 1.0.
        loss_weight (float): Weight of this term in the total loss.
            Defaults to 1.0.
        use_sigmoid (bool): Whether the predictions are logits.
            Defaults to True.
        loss_name (str, optional): Key of this term in the loss dict (must
            contain ``loss``). Defaults to 'loss_dice_iou'.
    """

    default_loss_name = 'loss_dice_iou'

    def __init__(self,
                 mode: str = 'dice',
                 smooth: float = 1.0,
                 loss_weight: float = 1.0,
                 use_sigmoid: bool = True,
                 loss_name: Optional[str] = None) -> None:
        super().__init__(
            loss_weight=loss_weight,
            use_sigmoid=use_sigmoid,
            loss_name=loss_name)
        if mode not in _MODES:
            raise ValueError(
                f'DiceIoULoss: mode must be one of {_MODES}, got {mode!r}')
        if not smooth > 0:
            raise ValueError(
                f'DiceIoULoss: smooth must be > 0, got {smooth!r}')
        self.mode = mode
        self.smooth = float(smooth)

    def compute(self, prob: torch.Tensor, target: torch.Tensor,
                valid: Optional[torch.Tensor]) -> torch.Tensor:
        """``1 - coefficient`` per image, averaged over the batch."""
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
        return (1 - coef).mean()
