"""Deterministic crop from a regular grid of crop positions (multi-crop
testing)."""
from typing import List, Sequence, Tuple, Union

from mmdet.registry import TRANSFORMS

from .image_crop import ImageOnlyCrop


def grid_offsets(length: int, crop: int, num: int) -> List[int]:
    """Evenly spaced start offsets of ``num`` crops of size ``crop`` along
    ``length``.

    The first crop touches the start and the last the end; a single crop is
    centred.

    Args:
        length (int): Image size along the axis.
        crop (int): Crop size along the axis (at most ``length``).
        num (int): Number of positions.

    Returns:
        list[int]: ``num`` offsets in ``[0, length - crop]``.
    """
    slack = max(length - crop, 0)
    if num == 1:
        return [slack // 2]
    return [int(round(k * slack / (num - 1))) for k in range(num)]


@TRANSFORMS.register_module()
class GridCrop(ImageOnlyCrop):
    """Crop number ``index`` of a ``num_x x num_y`` grid of equally sized
    crops.

    One instance gives one view; a ``TestTimeAug`` listing ``index=0..N-1``
    gives the N-crop average used by LoDa-style score models
    (``ScoreTTAModel``). ``grid=(1, 1)`` is a centre crop, the single-view test
    default. Crops are numbered row by row from the top-left. A crop larger
    than the image is clipped to it, so resize first (e.g. short side to at
    least the crop size) to get equally sized views.

    Only the image is cropped: annotations keep the original frame on
    purpose, because score models' metrics compare against the original
    image's ground truth.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``. Added
    keys: ``grid_crop_bbox`` (x1, y1, x2, y2 of the crop in the input
    image), ``grid_crop_index``.

    Args:
        crop_size (int | Sequence[int]): ``(width, height)`` of the crops
            (mmdet's order), or one int.
        grid (Sequence[int]): ``(num_x, num_y)`` crop positions along width
            and height. Defaults to ``(1, 1)``.
        index (int): Which crop, in ``[0, num_x * num_y)``. Defaults to 0.
    """

    key_prefix = 'grid_crop'
    repr_fields = ('grid', 'index')

    def __init__(self,
                 crop_size: Union[int, Sequence[int]],
                 grid: Sequence[int] = (1, 1),
                 index: int = 0) -> None:
        super().__init__(crop_size)
        if len(grid) != 2 or min(grid) <= 0:
            raise ValueError(
                f'GridCrop: grid must be (num_x, num_y) >= 1, got {grid}')
        num_views = grid[0] * grid[1]
        if not 0 <= index < num_views:
            raise ValueError(
                f'GridCrop: index {index} is outside the {grid[0]}x{grid[1]} '
                f'grid (0..{num_views - 1})')
        self.grid: Tuple[int, int] = (int(grid[0]), int(grid[1]))
        self.index = int(index)

    def crop_offset(self, results: dict, size: Tuple[int, int],
                    crop: Tuple[int, int]) -> Tuple[int, int]:
        """Top-left corner of grid cell ``index`` (row by row).

        Args:
            results (dict): The pipeline results (unused).
            size (tuple[int, int]): ``(height, width)`` of the image.
            crop (tuple[int, int]): ``(height, width)`` of the crop.

        Returns:
            tuple[int, int]: ``(x1, y1)``.
        """
        row, col = divmod(self.index, self.grid[0])
        x1 = grid_offsets(size[1], crop[1], self.grid[0])[col]
        y1 = grid_offsets(size[0], crop[0], self.grid[1])[row]
        return x1, y1


def grid_crop_views(crop_size: Union[int, Sequence[int]],
                    grid: Sequence[int]) -> List[dict]:
    """Config dicts of all views of a grid, for
    ``TestTimeAug(transforms=[views, ...])``.

    Args:
        crop_size (int | Sequence[int]): ``(width, height)`` or one int.
        grid (Sequence[int]): ``(num_x, num_y)``.

    Returns:
        list[dict]: ``num_x * num_y`` ``GridCrop`` configs, index 0 first.
    """
    return [
        dict(
            type='GridCrop',
            crop_size=crop_size,
            grid=tuple(grid),
            index=index) for index in range(grid[0] * grid[1])
    ]
