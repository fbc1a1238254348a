"""A linear layer on L2-normalised inputs and weights (a cosine head)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CosineLinear(nn.Module):
    """``y = <x / |x|, w / |w|>`` per output, without bias, in [-1, 1].

    Normalising the feature removes its scale, which differs a lot between
    backbones and training stages; the score therefore depends on the
    feature's direction only.

    Args:
        in_features (int): The input dimension.
        out_features (int): The number of outputs. Defaults to 1.
        eps (float): The floor of the norms. Defaults to 1e-12.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int = 1,
                 eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine similarity between ``x`` and each weight row.

        Args:
            x (Tensor): ``(B, in_features)`` features.

        Returns:
            torch.Tensor: ``(B, out_features)`` in [-1, 1].
        """
        return F.linear(
            F.normalize(x, dim=-1, eps=self.eps),
            F.normalize(self.weight, dim=-1, eps=self.eps))
