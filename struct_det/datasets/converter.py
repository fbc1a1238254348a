"""Convert EvalMuse-Structure info files to COCO instance annotations.

The COCO file keeps everything the info file holds: each image record has
``id``, ``file_name`` (``<key>.jpg``), ``width`` and ``height`` (read from the
image header), ``prompt`` and, for labelled files, ``mos`` and the raw
per-annotator regions (``annotator_regions``). Instances are the 8-connected
components of the consensus mask (pixels marked by at least ``min_annotators``
annotators), stored as RLE with ``bbox`` (xywh), ``area`` and ``iscrowd`` 0;
their union is the consensus mask pixel for pixel.

Example:
    >>> from struct_det.datasets.converter import (
    ...     convert_evalmuse_structure, dump_coco)
    >>> train, val = convert_evalmuse_structure(
    ...     'data/evalmuse_structure/train/train_info.json',
    ...     'data/evalmuse_structure/train/images', val_ratio=0.1)
    >>> dump_coco(train, 'data/evalmuse_structure/annotations/'
    ...           'evalmuse_train.json')
"""
import hashlib
import json
import logging
import math
import os
import os.path as osp
from collections.abc import Mapping
from typing import IO, Any, Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..utils.atomic_io import atomic_write
from .rasterize import (RegionError, check_min_annotators, consensus_instances,
                        parse_bbox_info)

logger = logging.getLogger(__name__)

__all__ = [
    'CATEGORIES', 'PROBLEMS', 'EvalMuseFormatError', 'read_image_size',
    'convert_evalmuse_structure', 'split_coco', 'dump_coco', 'dump_cocos',
    'split_output_paths'
]

CATEGORIES = [{'id': 1, 'name': 'distortion'}]
IMG_SUFFIX = '.jpg'

#: Problem categories a record can be rejected for, with a short fix hint.
PROBLEMS = {
    'duplicate_key': 'keys must be unique in the info file',
    'bad_key': 'keys are image names without extension or directories',
    'malformed': 'see the EvalMuse-Structure schema (spec section 1)',
    'missing_field': 'labelled records need "prompt_en", "mos" and '
    '"bbox_info"; unlabelled ones "prompt_en"',
    'bad_mos': 'mos must be a finite number in [1, 5]',
    'bad_coordinate': 'coordinates must be finite numbers (integers; '
    'floats are rounded)',
    'unknown_bbox_type': 'bbox_type must be 1 (rectangle) or 2 (polygon)',
    'missing_image': 'every key needs <img_dir>/<key>.jpg',
    'unreadable_image': 'the image header could not be parsed',
}

_EXIF_ORIENTATION = 0x0112
Info = Union[str, os.PathLike, Mapping]
Coco = Dict[str, Any]


class EvalMuseFormatError(ValueError):
    """Invalid EvalMuse-Structure input.

    Attributes:
        key (str | None): The record's key, ``None`` for file-level errors.
        problem (str): One of :data:`PROBLEMS`, or ``'bad_info_file'`` /
            ``'bad_image_dir'`` / ``'no_records'`` for file-level errors.
    """

    def __init__(self,
                 message: str,
                 key: Optional[str] = None,
                 problem: str = 'malformed') -> None:
        super().__init__(message)
        self.key = key
        self.problem = problem


