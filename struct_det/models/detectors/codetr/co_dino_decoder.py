# Copyright (c) struct_det contributors. All rights reserved.
"""DINO decoder whose box sine embedding follows ``embed_dims``."""
from typing import Tuple

import torch
from mmdet.models.layers import DinoTransformerDecoder
from mmdet.models.layers.transformer import (coordinate_to_encoding,
                                             inverse_sigmoid)
from torch import Tensor, nn


class CoDinoTransformerDecoder(DinoTransformerDecoder):
    """:class:`DinoTransformerDecoder` for any ``embed_dims``.

    mmdet's version embeds the reference boxes with 128 sine features per
    coordinate, which only fits ``embed_dims=256`` (its ``ref_point_head``
    expects ``2 * embed_dims`` inputs). Here the embedding has
    ``embed_dims // 2`` features per coordinate, so small models (tests, CPU
    configs) work; at 256 dims the computation is exactly mmdet's and the
    parameters are the same.
    """

    def forward(self, query: Tensor, value: Tensor, key_padding_mask: Tensor,
                self_attn_mask: Tensor, reference_points: Tensor,
                spatial_shapes: Tensor, level_start_index: Tensor,
                valid_ratios: Tensor, reg_branches: nn.ModuleList,
                **kwargs) -> Tuple[Tensor, Tensor]:
        """Decode the queries layer by layer with box refinement.

        Args:
            query (Tensor): Queries (bs, num_queries, dim).
            value (Tensor): Encoder memory (bs, num_feat_points, dim).
            key_padding_mask (Tensor): Memory padding mask or None.
            self_attn_mask (Tensor): Query self-attention mask or None.
            reference_points (Tensor): Initial boxes (bs, num_queries, 4),
                normalised cxcywh.
            spatial_shapes (Tensor): (num_levels, 2) feature shapes.
            level_start_index (Tensor): Start index of each level.
            valid_ratios (Tensor): (bs, num_levels, 2) valid ratios.
            reg_branches (nn.ModuleList): Box refinement branches.

        Returns:
            tuple[Tensor, Tensor]: With ``return_intermediate`` the normed
                states of every layer (num_layers, bs, num_queries, dim) and
                the references (num_layers + 1, bs, num_queries, 4) whose layer
                entries keep their gradient ("look forward twice"); otherwise
                the last state and reference.
        """
        if reg_branches is None:
            raise ValueError('CoDinoTransformerDecoder refines boxes in every '
                             'layer; pass the head reg_branches.')
        num_feats = self.embed_dims // 2
        valid_ratios_4d = torch.cat([valid_ratios, valid_ratios], -1)
        states = []
        references = [reference_points]
        for layer_idx, layer in enumerate(self.layers):
            reference_input = reference_points[:, :, None] * \
                valid_ratios_4d[:, None]
            query_pos = self.ref_point_head(
                coordinate_to_encoding(
                    reference_input[:, :, 0, :], num_feats=num_feats))
            query = layer(
                query,
                query_pos=query_pos,
                value=value,
                key_padding_mask=key_padding_mask,
                self_attn_mask=self_attn_mask,
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
                valid_ratios=valid_ratios,
                reference_points=reference_input,
                **kwargs)
            refined = (reg_branches[layer_idx](query) +
                       inverse_sigmoid(reference_points, eps=1e-3)).sigmoid()
            reference_points = refined.detach()
            if self.return_intermediate:
                states.append(self.norm(query))
                references.append(refined)
        if self.return_intermediate:
            return torch.stack(states), torch.stack(references)
        return query, reference_points
