"""Ground truths for the scorer (gt.pkl) from our COCO files.

The consensus mask of an image is the union of its instances' segmentations,
decoded with pycocotools the way ``COCO.annToMask`` decodes them (bit-equal on
the sample data), and brought to 512x512 exactly as StructureMetric brings GT
masks there; the ``mos`` of each image record is the score. Only numpy, OpenCV
and pycocotools are imported, so ``tools/misc/make_gt_pkl.py`` runs without
torch.
"""
import json
from typing import Any, Dict, List

import numpy as np
from pycocotools import mask as mask_utils

from ..evaluation.functional import SCORER_SIZE, gt_scorer_mask
from ..evaluation.submission_io import image_key


def _segmentation_rle(seg: Any, h: int, w: int) -> Any:
    """The RLE of a COCO segmentation, as ``COCO.annToRLE`` builds it.

    Args:
        seg (Any): Polygons (a list of flat ``[x, y, ...]`` lists), an
            uncompressed RLE (``counts`` a list) or a compressed RLE.
        h (int): The image height.
        w (int): The image width.

    Returns:
        Any: A compressed RLE, or None for no segmentation (None or an empty
            polygon list), which ``COCO.annToMask`` would refuse.
    """
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) \
            if seg else None
    if isinstance(seg, dict) and isinstance(seg.get('counts'), list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def gt_from_coco(ann_file: str, size: int = SCORER_SIZE) -> Dict[str, dict]:
    """A gt.pkl dict from one of our COCO files.

    Args:
        ann_file (str): COCO JSON with ``mos`` on every image record.
        size (int): The mask side. Defaults to the scorer's 512.

    Returns:
        dict: ``{key: {"score": mos, "pred_area": (size, size) uint8 0/1}}`` in
            the file's image order; the mask is the union of the image's
            instances.

    Raises:
        ValueError: Naming the image when it has no MOS, a segmentation is
            unreadable or its key appears twice.
    """
    with open(ann_file, 'r', encoding='utf-8') as f:
        coco = json.load(f)
    by_image: Dict[Any, List[dict]] = {}
    for ann in coco.get('annotations', []):
        by_image.setdefault(ann['image_id'], []).append(ann)
    gts: Dict[str, dict] = {}
    for img in coco['images']:
        key = image_key(img['file_name'])
        mos = img.get('mos')
        if mos is None:
            raise ValueError(
                f'{ann_file}: image {img["file_name"]!r} has no mos; a gt.pkl '
                "needs a labelled split (e.g. the val file of the converter's "
                'split)')
        h, w = int(img['height']), int(img['width'])
        union = np.zeros((h, w), np.uint8)
        for ann in by_image.get(img['id'], []):
            try:
                rle = _segmentation_rle(ann.get('segmentation'), h, w)
                if rle is not None:
                    union |= mask_utils.decode(rle).astype(np.uint8)
            except (TypeError, ValueError, KeyError) as err:
                raise ValueError(
                    f'{ann_file}: annotation {ann.get("id")} of image '
                    f'{img["file_name"]!r} has an unreadable segmentation: '
                    f'{err}') from err
        if key in gts:
            raise ValueError(f'{ann_file}: image key {key!r} appears twice')
        gts[key] = {
            'score': float(mos),
            'pred_area': gt_scorer_mask(union, size)
        }
    return gts
