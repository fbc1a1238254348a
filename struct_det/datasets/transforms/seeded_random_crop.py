"""Random crops that are reproducible per image: LoDa's test protocol as a TTA option."""
import os.path as osp
import zlib
from typing import List, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


def seeded_crop_offset(image_name: str, seed: int, index: int, size: Tuple[int, int],
                       crop: Tuple[int, int]) -> Tuple[int, int]:
    """Top-left corner of random crop number ``index`` of an image, a function of its name.

    Offsets are uniform over every position (as torchvision's ``RandomCrop``: top first,
    then left), drawn from a generator seeded with ``(seed, index, crc32(image_name))``:
    the same for an image whatever the data order, worker or rank, different for another
    seed, view or image.

    Args:
        image_name: identifies the image (the file name).
        seed: the protocol's seed.
        index: the view.
        size: ``(height, width)`` of the image.
        crop: ``(height, width)`` of the crop, at most the image's.

    Returns:
        tuple: ``(x1, y1)``.
    """
    rng = np.random.default_rng([int(seed), int(index), zlib.crc32(image_name.encode())])
    y1 = int(rng.integers(0, size[0] - crop[0] + 1))
    x1 = int(rng.integers(0, size[1] - crop[1] + 1))
    return x1, y1


@TRANSFORMS.register_module()
class SeededRandomCrop(BaseTransform):
    """Random crop number ``index`` of an image, reproducible from a seed.

    The LoDa reference scores an image as the mean over 15 random 224 crops of the image
    resized offline (short side 384). A ``TestTimeAug`` listing ``index=0..N-1``
    (:func:`seeded_random_crop_views`) with ``ScoreTTAModel`` runs that protocol; unlike the
    reference's global random state, each crop depends only on the seed, the view and the
    image's file name, so repeated runs, other batch sizes and several ranks give the same
    crops, and another seed gives other crops. A crop larger than the image is clipped to
    it. Only the image is cropped (annotations keep the original frame, as in
    ``GridCrop``).

    Required keys: ``img`` (and ``img_path``, else every image draws the same offsets).
    Modified keys: ``img``, ``img_shape``. Added keys: ``seeded_crop_bbox`` (x1, y1, x2,
    y2 in the input image), ``seeded_crop_index``.

    Args:
        crop_size: ``(width, height)`` of the crop (mmdet's order), or one int.
        seed: the protocol's seed.
        index: which view, ``>= 0``.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]], seed: int = 0,
                 index: int = 0) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'SeededRandomCrop: crop_size must be (width, height) > 0, got '
                             f'{crop_size}')
        if int(index) < 0 or int(seed) < 0:
            raise ValueError(f'SeededRandomCrop: seed and index must be >= 0, got seed {seed}, '
                             f'index {index}')
        self.crop_size: Tuple[int, int] = (int(crop_size[0]), int(crop_size[1]))
        self.seed = int(seed)
        self.index = int(index)

    def transform(self, results: dict) -> dict:
        """Crops ``results['img']``.

        Args:
            results: pipeline results with ``img`` (H, W[, C]).

        Returns:
            dict: the results with the cropped image.
        """
        img = results['img']
        height, width = img.shape[:2]
        crop_w, crop_h = min(self.crop_size[0], width), min(self.crop_size[1], height)
        name = osp.basename(str(results.get('img_path') or ''))
        x1, y1 = seeded_crop_offset(name, self.seed, self.index, (height, width),
                                    (crop_h, crop_w))
        results['img'] = img[y1:y1 + crop_h, x1:x1 + crop_w, ...]
        results['img_shape'] = (crop_h, crop_w)
        results['seeded_crop_bbox'] = (x1, y1, x1 + crop_w, y1 + crop_h)
        results['seeded_crop_index'] = self.index
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, seed={self.seed}, '
                f'index={self.index})')


def seeded_random_crop_views(crop_size: Union[int, Sequence[int]], num: int = 15,
                             seed: int = 0) -> List[dict]:
    """Config dicts of ``num`` seeded random crops, for ``TestTimeAug(transforms=[views, ...])``.

    Args:
        crop_size: ``(width, height)`` or one int.
        num: number of views (the LoDa reference: 15).
        seed: the protocol's seed.

    Returns:
        list[dict]: ``num`` ``SeededRandomCrop`` configs, index 0 first.
    """
    if int(num) < 1:
        raise ValueError(f'seeded_random_crop_views: num must be >= 1, got {num}')
    return [dict(type='SeededRandomCrop', crop_size=crop_size, seed=seed, index=index)
            for index in range(int(num))]
