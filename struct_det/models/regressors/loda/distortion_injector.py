"""The adapter before each frozen ViT block: injects local distortion tokens.
"""
import torch
import torch.nn as nn
from timm.layers import Mlp, trunc_normal_

from .token_cross_attention import TokenCrossAttention


class DistortionInjector(nn.Module):
    """A bottleneck adapter: every ViT token queries the distortion tokens.

    ``d = down(x)`` (MLP embed -> latent -> latent),
    ``d = d + CrossAttn(q=d, kv=tokens)``, ``x + up(d) * scale`` (MLP latent
    -> embed -> embed). ``scale`` is a per-channel vector initialised near
    zero, so at the start of training the frozen ViT sees (almost) its
    pretraining input and the adapter fades in. All ViT tokens (CLS,
    registers, patches) are queries; there are no extra learnable queries.

    Args:
        embed_dim (int): The ViT token dimension.
        latent_dim (int): The bottleneck / distortion token dimension.
            Defaults to 64.
        num_heads (int): Heads of the cross-attention. Defaults to 4.
        scale_init_std (float): Std of the truncated-normal init of
            ``scale``. Defaults to 0.02.
    """

    def __init__(self,
                 embed_dim: int,
                 latent_dim: int = 64,
                 num_heads: int = 4,
                 scale_init_std: float = 0.02) -> None:
        super().__init__()
        self.down = Mlp(
            embed_dim, hidden_features=latent_dim, out_features=latent_dim)
        self.cross_attn = TokenCrossAttention(latent_dim, num_heads=num_heads)
        self.up = Mlp(
            latent_dim, hidden_features=embed_dim, out_features=embed_dim)
        self.scale = nn.Parameter(torch.zeros(embed_dim))
        trunc_normal_(self.scale, std=scale_init_std)

    def forward(self, x: torch.Tensor,
                distortion_tokens: torch.Tensor) -> torch.Tensor:
        """Add the adapter's output to the ViT tokens.

        Args:
            x (Tensor): ViT tokens ``(B, N, embed_dim)``.
            distortion_tokens (Tensor): ``(B, M, latent_dim)``.

        Returns:
            Tensor: The updated ViT tokens ``(B, N, embed_dim)``.
        """
        latent = self.down(x)
        latent = latent + self.cross_attn(latent, distortion_tokens)
        return x + self.up(latent) * self.scale
