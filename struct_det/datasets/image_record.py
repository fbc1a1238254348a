"""Fields of the converter's COCO image records shared by the datasets."""
import math
from typing import Optional

__all__ = ['checked_mos']


def checked_mos(img_info: dict, ann_file: str) -> Optional[float]:
    """The structure MOS of one converter image record.

    Args:
        img_info (dict): The COCO image record.
        ann_file (str): The COCO file, named in the error message.

    Returns:
        float | None: The MOS, or None when the record has none (unlabelled
            splits).

    Raises:
        ValueError: If the MOS is not a finite number, naming the file and
            the image.
    """
    mos = img_info.get('mos')
    if mos is None:
        return None
    try:
        value = float(mos)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f'{ann_file}: image {img_info.get("file_name")!r} has '
            f'mos={mos!r}; expected a number in [1, 5] (re-run the '
            'converter on the info file)')
    return value
