# Copyright (c) struct_det contributors. All rights reserved.
"""DINO head of Co-DETR: adds the losses of the positive-query groups."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.ops import batched_nms
from mmdet.models.dense_heads import DINOHead
from mmdet.models.layers.transformer import inverse_sigmoid
from mmdet.models.losses import QualityFocalLoss
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_overlaps
from mmdet.utils import reduce_mean
from mmengine.structures import InstanceData
from torch import Tensor


@MODELS.register_module()
class CoDINOHead(DINOHead):
    """DINO head trained with Co-DETR's customized positive queries.

    The decoder output of a training step is laid out as
    ``[denoising | matching | positive group 0 | positive group 1 | ...]``.
    The first two parts get DINO's losses; every positive group is trained
    against the fixed targets its auxiliary head assigned (no Hungarian
    matching), with the head's own classification, L1 and IoU losses.

    At test time it behaves like :class:`DINOHead`, optionally followed by
    a score threshold (``test_cfg.score_thr``) and NMS (``test_cfg.nms``,
    e.g. ``dict(type='soft_nms', iou_threshold=0.8)`` as in Co-DINO).

    Args:
        pos_query_loss_weight (float | Sequence[float]): Weight of the losses
            of each positive-query group (one value for all, or one per
            group). Defaults to 1.0.
        inverse_sigmoid_eps (float): Clamp of the references before they
            are inverted (``inverse_sigmoid(ref, eps)``) and refined by the
            regression branches. Defaults to 1e-3, the value of the released
            Co-DINO models (mmdetection's ``projects/CO-DETR``); mmdet's
            :class:`DINOHead` uses 1e-5. It only matters for references
            within ``eps`` of 0 or 1, e.g. full-image boxes.
    """

    def __init__(self,
                 *args,
                 pos_query_loss_weight: Union[float, Sequence[float]] = 1.0,
                 inverse_sigmoid_eps: float = 1e-3,
                 **kwargs) -> None:
        if not 0 < inverse_sigmoid_eps < 0.5:
            raise ValueError('CoDINOHead.inverse_sigmoid_eps must be in '
                             f'(0, 0.5), got {inverse_sigmoid_eps}.')
        super().__init__(*args, **kwargs)
        self.pos_query_loss_weight = pos_query_loss_weight
        self.inverse_sigmoid_eps = inverse_sigmoid_eps

    def forward(self, hidden_states: Tensor,
                references: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Class scores and boxes of every decoder layer.

        :meth:`DeformableDETRHead.forward` with the references inverted at
        ``inverse_sigmoid_eps``.

        Args:
            hidden_states (Tensor): Decoder states, (num_layers, bs,
                num_queries, dim).
            references (list[Tensor]): Per layer the (bs, num_queries, 4)
                normalised cxcywh references the layer refines (the first is
                the decoder's initial reference).

        Returns:
            tuple[Tensor, Tensor]: Class logits (num_layers, bs, num_queries,
                cls_out_channels) and sigmoid boxes (num_layers, bs,
                num_queries, 4), normalised cxcywh.
        """
        all_cls_scores, all_bbox_preds = [], []
        for layer_id, hidden_state in enumerate(hidden_states):
            reference = inverse_sigmoid(
                references[layer_id], eps=self.inverse_sigmoid_eps)
            deltas = self.reg_branches[layer_id](hidden_state)
            if reference.shape[-1] == 4:
                deltas = deltas + reference
            else:
                deltas = torch.cat(
                    [deltas[..., :2] + reference, deltas[..., 2:]], -1)
            all_cls_scores.append(self.cls_branches[layer_id](hidden_state))
            all_bbox_preds.append(deltas.sigmoid())
        return torch.stack(all_cls_scores), torch.stack(all_bbox_preds)

    def _group_loss_weight(self, group_idx: int, num_groups: int) -> float:
        weights = self.pos_query_loss_weight
        if isinstance(weights, (int, float)):
            return float(weights)
        if len(weights) != num_groups:
            raise ValueError(
                f'CoDINOHead.pos_query_loss_weight has {len(weights)} values '
                f'but there are {num_groups} positive-query groups; give one '
                'weight per auxiliary head or a single float.')
        return float(weights[group_idx])

    def loss(self,
             hidden_states: Tensor,
             references: List[Tensor],
             enc_outputs_class: Tensor,
             enc_outputs_coord: Tensor,
             batch_data_samples: SampleList,
             dn_meta: Dict[str, int],
             pos_query_meta: Optional[dict] = None) -> dict:
        """Losses of DINO plus those of the positive-query groups.

        Args:
            hidden_states (Tensor): Decoder states, (num_layers, bs,
                num_queries_total, dim).
            references (list[Tensor]): Initial and per-layer references.
            enc_outputs_class (Tensor): Top-k encoder class scores.
            enc_outputs_coord (Tensor): Top-k encoder boxes.
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples.
            dn_meta (dict): Denoising layout, see :class:`DINOHead`.
            pos_query_meta (dict, optional): Layout and targets of the
                positive groups from :class:`PositiveQueryGenerator`; None
                when there are none.

        Returns:
            dict: Loss components.
        """
        batch_gt_instances = []
        batch_img_metas = []
        for data_sample in batch_data_samples:
            batch_img_metas.append(data_sample.metainfo)
            batch_gt_instances.append(data_sample.gt_instances)
        all_cls_scores, all_bbox_preds = self(hidden_states, references)
        num_pos_queries = 0 if pos_query_meta is None else \
            pos_query_meta['num_queries']
        num_base = all_cls_scores.size(2) - num_pos_queries
        losses = self.loss_by_feat(all_cls_scores[:, :, :num_base],
                                   all_bbox_preds[:, :, :num_base],
                                   enc_outputs_class, enc_outputs_coord,
                                   batch_gt_instances, batch_img_metas,
                                   dn_meta)
        if num_pos_queries > 0:
            losses.update(
                self.loss_pos_queries(all_cls_scores[:, :, num_base:],
                                      all_bbox_preds[:, :, num_base:],
                                      pos_query_meta, batch_img_metas))
        return losses

    def loss_pos_queries(self, all_cls_scores: Tensor, all_bbox_preds: Tensor,
                         pos_query_meta: dict,
                         batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Losses of all positive-query groups on all decoder layers.

        Args:
            all_cls_scores (Tensor): (num_layers, bs, num_pos_queries, C).
            all_bbox_preds (Tensor): (num_layers, bs, num_pos_queries, 4)
                normalised cxcywh.
            pos_query_meta (dict): Output meta of
                :class:`PositiveQueryGenerator`.
            batch_img_metas (list[dict]): Image metas.

        Returns:
            dict: ``pos{g}_loss_{cls,bbox,iou}`` for the last layer and
                ``d{l}.pos{g}_loss_*`` for the others.
        """
        losses = dict()
        group_sizes = pos_query_meta['group_sizes']
        num_layers = all_cls_scores.size(0)
        start = 0
        for group_idx, size in enumerate(group_sizes):
            weight = self._group_loss_weight(group_idx, len(group_sizes))
            targets = (pos_query_meta['labels'][group_idx],
                       pos_query_meta['label_weights'][group_idx],
                       pos_query_meta['bbox_targets'][group_idx],
                       pos_query_meta['bbox_weights'][group_idx])
            for layer_idx in range(num_layers):
                loss_cls, loss_bbox, loss_iou = self._loss_by_targets(
                    all_cls_scores[layer_idx, :, start:start + size],
                    all_bbox_preds[layer_idx, :, start:start + size], *targets,
                    batch_img_metas)
                prefix = '' if layer_idx == num_layers - 1 else \
                    f'd{layer_idx}.'
                losses[f'{prefix}pos{group_idx}_loss_cls'] = loss_cls * weight
                losses[f'{prefix}pos{group_idx}_loss_bbox'] = \
                    loss_bbox * weight
                losses[f'{prefix}pos{group_idx}_loss_iou'] = loss_iou * weight
            start += size
        return losses

    def _loss_by_targets(self, cls_scores: Tensor, bbox_preds: Tensor,
                         labels: Tensor, label_weights: Tensor,
                         bbox_targets: Tensor, bbox_weights: Tensor,
                         batch_img_metas: List[dict]) -> Tuple[Tensor, ...]:
        """Classification, L1 and IoU loss of one layer against fixed
        (already assigned) targets; shapes (bs, n, ...)."""
        cls_scores = cls_scores.reshape(-1, self.cls_out_channels)
        bbox_preds = bbox_preds.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        bbox_weights = bbox_weights.reshape(-1, 4)

        pos_inds = ((labels >= 0) &
                    (labels < self.num_classes)).nonzero().squeeze(1)
        num_pos = pos_inds.numel()
        num_neg = int((label_weights > 0).sum()) - num_pos
        cls_avg_factor = num_pos * 1.0 + num_neg * self.bg_cls_weight
        if self.sync_cls_avg_factor:
            cls_avg_factor = reduce_mean(
                cls_scores.new_tensor([cls_avg_factor]))
        cls_avg_factor = max(cls_avg_factor, 1)
        if isinstance(self.loss_cls, QualityFocalLoss):
            iou_scores = label_weights.new_zeros(labels.shape)
            iou_scores[pos_inds] = bbox_overlaps(
                bbox_cxcywh_to_xyxy(bbox_preds[pos_inds]).detach(),
                bbox_cxcywh_to_xyxy(bbox_targets[pos_inds]),
                is_aligned=True)
            loss_cls = self.loss_cls(
                cls_scores, (labels, iou_scores),
                weight=label_weights,
                avg_factor=cls_avg_factor)
        else:
            loss_cls = self.loss_cls(
                cls_scores, labels, label_weights, avg_factor=cls_avg_factor)

        num_total_pos = torch.clamp(
            reduce_mean(loss_cls.new_tensor([num_pos])), min=1).item()
        num_per_img = bbox_preds.size(0) // len(batch_img_metas)
        factors = torch.cat([
            bbox_preds.new_tensor([w, h, w, h]).expand(num_per_img, 4)
            for h, w in (meta['img_shape'][:2] for meta in batch_img_metas)
        ])
        loss_iou = self.loss_iou(
            bbox_cxcywh_to_xyxy(bbox_preds) * factors,
            bbox_cxcywh_to_xyxy(bbox_targets) * factors,
            bbox_weights,
            avg_factor=num_total_pos)
        loss_bbox = self.loss_bbox(
            bbox_preds, bbox_targets, bbox_weights, avg_factor=num_total_pos)
        return loss_cls, loss_bbox, loss_iou

    def _predict_by_feat_single(self,
                                cls_score: Tensor,
                                bbox_pred: Tensor,
                                img_meta: dict,
                                rescale: bool = True) -> InstanceData:
        """DINO's top-k decoding, then optional score threshold and NMS."""
        results = super()._predict_by_feat_single(cls_score, bbox_pred,
                                                  img_meta, rescale)
        score_thr = self.test_cfg.get('score_thr', 0)
        if score_thr > 0:
            results = results[results.scores > score_thr]
        nms_cfg = self.test_cfg.get('nms', None)
        if nms_cfg is not None and len(results) > 0:
            det_bboxes, keep = batched_nms(results.bboxes, results.scores,
                                           results.labels, nms_cfg)
            results = results[keep]
            # soft-NMS decays the scores of overlapping boxes
            results.scores = det_bboxes[:, -1]
        return results
