"""Rasterise the annotators' raw regions into the annotator-count map (mmseg
pipelines)."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..rasterize import RegionError, annotator_count_map, parse_bbox_info

# mmseg pads and ignores label 255; a count must stay below it.
IGNORE_INDEX = 255


@TRANSFORMS.register_module()
class LoadHeatmapAnnotations(BaseTransform):
    """Load the dense distortion target of one image as an annotator-count
    map.

    ``gt_seg_map`` becomes the number of annotators that marked each pixel
    (uint8, each annotator's own regions OR-ed first), computed by the
    converter's rasteriser
    (:func:`struct_det.datasets.rasterize.annotator_count_map`) at the size
    the converter read from the image header. As an integer label map it
    goes through mmseg's and mmcv's geometric transforms (``Resize``,
    ``RandomFlip``, ``RandomCrop``, ``Pad``: nearest interpolation, padding
    255 = ignore) unchanged in meaning; :class:`PackHeatmapInputs` splits it
    into the binary consensus map and the soft agreement map at the end of
    the pipeline. ``num_annotators`` and ``min_annotators`` go into the
    results for that.

    Place it after ``Resize`` in test pipelines (the metric sees the target
    at the original size), as mmseg does with ``LoadAnnotations``. Records
    without regions (unlabelled splits) load no target.

    Required keys: ``img_path``, ``annotator_regions``, ``min_annotators``,
    ``height``, ``width`` (from :class:`EvalMuseHeatmapDataset`), ``img`` or
    ``ori_shape``. Added keys: ``gt_seg_map``, ``num_annotators``;
    ``seg_fields`` gains ``gt_seg_map``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Rasterise the regions of one record.

        Args:
            results (dict): The pipeline's dict.

        Returns:
            dict: ``results`` with the count map.

        Raises:
            ValueError: Regions that cannot be rasterised, too many
                annotators, or an image whose decoded size differs from the
                converted one (naming it).
        """
        regions = results.get('annotator_regions')
        if regions is None:
            return results
        where = results.get('img_path', '<array>')
        height, width = results.get('height'), results.get('width')
        ori = results.get('ori_shape')
        if ori is not None:
            if height is not None and (int(height), int(width)) != tuple(
                    ori[:2]):
                raise ValueError(
                    f'{where}: the COCO file says {height}x{width} (height x '
                    f'width) but the image decodes to {ori[0]}x{ori[1]}; '
                    're-convert the info file against these images')
            height, width = ori[:2]
        if height is None or width is None:
            raise ValueError(
                f'{where}: the record has no height/width and no image was '
                'loaded before LoadHeatmapAnnotations')
        try:
            parsed = parse_bbox_info(regions)
        except RegionError as err:
            raise ValueError(
                f'{where}: annotator_regions cannot be rasterised ({err}); '
                're-run the converter, which validates them') from None
        if len(parsed) >= IGNORE_INDEX:
            raise ValueError(
                f'{where}: {len(parsed)} annotators; the count map holds '
                f'at most {IGNORE_INDEX - 1} (255 is the ignore label)')
        counts = annotator_count_map(parsed, int(height), int(width))
        results['gt_seg_map'] = counts.astype(np.uint8, copy=False)
        results['num_annotators'] = len(parsed)
        results.setdefault('min_annotators', 2)
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
