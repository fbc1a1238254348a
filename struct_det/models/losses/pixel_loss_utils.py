"""What the pixel-map (heatmap) losses share: input checks and the module
skeleton."""
from typing import Optional

import torch
from torch import nn


def masked_mean(values: torch.Tensor,
                valid: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``values`` over the valid pixels.

    Args:
        values (torch.Tensor): Per-pixel values.
        valid (torch.Tensor, optional): Mask of the pixels that count, of the
            shape of ``values``; None counts every pixel.

    Returns:
        torch.Tensor: The scalar mean.
    """
    if valid is None:
        return values.mean()
    valid = valid.to(values.dtype)
    return (values * valid).sum() / valid.sum().clamp(min=1.0)


class PixelLoss(nn.Module):
    """Base of the heatmap losses: weighting, the loss-dict key, the shape
    check and the sigmoid.

    Subclasses implement :meth:`compute` on probabilities and set
    ``default_loss_name``.

    Args:
        loss_weight (float): Weight of this term in the total loss.
            Defaults to 1.0.
        use_sigmoid (bool): Whether the predictions are logits (mmseg's
            one-channel heads); False for predictions that already are
            probabilities. Defaults to True.
        loss_name (str, optional): Key of this term in the loss dict (must
            contain ``loss``). Defaults to the class's ``default_loss_name``.
    """

    default_loss_name = 'loss_pixel'

    def __init__(self,
                 loss_weight: float = 1.0,
                 use_sigmoid: bool = True,
                 loss_name: Optional[str] = None) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.use_sigmoid = use_sigmoid
        self._loss_name = (
            self.default_loss_name if loss_name is None else loss_name)

    @property
    def loss_name(self) -> str:
        """str: Key of this term in the model's loss dict."""
        return self._loss_name

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The weighted loss.

        Args:
            pred (torch.Tensor): ``(N, 1, H, W)`` logits (or probabilities
                when ``use_sigmoid=False``).
            target (torch.Tensor): ``(N, 1, H, W)`` soft target in [0, 1].
            valid (torch.Tensor, optional): ``(N, 1, H, W)`` bool mask of
                the pixels that count; None counts every pixel.

        Returns:
            torch.Tensor: The scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(
                f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                f'target {tuple(target.shape)} differ in shape')
        prob = pred.sigmoid() if self.use_sigmoid else pred
        return self.loss_weight * self.compute(prob, target.to(prob), valid)

    def compute(self, prob: torch.Tensor, target: torch.Tensor,
                valid: Optional[torch.Tensor]) -> torch.Tensor:
        """The unweighted loss of probabilities against the target.

        Args:
            prob (torch.Tensor): ``(N, 1, H, W)`` probabilities.
            target (torch.Tensor): ``(N, 1, H, W)`` target, of the dtype and
                device of ``prob``.
            valid (torch.Tensor, optional): Mask of the pixels that count.

        Returns:
            torch.Tensor: The scalar loss.
        """
        raise NotImplementedError
