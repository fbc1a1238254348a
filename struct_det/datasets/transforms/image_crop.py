"""The part shared by the crops that cut only the image (test-time views)."""
from typing import Sequence, Tuple, Union

from mmcv.transforms import BaseTransform

__all__ = ['ImageOnlyCrop']


class ImageOnlyCrop(BaseTransform):
    """Base of the crops that cut only the image of the results.

    Annotations keep the original frame on purpose: score models' metrics
    compare against the original image's ground truth. A crop larger than
    the image is clipped to it. Subclasses choose the top-left corner in
    :meth:`crop_offset`; the crop is recorded as ``<key_prefix>_bbox``
    (x1, y1, x2, y2 in the input image) and ``<key_prefix>_index``.

    Args:
        crop_size (int | Sequence[int]): ``(width, height)`` of the crop
            (mmdet's order), or one int.
    """

    #: Prefix of the added keys, set by subclasses.
    key_prefix = ''
    #: Attributes shown by ``repr`` after ``crop_size``.
    repr_fields: Tuple[str, ...] = ('index', )

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(
                f'{type(self).__name__}: crop_size must be (width, height) '
                f'> 0, got {crop_size}')
        self.crop_size: Tuple[int,
                              int] = (int(crop_size[0]), int(crop_size[1]))

    def crop_offset(self, results: dict, size: Tuple[int, int],
                    crop: Tuple[int, int]) -> Tuple[int, int]:
        """Top-left corner of the crop.

        Args:
            results (dict): The pipeline results.
            size (tuple[int, int]): ``(height, width)`` of the image.
            crop (tuple[int, int]): ``(height, width)`` of the crop, at most
                the image's.

        Returns:
            tuple[int, int]: ``(x1, y1)``.
        """
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Crop ``results['img']``.

        Args:
            results (dict): Pipeline results with ``img`` (H, W[, C]).

        Returns:
            dict: The results with the cropped image.
        """
        img = results['img']
        height, width = img.shape[:2]
        crop_w = min(self.crop_size[0], width)
        crop_h = min(self.crop_size[1], height)
        x1, y1 = self.crop_offset(results, (height, width), (crop_h, crop_w))
        results['img'] = img[y1:y1 + crop_h, x1:x1 + crop_w, ...]
        results['img_shape'] = (crop_h, crop_w)
        results[f'{self.key_prefix}_bbox'] = (x1, y1, x1 + crop_w, y1 + crop_h)
        results[f'{self.key_prefix}_index'] = self.index
        return results

    def __repr__(self) -> str:
        fields = ''.join(f', {name}={getattr(self, name)}'
                         for name in self.repr_fields)
        return f'{type(self).__name__}(crop_size={self.crop_size}{fields})'
