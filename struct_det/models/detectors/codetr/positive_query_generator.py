# Copyright (c) struct_det contributors. All rights reserved.
"""Customized positive queries of Co-DETR.

Each auxiliary head of Co-DETR (ATSS, Faster R-CNN, ...) assigns its priors
to the ground truth one-to-many. The boxes it assigned become an extra group
of decoder queries: the query starts at the prior box, its content is an
embedding of that box, and its target is the ground-truth box the auxiliary
head matched it to, so the decoder is trained on many more positives than the
one-to-one Hungarian matching gives it.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.models.detectors.deformable_detr import DeformableDETR
from mmdet.models.layers.transformer import inverse_sigmoid
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_xyxy_to_cxcywh
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn


def positive_query_attn_mask(base_mask: Optional[Tensor], num_base: int,
                             group_sizes: Sequence[int],
                             device: torch.device) -> Tensor:
    """Self-attention mask that isolates every positive-query group.

    The queries are laid out as ``[base queries | group 0 | group 1 | ...]``
    where the base part holds DINO's denoising and matching queries. A
    ``True`` entry forbids attention. Base queries keep ``base_mask``; a group
    only sees itself, and nothing outside a group sees into it, so one decoder
    pass over all groups equals separate passes per group.

    Args:
        base_mask (Tensor, optional): Mask of the base queries, shape
            (num_base, num_base), or None when they may all attend each other.
        num_base (int): Number of base queries.
        group_sizes (Sequence[int]): Number of queries of each group.
        device (torch.device): Device of the returned mask.

    Returns:
        Tensor: Bool mask of shape (total, total), total = num_base +
            sum(group_sizes).
    """
    total = num_base + int(sum(group_sizes))
    mask = torch.ones((total, total), dtype=torch.bool, device=device)
    if base_mask is None:
        mask[:num_base, :num_base] = False
    else:
        mask[:num_base, :num_base] = base_mask
    start = num_base
    for size in group_sizes:
        mask[start:start + size, start:start + size] = False
        start += size
    return mask


@MODELS.register_module()
class PositiveQueryGenerator(BaseModule):
    """Turn the positive boxes of auxiliary heads into decoder query groups.

    For every group (one per auxiliary head) and image, all positive priors
    are kept up to ``max_queries_per_group`` (randomly subsampled above it);
    the batch is padded to a common length of at least
    ``min_queries_per_group`` with negative priors of the same head, which
    are trained towards background like in the original Co-DETR.

    Args:
        num_groups (int): Number of positive-query groups (auxiliary heads).
        embed_dims (int): Embedding size of the decoder queries.
        num_classes (int): Number of foreground classes; label ``num_classes``
            marks a negative prior.
        max_queries_per_group (int): Upper bound of queries per image and
            group. Defaults to 300.
        min_queries_per_group (int): Lower bound of the padded group length.
            Defaults to 9.
        temperature (int): Temperature of the sine box embedding.
            Defaults to 10000.
        clamp_references (bool): Clamp the normalised priors and targets to
            [0, 1]. Defaults to False: like the released Co-DINO models
            (mmdetection's ``projects/CO-DETR``) a prior larger than the image
            (an ATSS anchor of a small or unpadded image) stays the decoder's
            reference as it is; its content embedding and the head's
            inverse sigmoid clamp it anyway.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 num_groups: int,
                 embed_dims: int,
                 num_classes: int,
                 max_queries_per_group: int = 300,
                 min_queries_per_group: int = 9,
                 temperature: int = 10000,
                 clamp_references: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if min_queries_per_group < 1 or \
                max_queries_per_group < min_queries_per_group:
            raise ValueError(
                'PositiveQueryGenerator needs 1 <= min_queries_per_group <= '
                f'max_queries_per_group, got {min_queries_per_group} and '
                f'{max_queries_per_group}.')
        if embed_dims % 2 != 0:
            raise ValueError('PositiveQueryGenerator needs an even '
                             f'embed_dims, got {embed_dims}.')
        self.num_groups = num_groups
        self.embed_dims = embed_dims
        self.num_classes = num_classes
        self.max_queries_per_group = max_queries_per_group
        self.min_queries_per_group = min_queries_per_group
        self.temperature = temperature
        self.clamp_references = clamp_references
        # The sine embedding of a box has 4 * (embed_dims // 2) channels.
        self.pos_trans = nn.ModuleList(
            [nn.Linear(embed_dims * 2, embed_dims) for _ in range(num_groups)])
        self.pos_trans_norm = nn.ModuleList(
            [nn.LayerNorm(embed_dims) for _ in range(num_groups)])

    def init_weights(self) -> None:
        """Xavier-initialise the box projections like the other DETR
        linear layers."""
        super().init_weights()
        for linear in self.pos_trans:
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def embed_boxes(self, boxes: Tensor, group_idx: int) -> Tensor:
        """Content embedding of normalised (cx, cy, w, h) boxes.

        Args:
            boxes (Tensor): Normalised boxes, shape (bs, n, 4); values
                outside [0, 1] embed as the nearest bound.
            group_idx (int): Which group's projection to use.

        Returns:
            Tensor: Query content of shape (bs, n, embed_dims).
        """
        sine = DeformableDETR.get_proposal_pos_embed(
            inverse_sigmoid(boxes),
            num_pos_feats=self.embed_dims // 2,
            temperature=self.temperature)
        return self.pos_trans_norm[group_idx](self.pos_trans[group_idx](sine))

    def _select_single(self, positives: InstanceData, img_shape: tuple,
                       num_queries: int) -> Tuple[Tensor, ...]:
        """Select and pad the queries of one group in one image."""
        priors = positives.priors
        labels = positives.labels
        targets = positives.bboxes
        device = priors.device
        is_pos = (labels >= 0) & (labels < self.num_classes)
        pos_inds = is_pos.nonzero().squeeze(1)
        neg_inds = (~is_pos).nonzero().squeeze(1)
        if pos_inds.numel() > num_queries:
            keep = torch.randperm(pos_inds.numel(), device=device)
            pos_inds = pos_inds[keep[:num_queries]]
        num_pad = num_queries - pos_inds.numel()
        if neg_inds.numel() > num_pad:
            keep = torch.randperm(neg_inds.numel(), device=device)
            neg_inds = neg_inds[keep[:num_pad]]
        inds = torch.cat([pos_inds, neg_inds])
        num_pos = pos_inds.numel()
        num_dummy = num_queries - inds.numel()

        img_h, img_w = img_shape[:2]
        factor = priors.new_tensor([img_w, img_h, img_w, img_h])
        boxes = bbox_xyxy_to_cxcywh(priors[inds] / factor)
        box_targets = bbox_xyxy_to_cxcywh(targets[inds] / factor)
        if self.clamp_references:
            boxes = boxes.clamp(0, 1)
            box_targets = box_targets.clamp(0, 1)
        query_labels = labels[inds].clone()
        query_labels[num_pos:] = self.num_classes
        label_weights = priors.new_ones(inds.numel())
        if num_dummy > 0:
            # Too few priors to fill the group: whole-image boxes that carry
            # no loss keep the batch rectangular.
            boxes = torch.cat([
                boxes,
                priors.new_tensor([[.5, .5, 1., 1.]]).repeat(num_dummy, 1)
            ])
            box_targets = torch.cat(
                [box_targets, boxes.new_zeros((num_dummy, 4))])
            query_labels = torch.cat([
                query_labels,
                query_labels.new_full((num_dummy, ), self.num_classes)
            ])
            label_weights = torch.cat(
                [label_weights,
                 label_weights.new_zeros(num_dummy)])
        bbox_weights = boxes.new_zeros((num_queries, 4))
        bbox_weights[:num_pos] = 1.0
        return (boxes, query_labels, label_weights, box_targets, bbox_weights)

    def forward(self, group_positives: List[List[InstanceData]],
                batch_img_metas: List[dict]) -> Tuple[Tensor, Tensor, Dict]:
        """Build the positive query groups of a batch.

        Args:
            group_positives (list[list[InstanceData]]): For each group, one
                ``InstanceData`` per image with ``priors`` (n, 4) xyxy boxes
                in the input image, ``labels`` (n, ) with ``num_classes`` for
                negatives and ``bboxes`` (n, 4) xyxy target boxes.
            batch_img_metas (list[dict]): Image metas with ``img_shape``.

        Returns:
            tuple: ``(query, reference_points, meta)``:

            - query (Tensor): (bs, num_pos_queries, embed_dims).
            - reference_points (Tensor): (bs, num_pos_queries, 4) normalised
              (cx, cy, w, h) boxes (outside [0, 1] where a prior is larger
              than the image, unless ``clamp_references``).
            - meta (dict): ``group_sizes`` (list[int]), ``num_queries``
              (int), and per-group targets ``labels`` (bs, n),
              ``label_weights`` (bs, n), ``bbox_targets`` (bs, n, 4)
              normalised cxcywh and ``bbox_weights`` (bs, n, 4) as lists.
        """
        if len(group_positives) != self.num_groups:
            raise ValueError(
                f'PositiveQueryGenerator was built for {self.num_groups} '
                f'auxiliary heads but got positives of '
                f'{len(group_positives)}; set num_groups to the number of '
                'roi heads plus auxiliary dense heads.')
        queries, references = [], []
        meta = dict(
            group_sizes=[],
            labels=[],
            label_weights=[],
            bbox_targets=[],
            bbox_weights=[])
        for group_idx, positives in enumerate(group_positives):
            num_pos = [
                int(((p.labels >= 0) & (p.labels < self.num_classes)).sum())
                for p in positives
            ]
            num_queries = min(self.max_queries_per_group, max(num_pos))
            num_queries = max(self.min_queries_per_group, num_queries)
            per_img = [
                self._select_single(p, meta_i['img_shape'], num_queries)
                for p, meta_i in zip(positives, batch_img_metas)
            ]
            boxes, labels, label_weights, box_targets, bbox_weights = [
                torch.stack(items) for items in zip(*per_img)
            ]
            queries.append(self.embed_boxes(boxes, group_idx))
            references.append(boxes)
            meta['group_sizes'].append(num_queries)
            meta['labels'].append(labels)
            meta['label_weights'].append(label_weights)
            meta['bbox_targets'].append(box_targets)
            meta['bbox_weights'].append(bbox_weights)
        meta['num_queries'] = int(sum(meta['group_sizes']))
        return torch.cat(queries, 1), torch.cat(references, 1), meta
