"""Antialiased resizing with Pillow, as torchvision's ``Resize`` does on PIL
images."""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from PIL import Image

# Pillow's resampling filters by name (Image.Resampling from Pillow 9.1 on);
# Pillow's resize is antialiased for all but 'nearest' (the support grows with
# the downscaling).
_RESAMPLING = getattr(Image, 'Resampling', Image)
PIL_FILTERS = {
    name: getattr(_RESAMPLING, name.upper())
    for name in ('nearest', 'bilinear', 'bicubic', 'lanczos', 'box', 'hamming')
}


def short_side_size(height: int, width: int,
                    short_side: int) -> Tuple[int, int]:
    """``(height, width)`` after scaling the short side to ``short_side``, in
    torchvision's arithmetic.

    As ``Resize(int)``: the long side is ``int(short_side * long / short)``,
    truncated.

    Args:
        height (int): Image height.
        width (int): Image width.
        short_side (int): The new short side.

    Returns:
        tuple[int, int]: ``(new_height, new_width)``.
    """
    if width <= height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


@TRANSFORMS.register_module()
class PillowResize(BaseTransform):
    """Resize the image with Pillow's antialiased filters (torchvision's
    ``Resize``).

    The LoDa reference resizes its images offline with
    ``torchvision.transforms.Resize(384)`` on PIL images (bilinear for
    KonIQ-10k, SPAQ, LIVE-C; bicubic for KADID-10k): a filter as wide as the
    downscaling factor, i.e. antialiased. ``cv2.resize`` (mmdet's
    ``Resize``) samples only the 2x2 (bilinear) or 4x4 (bicubic) nearest
    pixels and aliases when shrinking by 2.7x (1024 -> 384). This transform
    gives Pillow's result exactly: same output size rule, same filter, same
    rounding.

    Only the image is resized (annotations keep the original frame, as in the
    score pipelines' crops); ``img_shape``, ``scale`` and ``scale_factor``
    describe the new image.

    Required keys: ``img`` (uint8, ``(H, W)`` or ``(H, W, 3)``; channel
    order is kept). Modified keys: ``img``, ``img_shape``. Added keys:
    ``scale``, ``scale_factor``, ``keep_ratio``.

    Args:
        size (int | Sequence[int]): One int scales the short side to it
            (aspect kept, torchvision's rounding); ``(width, height)``
            resizes to exactly that.
        interpolation (str): A key of :data:`PIL_FILTERS`. Defaults to
            ``'bilinear'``.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 interpolation: str = 'bilinear') -> None:
        if interpolation not in PIL_FILTERS:
            raise ValueError('PillowResize: interpolation must be one of '
                             f'{sorted(PIL_FILTERS)}, got {interpolation!r}')
        if isinstance(size, int):
            if size <= 0:
                raise ValueError(f'PillowResize: size must be > 0, got {size}')
        elif len(size) != 2 or min(size) <= 0:
            raise ValueError(
                'PillowResize: size must be an int or (width, height) > 0, '
                f'got {size}')
        else:
            size = (int(size[0]), int(size[1]))
        self.size = size
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']``.

        Args:
            results (dict): Pipeline results with ``img``.

        Returns:
            dict: The results with the resized image.

        Raises:
            ValueError: If the image is not uint8 with 1 or 3 channels.
        """
        img = results['img']
        if img.dtype != np.uint8 or not (img.ndim == 2 or
                                         (img.ndim == 3 and img.shape[2] in
                                          (1, 3))):
            where = results.get('img_path', 'an image')
            raise ValueError(
                'PillowResize: expected a uint8 (H, W) or (H, W, 3) image, '
                f'got {img.dtype} {img.shape} ({where})')
        height, width = img.shape[:2]
        if isinstance(self.size, int):
            new_h, new_w = short_side_size(height, width, self.size)
        else:
            new_w, new_h = self.size
        if (new_h, new_w) != (height, width):
            channels = img[:, :,
                           0] if img.ndim == 3 and img.shape[2] == 1 else img
            # Pillow filters each channel alike, so BGR stays BGR.
            resized = np.array(
                Image.fromarray(np.ascontiguousarray(channels)).resize(
                    (new_w, new_h), PIL_FILTERS[self.interpolation]))
            img = resized.reshape(new_h, new_w, *img.shape[2:])
        results['img'] = img
        results['img_shape'] = (new_h, new_w)
        results['scale'] = (new_w, new_h)
        results['scale_factor'] = (new_w / width, new_h / height)
        results['keep_ratio'] = isinstance(self.size, int)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'interpolation={self.interpolation!r})')
