# Copyright (c) struct_det contributors. All rights reserved.
"""ATSS auxiliary head of Co-DETR that also hands out its positive boxes."""
from typing import List, Tuple

import torch
from mmdet.models.dense_heads import ATSSHead
from mmdet.models.utils import multi_apply, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from mmengine.structures import InstanceData
from torch import Tensor


@MODELS.register_module()
class CoATSSHead(ATSSHead):
    """One-to-many ATSS head used as a Co-DETR auxiliary head.

    Training is ATSS's own; in addition :meth:`loss_and_positives` returns,
    for every image, the anchors with the label and ground-truth box ATSS
    assigned to them. Positives become customized positive queries of the
    DETR decoder; negatives (label ``num_classes``) pad the query group.
    """

    def loss_and_positives(
            self, x: Tuple[Tensor],
            batch_data_samples: SampleList) -> Tuple[dict, InstanceList]:
        """Compute the ATSS losses and collect the assigned anchors.

        Args:
            x (tuple[Tensor]): Multi-level features, each (bs, c, h, w).
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples
                with ``gt_instances``.

        Returns:
            tuple: ``(losses, positives)`` where ``positives`` holds one
                ``InstanceData`` per image with ``priors`` (anchors, xyxy),
                ``labels`` and target ``bboxes`` (xyxy).
        """
        batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = \
            unpack_gt_instances(batch_data_samples)
        cls_scores, bbox_preds, centernesses = self(x)
        return self.loss_and_positives_by_feat(cls_scores, bbox_preds,
                                               centernesses,
                                               batch_gt_instances,
                                               batch_img_metas,
                                               batch_gt_instances_ignore)

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            centernesses: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """ATSS losses; see :meth:`ATSSHead.loss_by_feat`."""
        losses, _ = self.loss_and_positives_by_feat(cls_scores, bbox_preds,
                                                    centernesses,
                                                    batch_gt_instances,
                                                    batch_img_metas,
                                                    batch_gt_instances_ignore)
        return losses

    def loss_and_positives_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        centernesses: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Tuple[dict, InstanceList]:
        """ATSS losses plus the per-image assigned anchors.

        Args:
            cls_scores (list[Tensor]): Per level (bs, A * C, h, w).
            bbox_preds (list[Tensor]): Per level (bs, A * 4, h, w).
            centernesses (list[Tensor]): Per level (bs, A, h, w).
            batch_gt_instances (list[:obj:`InstanceData`]): Ground truth.
            batch_img_metas (list[dict]): Image metas.
            batch_gt_instances_ignore (list[:obj:`InstanceData`], optional):
                Ignored instances.

        Returns:
            tuple: ``(losses, positives)``, see :meth:`loss_and_positives`.
        """
        featmap_sizes = [featmap.size()[-2:] for featmap in bbox_preds]
        if len(featmap_sizes) != self.prior_generator.num_levels:
            raise ValueError(
                f'CoATSSHead got {len(featmap_sizes)} feature levels but its '
                f'anchor generator has {self.prior_generator.num_levels} '
                'strides; give one stride per auxiliary feature level.')
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=device)
        (anchors_lvl, labels_lvl, label_weights_lvl, bbox_targets_lvl, _,
         avg_factor) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore)
        avg_factor = reduce_mean(
            torch.tensor(avg_factor, dtype=torch.float, device=device)).item()
        losses_cls, losses_bbox, losses_centerness, bbox_avg_factor = \
            multi_apply(
                self.loss_by_feat_single,
                anchors_lvl,
                cls_scores,
                bbox_preds,
                centernesses,
                labels_lvl,
                label_weights_lvl,
                bbox_targets_lvl,
                avg_factor=avg_factor)
        bbox_avg_factor = reduce_mean(
            sum(bbox_avg_factor)).clamp_(min=1).item()
        losses = dict(
            loss_cls=losses_cls,
            loss_bbox=[loss / bbox_avg_factor for loss in losses_bbox],
            loss_centerness=losses_centerness)
        positives = self._collect_positives(anchors_lvl, labels_lvl,
                                            label_weights_lvl,
                                            bbox_targets_lvl)
        return losses, positives

    def _collect_positives(self, anchors_lvl: List[Tensor],
                           labels_lvl: List[Tensor],
                           label_weights_lvl: List[Tensor],
                           bbox_targets_lvl: List[Tensor]) -> InstanceList:
        """Regroup the level-major targets into one record per image."""
        anchors = torch.cat(anchors_lvl, 1).detach()
        labels = torch.cat(labels_lvl, 1)
        label_weights = torch.cat(label_weights_lvl, 1)
        bbox_targets = torch.cat(bbox_targets_lvl, 1).detach()
        positives = []
        for img_id in range(anchors.size(0)):
            # Anchors outside the image carry no weight; they are not
            # meaningful queries either.
            valid = label_weights[img_id] > 0
            priors = anchors[img_id][valid]
            targets = bbox_targets[img_id][valid]
            img_labels = labels[img_id][valid]
            if not self.reg_decoded_bbox:
                targets = self.bbox_coder.decode(priors, targets)
            positives.append(
                InstanceData(priors=priors, labels=img_labels, bboxes=targets))
        return positives
