"""Read, validate and write EvalMuse-Structure submissions and ground-truth pickles.

A submission is a zip with ``output.pkl`` = ``{key: {"score": float, "pred_area": 2-D uint8
0/1 array}}`` (keys are image names without extension) and ``readme.txt`` (the fact sheet);
a gt.pkl has the same form with 512x512 0/1 masks and the MOS. Pickles from outside are
opened with :class:`RestrictedUnpickler`, which builds numpy arrays, dtypes, scalars and
plain containers and refuses everything else.
"""
import codecs
import io
import json
import os.path as osp
import pickle
import re
import warnings
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .functional import (SCORER_SIZE, check_gt_area, check_pred_area, check_score,
                         gt_scorer_mask, summarize_notes, to_scorer_mask)
from ..utils.atomic_io import atomic_write
from .functional.prediction_masks import heatmap_masks, instance_union_masks

PRED_PKL = 'output.pkl'
README = 'readme.txt'
# The scorer's output lines: (label, result key).
SCORE_LINES = (('Final_Score', 'final_score'), ('SRCC', 'srcc'), ('PLCC', 'plcc'),
               ('Precision', 'precision'), ('Recall', 'recall'), ('F1_Score', 'f1_score'),
               ('GIoU', 'giou'))


# --------------------------------------------------------------------------- pickles
def _allowed_globals() -> Dict[Tuple[str, str], Any]:
    allowed: Dict[Tuple[str, str], Any] = {
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('collections', 'OrderedDict'): OrderedDict,
    }
    for module in ('builtins', '__builtin__'):  # protocol < 3 writes Python 2 names
        for container in (set, frozenset, bytearray):
            allowed[(module, container.__name__)] = container
    # Protocol-2 pickles spell bytes as _codecs.encode(text, 'latin1').
    allowed[('_codecs', 'encode')] = codecs.encode
    # Resolve the array-rebuilding functions from whichever numpy is installed; pickles
    # written under numpy 1.x and 2.x name different modules for the same function.
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core import multiarray, numeric
    for prefix in ('numpy.core', 'numpy._core'):
        allowed[(f'{prefix}.multiarray', '_reconstruct')] = multiarray._reconstruct
        allowed[(f'{prefix}.multiarray', 'scalar')] = multiarray.scalar
        # Protocol 5 rebuilds arrays from their raw buffer.
        if hasattr(numeric, '_frombuffer'):
            allowed[(f'{prefix}.numeric', '_frombuffer')] = numeric._frombuffer
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if name.endswith('DType') and isinstance(obj, type):
                allowed[('numpy.dtypes', name)] = obj
    return allowed


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global that :class:`RestrictedUnpickler` does not allow."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dtypes, scalars and builtin containers only.

    Submissions come from other people; a plain ``pickle.load`` would run any callable
    the file names.
    """
    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise RefusedGlobal(
                f'refusing to load {module}.{name}: submission pickles may hold only numpy '
                'arrays, numpy scalars and dict/list/tuple (convert tensors with .numpy() and '
                'scores with float())')
        return found


def restricted_loads(data: bytes, source: str = '<bytes>') -> Any:
    """Loads a pickle with :class:`RestrictedUnpickler`.

    Args:
        data: the pickle's bytes.
        source: a name for error messages.

    Returns:
        The unpickled object.

    Raises:
        ValueError: naming the source when the pickle is corrupt or refers to a type that
            is not allowed.
    """
    return restricted_load_stream(io.BytesIO(data), source)


def restricted_load_stream(stream: IO[bytes], source: str = '<stream>') -> Any:
    """Loads a pickle from a binary file object with :class:`RestrictedUnpickler`.

    The pickle is read as it is parsed (a zip member decompresses piece by piece), so
    memory holds the loaded objects, not also a copy of the file.

    Args:
        stream: a readable binary file object.
        source: a name for error messages.

    Returns:
        The unpickled object.

    Raises:
        ValueError: as :func:`restricted_loads`.
    """
    try:
        return RestrictedUnpickler(stream).load()
    except RefusedGlobal as err:
        raise ValueError(f'{source}: {err}') from err
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError,
            TypeError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f'{source}: not a readable pickle ({type(err).__name__}: {err})') \
            from err


def restricted_load(path: str) -> Any:
    """Loads a pickle file with :class:`RestrictedUnpickler` (see :func:`restricted_loads`)."""
    with open(path, 'rb') as f:
        return restricted_load_stream(f, path)


def save_pickle(obj: Any, path: str) -> None:
    """Pickles ``obj`` to ``path`` atomically."""
    atomic_write(path, lambda f: pickle.dump(obj, f, protocol=4))


def save_json(obj: Any, path: str) -> None:
    """Writes ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode('utf-8')))


