"""Multi-head cross-attention from query tokens to key/value tokens."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TokenCrossAttention(nn.Module):
    """Cross-attention with separate query and key/value projections.

    Args:
        dim (int): The token dimension of both inputs (and of the output).
        num_heads (int): Attention heads; must divide ``dim``. Defaults to 4.
        qkv_bias (bool): Bias in the query and key/value projections.
            Defaults to False.
        attn_drop (float): Dropout on the attention weights (training only).
            Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 4,
                 qkv_bias: bool = False,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'TokenCrossAttention: dim={dim} is not divisible by '
                f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        # Keys and values in one projection, keys first: the official LoDa
        # layout, so its weights convert without reordering.
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, query: torch.Tensor,
                context: torch.Tensor) -> torch.Tensor:
        """Attend from ``query`` tokens to ``context`` tokens.

        Args:
            query (Tensor): ``(B, N, dim)`` queries.
            context (Tensor): ``(B, M, dim)`` keys and values.

        Returns:
            Tensor: ``(B, N, dim)``.
        """
        batch, num_query, dim = query.shape
        head_dim = dim // self.num_heads
        q = self.q(query).reshape(batch, num_query, self.num_heads,
                                  head_dim).transpose(1, 2)
        kv = self.kv(context).reshape(batch, context.shape[1], 2,
                                      self.num_heads, head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(batch, num_query, dim)
        return self.proj_drop(self.proj(out))
