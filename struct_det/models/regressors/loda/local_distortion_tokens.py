"""Local distortion tokens: a fixed-size token set from CNN feature maps."""
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn as nn


class LocalDistortionTokens(nn.Module):
    """Turn each CNN feature map into ``grid_size ** 2`` tokens.

    Per scale: 1x1 conv (C -> latent) -> GELU -> 3x3 conv (latent -> latent,
    no bias) -> adaptive average pooling to ``grid_size x grid_size``. The
    per-scale grids are flattened row-major and concatenated in scale order,
    so 4 scales with a 7x7 grid give 196 tokens. Pooling to a fixed grid makes
    the token count independent of the input size, which keeps the
    cross-attention cost constant.

    Args:
        in_channels (Sequence[int]): Channels of each CNN feature map, e.g.
            ``(256, 512, 1024, 2048)``.
        latent_dim (int): The token dimension. Defaults to 64.
        grid_size (int): The side of the pooled grid per scale.
            Defaults to 7.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 latent_dim: int = 64,
                 grid_size: int = 7) -> None:
        super().__init__()
        if len(in_channels) == 0:
            raise ValueError(
                'LocalDistortionTokens needs at least one feature scale')
        self.in_channels = tuple(int(c) for c in in_channels)
        self.latent_dim = latent_dim
        self.grid_size = grid_size
        self.branches = nn.ModuleList([
            nn.Sequential(
                OrderedDict([
                    ('reduce', nn.Conv2d(channels, latent_dim, kernel_size=1)),
                    ('act', nn.GELU()),
                    ('mix',
                     nn.Conv2d(
                         latent_dim,
                         latent_dim,
                         kernel_size=3,
                         padding=1,
                         bias=False)),
                    ('pool', nn.AdaptiveAvgPool2d(grid_size)),
                ])) for channels in self.in_channels
        ])

    @property
    def num_tokens(self) -> int:
        """int: The number of tokens produced per image."""
        return len(self.in_channels) * self.grid_size**2

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Compute the tokens.

        Args:
            features (Sequence[Tensor]): One ``(B, C_i, H_i, W_i)`` map per
                scale, in ``in_channels`` order.

        Returns:
            Tensor: Tokens of shape ``(B, num_tokens, latent_dim)``.
        """
        if len(features) != len(self.branches):
            raise ValueError(
                f'LocalDistortionTokens was built for {len(self.branches)} '
                f'feature scales but got {len(features)}')
        tokens = []
        for branch, feature in zip(self.branches, features):
            grid = branch(feature)
            tokens.append(grid.flatten(2).transpose(1, 2))
        return torch.cat(tokens, dim=1)
