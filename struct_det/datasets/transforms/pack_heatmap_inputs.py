"""Pack the consensus map and the soft agreement map into a SegDataSample."""
from typing import Sequence

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .load_heatmap_annotations import IGNORE_INDEX

#: mmseg's default meta keys plus what the structure metric and the score
#: head read.
HEATMAP_META_KEYS = ('img_path', 'img_id', 'ori_shape', 'img_shape',
                     'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                     'reduce_zero_label', 'mos', 'prompt', 'num_annotators',
                     'min_annotators')


@TRANSFORMS.register_module()
class PackHeatmapInputs(PackSegInputs):
    """``PackSegInputs`` that splits the annotator-count map into the two
    dense targets.

    From the ``gt_seg_map`` of :class:`LoadHeatmapAnnotations` (annotator
    counts, 255 = padding/ignore) it packs

    * ``gt_sem_seg``: the binary consensus map, 1 where at least
      ``min_annotators`` annotators agree (the converter's consensus mask),
      255 kept as ignore: what mmseg's ``IoUMetric`` and
      :class:`StructureMetric` score;
    * ``gt_heatmap``: the soft agreement map, ``count / num_annotators`` as
      float32 (0 at ignored pixels), what the heatmap head regresses.

    Samples without a count map (unlabelled images) are packed as by
    ``PackSegInputs``.

    Args:
        meta_keys (Sequence[str]): Metainfo to keep; by default mmseg's plus
            ``img_id``, ``mos``, ``prompt``, ``num_annotators`` and
            ``min_annotators``.
    """

    def __init__(self, meta_keys: Sequence[str] = HEATMAP_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack the image, the two targets and the metainfo.

        Args:
            results (dict): The pipeline's dict.

        Returns:
            dict: ``inputs`` and ``data_samples`` (a ``SegDataSample``).
        """
        counts = results.get('gt_seg_map')
        if counts is None:
            return super().transform(results)
        if 'num_annotators' not in results:
            raise KeyError(
                f'{results.get("img_path")}: PackHeatmapInputs needs the '
                'count map of LoadHeatmapAnnotations (no num_annotators in '
                'results)')
        counts = np.asarray(counts)
        ignore = counts == IGNORE_INDEX
        num = int(results['num_annotators'])
        k = int(results.get('min_annotators', 2))
        consensus = (counts >= k).astype(np.uint8)
        consensus[ignore] = IGNORE_INDEX
        soft = counts.astype(np.float32) / max(num, 1)
        soft[ignore] = 0.0
        packed = super().transform(dict(results, gt_seg_map=consensus))
        packed['data_samples'].set_data(
            dict(
                gt_heatmap=PixelData(
                    data=torch.from_numpy(np.ascontiguousarray(soft))[None])))
        return packed