# --------------------------------------------------------------------------- reading
def read_submission(path: str) -> Tuple[Dict[str, dict], Optional[str]]:
    """Reads a submission zip (``output.pkl`` + ``readme.txt``) or a bare ``output.pkl``.

    Args:
        path: the ``.zip`` or ``.pkl`` file.

    Returns:
        tuple: the predictions dict and the readme text (None for a bare pickle).

    Raises:
        ValueError: naming the file when it is not a valid submission container.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'no such submission file: {path}')
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if PRED_PKL not in names:
                nested = [n for n in names if osp.basename(n) == PRED_PKL]
                hint = (f' (found {nested[0]!r}: zip the files themselves, not their folder)'
                        if nested else '')
                raise ValueError(f'{path}: the zip has no {PRED_PKL} at its top level{hint}')
            if README not in names:
                raise ValueError(f'{path}: the zip has no {README} at its top level; the '
                                 'official scorer fails without it (see tools/make_submission.py)')
            with zf.open(PRED_PKL) as member:
                preds = restricted_load_stream(member, f'{path}:{PRED_PKL}')
            readme = zf.read(README).decode('utf-8', errors='replace')
    else:
        preds, readme = restricted_load(path), None
    if not isinstance(preds, Mapping):
        raise ValueError(f'{path}: {PRED_PKL} must hold a dict {{key: {{"score", "pred_area"}}}}, '
                         f'got {type(preds).__name__}')
    return dict(preds), readme


def _check_record(side: str, key: Any, entry: Any) -> None:
    if not isinstance(key, str):
        raise ValueError(f'{side} key {key!r} is a {type(key).__name__}; keys must be image '
                         'names (str) without extension')
    if not isinstance(entry, Mapping) or 'score' not in entry or 'pred_area' not in entry:
        got = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
        raise ValueError(f"{side} {key!r}: each record must be a dict with 'score' and "
                         f"'pred_area', got {got}")


def _check_prediction(key: Any, entry: Any) -> List[Tuple[str, str]]:
    """Checks one predicted record; returns its ``(kind, note)`` notes."""
    _check_record('prediction', key, entry)
    found = [('a bool score', check_score(key, entry['score'])),
             ('negative pred_area values', check_pred_area(key, entry['pred_area']))]
    return [(kind, note) for kind, note in found if note]


def validate_submission(preds: Mapping, keys: Optional[Iterable[str]] = None,
                        all_records: bool = False) -> List[str]:
    """Checks a submission before scoring or writing it.

    With ``keys``, only their records are scored (as by the released scorer): records under
    other keys are ignored, whatever they hold, and reported in a note.

    Args:
        preds: ``{key: {"score", "pred_area"}}``.
        keys: the keys the split needs (e.g. the GT's); all must be present.
        all_records: check the records outside ``keys`` too (for a file we write).

    Returns:
        list: notes about content the scorer scores but that looks like a mistake (masks
        that are not uint8 0/1, negative mask values, bool scores, unused keys), also
        issued as warnings.

    Raises:
        ValueError: naming the key: missing keys (with a hint when they carry an
            extension), malformed records, bool / ``(1, H, W)`` / unreadable masks,
            non-finite or non-numeric scores.
    """
    if not isinstance(preds, Mapping):
        raise ValueError(f'a submission must be a dict, got {type(preds).__name__}')
    notes: List[str] = []
    scored: Iterable = preds
    if keys is not None:
        keys = list(keys)
        missing = [k for k in keys if k not in preds]
        if missing:
            hint = ''
            if any(osp.splitext(str(k))[1] for k in preds):
                hint = ' (the submission keys carry a file extension; use the bare name)'
            raise ValueError(f'the submission lacks {len(missing)} of {len(keys)} keys, e.g. '
                             f'{missing[:5]}{hint}')
        wanted = set(keys)
        extra = [k for k in preds if k not in wanted]
        if extra and not all_records:
            scored = keys
            bad = []
            for key in extra:
                try:
                    _check_prediction(key, preds[key])
                except ValueError as err:
                    bad.append(str(err))
            detail = (f'; {len(bad)} of them are not valid records, e.g. {bad[0]}'
                      if bad else '')
            notes.append(f'{len(extra)} submission keys are not in the split and are ignored, '
                         f'e.g. {extra[0]!r}{detail}')
        elif extra:
            notes.append(f'{len(extra)} submission keys are not in the split and are ignored')
    non_binary = []
    record_notes: Dict[str, List[str]] = {}
    for key in scored:
        entry = preds[key]
        for kind, note in _check_prediction(key, entry):
            record_notes.setdefault(kind, []).append(note)
        area = entry['pred_area']
        if area.dtype != np.uint8 or area.max() > 1:
            non_binary.append(key)
    if non_binary:
        notes.append(f'{len(non_binary)} masks are not uint8 0/1 (e.g. {non_binary[0]!r}); the '
                     'scorer counts every pixel > 0 after resizing as foreground')
    notes.extend(summarize_notes(record_notes))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return notes


def validate_gt(gts: Mapping, source: str = 'GT') -> List[str]:
    """Checks a ground truth: records with a finite MOS and a 2-D 0/1 (or 0/255) mask.

    Args:
        gts: ``{key: {"score": mos, "pred_area": mask}}``.
        source: the file name, for messages.

    Returns:
        list: notes about content scored the scorer's way but suspicious (0/255 masks,
        bool scores), also issued as warnings.

    Raises:
        ValueError: naming the file and key.
    """
    if not isinstance(gts, Mapping) or not gts:
        raise ValueError(f'{source}: the GT must be a non-empty dict')
    record_notes: Dict[str, List[str]] = {}
    try:
        for key, entry in gts.items():
            _check_record('GT', key, entry)
            for kind, note in (('a bool GT score', check_score(key, entry['score'], 'GT score')),
                               ('a 0/255 GT mask', check_gt_area(key, entry['pred_area']))):
                if note:
                    record_notes.setdefault(kind, []).append(note)
    except ValueError as err:
        raise ValueError(f'{source}: {err}') from err
    notes = [f'{source}: {note}' for note in summarize_notes(record_notes)]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return notes


def format_score_lines(result: Mapping[str, float]) -> str:
    """The scorer's output lines (``Final_Score: %.4f`` ... ``GIoU: %.4f``)."""
    return ''.join(f'{label}: {result[key]:.4f}\n' for label, key in SCORE_LINES)


