"""Records the validation-calibrated threshold of StructureMetric for
tools/test.py.
"""
import json
import os.path as osp
import re
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook

from struct_det.utils import atomic_write
from ..calibration import (CALIBRATION_FILE, CALIBRATION_INFO_KEY,
                           CALIBRATION_META_KEY, TRAINED_ITERS_META_KEY,
                           read_calibration_file)


@HOOKS.register_module()
class StructureCalibrationHook(Hook):
    """Logs StructureMetric's F1-versus-threshold curve and keeps its best
    threshold.

    After each validation the curve (``<prefix>/f1_score@thr`` keys) is logged
    as a table and the best threshold (``<prefix>/best_score_thr``) is recorded
    with the number of training iterations the validated weights had. Every
    checkpoint saved afterwards carries it in
    ``checkpoint['meta']['structure_calibration']``, and each validation is
    also appended to ``structure_calibration.json`` beside the checkpoints:
    interval checkpoints are written just before the validation of the same
    step, so the JSON is where their own calibration is found.
    :func:`struct_det.engine.apply_calibrated_threshold` reads both.

    The hook runs before ``CheckpointHook`` (priority NORMAL vs VERY_LOW), so a
    ``save_best`` checkpoint carries the threshold of the validation that made
    it best.

    Args:
        prefix (str): the StructureMetric's prefix. Defaults to
            ``'structure'``.
        log_curve (bool): log the curve table after each validation. Defaults
            to True.
    """
    priority = 'NORMAL'

    def __init__(self,
                 prefix: str = 'structure',
                 log_curve: bool = True) -> None:
        self.prefix = prefix
        self.log_curve = log_curve
        self._trained_iters = 0
        self._curve_key = re.compile(re.escape(prefix) + r'/f1_score@(.+)$')

    def before_train(self, runner) -> None:
        # Resumed runs continue counting from the checkpoint's iteration.
        self._trained_iters = runner.iter

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._trained_iters = runner.iter + 1

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Records the calibration of this validation."""
        thr_key = f'{self.prefix}/best_score_thr'
        if not metrics or thr_key not in metrics:
            return
        curve = {}
        for key, value in metrics.items():
            match = self._curve_key.match(key)
            if match:
                curve[float(match.group(1))] = float(value)
        if not curve:
            curve = {
                float(metrics[thr_key]):
                float(metrics.get(f'{self.prefix}/f1_score', float('nan')))
            }
        entry = dict(
            score_thr=float(metrics[thr_key]),
            f1_score=float(
                metrics.get(f'{self.prefix}/f1_score', float('nan'))),
            final_score=float(
                metrics.get(f'{self.prefix}/final_score', float('nan'))),
            curve={
                f'{t:g}': f
                for t, f in sorted(curve.items())
            },
            trained_iters=int(self._trained_iters),
            epoch=int(runner.epoch),
            iter=int(runner.iter))
        runner.message_hub.update_info(CALIBRATION_INFO_KEY, entry)
        if self.log_curve:
            runner.logger.info(self._curve_table(entry))
        if is_main_process():
            self._append_file(runner, entry)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Puts the latest calibration and the weights' training progress into
        the meta.
        """
        meta = checkpoint.setdefault('meta', {})
        meta[TRAINED_ITERS_META_KEY] = int(self._trained_iters)
        entry = runner.message_hub.get_info(CALIBRATION_INFO_KEY)
        if entry is not None:
            meta[CALIBRATION_META_KEY] = dict(entry)

    def _curve_table(self, entry: dict) -> str:
        lines = [
            f'{self.prefix}: F1 versus score threshold (best '
            f'{entry["score_thr"]:g}, F1 '
            f'{entry["f1_score"]:.4f})', '  score_thr | F1'
        ]
        for thr, f1 in entry['curve'].items():
            mark = '  <- best' if float(thr) == entry['score_thr'] else ''
            lines.append(f'  {float(thr):9g} | {f1:.4f}{mark}')
        return '\n'.join(lines)

    @staticmethod
    def _folders(runner) -> list:
        folders = [runner.work_dir]
        for hook in runner.hooks:
            out_dir = getattr(hook, 'out_dir', None)
            if isinstance(hook, CheckpointHook) and isinstance(out_dir, str) \
                    and osp.isdir(out_dir) and out_dir not in folders:
                folders.append(out_dir)
        return folders

    def _append_file(self, runner, entry: dict) -> None:
        for folder in self._folders(runner):
            path = osp.join(folder, CALIBRATION_FILE)
            entries = read_calibration_file(path)
            entries = [
                e for e in entries
                if e.get('trained_iters') != entry['trained_iters']
            ]
            entries.append(entry)
            atomic_write(
                path, lambda f: json.dump({'entries': entries}, f, indent=1),
                'w')
