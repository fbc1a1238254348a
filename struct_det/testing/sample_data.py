"""Synthetic dataset in the exact EvalMuse-Structure layout and schema.

The bundled sample data lets the whole pipeline (conversion, training,
evaluation, submission) run on a laptop: each image shows a smooth textured
background with a few simple objects (hands with fingers, faces, stick
figures), and 0..3 planted structural distortions:

* ``swirl``: a part twisted around a point,
* ``shuffle``: a part cut into tiles that are permuted and mirrored,
* ``melt``: a part dripping downwards and smeared,
* ``extra_part``: a duplicated part (a 6th/7th finger, an extra limb, a
  third eye).

Distorted areas also get a grainy, high-contrast, colour-fringed look so
that a tiny detector learns them from a few hundred 128 px images. Three
simulated annotators mark them with rectangles and polygons (jitter,
misses, false alarms, reversed rectangle corners, the odd polygon of fewer
than 3 points) and give integer ratings whose mean is the MOS, which falls
with the number and size of distortions.

Layout (see the spec, section 1)::

    <out>/train/train_info.json   {key: {"prompt_en", "mos", "bbox_info"}}
    <out>/train/images/<key>.jpg
    <out>/val/val_info.json       {key: {"prompt_en"}}
    <out>/val/images/<key>.jpg
    <out>/test/test_info.json     {key: {"prompt_en"}}
    <out>/test/images/<key>.jpg

plus a small hidden ``.sample_data.json`` recording the generator settings.
Everything is deterministic by seed: the same seed gives byte-identical
files (with the same OpenCV build), and image ``i`` of a split does not
depend on how many images the other splits have.
"""
import hashlib
import json
import math
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'DISTORTION_KINDS', 'PlantedDistortion', 'SampleRecord', 'render_sample',
    'simulate_annotations', 'simulate_mos', 'sample_key', 'image_size',
    'make_sample_record', 'generate_sample_dataset'
]

SPLITS = ('train', 'val', 'test')
MARKER = '.sample_data.json'
GENERATOR_VERSION = 1
DISTORTION_KINDS = ('swirl', 'shuffle', 'melt', 'extra_part')

# (width, height) at max_size 384, with sampling weights: mostly square like
# the real data, plus the non-square shapes it contains.
_SIZES = ((384, 384), (384, 216), (216, 384), (384, 288), (288, 384),
          (256, 256), (384, 256))
_SIZE_WEIGHTS = (0.4, 0.12, 0.1, 0.1, 0.1, 0.1, 0.08)
_NUM_DISTORTION_P = (0.3, 0.35, 0.22, 0.13)  # P(0), P(1), P(2), P(3)
_SKIN = ((140, 170, 220), (110, 140, 200), (80, 110, 170), (60, 85, 130),
         (150, 190, 235))
_COLOURS = ((40, 40, 160), (160, 60, 40), (40, 130, 40), (30, 30, 30),
            (140, 40, 140), (30, 120, 190))
_BG_WORDS = ('beige', 'blue', 'green', 'grey', 'pink', 'sandy', 'teal')


@dataclass
class PlantedDistortion:
    """A planted distortion (the truth the simulated annotators see).

    Attributes:
        kind (str): One of :data:`DISTORTION_KINDS`.
        box (tuple): ``(x1, y1, x2, y2)`` end exclusive, inside the image.
        polygon (np.ndarray): ``(N, 2)`` float outline, clockwise on screen.
    """
    kind: str
    box: Tuple[int, int, int, int]
    polygon: np.ndarray = field(repr=False)

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass
class SampleRecord:
    """One generated image with its info-file record and its truth."""
    key: str
    image: np.ndarray = field(repr=False)
    record: Dict[str, Any]
    distortions: List[PlantedDistortion]


