"""Submission and gt.pkl files: reading and writing.

A submission is a zip with ``output.pkl`` = ``{key: {"score": float,
"pred_area": 2-D uint8 0/1 array}}`` (keys are image names without
extension) and ``readme.txt`` (the fact sheet); a gt.pkl has the same form
with 512x512 0/1 masks and the MOS. Pickles from outside are opened with the
restricted unpicklers of :mod:`.restricted_pickle` (numpy data and plain
containers only), whose names this module re-exports.
"""
import json
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ..utils.atomic_io import atomic_write
from .restricted_pickle import (MappedUnpickler, RefusedGlobal,
                                RestrictedUnpickler, restricted_load,
                                restricted_load_stream, restricted_loads)
from .submission_checks import validate_submission

__all__ = [
    'PRED_PKL', 'README', 'SCORE_LINES', 'MappedUnpickler', 'RefusedGlobal',
    'RestrictedUnpickler', 'restricted_load', 'restricted_load_stream',
    'restricted_loads', 'save_pickle', 'save_json', 'read_submission',
    'format_score_lines', 'format_readme', 'write_submission', 'image_key',
    'split_keys'
]

PRED_PKL = 'output.pkl'
README = 'readme.txt'
# The scorer's output lines: (label, result key).
SCORE_LINES = (('Final_Score', 'final_score'), ('SRCC', 'srcc'),
               ('PLCC', 'plcc'), ('Precision', 'precision'),
               ('Recall', 'recall'), ('F1_Score', 'f1_score'), ('GIoU',
                                                                'giou'))


def save_pickle(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (protocol 4).

    Args:
        obj (Any): The object to write.
        path (str): The file to write.
    """
    atomic_write(path, lambda f: pickle.dump(obj, f, protocol=4))


def save_json(obj: Any, path: str) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Args:
        obj (Any): A JSON-serialisable object.
        path (str): The file to write.
    """
    atomic_write(path,
                 lambda f: f.write(json.dumps(obj, indent=2).encode('utf-8')))


def read_submission(path: str) -> Tuple[Dict[str, dict], Optional[str]]:
    """Read a submission zip (``output.pkl`` + ``readme.txt``) or a pickle.

    A bare pickle is mapped (:func:`~.restricted_pickle.restricted_load`):
    its large arrays are read-only views of the file. A zip's pickle is
    unpickled as it decompresses.

    Args:
        path (str): The ``.zip`` or bare ``output.pkl`` file.

    Returns:
        tuple[dict, str | None]: The predictions dict and the readme text (None
            for a bare pickle).

    Raises:
        FileNotFoundError: When ``path`` is not a file.
        ValueError: Naming the file when it is not a valid submission
            container.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'no such submission file: {path}')
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if PRED_PKL not in names:
                nested = [n for n in names if osp.basename(n) == PRED_PKL]
                hint = (f' (found {nested[0]!r}: zip the files themselves, '
                        'not their folder)' if nested else '')
                raise ValueError(f'{path}: the zip has no {PRED_PKL} at its '
                                 f'top level{hint}')
            if README not in names:
                raise ValueError(f'{path}: the zip has no {README} at its '
                                 'top level; the official scorer fails '
                                 'without it (see tools/make_submission.py)')
            with zf.open(PRED_PKL) as member:
                preds = restricted_load_stream(member, f'{path}:{PRED_PKL}')
            readme = zf.read(README).decode('utf-8', errors='replace')
    else:
        preds, readme = restricted_load(path), None
    if not isinstance(preds, Mapping):
        raise ValueError(f'{path}: {PRED_PKL} must hold a dict '
                         '{key: {"score", "pred_area"}}, got '
                         f'{type(preds).__name__}')
    return dict(preds), readme


def format_score_lines(result: Mapping[str, float]) -> str:
    """The scorer's output lines (``Final_Score: %.4f`` ... ``GIoU: %.4f``).

    Args:
        result (Mapping[str, float]): The scores, keyed as :data:`SCORE_LINES`
            names them.

    Returns:
        str: One line per score.
    """
    return ''.join(f'{label}: {result[key]:.4f}\n'
                   for label, key in SCORE_LINES)


def format_readme(runtime_per_image: float,
                  use_cpu: bool = False,
                  extra_data: bool = False,
                  description: str = '') -> str:
    """The fact-sheet lines the challenge's readme.txt holds.

    Args:
        runtime_per_image (float): Seconds per image.
        use_cpu (bool): Whether inference ran on CPU. Defaults to False.
        extra_data (bool): Whether training used data beyond the challenge's.
            Defaults to False.
        description (str): Free text, written on one line. Defaults to
            ``''``.

    Returns:
        str: The readme text.

    Raises:
        ValueError: When the runtime is negative or not finite.
    """
    if not np.isfinite(runtime_per_image) or runtime_per_image < 0:
        raise ValueError('runtime per image must be a non-negative number, '
                         f'got {runtime_per_image}')
    description = ' '.join(str(description).split())
    return (f'runtime per image [s] : {runtime_per_image:.2f}\n'
            f'CPU[1] / GPU[0] : {int(bool(use_cpu))}\n'
            f'Extra Data [1] / No Extra Data [0] : {int(bool(extra_data))}\n'
            f'Other description : {description}\n')


def write_submission(path: str,
                     preds: Mapping[str, dict],
                     readme: str,
                     keys: Optional[Iterable[str]] = None) -> None:
    """Validate and write a submission zip atomically.

    Args:
        path (str): The ``.zip`` to write.
        preds (Mapping[str, dict]): ``{key: {"score", "pred_area"}}``.
        readme (str): The readme text (:func:`format_readme`).
        keys (Iterable[str], optional): Every key of the split; all must be
            present. Defaults to None.

    Raises:
        ValueError: As :func:`~.submission_checks.validate_submission`.
    """
    validate_submission(preds, keys, all_records=True)
    payload = pickle.dumps(
        {
            k: {
                'score': float(v['score']),
                'pred_area': v['pred_area']
            }
            for k, v in preds.items()
        },
        protocol=4)

    def _write(f):
        with zipfile.ZipFile(f, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(PRED_PKL, payload)
            zf.writestr(README, readme)

    atomic_write(path, _write)


def image_key(img_path: str) -> str:
    """The submission key of an image: its file name without extension.

    Args:
        img_path (str): The image path (or file name).

    Returns:
        str: The key.
    """
    return osp.splitext(osp.basename(str(img_path)))[0]


def split_keys(path: str) -> List[str]:
    """The image keys of a split: from an EvalMuse info file or a COCO file.

    Args:
        path (str): An EvalMuse ``*_info.json`` or one of our COCO JSONs.

    Returns:
        list[str]: Keys without extension.

    Raises:
        ValueError: When the JSON is neither.
    """
    with open(path, 'r', encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, dict) and isinstance(data.get('images'), list):
        return [image_key(img['file_name']) for img in data['images']]
    if isinstance(data, dict):
        return [image_key(k) for k in data]
    raise ValueError(f'{path}: expected an EvalMuse info dict or a COCO file')