def _load_json_checked(path: str) -> Tuple[Any, set, Dict[int, list], list]:
    """Load JSON, detecting duplicate keys that ``dict`` would silently
    collapse.

    Returns:
        tuple: The document; the set of duplicated top-level keys;
            ``{id(obj): repeated keys}`` for nested objects; and the list
            keeping those objects alive (so that their ids stay unique).
    """
    found: List[Tuple[dict, List[str]]] = []

    def hook(pairs: List[Tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen, dups = set(), []
            for k, _ in pairs:
                if k in seen:
                    dups.append(k)
                seen.add(k)
            found.append((obj, dups))
        return obj

    try:
        with open(path, 'rb') as f:
            doc = json.load(f, object_pairs_hook=hook)
    except FileNotFoundError:
        raise EvalMuseFormatError(
            f'{path}: info file not found', problem='bad_info_file') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvalMuseFormatError(
            f'{path}: not a readable JSON file ({e})',
            problem='bad_info_file') from None
    top_dups: set = set()
    nested: Dict[int, List[str]] = {}
    for obj, dups in found:
        if obj is doc:
            top_dups.update(dups)
        else:
            nested[id(obj)] = dups
    return doc, top_dups, nested, found


def _nested_duplicates(value: Any,
                       dup_objects: Dict[int, List[str]]) -> Optional[list]:
    """Return the repeated field names found anywhere inside ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if id(item) in dup_objects:
                return dup_objects[id(item)]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def read_image_size(path: str) -> Tuple[int, int]:
    """Read ``(width, height)`` from an image file's header.

    Only the header is parsed (PIL opens lazily), so this costs tens of
    microseconds. The size is the one OpenCV/mmcv decode to: a JPEG whose
    EXIF orientation rotates by 90 degrees has width and height swapped.

    Args:
        path (str): Image file.

    Returns:
        tuple[int, int]: ``(width, height)``.

    Raises:
        FileNotFoundError: If the file does not exist.
        OSError: If the header cannot be parsed (PIL's
            ``UnidentifiedImageError`` is an ``OSError``).
    """
    with Image.open(path) as img:
        width, height = img.size
        # Only JPEGs carrying an EXIF block can be rotated on decode.
        if 'exif' in img.info:
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
    return int(width), int(height)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, (bool, np.bool_))


def _check_key(key: Any) -> Optional[str]:
    if not isinstance(key, str) or not key:
        return f'key {key!r} is not a non-empty string'
    if '/' in key or '\\' in key or key in ('.', '..') or '\0' in key:
        return f'key {key!r} is not a plain file name'
    return None


def _check_identity(key: Any, record: Any, top_dups: set,
                    dup_objects: Dict[int, List[str]]) -> None:
    """Reject unusable and repeated keys and repeated fields."""
    problem = _check_key(key)
    if problem is not None:
        raise EvalMuseFormatError(problem, key=str(key), problem='bad_key')
    if key in top_dups:
        raise EvalMuseFormatError(
            f'record {key!r}: the key occurs more than once in the info file',
            key=key,
            problem='duplicate_key')
    if dup_objects:  # walk records only if the parser saw repeats
        fields = _nested_duplicates(record, dup_objects)
        if fields:
            raise EvalMuseFormatError(
                f'record {key!r}: repeated field(s) {sorted(set(fields))} '
                'inside the record',
                key=key,
                problem='duplicate_key')


def _convert_record(key: str, record: Any, labeled: bool, img_dir: str,
                    min_annotators: int) -> Tuple[dict, List[dict]]:
    """Validate one record and build its image record and instances.

    Raises:
        EvalMuseFormatError: Naming ``key`` and the problem.
    """

    def fail(problem: str, message: str) -> EvalMuseFormatError:
        return EvalMuseFormatError(
            f'record {key!r}: {message}', key=key, problem=problem)

    if not isinstance(record, Mapping):
        raise fail('malformed',
                   f'expected a dict, got {type(record).__name__}')
    required = ('prompt_en', 'mos', 'bbox_info') if labeled \
        else ('prompt_en', )
    missing = [f for f in required if f not in record]
    if missing:
        raise fail('missing_field',
                   'missing field(s) ' + ', '.join(f'"{f}"' for f in missing))
    prompt = record['prompt_en']
    if not isinstance(prompt, str):
        raise fail(
            'malformed', '"prompt_en" must be a string, got '
            f'{type(prompt).__name__}')

    parsed = None
    if labeled:
        mos = record['mos']
        if not _is_number(mos):
            raise fail('bad_mos', f'"mos" {mos!r} is not a number')
        if not math.isfinite(mos) or not 1 <= mos <= 5:
            raise fail('bad_mos', f'"mos" {mos!r} is outside [1, 5]')
        try:
            parsed = parse_bbox_info(record['bbox_info'])
        except RegionError as e:
            raise fail(e.problem, f'bbox_info: {e}') from None

    file_name = key + IMG_SUFFIX
    path = osp.join(img_dir, file_name)
    try:
        width, height = read_image_size(path)
    except FileNotFoundError:
        hint = ' (keys must not carry the ".jpg" extension)' \
            if key.lower().endswith(IMG_SUFFIX) else ''
        raise fail('missing_image', f'image {path} not found{hint}') from None
    except (OSError, ValueError, SyntaxError) as e:
        # PIL raises SyntaxError/ValueError for some corrupt headers.
        raise fail('unreadable_image',
                   f'cannot read the header of {path} ({e})') from None
    if width <= 0 or height <= 0:
        raise fail('unreadable_image', f'{path} has size {width}x{height}')

    image = {
        'id': None,
        'file_name': file_name,
        'width': width,
        'height': height,
    }
    instances: List[dict] = []
    if labeled:
        image['mos'] = float(record['mos'])
    image['prompt'] = prompt
    if labeled:
        image['annotator_regions'] = record['bbox_info']
        instances = consensus_instances(parsed, height, width, min_annotators)
    return image, instances


class _Bar(tqdm):
    """tqdm without its monitor thread, which would outlive the conversion
    (tqdm 4.70 never stops it) and so make a later scoring in the same
    process count on threads instead of forked workers."""
    monitor_interval = 0


def _progress_bar(total: int, enabled: bool, desc: str):
    """A tqdm bar on stderr; ``disable`` makes it a silent no-op."""
    # mmengine's ProgressBar has no quiet mode, no title and stays on screen.
    # leave=False: an error message is not buried under a half-drawn bar.
    return _Bar(
        total=total,
        desc=desc,
        unit='img',
        dynamic_ncols=True,
        leave=False,
        disable=not enabled)


def _format_summary(skipped: Dict[str, List[str]],
                    total: int,
                    max_keys: int = 5) -> str:
    num = sum(len(v) for v in skipped.values())
    parts = []
    for problem, keys in sorted(skipped.items()):
        shown = ', '.join(keys[:max_keys])
        more = f', ... ({len(keys) - max_keys} more)' \
            if len(keys) > max_keys else ''
        parts.append(f'{problem}: {len(keys)} ({shown}{more})')
    return f'skipped {num} of {total} records: ' + '; '.join(parts)


def convert_evalmuse_structure(
        info: Info,
        img_dir: Union[str, os.PathLike],
        min_annotators: int = 2,
        val_ratio: Optional[float] = None,
        seed: int = 0,
        skip_invalid: bool = False,
        progress: bool = True) -> Union[Coco, Tuple[Coco, Coco]]:
    """Convert an EvalMuse-Structure info file to COCO.

    Args:
        info (str | PathLike | Mapping): Path to ``*_info.json`` or the
            already loaded dict (duplicate keys can only be detected when a
            path is given).
        img_dir (str | PathLike): Directory holding ``<key>.jpg``.
        min_annotators (int): Consensus threshold K: a pixel is a
            distortion if at least K annotators marked it. Default 2.
        val_ratio (float, optional): If given, split the records into
            train/val with this fraction of validation images (see
            :func:`split_coco`). Default None (no split).
        seed (int): Seed of the split. Default 0.
        skip_invalid (bool): Skip invalid records instead of raising; the
            skipped keys per problem are logged and stored in
            ``coco['info']['skipped']``. Default False.
        progress (bool): Show a progress bar. Default True.

    Returns:
        dict | tuple[dict, dict]: The COCO dict, or ``(train, val)`` when
            ``val_ratio`` is given. Files without labels (no ``mos`` /
            ``bbox_info`` anywhere: val/test) give image-only COCO dicts
            (``info['labeled']`` is False, no ``mos`` in the image records).

    Raises:
        EvalMuseFormatError: On the first invalid record (unless
            ``skip_invalid``) naming its key and problem, or for an
            unreadable info file / image directory.
    """
    check_min_annotators(min_annotators)
    if val_ratio is not None:
        _check_split_args(val_ratio, seed)

    dup_objects: Dict[int, List[str]] = {}
    top_dups: set = set()
    if isinstance(info, Mapping):
        source, doc = None, info
    else:
        source = os.fspath(info)
        doc, top_dups, dup_objects, _alive = _load_json_checked(source)
    if not isinstance(doc, Mapping):
        raise EvalMuseFormatError(
            f'{source or "info"}: expected a JSON object keyed by image key, '
            f'got {type(doc).__name__}',
            problem='bad_info_file')
    img_dir = os.fspath(img_dir)
    if not osp.isdir(img_dir):
        raise EvalMuseFormatError(
            f'image directory {img_dir} does not exist',
            problem='bad_image_dir')

    labeled = any(
        isinstance(r, Mapping) and ('mos' in r or 'bbox_info' in r)
        for r in doc.values())
    images: List[dict] = []
    annotations: List[dict] = []
    skipped: Dict[str, List[str]] = {}
    bar = _progress_bar(len(doc), progress, 'EvalMuse -> COCO')
    try:
        for key, record in doc.items():
            bar.update()
            try:
                _check_identity(key, record, top_dups, dup_objects)
                image, instances = _convert_record(key, record, labeled,
                                                   img_dir, min_annotators)
            except EvalMuseFormatError as e:
                if not skip_invalid:
                    where = f'{source}: ' if source else ''
                    raise EvalMuseFormatError(
                        f'{where}{e} [{e.problem}; skip such records with '
                        '--skip-invalid / skip_invalid=True]',
                        key=e.key,
                        problem=e.problem) from None
                skipped.setdefault(e.problem, []).append(str(e.key))
                continue
            image['id'] = len(images) + 1
            images.append(image)
            for inst in instances:
                annotations.append({
                    'id': len(annotations) + 1,
                    'image_id': image['id'],
                    'category_id': CATEGORIES[0]['id'],
                    'segmentation': inst['segmentation'],
                    'area': inst['area'],
                    'bbox': inst['bbox'],
                    'iscrowd': 0,
                })
    finally:
        bar.close()
    if skipped:
        logger.warning(_format_summary(skipped, len(doc)))
    if not images:
        detail = f' ({_format_summary(skipped, len(doc))})' if skipped else ''
        raise EvalMuseFormatError(
            f'{source or "info"}: no valid records to convert{detail}',
            problem='no_records')

    coco = {
        'info': {
            'description': 'EvalMuse-Structure converted to COCO by '
            'struct_det',
            'source': osp.basename(source) if source else None,
            'labeled': labeled,
            'min_annotators': int(min_annotators),
            'num_records': len(doc),
            'skipped': skipped,
        },
        'images': images,
        'annotations': annotations,
        'categories': [dict(c) for c in CATEGORIES],
    }
    if val_ratio is None:
        return coco
    return split_coco(coco, val_ratio, seed)


def _check_split_args(val_ratio: Any, seed: Any) -> None:
    if not _is_number(val_ratio) or not 0 < val_ratio < 1:
        raise ValueError(f'val_ratio must be in (0, 1), got {val_ratio!r}')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f'seed must be an integer, got {seed!r}')


def split_coco(coco: Coco,
               val_ratio: float,
               seed: int = 0) -> Tuple[Coco, Coco]:
    """Split a COCO dict into disjoint train/val dicts deterministically.

    The validation images are the ``round(n * val_ratio)`` (at least 1, at
    most ``n - 1``) images with the smallest SHA-256 of
    ``"<seed>:<file_name>"``: the split depends only on the set of file
    names and the seed (not on record order, Python or numpy versions).
    Image and annotation ids are kept, so they match the unsplit file.

    Args:
        coco (dict): A COCO dict from :func:`convert_evalmuse_structure`.
        val_ratio (float): Fraction of validation images, in (0, 1).
        seed (int): Split seed.

    Returns:
        tuple[dict, dict]: ``(train, val)``.
    """
    _check_split_args(val_ratio, seed)
    images = coco['images']
    if len(images) < 2:
        raise ValueError(
            f'cannot split {len(images)} image(s) into train and val')
    num_val = min(max(int(round(len(images) * val_ratio)), 1), len(images) - 1)

    def rank(img: dict) -> bytes:
        return hashlib.sha256(
            f'{int(seed)}:{img["file_name"]}'.encode()).digest()

    val_names = {
        img['file_name']
        for img in sorted(images, key=rank)[:num_val]
    }
    outputs = []
    for split in ('train', 'val'):
        keep = [(img['file_name'] in val_names) == (split == 'val')
                for img in images]
        split_images = [img for img, k in zip(images, keep) if k]
        ids = {img['id'] for img in split_images}
        info = dict(coco.get('info', {}))
        info.update(split=split, val_ratio=float(val_ratio), seed=int(seed))
        outputs.append({
            'info':
            info,
            'images':
            split_images,
            'annotations':
            [a for a in coco['annotations'] if a['image_id'] in ids],
            'categories':
            coco['categories'],
        })
    return outputs[0], outputs[1]


def _dump_json(coco: Coco, f: IO[str]) -> None:
    json.dump(
        coco, f, ensure_ascii=False, allow_nan=False, separators=(',', ':'))
    f.flush()
    os.fsync(f.fileno())
    # The temporary file is created 0600; give the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(f.fileno(), 0o666 & ~umask)


def dump_cocos(outputs: Mapping) -> None:
    """Write several COCO files so that either all or none appear.

    Each file is written through :func:`struct_det.utils.atomic_write` to a
    temporary file next to its target. The writes nest, so every file is
    complete before the first one is renamed into place, and an error removes
    all temporary files; the renames follow the order of ``outputs``.

    Args:
        outputs (Mapping[str, dict]): ``{path: coco}``.
    """
    # Innermost write is renamed first: nest from the last output inwards.
    items = [(os.fspath(path), coco)
             for path, coco in reversed(list(outputs.items()))]

    def write_from(i: int, f: Optional[IO[str]] = None) -> None:
        # Write item i - 1 to f, then items i.. inside that write: item
        # i - 1 is renamed only once all later items are in place.
        if f is not None:
            _dump_json(items[i - 1][1], f)
        if i < len(items):
            atomic_write(items[i][0], lambda g: write_from(i + 1, g), 'w')

    write_from(0)


def dump_coco(coco: Coco, path: Union[str, os.PathLike]) -> None:
    """Write a COCO dict atomically (temporary file + ``os.replace``).

    A crash or an unserialisable value leaves no partial file behind and an
    existing file at ``path`` untouched. Parent directories are created.

    Args:
        coco (dict): The COCO dict.
        path (str | PathLike): Output ``.json`` path.
    """
    dump_cocos({os.fspath(path): coco})


def split_output_paths(out: Union[str, os.PathLike]) -> Tuple[str, str]:
    """``X.json`` -> (``X_train.json``, ``X_val.json``) next to it."""
    out = os.fspath(out)
    stem, ext = osp.splitext(out)
    ext = ext or '.json'
    return f'{stem}_train{ext}', f'{stem}_val{ext}'
