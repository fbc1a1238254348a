"""The EvalMuse-Structure dataset in COCO form (see ``tools/dataset_converters``)."""
import math
from typing import Optional, Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class EvalMuseStructureDataset(CocoDataset):
    """Structural distortions of generated images, one class ``distortion``.

    A ``CocoDataset`` whose image records (written by the converter) also carry the
    structure MOS and the prompt. Both land in every data info, so
    ``PackDetInputs(meta_keys=(..., 'mos', 'prompt'))`` hands them to the model (the score
    regressor's target) and to ``StructureMetric``. Unlabeled splits (the challenge's
    val/test) have ``mos=None``.

    Instance masks are COCO RLE and load with mmdet's
    ``LoadAnnotations(with_mask=True)``; the union of an image's instance masks is its
    consensus mask.
    """

    METAINFO = {'classes': ('distortion', ), 'palette': [(220, 20, 60)]}

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, list]:
        """Adds ``mos`` and ``prompt`` to mmdet's parsed COCO record.

        Args:
            raw_data_info: ``raw_img_info`` and ``raw_ann_info`` of one image.

        Returns:
            dict: the data info with ``mos`` (float or None) and ``prompt`` (str).
        """
        data_info = super().parse_data_info(raw_data_info)
        img_info = raw_data_info['raw_img_info']
        data_info['mos'] = self._checked_mos(img_info)
        data_info['prompt'] = img_info.get('prompt', '')
        return data_info

    def _checked_mos(self, img_info: dict) -> Optional[float]:
        mos = img_info.get('mos')
        if mos is None:
            return None
        try:
            value = float(mos)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(
                f'{self.ann_file}: image {img_info.get("file_name")!r} has mos={mos!r}; '
                'expected a number in [1, 5] (re-run the converter on the info file)')
        return value
