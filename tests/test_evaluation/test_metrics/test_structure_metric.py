"""StructureMetric on hand-built DetDataSamples, checked against
score_submission.
"""
import pickle

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData, PixelData

from struct_det.evaluation import \
    StructureMetric  # noqa: F401  registers the metric
from struct_det.evaluation.functional import gt_scorer_mask, score_submission


def _rect(shape, y0, x0, y1, x1):
    m = np.zeros(shape, np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _sample(idx,
            shape,
            gt_masks,
            mos,
            inst_masks=None,
            scores=None,
            pred_score=None,
            boxes=None,
            heatmap=None,
            gt_as_tensor=False):
    s = DetDataSample(
        metainfo=dict(
            img_id=idx,
            img_path=f'images/{idx:032x}.jpg',
            ori_shape=shape,
            mos=mos))
    gt = InstanceData()
    if gt_as_tensor:
        gt.masks = torch.as_tensor(
            np.array(gt_masks, np.uint8).reshape(-1, *shape)).bool()
    else:
        gt.masks = BitmapMasks(
            np.array(gt_masks, np.uint8).reshape(-1, *shape), *shape)
    gt.bboxes = torch.zeros((len(gt_masks), 4))
    gt.labels = torch.zeros(len(gt_masks), dtype=torch.long)
    s.gt_instances = gt
    if scores is not None:
        pred = InstanceData()
        pred.scores = torch.tensor(scores, dtype=torch.float32)
        pred.labels = torch.zeros(len(scores), dtype=torch.long)
        pred.bboxes = (
            torch.tensor(boxes, dtype=torch.float32)
            if boxes is not None else torch.zeros((len(scores), 4)))
        if inst_masks is not None:
            pred.masks = torch.as_tensor(
                np.array(inst_masks, bool).reshape(-1, *shape))
        s.pred_instances = pred
    if heatmap is not None:
        s.pred_sem_seg = PixelData(
            sem_seg=torch.as_tensor(heatmap[None], dtype=torch.float32))
    if pred_score is not None:
        s.pred_score = torch.tensor([pred_score])
    return s


def _random_samples(n=12, seed=0, shape=(96, 128)):
    """Samples with GT blobs, scored instances near them, false positives,
    scores.
    """
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        gts, insts, scores = [], [], []
        for _ in range(int(rng.integers(0, 3))):
            y, x = int(rng.integers(0, shape[0] - 30)), int(
                rng.integers(0, shape[1] - 30))
            h, w = (int(v) for v in rng.integers(12, 30, 2))
            gts.append(_rect(shape, y, x, y + h, x + w))
            dy, dx = (int(v) for v in rng.integers(-4, 5, 2))
            insts.append(
                _rect(shape, max(y + dy, 0), max(x + dx, 0), y + h + dy,
                      x + w + dx))
            scores.append(float(rng.uniform(0.2, 0.95)))
        # false positives, mostly low scores
        for _ in range(int(rng.integers(0, 3))):
            y, x = int(rng.integers(0, shape[0] - 20)), int(
                rng.integers(0, shape[1] - 20))
            insts.append(_rect(shape, y, x, y + 18, x + 18))
            scores.append(float(rng.uniform(0.05, 0.6)))
        mos = round(
            float(np.clip(4.5 - 1.2 * len(gts) + rng.normal(0, 0.4), 1, 5)) *
            3) / 3
        samples.append(
            _sample(
                i,
                shape,
                gts,
                mos,
                insts,
                scores,
                pred_score=mos + float(rng.normal(0, 0.5))))
    return samples


def _submission(samples, thr):
    """The same predictions in submission form, written independently of the
    metric.
    """
    preds, gts = {}, {}
    for s in samples:
        key = str(s.img_id)
        shape = s.ori_shape
        union = np.zeros(shape, np.uint8)
        if 'pred_instances' in s:
            keep = s.pred_instances.scores.numpy() >= thr
            for m in s.pred_instances.masks.numpy()[keep]:
                union |= m.astype(np.uint8)
        gt_union = np.zeros(shape, np.uint8)
        for m in s.gt_instances.masks.masks:
            gt_union |= m
        gt_area = gt_scorer_mask(gt_union)
        preds[key] = {'score': float(s.pred_score[0]), 'pred_area': union}
        gts[key] = {'score': s.metainfo['mos'], 'pred_area': gt_area}
    return preds, gts


def _evaluate(samples, **kwargs):
    evaluator = Evaluator(
        METRICS.build(dict(type='StructureMetric', **kwargs)))
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_matches_score_submission_at_each_threshold():
    samples = _random_samples()
    thrs = [0.1, 0.3, 0.5, 0.7]
    metrics = _evaluate(samples, score_thr=thrs)
    f1s = []
    for thr in thrs:
        expected = score_submission(*_submission(samples, thr))
        assert metrics[f'structure/f1_score@{thr:g}'] == expected['f1_score']
        assert metrics[f'structure/final_score@{thr:g}'] == expected[
            'final_score']
        f1s.append(expected['f1_score'])
    best = thrs[int(np.argmax(f1s))]
    expected = score_submission(*_submission(samples, best))
    assert metrics['structure/best_score_thr'] == best
    for key in ('precision', 'recall', 'f1_score', 'giou', 'pixel_f1', 'srcc',
                'plcc', 'final_score'):
        assert metrics[f'structure/{key}'] == expected[key], key
    assert len(set(f1s)) > 1  # the thresholds really differ on this set


def test_single_threshold_and_tensor_gt():
    samples = _random_samples(seed=1)
    tensor_gt = _random_samples(seed=1)
    for s in tensor_gt:
        s.gt_instances.masks = torch.as_tensor(
            s.gt_instances.masks.masks).bool()
    a = _evaluate(samples, score_thr=0.4)
    b = _evaluate(tensor_gt, score_thr=0.4)
    assert a == b
    assert a['structure/best_score_thr'] == pytest.approx(0.4)
    assert not any('@' in k for k in a)
    assert a['structure/f1_score'] == score_submission(
        *_submission(samples, 0.4))['f1_score']


def test_masks_only_and_scores_only():
    samples = _random_samples(seed=2)
    for s in samples:
        del s.pred_score
    metrics = _evaluate(samples)
    assert 'structure/f1_score' in metrics
    assert not any(
        k.split('/')[1] in ('srcc', 'plcc', 'final_score') for k in metrics)

    score_only = _random_samples(seed=2)
    for s in score_only:
        del s.pred_instances
    metrics = _evaluate(score_only)
    assert set(metrics) == {'structure/srcc', 'structure/plcc'}
    expected = score_submission(*_submission(_random_samples(seed=2), 0.3))
    assert metrics['structure/srcc'] == expected['srcc']
    assert metrics['structure/plcc'] == expected['plcc']


def test_boxes_are_filled_without_masks():
    shape = (64, 80)
    gt = [_rect(shape, 10, 10, 40, 40)]
    # box (x0, y0, x1, y1) = (9.5, 10.2, 40, 39.6) fills rows 10..39, cols
    # 9..39
    s = _sample(
        0, shape, gt, 3.0, None, [0.9], boxes=[[9.5, 10.2, 40.0, 39.6]])
    s2 = _sample(
        1, shape, gt, 3.0, None, [0.2], boxes=[[9.5, 10.2, 40.0, 39.6]])
    metrics = _evaluate([s, s2], score_thr=0.5)
    assert metrics['structure/precision'] == 1.0 and metrics[
        'structure/recall'] == 0.5
    expected_area = _rect(shape, 10, 9, 40, 40)
    gt_area = gt_scorer_mask(gt[0])
    expected = score_submission(
        {'a': {
            'score': 1.0,
            'pred_area': expected_area
        }}, {'a': {
            'score': 1.0,
            'pred_area': gt_area
        }},
        check=False)
    assert metrics['structure/giou'] == pytest.approx(
        (expected['giou'] + 1e-4 / (gt_area.sum() + 1e-4)) / 2, rel=1e-12)


def test_heatmap_predictions():
    shape = (64, 64)
    heat = np.zeros(shape, np.float32)
    heat[10:40, 10:40] = 0.6
    heat[50:60, 50:60] = 0.2  # below 0.3 only
    samples = [
        _sample(0, shape, [_rect(shape, 10, 10, 40, 40)], 2.0, heatmap=heat)
    ]
    metrics = _evaluate(samples, score_thr=[0.1, 0.3])
    # At 0.1 the weak blob counts as a second region (a false positive); at 0.3
    # it does not.
    assert metrics['structure/f1_score@0.1'] < metrics[
        'structure/f1_score@0.3']
    assert metrics['structure/best_score_thr'] == 0.3
    assert metrics['structure/precision'] == 1.0
    with pytest.raises(ValueError, match='no pred_instances'):
        _evaluate(samples, pred_source='instances')


def test_clean_images_and_nan_with_warnings():
    shape = (32, 32)
    empty = _sample(0, shape, [], 4.0, [], [], pred_score=4.0)
    with pytest.warns(RuntimeWarning) as caught:
        metrics = _evaluate(
            [empty, _sample(1, shape, [], 5.0, [], [], pred_score=4.5)])
    text = ' | '.join(str(w.message) for w in caught)
    assert 'no predicted region' in text and 'no GT region' in text
    assert 'at least 4' in text
    for key in ('precision', 'recall', 'f1_score', 'plcc', 'final_score',
                'best_score_thr'):
        assert np.isnan(metrics[f'structure/{key}']), key
    assert metrics['structure/giou'] == 1.0


def test_missing_gt_masks_or_mos_are_reported_not_invented():
    samples = _random_samples(n=6, seed=3)
    for s in samples:
        del s.gt_instances.masks
        s.set_metainfo(dict(mos=None))
    with pytest.warns(RuntimeWarning, match='LoadAnnotations'):
        metrics = _evaluate(samples)
    assert metrics == {}


def test_records_are_compact_and_padding_is_dropped():
    samples = _random_samples(n=8, seed=4)
    metric = METRICS.build(dict(type='StructureMetric', score_thr=[0.2, 0.5]))
    # A distributed sampler pads the last batch by repeating samples;
    # evaluate(size) keeps the first `size` records.
    metric.process(None, [s.to_dict() for s in samples + samples[:3]])
    assert len(pickle.dumps(metric.results)) < 400 * len(metric.results)
    padded = metric.evaluate(len(samples))
    assert padded == _evaluate(samples, score_thr=[0.2, 0.5])


def test_invalid_arguments():
    with pytest.raises(ValueError, match='score_thr'):
        StructureMetric(score_thr=[])
    with pytest.raises(ValueError, match='duplicates'):
        StructureMetric(score_thr=[0.3, 0.3])
    with pytest.raises(ValueError, match='pred_source'):
        StructureMetric(pred_source='boxes')
    with pytest.raises(ValueError, match='plcc_fit'):
        StructureMetric(plcc_fit='cubic')
    with pytest.warns(RuntimeWarning, match='calibrated'):
        assert StructureMetric(score_thr='calibrated').score_thrs == [0.3]
