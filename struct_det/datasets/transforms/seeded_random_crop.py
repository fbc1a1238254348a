"""Random crops that are reproducible per image: LoDa's test protocol as a
TTA option."""
import os.path as osp
import zlib
from typing import List, Sequence, Tuple, Union

import numpy as np
from mmdet.registry import TRANSFORMS

from .image_crop import ImageOnlyCrop


def seeded_crop_offset(image_name: str, seed: int, index: int,
                       size: Tuple[int, int],
                       crop: Tuple[int, int]) -> Tuple[int, int]:
    """Top-left corner of random crop number ``index`` of an image, a
    function of its name.

    Offsets are uniform over every position (as torchvision's ``RandomCrop``:
    top first, then left), drawn from a generator seeded with
    ``(seed, index, crc32(image_name))``: the same for an image whatever the
    data order, worker or rank, different for another seed, view or image.

    Args:
        image_name (str): Identifies the image (the file name).
        seed (int): The protocol's seed.
        index (int): The view.
        size (tuple[int, int]): ``(height, width)`` of the image.
        crop (tuple[int, int]): ``(height, width)`` of the crop, at most the
            image's.

    Returns:
        tuple[int, int]: ``(x1, y1)``.
    """
    rng = np.random.default_rng(
        [int(seed), int(index),
         zlib.crc32(image_name.encode())])
    y1 = int(rng.integers(0, size[0] - crop[0] + 1))
    x1 = int(rng.integers(0, size[1] - crop[1] + 1))
    return x1, y1


@TRANSFORMS.register_module()
class SeededRandomCrop(ImageOnlyCrop):
    """Random crop number ``index`` of an image, reproducible from a seed.

    The LoDa reference scores an image as the mean over 15 random 224 crops of
    the image resized offline (short side 384). A ``TestTimeAug`` listing
    ``index=0..N-1`` (:func:`seeded_random_crop_views`) with ``ScoreTTAModel``
    runs that protocol; unlike the reference's global random state, each crop
    depends only on the seed, the view and the image's file name, so repeated
    runs, other batch sizes and several ranks give the same crops, and another
    seed gives other crops. A crop larger than the image is clipped to it. Only
    the image is cropped (annotations keep the original frame, as in
    ``GridCrop``).

    Required keys: ``img`` (and ``img_path``, else every image draws the
    same offsets). Modified keys: ``img``, ``img_shape``. Added keys:
    ``seeded_crop_bbox`` (x1, y1, x2, y2 in the input image),
    ``seeded_crop_index``.

    Args:
        crop_size (int | Sequence[int]): ``(width, height)`` of the crop
            (mmdet's order), or one int.
        seed (int): The protocol's seed. Defaults to 0.
        index (int): Which view, ``>= 0``. Defaults to 0.
    """

    key_prefix = 'seeded_crop'
    repr_fields = ('seed', 'index')

    def __init__(self,
                 crop_size: Union[int, Sequence[int]],
                 seed: int = 0,
                 index: int = 0) -> None:
        super().__init__(crop_size)
        if int(index) < 0 or int(seed) < 0:
            raise ValueError(
                'SeededRandomCrop: seed and index must be >= 0, got seed '
                f'{seed}, index {index}')
        self.seed = int(seed)
        self.index = int(index)

    def crop_offset(self, results: dict, size: Tuple[int, int],
                    crop: Tuple[int, int]) -> Tuple[int, int]:
        """Top-left corner drawn from the seed, the view and the file name.

        Args:
            results (dict): The pipeline results (``img_path`` is used).
            size (tuple[int, int]): ``(height, width)`` of the image.
            crop (tuple[int, int]): ``(height, width)`` of the crop.

        Returns:
            tuple[int, int]: ``(x1, y1)``.
        """
        name = osp.basename(str(results.get('img_path') or ''))
        return seeded_crop_offset(name, self.seed, self.index, size, crop)


def seeded_random_crop_views(crop_size: Union[int, Sequence[int]],
                             num: int = 15,
                             seed: int = 0) -> List[dict]:
    """Config dicts of ``num`` seeded random crops, for
    ``TestTimeAug(transforms=[views, ...])``.

    Args:
        crop_size (int | Sequence[int]): ``(width, height)`` or one int.
        num (int): Number of views (the LoDa reference: 15). Defaults to 15.
        seed (int): The protocol's seed. Defaults to 0.

    Returns:
        list[dict]: ``num`` ``SeededRandomCrop`` configs, index 0 first.
    """
    if int(num) < 1:
        raise ValueError(
            f'seeded_random_crop_views: num must be >= 1, got {num}')
    return [
        dict(
            type='SeededRandomCrop',
            crop_size=crop_size,
            seed=seed,
            index=index) for index in range(int(num))
    ]
