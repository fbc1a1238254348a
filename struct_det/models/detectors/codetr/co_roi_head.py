# Copyright (c) struct_det contributors. All rights reserved.
"""Faster R-CNN RoI head of Co-DETR that also hands out its sampled boxes."""
from typing import List, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor


@MODELS.register_module()
class CoStandardRoIHead(StandardRoIHead):
    """RoI head used as a Co-DETR auxiliary head.

    Trains like :class:`StandardRoIHead` (box head and, when configured, the
    mask head, which is Co-DETR's instance-mask branch: at test time the
    detector applies it to the final DETR boxes). In addition
    :meth:`loss_and_positives` returns the sampled proposals with their
    assigned labels and ground-truth boxes for the customized positive
    queries of the decoder.
    """

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: List[DetDataSample]) -> dict:
        """Losses of the RoI head; see :meth:`StandardRoIHead.loss`."""
        losses, _ = self.loss_and_positives(x, rpn_results_list,
                                            batch_data_samples)
        return losses

    def loss_and_positives(
            self, x: Tuple[Tensor], rpn_results_list: InstanceList,
            batch_data_samples: List[DetDataSample]
    ) -> Tuple[dict, InstanceList]:
        """Compute the RoI losses and collect the sampled proposals.

        Args:
            x (tuple[Tensor]): Multi-level features, each (bs, c, h, w).
            rpn_results_list (list[:obj:`InstanceData`]): Proposals with
                ``bboxes``; they are not modified.
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples
                with ``gt_instances`` (and ``masks`` for the mask head).

        Returns:
            tuple: ``(losses, positives)``; ``positives`` holds one
                ``InstanceData`` per image with ``priors`` (sampled proposals,
                xyxy), ``labels`` (``num_classes`` for negatives) and target
                ``bboxes`` (xyxy, zeros for negatives).
        """
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(
                f'CoStandardRoIHead got proposals for {len(rpn_results_list)}'
                f' images but {len(batch_data_samples)} data samples.')
        batch_gt_instances, batch_gt_instances_ignore, _ = \
            unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for img_id, proposals in enumerate(rpn_results_list):
            priors = InstanceData(
                priors=proposals.bboxes,
                scores=proposals.scores,
                labels=proposals.labels)
            assign_result = self.bbox_assigner.assign(
                priors, batch_gt_instances[img_id],
                batch_gt_instances_ignore[img_id])
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result,
                    priors,
                    batch_gt_instances[img_id],
                    feats=[lvl_feat[img_id][None] for lvl_feat in x]))

        losses = dict()
        bbox_results = self.bbox_loss(x, sampling_results)
        losses.update(bbox_results['loss_bbox'])
        if self.with_mask:
            mask_results = self.mask_loss(x, sampling_results,
                                          bbox_results['bbox_feats'],
                                          batch_gt_instances)
            losses.update(mask_results['loss_mask'])

        num_classes = self.bbox_head.num_classes
        positives = []
        for res in sampling_results:
            num_neg = res.neg_priors.size(0)
            positives.append(
                InstanceData(
                    priors=torch.cat([res.pos_priors,
                                      res.neg_priors]).detach(),
                    labels=torch.cat([
                        res.pos_gt_labels,
                        res.pos_gt_labels.new_full((num_neg, ), num_classes)
                    ]),
                    bboxes=torch.cat([
                        res.pos_gt_bboxes,
                        res.pos_gt_bboxes.new_zeros((num_neg, 4))
                    ]).detach()))
        return losses, positives
