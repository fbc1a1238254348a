"""Pictures of predictions: tinted distortion masks, region boxes and the
score.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

Color = Tuple[int, int, int]
DISTORTION_COLOR: Color = (220, 20, 60)  # RGB, mmdet's palette for the class


def draw_structure_overlay(image: np.ndarray,
                           mask: Optional[np.ndarray] = None,
                           boxes: Optional[np.ndarray] = None,
                           box_scores: Optional[Sequence[float]] = None,
                           score: Optional[float] = None,
                           color: Color = DISTORTION_COLOR,
                           alpha: float = 0.45,
                           title: Optional[str] = None) -> np.ndarray:
    """Draws distortion regions and the structure score on an RGB image.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        mask (np.ndarray, optional): (H, W) distortion mask (non-zero =
            distorted), tinted with ``color``; its outline is drawn too.
            Defaults to None.
        boxes (np.ndarray, optional): (N, 4) xyxy region boxes in image pixels.
            Defaults to None.
        box_scores (Sequence[float], optional): N confidences written beside
            the boxes. Defaults to None.
        score (float, optional): the predicted structure score (MOS scale),
            written top-left. Defaults to None.
        color (tuple[int, int, int]): RGB colour of regions. Defaults to
            ``(220, 20, 60)``.
        alpha (float): tint opacity. Defaults to 0.45.
        title (str, optional): extra text after the score (e.g.
            ``'MOS 2.33'``). Defaults to None.

    Returns:
        np.ndarray: a new (H, W, 3) uint8 RGB image.

    Raises:
        ValueError: if the image or mask shapes do not fit.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError('expected an (H, W, 3) RGB image, got shape '
                         f'{image.shape}')
    canvas = image.astype(np.float32).copy()
    height, width = image.shape[:2]
    if mask is not None:
        if mask.shape != (height, width):
            raise ValueError(f'mask shape {mask.shape} differs from the '
                             f'image\'s {(height, width)}')
        region = mask > 0
        canvas[region] = canvas[region] * (1 - alpha) + np.array(
            color, np.float32) * alpha
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    if mask is not None and (mask > 0).any():
        contours, _ = cv2.findContours(
            (mask
             > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, color, 1)
    thickness = max(1, round(min(height, width) / 300))
    font_scale = max(0.35, min(height, width) / 700)
    if boxes is not None:
        for i, (x1, y1, x2, y2) in enumerate(
                np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
            p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)),
                                                        int(round(y2)))
            cv2.rectangle(canvas, p1, p2, color, thickness)
            if box_scores is not None:
                _put_text(canvas, f'{float(box_scores[i]):.2f}',
                          (p1[0], max(p1[1] - 3, 10)), font_scale, color)
    text = []
    if score is not None:
        text.append(f'score {float(score):.2f}')
    if title:
        text.append(title)
    if text:
        _put_text(
            canvas,
            '  '.join(text), (4, int(18 * font_scale / 0.5)),
            font_scale, (255, 255, 255),
            background=(0, 0, 0))
    return canvas


def _put_text(canvas: np.ndarray,
              text: str,
              origin: Tuple[int, int],
              scale: float,
              color: Color,
              background: Optional[Color] = None) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    if background is not None:
        (w, h), baseline = cv2.getTextSize(text, font, scale, 1)
        x, y = origin
        cv2.rectangle(canvas, (x - 2, y - h - 2), (x + w + 2, y + baseline),
                      background, -1)
    cv2.putText(canvas, text, origin, font, scale, color, 1, cv2.LINE_AA)


def tile_images(images: Sequence[np.ndarray],
                columns: int = 4,
                cell: int = 256,
                pad: int = 4) -> np.ndarray:
    """Puts RGB images of any sizes on one sheet, each fitted into a ``cell``
    square.

    Args:
        images (Sequence[np.ndarray]): (H, W, 3) uint8 images.
        columns (int): images per row. Defaults to 4.
        cell (int): side of each cell in pixels. Defaults to 256.
        pad (int): white margin between cells. Defaults to 4.

    Returns:
        np.ndarray: the sheet, uint8 RGB.
    """
    if not images:
        raise ValueError('tile_images needs at least one image')
    rows = (len(images) + columns - 1) // columns
    sheet = np.full(
        (rows * (cell + pad) + pad, columns * (cell + pad) + pad, 3), 255,
        np.uint8)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        s = cell / max(h, w)
        resized = cv2.resize(
            img, (max(1, round(w * s)), max(1, round(h * s))),
            interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        r, c = divmod(i, columns)
        y0, x0 = pad + r * (cell + pad), pad + c * (cell + pad)
        sheet[y0:y0 + resized.shape[0], x0:x0 + resized.shape[1]] = resized
    return sheet
