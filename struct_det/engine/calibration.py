"""Use the threshold calibrated on validation (by StructureCalibrationHook) at
test time.

``tools/test.py`` calls :func:`apply_calibrated_threshold` after loading the
config: every ``StructureMetric`` in ``test_evaluator`` whose ``score_thr`` is
not set (or is ``'calibrated'``) gets the threshold stored with the checkpoint,
and so does every ``StructureSubmissionWriter`` whose ``score_thr`` is
``'calibrated'`` (a heatmap model's zip). A ``score_thr`` written in the config
or given with ``--cfg-options test_evaluator.score_thr=...`` wins.
"""
import logging
import math
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.logging import print_log

CALIBRATION_INFO_KEY = 'structure_calibration'
CALIBRATION_META_KEY = 'structure_calibration'
TRAINED_ITERS_META_KEY = 'structure_trained_iters'
CALIBRATION_FILE = 'structure_calibration.json'
# The score_thr value that asks for the calibrated threshold explicitly.
CALIBRATED = 'calibrated'


def read_calibration_file(path: str) -> List[dict]:
    """The entries of a ``structure_calibration.json`` (empty when absent or
    unreadable).

    Args:
        path (str): the JSON file.

    Returns:
        list: calibration entries, oldest first.
    """
    import json
    if not osp.isfile(path):
        return []
    try:
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
        return [e for e in data.get('entries', []) if isinstance(e, dict)]
    except (OSError, ValueError, AttributeError):
        return []


def read_checkpoint_meta(checkpoint_path: str) -> Dict[str, Any]:
    """The ``meta`` dict of an mmengine checkpoint, read without copying the
    weights.

    Args:
        checkpoint_path (str): a local checkpoint file.

    Returns:
        dict: the meta (empty if the checkpoint has none).
    """
    import torch

    from struct_det.utils import allow_mmengine_checkpoints

    # Where torch has no allow-list for mmengine's meta types (< 2.5), load the
    # way mmengine itself loads the same checkpoint.
    safe = allow_mmengine_checkpoints()
    try:
        # Memory-mapped: a checkpoint of a large model is not read into memory
        # for its meta.
        ckpt = torch.load(
            checkpoint_path, map_location='cpu', mmap=True, weights_only=safe)
    except (RuntimeError, TypeError):
        # Legacy (non-zip) checkpoints cannot be memory-mapped.
        ckpt = torch.load(
            checkpoint_path, map_location='cpu', weights_only=safe)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def load_calibration(checkpoint_path: str) -> Optional[dict]:
    """The calibration that belongs to a checkpoint's weights.

    The checkpoint's meta holds the latest validation before it was saved; when
    that validation saw other weights (interval checkpoints are saved just
    before the validation of their step), the ``structure_calibration.json``
    beside the checkpoint supplies the entry of the validation of exactly these
    weights.

    Args:
        checkpoint_path (str): the checkpoint file.

    Returns:
        dict or None: the entry (``score_thr``, ``f1_score``, ``curve``,
            ``epoch``, ``iter``, ...) plus ``source`` (where it was found) and
            ``stale`` (True when it comes from a validation of earlier
            weights).
    """
    meta = read_checkpoint_meta(checkpoint_path)
    trained = meta.get(TRAINED_ITERS_META_KEY)
    in_meta = meta.get(CALIBRATION_META_KEY)
    if isinstance(in_meta, dict) and trained is not None \
            and in_meta.get('trained_iters') == trained:
        return dict(in_meta, source=checkpoint_path, stale=False)
    sidecar = osp.join(
        osp.dirname(osp.abspath(checkpoint_path)), CALIBRATION_FILE)
    if trained is not None:
        for entry in reversed(read_calibration_file(sidecar)):
            if entry.get('trained_iters') == trained:
                return dict(entry, source=sidecar, stale=False)
    if isinstance(in_meta, dict):
        return dict(in_meta, source=checkpoint_path, stale=True)
    return None


def _structure_metric_cfgs(evaluator: Any,
                           kind_name: str = 'StructureMetric') -> List[Any]:
    """The StructureMetric (or ``kind_name``) dicts inside an evaluator config
    (dict, list or Evaluator)."""
    if evaluator is None:
        return []
    if isinstance(evaluator, (list, tuple)):
        return [
            m for item in evaluator
            for m in _structure_metric_cfgs(item, kind_name)
        ]
    if not hasattr(evaluator, 'get'):
        return []
    kind = evaluator.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    if name.split('.')[-1] == kind_name:
        return [evaluator]
    return _structure_metric_cfgs(evaluator.get('metrics'), kind_name)


def apply_calibrated_threshold(
        cfg: Any, checkpoint_path: Optional[str]) -> Optional[float]:
    """Sets the calibrated ``score_thr`` on the test evaluator's
    StructureMetric(s).

    Args:
        cfg (Config): the mmengine ``Config`` (modified in place).
        checkpoint_path (str, optional): the checkpoint being tested.

    Returns:
        float or None: the threshold applied, None when nothing was changed
            (every StructureMetric sets its own threshold, no checkpoint, or no
            calibration stored).
    """
    targets = [
        m for m in _structure_metric_cfgs(cfg.get('test_evaluator'))
        if m.get('score_thr', CALIBRATED) == CALIBRATED
    ]
    # A submission writer takes the calibrated threshold only when asked
    # explicitly (a heatmap model's zip needs its binarisation threshold; joint
    # models use 0).
    writers = [
        w for w in _structure_metric_cfgs(
            cfg.get('test_evaluator'), 'StructureSubmissionWriter')
        if w.get('score_thr') == CALIBRATED
    ]
    if not targets and not writers:
        return None
    calibration = None
    if checkpoint_path and osp.isfile(checkpoint_path):
        try:
            calibration = load_calibration(checkpoint_path)
        # an unreadable meta must not stop the test run
        except Exception as err:
            print_log(
                f'could not read the calibration of {checkpoint_path}: {err}',
                logger='current',
                level=logging.WARNING)
    thr = None if calibration is None else calibration.get('score_thr')
    if not isinstance(thr, (int, float)) or not math.isfinite(thr):
        for m in targets:
            m.pop('score_thr', None)
        print_log(
            'no calibrated StructureMetric threshold stored with '
            f'{checkpoint_path}; using the metric default (train with '
            'StructureCalibrationHook, or set test_evaluator.score_thr)',
            logger='current',
            level=logging.WARNING)
        return None
    thr = float(calibration['score_thr'])
    for m in targets + writers:
        m['score_thr'] = thr
    where = (f'validation at epoch {calibration.get("epoch")}, iter '
             f'{calibration.get("iter")}, '
             f'F1 {calibration.get("f1_score", float("nan")):.4f}')
    if calibration.get('stale'):
        print_log(
            f'StructureMetric score_thr={thr:g} comes from the last {where} '
            f'before {checkpoint_path} was saved, not from a validation of '
            'these weights; prefer a save_best checkpoint or set '
            'test_evaluator.score_thr',
            logger='current',
            level=logging.WARNING)
    else:
        print_log(
            f'StructureMetric score_thr={thr:g} calibrated on the {where} '
            f'({calibration.get("source")})',
            logger='current')
    return thr
