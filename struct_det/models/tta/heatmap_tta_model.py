"""Test-time augmentation of heatmap segmentors: mmseg's SegTTAModel, right
for one channel."""
from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import MODELS

from .utils import WrappedModelInit


@MODELS.register_module()
class HeatmapTTAModel(WrappedModelInit, SegTTAModel):
    """mmseg's ``SegTTAModel`` (flips, scales) for heatmaps, and for the
    score.

    Each view goes through the segmentor's ``test_step``, whose post-processing
    already un-flips the logits, resizes them to the original image and, for a
    one-channel model, applies the sigmoid. ``SegTTAModel`` applies the sigmoid
    a second time and keeps only the binarised map; this model averages the
    views' heatmaps as they are (softmax first for multi-channel models),
    stores the mean in ``seg_logits`` (what :class:`StructureMetric`
    thresholds), binarises it at the head's ``threshold`` into ``pred_sem_seg``
    (what mmseg's ``IoUMetric`` reads) and averages ``pred_score`` where the
    segmentor predicts one. The merged sample is the first view's (its GT and
    metainfo), with ``metainfo['num_tta_views']``.

    Args:
        module (dict | nn.Module): The segmentor or its config.
        data_preprocessor (dict | nn.Module, optional): Overrides the
            segmentor's data preprocessor if given. Defaults to None.
    """

    # mmseg's registry and scope, whatever the caller's default scope is
    wrapped_registry = MODELS
    wrapped_scope = 'mmseg'

    def _probabilities(self, sample) -> torch.Tensor:
        """The per-class probabilities of one view, ``(C, H, W)``."""
        if 'seg_logits' not in sample:
            raise KeyError(
                'HeatmapTTAModel: a view of '
                f'{sample.metainfo.get("img_path")} has no seg_logits; wrap '
                'an mmseg segmentor')
        data = sample.seg_logits.data.float()
        if self.module.out_channels > 1:
            return data.softmax(dim=0)
        return data  # one channel: already sigmoid-ed by postprocess_result

    def merge_preds(self, data_samples_list: List[list]) -> list:
        """Merges the views of each image.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, its
                views' predicted samples.

        Returns:
            list[SegDataSample]: one sample per image.
        """
        merged = []
        for views in data_samples_list:
            probs = torch.stack([self._probabilities(v)
                                 for v in views]).mean(0)
            sample = views[0]
            sample.seg_logits = PixelData(data=probs)
            if self.module.out_channels == 1:
                pred = (probs > self.module.decode_head.threshold).to(probs)
            else:
                pred = probs.argmax(dim=0, keepdim=True)
            sample.pred_sem_seg = PixelData(data=pred)
            scores = [
                v.pred_score.reshape(-1).float() for v in views
                if 'pred_score' in v
            ]
            if scores:
                if len(scores) != len(views):
                    raise ValueError(
                        'HeatmapTTAModel: only some views of '
                        f'{sample.metainfo.get("img_path")} have a pred_score')
                sample.pred_score = torch.stack(scores).mean(0)
            sample.set_metainfo(dict(num_tta_views=len(views)))
            merged.append(sample)
        return merged
