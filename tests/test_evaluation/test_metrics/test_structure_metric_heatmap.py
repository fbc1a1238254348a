"""StructureMetric and the submission writer on heatmaps (mmseg samples)."""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData, PixelData
from mmseg.structures import SegDataSample

from struct_det.engine import apply_calibrated_threshold
from struct_det.evaluation import StructureMetric, StructureSubmissionWriter
from struct_det.evaluation.functional.sample_heatmap import sample_heatmap
from struct_det.evaluation.submission import prediction_mask

THRS = [0.1, 0.3, 0.5, 0.7, 0.9]


@pytest.fixture(scope='module')
def val_targets(sample_data_root):
    """The val split's packed targets (consensus, soft map, MOS) from the
    heatmap dataset.
    """
    from struct_det.datasets import EvalMuseHeatmapDataset
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = EvalMuseHeatmapDataset(
            ann_file='annotations/evalmuse_val.json',
            data_root=sample_data_root,
            data_prefix=dict(img_path='train/images/'),
            test_mode=True,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadHeatmapAnnotations'),
                dict(type='PackHeatmapInputs')
            ])
        return [dataset[i]['data_samples'] for i in range(len(dataset))]


def _as_prediction(target: SegDataSample, heatmap: torch.Tensor,
                   score: float) -> dict:
    sample = SegDataSample(metainfo=target.metainfo)
    sample.gt_sem_seg = target.gt_sem_seg
    sample.seg_logits = PixelData(data=heatmap[None].float())
    sample.pred_sem_seg = PixelData(data=(heatmap[None] > 0.5).float())
    sample.pred_score = torch.tensor([score])
    return sample.to_dict()  # what the evaluator hands to metrics


def _run(metric, samples):
    metric.dataset_meta = {}
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_the_gt_heatmap_scores_f1_one(val_targets):
    assert sum(bool(t.gt_sem_seg.data.any()) for t in val_targets) > 5
    samples = [
        _as_prediction(t, t.gt_sem_seg.data[0], t.mos) for t in val_targets
    ]
    metrics = _run(StructureMetric(score_thr=THRS), samples)
    # (the released scorer's epsilon keeps F1 a hair below 1)
    for thr in THRS:
        assert metrics[f'f1_score@{thr:g}'] == pytest.approx(1.0, abs=1e-9)
    for key in ('precision', 'recall', 'f1_score'):
        assert metrics[key] == pytest.approx(1.0, abs=1e-9), key
    assert metrics['srcc'] == pytest.approx(1.0)
    # the soft agreement map, cut between K-1 and K of N annotators, is the
    # consensus too
    soft = [
        _as_prediction(t, t.gt_heatmap.data[0], t.mos) for t in val_targets
    ]
    assert {t.num_annotators for t in val_targets} == {3}
    cut = _run(StructureMetric(score_thr=[0.5]), soft)
    assert cut['f1_score'] == pytest.approx(1.0, abs=1e-9)


def test_heatmap_counts_equal_the_instance_path(val_targets):
    """The same regions as a heatmap and as instances give the same numbers."""
    rng = np.random.default_rng(0)
    heat_samples, inst_samples = [], []
    for t in val_targets:
        h, w = t.gt_sem_seg.data.shape[-2:]
        pred = np.zeros((h, w), np.float32)
        y, x = rng.integers(0, h - 40), rng.integers(0, w - 40)
        pred[y:y + 40, x:x + 40] = 0.8
        pred = np.maximum(
            pred, t.gt_sem_seg.data[0].numpy() * rng.choice([0.2, 0.6]))
        heat_samples.append(_as_prediction(t, torch.from_numpy(pred), t.mos))
        binary = torch.from_numpy(pred > 0.5)
        inst = InstanceData(
            masks=binary[None],
            scores=torch.ones(1),
            labels=torch.zeros(1),
            bboxes=torch.zeros(1, 4))
        gt = InstanceData(
            masks=t.gt_sem_seg.data.bool(), labels=torch.zeros(1))
        inst_samples.append(
            dict(
                pred_instances=inst.to_dict(),
                gt_instances=gt.to_dict(),
                ori_shape=(h, w),
                mos=t.mos,
                pred_score=torch.tensor([t.mos]),
                img_id=t.img_id))
    heat = _run(StructureMetric(score_thr=0.5), heat_samples)
    inst = _run(StructureMetric(score_thr=0.5), inst_samples)
    for key in ('precision', 'recall', 'f1_score', 'giou'):
        assert heat[key] == pytest.approx(inst[key], nan_ok=True), key
    assert 0 < heat['f1_score'] < 1


def test_sources_and_two_channel_logits(val_targets):
    t = val_targets[0]
    heat = torch.rand(t.gt_sem_seg.data.shape[-2:])
    sample = _as_prediction(t, heat, 3.0)
    np.testing.assert_allclose(sample_heatmap(sample, 'heatmap'), heat.numpy())
    np.testing.assert_array_equal(
        sample_heatmap(sample, 'sem_seg'), (heat > 0.5).numpy())
    two = dict(
        seg_logits=dict(
            data=torch.stack([torch.zeros_like(heat), heat * 4 - 2])))
    # softmax of (0, z) = sigmoid(z)
    expected = 1 / (1 + np.exp(-(heat.numpy() * 4 - 2)))
    np.testing.assert_allclose(sample_heatmap(two), expected, rtol=1e-5)
    with pytest.raises(ValueError, match='3 channels'):
        sample_heatmap(dict(seg_logits=dict(data=torch.zeros(3, 4, 4))))
    with pytest.raises(
            ValueError, match="pred_source='heatmap' but a sample has no"):
        StructureMetric(pred_source='heatmap').process({}, [
            dict(
                gt_sem_seg=dict(data=torch.zeros(1, 4, 4)),
                pred_sem_seg=dict(data=torch.zeros(1, 4, 4)))
        ])
    # the submission writer's mask is the metric's
    mask = prediction_mask(sample, 0.3)
    np.testing.assert_array_equal(mask, (heat > 0.3).numpy().astype(np.uint8))


def test_writer_takes_the_calibrated_threshold(tmp_path):
    ckpt = tmp_path / 'iter_5.pth'
    torch.save(
        dict(
            state_dict={},
            meta=dict(
                structure_trained_iters=5,
                structure_calibration=dict(
                    score_thr=0.4,
                    trained_iters=5,
                    f1_score=0.5,
                    epoch=0,
                    iter=5))), ckpt)
    cfg = Config(
        dict(test_evaluator=[
            dict(type='mmdet.StructureMetric', score_thr='calibrated'),
            dict(type='IoUMetric'),
            dict(
                type='mmdet.StructureSubmissionWriter',
                out_file='x.zip',
                score_thr='calibrated'),
            dict(type='StructureSubmissionWriter', out_file='y.zip'),
        ]))
    assert apply_calibrated_threshold(cfg, str(ckpt)) == 0.4
    thrs = [e.get('score_thr') for e in cfg.test_evaluator]
    # a writer without 'calibrated' keeps its 0
    assert thrs == [0.4, None, 0.4, None]
    with pytest.raises(
            ValueError, match="score_thr='calibrated' but no calibrated"):
        StructureSubmissionWriter(out_file='z.zip', score_thr='calibrated')
    assert math.isfinite(StructureSubmissionWriter(out_file='z.zip').score_thr)
