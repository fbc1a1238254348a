"""The EvalMuse-Structure dataset in COCO form.

The COCO files are written by ``tools/dataset_converters``.
"""
from typing import Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .image_record import checked_mos


@DATASETS.register_module()
class EvalMuseStructureDataset(CocoDataset):
    """Structural distortions of generated images, one class ``distortion``.

    A ``CocoDataset`` whose image records (written by the converter) also
    carry the structure MOS and the prompt. Both land in every data info, so
    ``PackDetInputs(meta_keys=(..., 'mos', 'prompt'))`` hands them to the
    model (the score regressor's target) and to ``StructureMetric``.
    Unlabeled splits (the challenge's val/test) have ``mos=None``.

    Instance masks are COCO RLE and load with mmdet's
    ``LoadAnnotations(with_mask=True)``; the union of an image's instance
    masks is its consensus mask.
    """

    METAINFO = {'classes': ('distortion', ), 'palette': [(220, 20, 60)]}

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, list]:
        """Add ``mos`` and ``prompt`` to mmdet's parsed COCO record.

        Args:
            raw_data_info (dict): ``raw_img_info`` and ``raw_ann_info`` of
                one image.

        Returns:
            dict: The data info with ``mos`` (float or None) and ``prompt``
                (str).
        """
        data_info = super().parse_data_info(raw_data_info)
        img_info = raw_data_info['raw_img_info']
        data_info['mos'] = checked_mos(img_info, self.ann_file)
        data_info['prompt'] = img_info.get('prompt', '')
        return data_info