# ---------------------------------------------------------------- drawing
def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Smooth colour field with a faint fine texture."""
    base = rng.uniform(100, 210, size=3)
    grid = base + rng.normal(0, 20, size=(3, 4, 3))
    img = cv2.resize(
        np.clip(grid, 0, 255).astype(np.float32), (w, h),
        interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(
        rng.normal(0, 3, size=(h // 4 + 1, w // 4 + 1)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_LINEAR)
    img += fine[..., None]
    if rng.random() < 0.5:  # a floor / horizon line
        y = int(h * rng.uniform(0.55, 0.8))
        img[y:] *= rng.uniform(0.7, 0.9)
    return img


def _line(img, p0, p1, colour, thickness):
    cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), colour,
             max(int(thickness), 1), cv2.LINE_AA)


def _limb(img, p0, p1, colour, thickness):
    """A limb/finger: a dark outline under a coloured stroke."""
    outline = tuple(c * 0.45 for c in colour)
    _line(img, p0, p1, outline, thickness + 3)
    _line(img, p0, p1, colour, thickness)


class _Object:
    """A drawn object with anchor points where distortions may go."""

    def __init__(self, kind: str, centre, scale: float):
        self.kind = kind
        self.centre = np.asarray(centre, dtype=np.float64)
        self.scale = scale
        self.anchors: List[np.ndarray] = []
        self.colour = (0, 0, 0)
        self.angle = 0.0

    def extent(self) -> float:
        return self.scale * 1.35


def _draw_hand(img, rng, obj: _Object) -> None:
    s, (cx, cy) = obj.scale, obj.centre
    obj.colour = _SKIN[rng.integers(len(_SKIN))]
    obj.angle = rng.uniform(-0.5, 0.5)
    up = obj.angle - math.pi / 2
    thick = 0.2 * s
    for i, da in enumerate((-0.45, -0.15, 0.15, 0.45)):
        a = up + da
        base = (cx + 0.35 * s * math.cos(a), cy + 0.35 * s * math.sin(a))
        length = s * (0.75 + 0.15 * (i in (1, 2)))
        tip = (cx + length * math.cos(a) + 0.35 * s * math.cos(a),
               cy + length * math.sin(a) + 0.35 * s * math.sin(a))
        _limb(img, base, tip, obj.colour, thick)
        obj.anchors.append(np.array(tip))
    side = -1 if rng.random() < 0.5 else 1
    a = up + side * 1.25
    base = (cx + 0.3 * s * math.cos(a), cy + 0.3 * s * math.sin(a))
    tip = (cx + 0.85 * s * math.cos(a), cy + 0.85 * s * math.sin(a))
    _limb(img, base, tip, obj.colour, thick * 1.1)
    obj.anchors.append(np.array(tip))
    axes = (int(0.5 * s), int(0.55 * s))
    cv2.ellipse(img, (int(cx), int(cy)), (axes[0] + 2, axes[1] + 2),
                math.degrees(obj.angle), 0, 360,
                tuple(c * 0.45 for c in obj.colour), -1, cv2.LINE_AA)
    cv2.ellipse(img, (int(cx), int(cy)), axes, math.degrees(obj.angle), 0, 360,
                obj.colour, -1, cv2.LINE_AA)
    obj.anchors.append(obj.centre.copy())


def _draw_face(img, rng, obj: _Object) -> None:
    s, (cx, cy) = obj.scale, obj.centre
    obj.colour = _SKIN[rng.integers(len(_SKIN))]
    c = (int(cx), int(cy))
    hair = _COLOURS[rng.integers(len(_COLOURS))]
    cv2.ellipse(img, (c[0], c[1] - int(0.1 * s)),
                (int(0.62 * s), int(0.7 * s)), 0, 180, 360, hair, -1,
                cv2.LINE_AA)
    cv2.ellipse(img, c, (int(0.55 * s) + 2, int(0.7 * s) + 2), 0, 0, 360,
                tuple(v * 0.45 for v in obj.colour), -1, cv2.LINE_AA)
    cv2.ellipse(img, c, (int(0.55 * s), int(0.7 * s)), 0, 0, 360, obj.colour,
                -1, cv2.LINE_AA)
    for dx in (-0.22, 0.22):
        e = (int(cx + dx * s), int(cy - 0.12 * s))
        cv2.ellipse(img, e, (int(0.13 * s), int(0.08 * s)), 0, 0, 360,
                    (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(img, e, max(int(0.06 * s), 1), (40, 30, 20), -1,
                   cv2.LINE_AA)
        obj.anchors.append(np.array(e, dtype=np.float64))
    _line(img, (cx, cy - 0.02 * s), (cx - 0.06 * s, cy + 0.18 * s),
          tuple(v * 0.6 for v in obj.colour), 0.04 * s)
    mouth = (int(cx), int(cy + 0.33 * s))
    cv2.ellipse(img, mouth, (int(0.22 * s), int(0.1 * s)), 0, 10, 170,
                (50, 40, 150), max(int(0.05 * s), 1), cv2.LINE_AA)
    obj.anchors.append(np.array(mouth, dtype=np.float64))


def _draw_figure(img, rng, obj: _Object) -> None:
    s, (cx, cy) = obj.scale, obj.centre
    obj.colour = _COLOURS[rng.integers(len(_COLOURS))]
    thick = 0.12 * s
    neck = np.array([cx, cy - 0.45 * s])
    hip = np.array([cx, cy + 0.3 * s])
    _limb(img, neck, hip, obj.colour, thick)
    for side in (-1, 1):
        hand = neck + s * np.array(
            [side * rng.uniform(0.5, 0.75),
             rng.uniform(-0.3, 0.45)])
        foot = hip + s * np.array([side * rng.uniform(0.2, 0.45), 0.95])
        _limb(img, neck + [0, 0.1 * s], hand, obj.colour, thick)
        _limb(img, hip, foot, obj.colour, thick)
        obj.anchors.extend([hand, foot])
    head = (int(neck[0]), int(neck[1] - 0.22 * s))
    cv2.circle(img, head,
               int(0.24 * s) + 2, tuple(v * 0.45 for v in obj.colour), -1,
               cv2.LINE_AA)
    cv2.circle(img, head, int(0.24 * s), obj.colour, -1, cv2.LINE_AA)
    obj.anchors.extend([np.array(head, dtype=np.float64), (neck + hip) / 2])


_DRAWERS = {'hand': _draw_hand, 'face': _draw_face, 'figure': _draw_figure}
_PHRASES = {
    'hand': ('a raised hand', 'an open palm', 'a waving hand'),
    'face': ('a smiling face', 'a portrait of a person', 'a cartoon face'),
    'figure': ('a person dancing', 'a child jumping', 'a runner'),
}


# ------------------------------------------------------------ distortions
def _circle_polygon(cx, cy, r, n=12) -> np.ndarray:
    # Increasing angle with y pointing down = clockwise on screen.
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


def _box_of(poly: np.ndarray, w: int, h: int) -> Tuple[int, int, int, int]:
    x1, y1 = np.floor(poly.min(0)).astype(int)
    x2, y2 = np.ceil(poly.max(0)).astype(int) + 1
    return (max(int(x1), 0), max(int(y1), 0), min(int(x2), w), min(int(y2), h))


def _swirl(img, rng, cx, cy, r) -> None:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _box_of(_circle_polygon(cx, cy, r), w, h)
    ys, xs = np.mgrid[y1:y2, x1:x2].astype(np.float32)
    dx, dy = xs - cx, ys - cy
    d = np.sqrt(dx * dx + dy * dy)
    strength = rng.uniform(4.0, 7.0) * (1 if rng.random() < 0.5 else -1)
    theta = strength * np.clip(1 - d / r, 0, 1)**2
    cos, sin = np.cos(theta), np.sin(theta)
    map_x = (cx + dx * cos - dy * sin).astype(np.float32)
    map_y = (cy + dx * sin + dy * cos).astype(np.float32)
    img[y1:y2, x1:x2] = cv2.remap(
        img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _melt(img, rng, cx, cy, r) -> None:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _box_of(_circle_polygon(cx, cy, r), w, h)
    ys, xs = np.mgrid[y1:y2, x1:x2].astype(np.float32)
    phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(2.5, 5.0) / r
    drip = 0.5 + 0.5 * np.sin(xs * freq * np.pi + phase)
    inside = np.clip(1 - np.hypot(xs - cx, ys - cy) / r, 0, 1)
    shift = 0.9 * r * drip * np.sqrt(inside)
    map_y = (ys - shift).astype(np.float32)  # pull content downwards
    warped = cv2.remap(
        img, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    k = max(int(r * 0.25) | 1, 3)
    smear = cv2.blur(warped, (1, k))
    img[y1:y2, x1:x2] = smear


def _shuffle(img, rng, cx, cy, r) -> np.ndarray:
    h, w = img.shape[:2]
    half = r * 0.9
    x1, y1 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x2, y2 = int(min(cx + half, w)), int(min(cy + half, h))
    g = 3 if rng.random() < 0.6 else 4
    tw, th = (x2 - x1) // g, (y2 - y1) // g
    x2, y2 = x1 + tw * g, y1 + th * g
    tiles = [
        img[y1 + i * th:y1 + (i + 1) * th,
            x1 + j * tw:x1 + (j + 1) * tw].copy() for i in range(g)
        for j in range(g)
    ]
    perm = rng.permutation(len(tiles))
    while (perm == np.arange(len(tiles))).sum() > len(tiles) // 3:
        perm = rng.permutation(len(tiles))
    for n, src in enumerate(perm):
        tile = tiles[src]
        flip = rng.integers(4)
        if flip < 3:
            tile = cv2.flip(tile, int(flip) - 1)
        i, j = divmod(n, g)
        img[y1 + i * th:y1 + (i + 1) * th,
            x1 + j * tw:x1 + (j + 1) * tw] = tile
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float64)


def _extra_part(img, rng, obj: _Object, r) -> np.ndarray:
    """Draw duplicated parts; returns their outline (convex hull)."""
    s, (cx, cy) = obj.scale, obj.centre
    strokes = []
    if obj.kind == 'hand':
        up = obj.angle - math.pi / 2
        for _ in range(int(rng.integers(1, 3))):
            a = up + rng.uniform(-1.0, 1.0)
            base = (cx + 0.3 * s * math.cos(a), cy + 0.3 * s * math.sin(a))
            length = s * rng.uniform(0.9, 1.2)
            tip = (cx + length * math.cos(a), cy + length * math.sin(a))
            strokes.append((base, tip, 0.2 * s))
    elif obj.kind == 'figure':
        neck = np.array([cx, cy - 0.35 * s])
        for _ in range(int(rng.integers(1, 3))):
            a = rng.uniform(0, 2 * np.pi)
            tip = neck + s * rng.uniform(0.5, 0.8) * np.array(
                [math.cos(a), abs(math.sin(a))])
            strokes.append((neck + [0, 0.2 * s], tip, 0.12 * s))
    else:  # face: a third eye and a second mouth stroke
        e = (cx + rng.uniform(-0.1, 0.1) * s, cy - 0.4 * s)
        strokes.append((e, (e[0] + 0.01, e[1]), 0.2 * s))
        strokes.append(((cx - 0.15 * s, cy + 0.5 * s),
                        (cx + 0.15 * s, cy + 0.55 * s), 0.06 * s))
    points = []
    for p0, p1, thick in strokes:
        _limb(img, p0, p1, obj.colour, thick)
        if obj.kind == 'face':
            cv2.circle(img, (int(p0[0]), int(p0[1])), max(int(thick / 3), 1),
                       (40, 30, 20), -1, cv2.LINE_AA)
        for p in (p0, p1):
            points.append(_circle_polygon(p[0], p[1], thick / 2 + 3, n=8))
    hull = cv2.convexHull(np.concatenate(points).astype(np.float32)).reshape(
        -1, 2)
    return hull.astype(np.float64)


def _glitch(img, rng, poly: np.ndarray) -> None:
    """Give a distorted area a grainy, high-contrast, colour-fringed look."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _box_of(poly, w, h)
    if x2 <= x1 or y2 <= y1:
        return
    alpha = np.zeros((y2 - y1, x2 - x1), np.float32)
    cv2.fillPoly(alpha, [np.round(poly - [x1, y1]).astype(np.int32)], 1.0)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)[..., None]
    patch = img[y1:y2, x1:x2]
    mean = patch.mean((0, 1), keepdims=True)
    strong = (patch - mean) * 1.8 + mean
    # Blocky grain, coarse enough to survive downscaling to 128 px.
    block = max(2, int(round(min(h, w) / 128)))
    gh, gw = -(-patch.shape[0] // block), -(-patch.shape[1] // block)
    grain = rng.normal(0, 34, size=(gh, gw, 3)).astype(np.float32)
    grain = np.repeat(np.repeat(grain, block, 0), block, 1)
    strong = strong + grain[:patch.shape[0], :patch.shape[1]]
    shift = int(rng.integers(3, 7))
    strong[:, shift:, 0] = strong[:, :-shift, 0]  # colour fringe
    img[y1:y2, x1:x2] = patch * (1 - alpha) + strong * alpha


def render_sample(
    rng: np.random.Generator,
    width: int,
    height: int,
    num_distortions: Optional[int] = None
) -> Tuple[np.ndarray, List[PlantedDistortion], str]:
    """Draw one image with planted distortions.

    Args:
        rng (np.random.Generator): Random source.
        width (int): Image width.
        height (int): Image height.
        num_distortions (int, optional): Number of distortions to plant;
            sampled (0..3) if None. Fewer are planted if they do not fit.

    Returns:
        tuple: BGR uint8 image, planted distortions, prompt.
    """
    img = _background(rng, width, height)
    short = min(width, height)
    objects: List[_Object] = []
    for _ in range(int(rng.integers(1, 4))):
        kind = ('hand', 'face', 'figure')[rng.integers(3)]
        for _try in range(20):
            scale = short * rng.uniform(0.17, 0.26)
            margin = scale * 1.2
            c = (rng.uniform(margin, max(width - margin, margin + 1)),
                 rng.uniform(margin, max(height - margin, margin + 1)))
            obj = _Object(kind, c, scale)
            apart = (
                np.hypot(*(obj.centre - o.centre))
                > 0.8 * (obj.extent() + o.extent()) for o in objects)
            if all(apart):
                objects.append(obj)
                break
    for obj in objects:
        _DRAWERS[obj.kind](img, rng, obj)

    if num_distortions is None:
        num_distortions = int(rng.choice(4, p=_NUM_DISTORTION_P))
    planned = []  # (kind, obj, centre, radius)
    for _ in range(num_distortions):
        for _try in range(20):
            obj = objects[rng.integers(len(objects))]
            kind = DISTORTION_KINDS[rng.integers(len(DISTORTION_KINDS))]
            r = short * rng.uniform(0.09, 0.15)
            anchor = obj.anchors[rng.integers(len(obj.anchors))]
            centre = anchor + rng.normal(0, 0.08 * r, 2)
            if kind == 'extra_part':
                centre, r = obj.centre, obj.extent() * 0.9
            if all(
                    np.hypot(*(centre - c)) > (r + rr) * 1.05
                    for _, _, c, rr in planned):
                planned.append((kind, obj, centre, r))
                break

    distortions = []
    for kind, obj, (cx, cy), r in planned:
        if kind == 'swirl':
            _swirl(img, rng, cx, cy, r)
            poly = _circle_polygon(cx, cy, r)
        elif kind == 'melt':
            _melt(img, rng, cx, cy, r)
            poly = _circle_polygon(cx, cy, r)
        elif kind == 'shuffle':
            poly = _shuffle(img, rng, cx, cy, r)
        else:
            poly = _extra_part(img, rng, obj, r)
        _glitch(img, rng, poly)
        poly[:, 0] = np.clip(poly[:, 0], 0, width - 1)
        poly[:, 1] = np.clip(poly[:, 1], 0, height - 1)
        box = _box_of(poly, width, height)
        if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
            distortions.append(PlantedDistortion(kind, box, poly))

    img = np.clip(img, 0, 255).astype(np.uint8)
    phrases = [_PHRASES[o.kind][rng.integers(3)] for o in objects]
    prompt = ' and '.join(phrases) + ' on a ' + \
        _BG_WORDS[rng.integers(len(_BG_WORDS))] + ' background'
    return img, distortions, prompt


# ------------------------------------------------------------ annotators
def _coord(rng, v: float, as_float: bool):
    return round(float(v), 1) if as_float else int(round(float(v)))


def _mark_rectangle(rng, box, w, h, jitter, as_float) -> dict:
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    # Annotators draw slightly generous boxes with some jitter.
    x1 += rng.normal(-0.04, jitter) * bw
    x2 += rng.normal(0.04, jitter) * bw
    y1 += rng.normal(-0.04, jitter) * bh
    y2 += rng.normal(0.04, jitter) * bh
    if rng.random() < 0.9:  # most tools clip to the canvas
        x1, x2 = np.clip([x1, x2], 0, w)
        y1, y2 = np.clip([y1, y2], 0, h)
    p = [{
        'x': _coord(rng, x1, as_float),
        'y': _coord(rng, y1, as_float)
    }, {
        'x': _coord(rng, x2, as_float),
        'y': _coord(rng, y2, as_float)
    }]
    u = rng.random()
    if u < 0.1:  # dragged from bottom-right to top-left
        p = p[::-1]
    elif u < 0.15:  # dragged from top-right to bottom-left
        p = [{
            'x': p[1]['x'],
            'y': p[0]['y']
        }, {
            'x': p[0]['x'],
            'y': p[1]['y']
        }]
    return {'bbox_type': 1, 'bbox': p}


def _mark_polygon(rng, poly, w, h, jitter, as_float) -> dict:
    centre = poly.mean(0)
    size = np.ptp(poly, 0).max() + 1
    n = int(rng.integers(5, 11))
    angles = np.arctan2(poly[:, 1] - centre[1], poly[:, 0] - centre[0])
    radii = np.hypot(*(poly - centre).T)
    order = np.argsort(angles)
    angles, radii = angles[order], radii[order]
    # Roughly even clicks around the outline, in increasing angle.
    t = rng.uniform(-np.pi, np.pi) + np.arange(n) * (2 * np.pi / n) \
        + rng.uniform(-0.25, 0.25, n) * (2 * np.pi / n)
    # Radius of the outline along each sampled direction.
    rad = np.interp(t, angles, radii, period=2 * np.pi)
    rad = rad * rng.normal(1.08, 0.04, n) + rng.normal(0, 0.5 * jitter * size,
                                                       n)
    pts = np.stack([centre[0] + rad * np.cos(t), centre[1] + rad * np.sin(t)],
                   1)
    pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
    return {
        'bbox_type':
        2,
        'bbox': [[_coord(rng, x, as_float),
                  _coord(rng, y, as_float)] for x, y in pts]
    }


def simulate_annotations(rng: np.random.Generator,
                         distortions: Sequence[PlantedDistortion],
                         width: int,
                         height: int,
                         num_annotators: int = 3) -> List[List[dict]]:
    """Simulate ``bbox_info``: each annotator's regions for one image.

    Annotators have their own habits (rectangle vs polygon, jitter, miss
    rate); they miss small distortions more often, occasionally mark
    something that is fine, drag rectangles from any corner and now and
    then leave a polygon of one or two clicks.

    Returns:
        list[list[dict]]: Raw regions in the EvalMuse schema.
    """
    short = min(width, height)
    bbox_info = []
    for _ in range(num_annotators):
        p_rect = rng.uniform(0.35, 0.9)
        jitter = rng.uniform(0.03, 0.08)
        miss = rng.uniform(0.04, 0.15)
        regions = []
        for d in distortions:
            small = d.area < 0.012 * width * height
            if rng.random() < miss + 0.2 * small:
                continue
            as_float = rng.random() < 0.03
            if rng.random() < p_rect:
                regions.append(
                    _mark_rectangle(rng, d.box, width, height, jitter,
                                    as_float))
            else:
                regions.append(
                    _mark_polygon(rng, d.polygon, width, height, jitter,
                                  as_float))
        if rng.random() < 0.06:  # false alarm
            s = short * rng.uniform(0.08, 0.18)
            x, y = rng.uniform(0, width - s), rng.uniform(0, height - s)
            box = (x, y, x + s, y + s * rng.uniform(0.6, 1.4))
            regions.append(
                _mark_rectangle(rng, box, width, height, jitter, False))
        if rng.random() < 0.05:  # stray clicks: a polygon with no area
            n = int(rng.integers(1, 3))
            regions.append({
                'bbox_type':
                2,
                'bbox': [[int(rng.integers(width)),
                          int(rng.integers(height))] for _ in range(n)]
            })
        order = rng.permutation(len(regions))
        bbox_info.append([regions[i] for i in order])
    return bbox_info


def simulate_mos(rng: np.random.Generator,
                 distortions: Sequence[PlantedDistortion],
                 width: int,
                 height: int,
                 num_raters: int = 3) -> float:
    """Mean of ``num_raters`` integer ratings in 1..5 (so thirds for 3).

    The expected rating falls with the number of distortions and their
    area; clean images are rated mostly 4-5.
    """
    frac = sum(d.area for d in distortions) / float(width * height)
    quality = 4.6 - 0.9 * len(distortions) - 3.0 * frac \
        + rng.normal(0, 0.25)
    ratings = np.clip(np.round(quality + rng.normal(0, 0.5, num_raters)), 1, 5)
    return float(ratings.sum() / num_raters)


# ---------------------------------------------------------------- dataset
def sample_key(seed: int, split: str, index: int) -> str:
    """32-char lowercase hex key, stable across library versions."""
    return hashlib.sha256(
        f'evalmuse-sample:{seed}:{split}:{index}'.encode()).hexdigest()[:32]


def image_size(rng: np.random.Generator, max_size: int) -> Tuple[int, int]:
    """Sample ``(width, height)`` with the longest side scaled to
    ``max_size``."""
    w, h = _SIZES[rng.choice(len(_SIZES), p=_SIZE_WEIGHTS)]
    ratio = max_size / 384.0
    return max(int(round(w * ratio)), 16), max(int(round(h * ratio)), 16)


def make_sample_record(seed: int,
                       split: str,
                       index: int,
                       max_size: int = 384) -> SampleRecord:
    """Generate image ``index`` of ``split``.

    Each image has its own random stream, so it does not depend on the
    other images or on the number of images per split.

    Args:
        seed (int): Dataset seed.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        index (int): Image index inside the split.
        max_size (int): Longest image side.

    Returns:
        SampleRecord: Key, BGR image, the info record (labels only for
            ``train``) and the planted distortions.
    """
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    width, height = image_size(rng, max_size)
    img, distortions, prompt = render_sample(rng, width, height)
    record: Dict[str, Any] = {'prompt_en': prompt}
    if split == 'train':
        record['mos'] = simulate_mos(rng, distortions, width, height)
        record['bbox_info'] = simulate_annotations(rng, distortions, width,
                                                   height)
    return SampleRecord(
        sample_key(seed, split, index), img, record, distortions)


def _settings(seed, num_train, num_val, num_test, max_size) -> dict:
    return {
        # The module's name before it moved to struct_det.testing, kept so
        # that samples written before the move are not regenerated.
        'generator': 'struct_det.datasets.sample_data',
        'version': GENERATOR_VERSION,
        'seed': seed,
        'num_train': num_train,
        'num_val': num_val,
        'num_test': num_test,
        'max_size': max_size,
    }


def _read_marker(out_dir: str) -> Optional[dict]:
    try:
        with open(osp.join(out_dir, MARKER), encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def generate_sample_dataset(out_dir: str,
                            seed: int = 0,
                            num_train: int = 300,
                            num_val: int = 40,
                            num_test: int = 40,
                            max_size: int = 384,
                            force: bool = False,
                            progress: bool = False) -> Dict[str, Any]:
    """Write the sample dataset to ``out_dir``.

    The dataset is written to a temporary directory next to ``out_dir``
    and renamed into place at the end, so an interrupted run leaves no
    half-written dataset. An existing ``out_dir`` written by this generator
    with the same settings is left alone (unless ``force``); one with other
    settings is replaced as a whole (derived files in it, e.g. converted
    annotations, are stale and go with it). A non-empty directory not
    written by this generator is never touched.

    Args:
        out_dir (str): Dataset root.
        seed (int): Seed. Default 0.
        num_train (int): Labelled training images. Default 300.
        num_val (int): Unlabelled validation images. Default 40.
        num_test (int): Unlabelled test images. Default 40.
        max_size (int): Longest image side (<= 2048). Default 384.
        force (bool): Regenerate even if up to date. Default False.
        progress (bool): Print one line per split. Default False.

    Returns:
        dict: ``{"out_dir", "generated" (False if up to date), "planted":
            {split: {key: [PlantedDistortion, ...]}}}`` (``planted`` is empty
            when nothing was generated).
    """
    for name, value in (('seed', seed), ('num_train', num_train), ('num_val',
                                                                   num_val),
                        ('num_test', num_test), ('max_size', max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or \
                value < 0:
            raise ValueError(f'{name} must be a non-negative integer, got '
                             f'{value!r}')
    if not 32 <= max_size <= 2048:
        raise ValueError(f'max_size must be in [32, 2048], got {max_size}')
    out_dir = osp.abspath(os.fspath(out_dir))
    settings = _settings(seed, num_train, num_val, num_test, max_size)
    result: Dict[str, Any] = {
        'out_dir': out_dir,
        'generated': False,
        'planted': {}
    }

    replace = False
    if osp.exists(out_dir):
        if not osp.isdir(out_dir):
            raise FileExistsError(f'{out_dir} exists and is not a directory')
        marker = _read_marker(out_dir)
        if marker is not None:
            if marker == settings and not force:
                return result
            replace = True
        elif os.listdir(out_dir):
            raise FileExistsError(
                f'{out_dir} is not empty and was not written by the sample '
                'data generator; choose another --out or remove it')

    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f'.{osp.basename(out_dir)}.tmp-')
    try:
        counts = {'train': num_train, 'val': num_val, 'test': num_test}
        for split in SPLITS:
            img_dir = osp.join(tmp, split, 'images')
            os.makedirs(img_dir)
            info, planted = {}, {}
            for i in range(counts[split]):
                sample = make_sample_record(seed, split, i, max_size)
                ok, buf = cv2.imencode('.jpg', sample.image,
                                       [cv2.IMWRITE_JPEG_QUALITY, 92])
                if not ok:
                    raise RuntimeError(f'JPEG encoding failed for {split} {i}')
                with open(osp.join(img_dir, sample.key + '.jpg'), 'wb') as f:
                    f.write(buf.tobytes())
                info[sample.key] = sample.record
                planted[sample.key] = sample.distortions
            with open(
                    osp.join(tmp, split, f'{split}_info.json'),
                    'w',
                    encoding='utf-8') as f:
                json.dump(info, f)
            result['planted'][split] = planted
            if progress:
                print(f'{split}: {counts[split]} images')
        with open(osp.join(tmp, MARKER), 'w', encoding='utf-8') as f:
            json.dump(settings, f, indent=1)
        os.chmod(tmp, 0o777 & ~_umask())
        if replace:
            old = tempfile.mkdtemp(
                dir=parent, prefix=f'.{osp.basename(out_dir)}.old-')
            os.rename(out_dir, osp.join(old, 'data'))
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if osp.isdir(out_dir):
                os.rmdir(out_dir)  # empty, checked above
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result['generated'] = True
    return result


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