# --------------------------------------------------------------------------- writing
def format_readme(runtime_per_image: float, use_cpu: bool = False, extra_data: bool = False,
                  description: str = '') -> str:
    """The fact-sheet lines the challenge's readme.txt holds.

    Args:
        runtime_per_image: seconds per image.
        use_cpu: True when inference ran on CPU.
        extra_data: True when training used data beyond the challenge's.
        description: free text (one line).

    Returns:
        str: the readme text.
    """
    if not np.isfinite(runtime_per_image) or runtime_per_image < 0:
        raise ValueError(f'runtime per image must be a non-negative number, got '
                         f'{runtime_per_image}')
    description = ' '.join(str(description).split())
    return (f'runtime per image [s] : {runtime_per_image:.2f}\n'
            f'CPU[1] / GPU[0] : {int(bool(use_cpu))}\n'
            f'Extra Data [1] / No Extra Data [0] : {int(bool(extra_data))}\n'
            f'Other description : {description}\n')


def write_submission(path: str, preds: Mapping[str, dict], readme: str,
                     keys: Optional[Iterable[str]] = None) -> None:
    """Validates and writes a submission zip atomically.

    Args:
        path: the ``.zip`` to write.
        preds: ``{key: {"score", "pred_area"}}``.
        readme: the readme text (:func:`format_readme`).
        keys: every key of the split; all must be present.

    Raises:
        ValueError: as :func:`validate_submission`.
    """
    validate_submission(preds, keys, all_records=True)
    payload = pickle.dumps({k: {'score': float(v['score']), 'pred_area': v['pred_area']}
                            for k, v in preds.items()}, protocol=4)

    def _write(f):
        with zipfile.ZipFile(f, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(PRED_PKL, payload)
            zf.writestr(README, readme)

    atomic_write(path, _write)


def image_key(img_path: str) -> str:
    """The submission key of an image: its file name without extension."""
    return osp.splitext(osp.basename(str(img_path)))[0]


def _decode_masks(masks: Any, shape: Tuple[int, int]) -> Any:
    """RLE lists (as mmdet's DumpDetResults writes them) to an (N, H, W) uint8 array."""
    if isinstance(masks, (list, tuple)):
        if not masks:
            return np.zeros((0, int(shape[0]), int(shape[1])), np.uint8)
        if isinstance(masks[0], dict):
            from pycocotools import mask as mask_utils
            decoded = mask_utils.decode(list(masks))
            return np.ascontiguousarray(np.transpose(decoded, (2, 0, 1)))
        return np.stack([np.asarray(m) for m in masks])
    return masks


def _get(record: Any, key: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(key)
    return getattr(record, key, None)


def _score_value(value: Any) -> Optional[float]:
    if value is None:
        return None
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, np.float64).reshape(-1)
    if arr.size != 1:
        raise ValueError(f'pred_score must hold one value, got {arr.size}')
    return float(arr[0])


def prediction_mask(record: Any, score_thr: float, pred_source: str = 'auto'
                    ) -> Optional[np.ndarray]:
    """The binary mask of one saved prediction, at the resolution of the outputs.

    Args:
        record: one sample of a ``tools/test.py --out`` pickle (a dict).
        score_thr: instance score threshold (``>=``) or heatmap threshold (``>``).
        pred_source: ``'auto'``, ``'instances'``, ``'heatmap'`` (mmseg's ``seg_logits``)
            or ``'sem_seg'`` as in StructureMetric.

    Returns:
        np.ndarray or None: uint8 0/1 mask, None when the record has no predicted regions.
    """
    instances = _get(record, 'pred_instances')
    if instances is not None and pred_source in ('auto', 'instances'):
        shape = _get(record, 'ori_shape')
        masks = _get(instances, 'masks')
        if shape is None:
            raise ValueError("a saved prediction lacks 'ori_shape'")
        if masks is not None:
            masks = _decode_masks(masks, shape)
            shape = tuple(masks.shape[-2:])
        return instance_union_masks(_get(instances, 'scores'), [score_thr], shape[:2],
                                    masks=masks,
                                    boxes=None if masks is not None else _get(instances, 'bboxes')
                                    )[0]
    if pred_source in ('auto', 'heatmap', 'sem_seg'):
        # Imported here: it imports torch, which the scorer CLIs never load otherwise.
        from .functional.sample_heatmap import sample_heatmap
        heatmap = sample_heatmap(record, pred_source)
        if heatmap is not None:
            return heatmap_masks(heatmap, [score_thr])[0]
    return None


def predictions_from_results(mask_results: Optional[Sequence[Any]],
                             score_results: Optional[Sequence[Any]] = None,
                             score_thr: float = 0.3, pred_source: str = 'auto',
                             full_resolution: bool = False) -> Dict[str, dict]:
    """Builds a submission from saved model outputs (``tools/test.py --out`` pickles).

    Args:
        mask_results: samples giving the regions (detector / heatmap / joint model).
        score_results: samples giving ``pred_score`` (e.g. a LoDa run); None to take the
            scores from ``mask_results``.
        score_thr: the threshold applied to instances or heatmaps.
        pred_source: which output gives the regions (see :func:`prediction_mask`).
        full_resolution: keep masks at the image size; by default they are written at the
            scorer's 512x512 with its own resize rule, which scores identically and is
            four times smaller for 1024-pixel images.

    Returns:
        dict: ``{key: {"score": float, "pred_area": uint8 array}}``.

    Raises:
        ValueError: naming the image: duplicate keys, no regions, no score.
    """
    def by_key(results, what):
        out: Dict[str, Any] = {}
        for rec in results:
            path = _get(rec, 'img_path')
            if path is None:
                raise ValueError(f"a saved {what} sample lacks 'img_path'; dump it with "
                                 'tools/test.py --out')
            key = image_key(path)
            if key in out:
                raise ValueError(f'{what}: image {key!r} appears twice')
            out[key] = rec
        return out

    masks_by_key = by_key(mask_results or [], 'prediction')
    scores_by_key = by_key(score_results, 'score') if score_results is not None else masks_by_key
    keys = list(masks_by_key) or list(scores_by_key)
    preds: Dict[str, dict] = {}
    for key in keys:
        if key not in masks_by_key:
            raise ValueError(f'image {key!r} has a score but no predicted regions')
        if key not in scores_by_key:
            raise ValueError(f'image {key!r} has no predicted score in the score results')
        mask = prediction_mask(masks_by_key[key], score_thr, pred_source)
        if mask is None:
            raise ValueError(f'image {key!r}: the saved prediction has neither pred_instances '
                             'nor pred_sem_seg')
        score = _score_value(_get(scores_by_key[key], 'pred_score'))
        if score is None:
            raise ValueError(f'image {key!r}: no pred_score; pass the score model\'s results '
                             '(--scores) or use a model that predicts scores')
        preds[key] = {'score': score,
                      'pred_area': mask if full_resolution else to_scorer_mask(mask)}
    extra = set(scores_by_key) - set(masks_by_key)
    if extra:
        raise ValueError(f'{len(extra)} images have scores but no predicted regions, e.g. '
                         f'{sorted(extra)[:3]}')
    return preds


def split_keys(path: str) -> List[str]:
    """The image keys of a split: from an EvalMuse ``*_info.json`` or one of our COCO files.

    Args:
        path: the JSON file.

    Returns:
        list: keys without extension.
    """
    with open(path, 'r', encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, dict) and isinstance(data.get('images'), list):
        return [image_key(img['file_name']) for img in data['images']]
    if isinstance(data, dict):
        return [image_key(k) for k in data]
    raise ValueError(f'{path}: expected an EvalMuse info dict or a COCO file')


def runtime_from_test_log(path: str, batch_size: int = 1) -> float:
    """Seconds per image from an mmengine test log (``Epoch(test) [n/N] ... time: t``).

    The summary line after the last iteration carries the mean time per iteration; without
    it the iteration lines are averaged.

    Args:
        path: the ``<timestamp>.log`` text log of ``tools/test.py``.
        batch_size: images per test iteration.

    Returns:
        float: mean seconds per image.
    """
    pattern = re.compile(r'(?:Epoch|Iter)\(test\)\s*\[\s*(\d+)/(\d+)\].*?\btime: ([0-9.]+)')
    summary, per_iter = None, []
    with open(path, 'r', encoding='utf-8', errors='replace') as f:
        for line in f:
            m = pattern.search(line)
            if not m:
                continue
            done, total, sec = int(m.group(1)), int(m.group(2)), float(m.group(3))
            per_iter.append(sec)
            if done == total:
                summary = sec
    if summary is None and not per_iter:
        raise ValueError(f'{path}: no "Epoch(test) [...] time: ..." line; pass --runtime')
    sec = summary if summary is not None else float(np.mean(per_iter))
    return sec / max(int(batch_size), 1)


# --------------------------------------------------------------------------- ground truth
def gt_from_coco(ann_file: str, size: int = SCORER_SIZE) -> Dict[str, dict]:
    """A gt.pkl dict from one of our COCO files: consensus mask = union of the instances.

    Args:
        ann_file: COCO JSON with ``mos`` on every image record.
        size: mask side (the scorer's 512).

    Returns:
        dict: ``{key: {"score": mos, "pred_area": (size, size) uint8 0/1}}`` in the file's
        image order.

    Raises:
        ValueError: naming the image when it has no MOS or a segmentation is unreadable.
    """
    from pycocotools import mask as mask_utils
    with open(ann_file, 'r', encoding='utf-8') as f:
        coco = json.load(f)
    by_image: Dict[Any, list] = {}
    for ann in coco.get('annotations', []):
        by_image.setdefault(ann['image_id'], []).append(ann)
    gts: Dict[str, dict] = {}
    for img in coco['images']:
        key = image_key(img['file_name'])
        mos = img.get('mos')
        if mos is None:
            raise ValueError(f'{ann_file}: image {img["file_name"]!r} has no mos; a gt.pkl needs a '
                             'labelled split (e.g. the val file of the converter\'s split)')
        h, w = int(img['height']), int(img['width'])
        union = np.zeros((h, w), np.uint8)
        for ann in by_image.get(img['id'], []):
            seg = ann.get('segmentation')
            try:
                if isinstance(seg, list):
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if seg else None
                elif isinstance(seg, dict) and isinstance(seg.get('counts'), list):
                    rle = mask_utils.frPyObjects(seg, h, w)
                else:
                    rle = seg
                if rle is not None:
                    union |= mask_utils.decode(rle).astype(np.uint8)
            except (TypeError, ValueError, KeyError) as err:
                raise ValueError(f'{ann_file}: annotation {ann.get("id")} of image '
                                 f'{img["file_name"]!r} has an unreadable segmentation: {err}') \
                    from err
        if key in gts:
            raise ValueError(f'{ann_file}: image key {key!r} appears twice')
        gts[key] = {'score': float(mos), 'pred_area': gt_scorer_mask(union, size)}
    return gts
