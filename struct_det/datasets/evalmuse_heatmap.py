"""The EvalMuse-Structure COCO files as a dense (semantic segmentation)
dataset for mmseg."""
import os.path as osp
from typing import List, Optional

from mmengine.fileio import get_local_path, load
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .image_record import checked_mos


@DATASETS.register_module()
class EvalMuseHeatmapDataset(BaseSegDataset):
    """Distortion heatmaps from the converter's COCO files: no second
    conversion step.

    The converter keeps every annotator's raw regions in the image records
    (``annotator_regions``) and the consensus threshold in
    ``info.min_annotators``; this dataset hands both to
    :class:`LoadHeatmapAnnotations`, which rasterises them with the
    converter's own rules into the annotator-count map.
    :class:`PackHeatmapInputs` turns it into the two dense targets: the soft
    agreement map (fraction of annotators covering each pixel: 0, 1/3, 2/3, 1
    for three annotators) as ``gt_heatmap`` and the binary consensus map
    (>= K annotators, the union of the COCO instances pixel for pixel) as
    ``gt_sem_seg``. The MOS and prompt ride along as in
    ``EvalMuseStructureDataset``.

    Unlabelled files (``info.labeled`` false: the challenge's val/test
    images) give samples without ground truth (``annotator_regions`` None,
    ``mos`` None).

    Args:
        ann_file (str): The converter's COCO JSON.
        min_annotators (int, optional): Consensus threshold K; None (default)
            takes the converter's ``info.min_annotators`` so the binary map
            equals the stored instances.
        data_prefix (dict): ``dict(img_path=...)``, the image folder (joined
            to ``data_root``).
        **kwargs: The rest of mmseg's ``BaseSegDataset`` arguments.
    """

    METAINFO = dict(
        classes=('background', 'distortion'),
        palette=[[0, 0, 0], [220, 20, 60]])

    def __init__(self,
                 ann_file: str = '',
                 min_annotators: Optional[int] = None,
                 data_prefix: dict = dict(img_path=''),
                 **kwargs) -> None:
        if min_annotators is not None and (isinstance(
                min_annotators, bool) or not isinstance(min_annotators, int)
                                           or min_annotators < 1):
            raise ValueError(
                'EvalMuseHeatmapDataset: min_annotators must be an integer '
                f'>= 1 or None, got {min_annotators!r}')
        self.min_annotators = min_annotators
        kwargs.setdefault('img_suffix', '.jpg')
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the COCO file into one data info per image.

        Returns:
            list[dict]: ``img_path``, ``img_id``, ``height``/``width`` (from
                the image header, as the converter read them),
                ``annotator_regions`` (None when unlabelled),
                ``min_annotators``, ``mos`` and ``prompt``.

        Raises:
            ValueError: If the file is not a converter COCO file, or a
                labelled record lacks its regions or has a bad MOS (naming
                the file and the image).
        """
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as path:
            coco = load(path, file_format='json')
        if not isinstance(coco, dict) or not isinstance(
                coco.get('images'), list):
            raise ValueError(
                f'{self.ann_file}: not a COCO file with an "images" list; '
                'convert the EvalMuse info file with '
                'tools/dataset_converters/evalmuse_structure.py')
        info = coco.get('info') or {}
        labeled = bool(
            info.get('labeled',
                     any('annotator_regions' in img
                         for img in coco['images'])))
        k = self.min_annotators or int(info.get('min_annotators', 2))
        img_dir = self.data_prefix.get('img_path', '') or ''
        data_list = []
        for img in coco['images']:
            name = img.get('file_name')
            if not isinstance(name, str) or 'id' not in img:
                raise ValueError(
                    f'{self.ann_file}: an image record lacks "file_name" or '
                    f'"id": {str(img)[:200]}')
            regions = img.get('annotator_regions')
            if labeled and regions is None:
                raise ValueError(
                    f'{self.ann_file}: image {name!r} has no '
                    '"annotator_regions" in a labelled file; it was written '
                    'by an older converter: re-run '
                    'tools/dataset_converters/evalmuse_structure.py on the '
                    'info file')
            data_list.append(
                dict(
                    img_path=osp.join(img_dir, name),
                    img_id=img['id'],
                    height=img.get('height'),
                    width=img.get('width'),
                    annotator_regions=regions,
                    min_annotators=k,
                    mos=checked_mos(img, self.ann_file),
                    prompt=img.get('prompt', ''),
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[]))
        return data_list
