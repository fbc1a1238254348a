"""mmseg's EncoderDecoder with an optional score head: regions and score from
one model.
"""
from typing import List, Optional

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix


@MODELS.register_module()
class HeatmapSegmentor(EncoderDecoder):
    """A distortion-heatmap segmentor that can also score the image.

    Exactly mmseg's ``EncoderDecoder`` (backbone, optional neck, decode head,
    auxiliary heads, ``whole`` / ``slide`` inference, mmseg's post-processing:
    ``seg_logits`` holds the sigmoid heatmap at the original size,
    ``pred_sem_seg`` its binarisation at the head's ``threshold``) plus an
    optional ``score_head`` on the same backbone features (e.g.
    :class:`PooledScoreHead`): trained on each sample's ``mos`` beside the
    heatmap losses, and at test time every sample gets ``pred_score`` (shape
    ``(1,)``), which :class:`StructureMetric` and the submission writer read.

    Args:
        backbone (dict): e.g. :class:`TimmViT`.
        decode_head (dict): e.g. :class:`UNetHeatmapHead`.
        score_head (dict, optional): the score branch, or None for a
            heatmap-only model. Defaults to None.
        **kwargs: the rest of ``EncoderDecoder``'s arguments (``neck``,
            ``auxiliary_head``, ``train_cfg``, ``test_cfg``,
            ``data_preprocessor``, ``pretrained``, ``init_cfg``).
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 score_head: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
        self.score_head = MODELS.build(
            score_head) if score_head is not None else None

    @property
    def with_score_head(self) -> bool:
        """bool: whether the model predicts the structure score."""
        return self.score_head is not None

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        """Heatmap (and auxiliary) losses, plus the score losses with a score
        head.

        Args:
            inputs (torch.Tensor): ``(N, 3, H, W)`` images.
            data_samples (list[SegDataSample]): samples with ``gt_heatmap``,
                ``gt_sem_seg`` and ``mos``.

        Returns:
            dict: the losses (``decode.*``, ``aux.*``, ``score.*``).
        """
        x = self.extract_feat(inputs)
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.with_score_head:
            losses.update(
                add_prefix(self.score_head.loss(x, data_samples), 'score'))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples=None) -> List:
        """Heatmaps (and scores) at the original image size.

        Args:
            inputs (torch.Tensor): ``(N, 3, H, W)`` images.
            data_samples (list[SegDataSample], optional): their samples
                (metainfo), or None. Defaults to None.

        Returns:
            list[SegDataSample]: with ``seg_logits`` (the heatmap, sigmoid),
                ``pred_sem_seg`` and, with a score head, ``pred_score``.
        """
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            batch_img_metas = [
                dict(
                    ori_shape=inputs.shape[2:],
                    img_shape=inputs.shape[2:],
                    pad_shape=inputs.shape[2:],
                    padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        scores = None
        if self.test_cfg.get('mode', 'whole') == 'whole':
            # One backbone pass serves both heads.
            x = self.extract_feat(inputs)
            seg_logits = self.decode_head.predict(x, batch_img_metas,
                                                  self.test_cfg)
            if self.with_score_head:
                scores = self.score_head(x)
        else:
            seg_logits = self.inference(inputs, batch_img_metas)
            if self.with_score_head:
                scores = self.score_head(self.extract_feat(inputs))
        results = self.postprocess_result(seg_logits, data_samples)
        if scores is not None:
            for sample, score in zip(results, scores):
                sample.pred_score = score.detach().reshape(1).float()
        return results

    def _forward(self, inputs: torch.Tensor, data_samples=None):
        """Raw outputs: the decode head's logits (and the scores with a score
        head).
        """
        x = self.extract_feat(inputs)
        logits = self.decode_head.forward(x)
        if not self.with_score_head:
            return logits
        return logits, self.score_head(x)
