"""Write the challenge's submission zip straight from a test run."""
import os.path as osp
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..functional import to_scorer_mask
from ..functional.regions import SCORER_SIZE
from ..functional.sample_fields import sample_field as _get
from ..submission_io import (format_readme, image_key, split_keys,
                             write_submission)
from ..submission_preds import prediction_mask


@METRICS.register_module()
class StructureSubmissionWriter(BaseMetric):
    """Collect every test image's region mask and score into a submission.

    Add it next to ``StructureMetric`` in ``test_evaluator`` (the joint configs
    do): each sample's regions (the union of its instances with
    ``score >= score_thr``, or its heatmap) are brought to the scorer's
    512x512 grid, its ``pred_score`` is taken as the structure score, and
    after the last batch ``output.pkl`` + ``readme.txt`` are written
    atomically with
    :func:`struct_det.evaluation.submission_io.write_submission`. Works
    under distributed testing (results are gathered like any metric's).

    Args:
        out_file (str): The ``.zip`` to write.
        score_thr (float | str): Instance score (``>=``) or heatmap (``>``)
            threshold. The joint model already thresholds each detector, so
            0 keeps its regions as they are. ``'calibrated'``: the threshold
            ``tools/test.py`` reads from the checkpoint (what a heatmap model
            needs; an error if none was stored).
        pred_source (str): ``'auto'``, ``'instances'``, ``'heatmap'`` or
            ``'sem_seg'``.
        split_file (str, optional): An EvalMuse ``*_info.json`` or COCO file
            of the split: every key must then be present.
        runtime_per_image (float, optional): For the readme; by default the
            measured wall time from the first to the last batch per image.
        extra_data (bool): For the readme: training used extra data.
        description (str): For the readme's "Other description" line.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric prefix (nothing is reported).
    """
    default_prefix: Optional[str] = 'submission'

    def __init__(self,
                 out_file: str,
                 score_thr: float = 0.0,
                 pred_source: str = 'auto',
                 split_file: Optional[str] = None,
                 runtime_per_image: Optional[float] = None,
                 extra_data: bool = False,
                 description: str = '',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not str(out_file).endswith('.zip'):
            raise ValueError(
                f'StructureSubmissionWriter: out_file {out_file!r} '
                'must be a .zip (the challenge uploads a zip)')
        self.out_file = out_file
        if score_thr == 'calibrated':
            raise ValueError(
                "StructureSubmissionWriter: score_thr='calibrated' but no "
                'calibrated threshold was applied: test with tools/test.py '
                'and a checkpoint trained with StructureCalibrationHook, or '
                'set test_evaluator.<i>.score_thr')
        self.score_thr = float(score_thr)
        self.pred_source = pred_source
        self.split_file = split_file
        self.runtime_per_image = runtime_per_image
        self.extra_data = extra_data
        self.description = description
        self._started: Optional[float] = None
        self._on_cpu = True

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Turn each prediction into a packed 512x512 mask and a score.

        Args:
            data_batch (Any): The dataloader batch (unused).
            data_samples (Sequence[Any]): Model outputs (dicts or data
                samples) with ``img_path``, ``pred_score`` and regions.
        """
        if self._started is None:
            self._started = time.perf_counter()
        for sample in data_samples:
            path = _get(sample, 'img_path')
            if path is None:
                raise KeyError("StructureSubmissionWriter: a sample has no "
                               "'img_path'; keep it in PackDetInputs' "
                               'meta_keys')
            key = image_key(path)
            score = _get(sample, 'pred_score')
            if score is None:
                raise KeyError(f'StructureSubmissionWriter: image {key!r} has '
                               'no pred_score; use a model that predicts the '
                               'structure score (e.g. StructureAssessor)')
            if isinstance(score, torch.Tensor):
                self._on_cpu = score.device.type == 'cpu'
                score = score.detach().cpu().numpy()
            score = float(np.asarray(score, np.float64).reshape(-1)[0])
            mask = prediction_mask(sample, self.score_thr, self.pred_source)
            if mask is None:
                raise KeyError(f'StructureSubmissionWriter: image {key!r} has '
                               'neither pred_instances nor pred_sem_seg')
            # bit-packed: 32 KB per image to gather instead of 256 KB
            packed = np.packbits(to_scorer_mask(mask).astype(bool))
            self.results.append((key, score, packed))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Write the zip from all gathered predictions.

        Args:
            results (list[tuple]): ``(key, score, packed mask)`` from
                every rank.

        Returns:
            dict[str, float]: Empty: this metric writes a file and reports
                nothing.
        """
        preds = {}
        for key, score, packed in results:
            if key in preds:
                raise ValueError(f'StructureSubmissionWriter: image {key!r} '
                                 'appears twice in the test set')
            area = np.unpackbits(packed)[:SCORER_SIZE * SCORER_SIZE]
            preds[key] = dict(
                score=score,
                pred_area=area.reshape(SCORER_SIZE,
                                       SCORER_SIZE).astype(np.uint8))
        runtime = self.runtime_per_image
        if runtime is None:
            now = time.perf_counter()
            elapsed = now - (self._started or now)
            runtime = elapsed / max(len(preds), 1)
        readme = format_readme(
            runtime,
            use_cpu=self._on_cpu,
            extra_data=self.extra_data,
            description=self.description)
        keys = split_keys(self.split_file) if self.split_file else None
        write_submission(self.out_file, preds, readme, keys)
        print_log(
            f'StructureSubmissionWriter: wrote {len(preds)} predictions to '
            f'{osp.abspath(self.out_file)}',
            logger='current')
        self._started = None
        return {}
