"""StructureCalibrationHook in a real (toy) mmengine run, and
apply_calibrated_threshold.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from struct_det.engine import (StructureCalibrationHook,
                               apply_calibrated_threshold, load_calibration)
from struct_det.evaluation import \
    StructureMetric  # noqa: F401  registers the metric

SHAPE = (48, 48)


def _square(y, x, s):
    m = np.zeros(SHAPE, np.uint8)
    m[y:y + s, x:x + s] = 1
    return m


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('distortion', ))

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(idx=idx)


class DriftingDetector(BaseModel):
    """Predicts the GT square and a false one; their scores rise with training.

    After n training iterations the true instance scores 0.3 + 0.1 n and the
    false one 0.2 less, so the best of the thresholds 0.2/0.4/0.6/0.8 moves
    from 0.4 (n = 2) to 0.6 (n = 4): each validation calibrates a different
    threshold.
    """

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.register_buffer('trained', torch.zeros((), dtype=torch.long))

    def forward(self, idx, mode='tensor'):
        if mode == 'loss':
            self.trained += 1
            return dict(loss=(self.weight - 1).pow(2).sum())
        samples = []
        true_score = 0.3 + 0.1 * float(self.trained)
        for i in idx:
            s = DetDataSample(
                metainfo=dict(img_id=i, ori_shape=SHAPE, mos=float(i + 1)))
            gt = _square(8, 8, 20)
            s.gt_instances = InstanceData(
                masks=BitmapMasks(gt[None], *SHAPE),
                bboxes=torch.zeros((1, 4)),
                labels=torch.zeros(1, dtype=torch.long))
            s.pred_instances = InstanceData(
                masks=torch.as_tensor(np.stack([gt, _square(30, 30,
                                                            16)])).bool(),
                scores=torch.tensor([true_score, true_score - 0.2]),
                bboxes=torch.zeros((2, 4)),
                labels=torch.zeros(2, dtype=torch.long))
            samples.append(s)
        return samples


def _run(work_dir):
    loader = dict(
        dataset=ToyDataset(),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        collate_fn=dict(type='pseudo_collate'))
    runner = Runner(
        model=DriftingDetector(),
        work_dir=str(work_dir),
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=dict(
            type='StructureMetric', score_thr=[0.2, 0.4, 0.6, 0.8]),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook',
                interval=1,
                save_best='structure/f1_score',
                rule='greater')),
        custom_hooks=[dict(type='StructureCalibrationHook')],
        default_scope='mmdet',
        randomness=dict(seed=0))
    runner.train()
    return runner


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('calib')
    _run(work_dir)
    return work_dir


def test_each_validation_is_recorded(trained):
    with open(osp.join(trained, 'structure_calibration.json')) as f:
        entries = json.load(f)['entries']
    assert [(e['epoch'], e['trained_iters'], e['score_thr'])
            for e in entries] == [(1, 2, 0.4), (2, 4, 0.6)]
    curve = entries[0]['curve']
    assert list(curve) == ['0.2', '0.4', '0.6', '0.8']
    assert curve['0.2'] == pytest.approx(
        2 / 3) and curve['0.4'] == pytest.approx(1.0)
    # Nothing predicted above 0.6 at epoch 1: precision and F1 are undefined
    # there.
    assert np.isnan(curve['0.6']) and np.isnan(curve['0.8'])
    assert entries[0]['f1_score'] == pytest.approx(1.0)


def test_checkpoints_carry_the_calibration_of_their_weights(trained):
    meta1 = torch.load(
        osp.join(trained, 'epoch_1.pth'), weights_only=False)['meta']
    meta2 = torch.load(
        osp.join(trained, 'epoch_2.pth'), weights_only=False)['meta']
    # Interval checkpoints are written before their own validation, so
    # epoch_2.pth holds the calibration of epoch 1 (the JSON file has its own);
    # epoch_1.pth was written again after its validation because it became the
    # best, so its meta is current.
    assert meta1['structure_calibration']['trained_iters'] == 2
    assert meta1['structure_trained_iters'] == 2
    assert meta2['structure_calibration']['trained_iters'] == 2
    assert meta2['structure_trained_iters'] == 4
    one, two = load_calibration(osp.join(trained, 'epoch_1.pth')), \
        load_calibration(osp.join(trained, 'epoch_2.pth'))
    assert (one['score_thr'], one['stale']) == (0.4, False)
    assert (two['score_thr'], two['stale']) == (0.6, False)
    assert one['source'].endswith('epoch_1.pth')
    assert two['source'].endswith('structure_calibration.json')
    # A save_best checkpoint is written after its validation: its meta is
    # current.
    best = [f for f in os.listdir(trained) if f.startswith('best_')]
    assert len(best) == 1
    calib = load_calibration(osp.join(trained, best[0]))
    assert calib['source'].endswith(best[0]) and not calib['stale']
    assert calib['score_thr'] == 0.4


def test_stale_meta_is_used_with_a_warning_without_the_json(trained, tmp_path):
    ckpt = tmp_path / 'epoch_2.pth'
    shutil.copy(osp.join(trained, 'epoch_2.pth'), ckpt)
    calib = load_calibration(str(ckpt))
    assert (calib['score_thr'], calib['stale']) == (0.4, True)
    cfg = Config(dict(test_evaluator=dict(type='StructureMetric')))
    assert apply_calibrated_threshold(cfg, str(ckpt)) == 0.4
    assert cfg.test_evaluator.score_thr == 0.4


@pytest.mark.parametrize(
    'evaluator,expected',
    [
        (dict(type='StructureMetric'), 0.6),
        (dict(type='StructureMetric', score_thr='calibrated'), 0.6),
        ([dict(type='CocoMetric'),
          dict(type='StructureMetric', prefix='s')], 0.6),
        (dict(type='Evaluator', metrics=[dict(type='StructureMetric')]), 0.6),
        # the config's value wins
        (dict(type='StructureMetric', score_thr=0.5), None),
    ])
def test_apply_calibrated_threshold(trained, evaluator, expected):
    cfg = Config(dict(test_evaluator=evaluator))
    applied = apply_calibrated_threshold(cfg, osp.join(trained, 'epoch_2.pth'))
    assert applied == expected
    metrics = cfg.test_evaluator
    metrics = metrics.get(
        'metrics', metrics) if not isinstance(metrics, list) else metrics
    metrics = metrics if isinstance(metrics, list) else [metrics]
    structure = [m for m in metrics if m['type'] == 'StructureMetric'][0]
    assert structure['score_thr'] == (0.5 if expected is None else expected)


def test_without_calibration_the_metric_default_is_kept(tmp_path):
    torch.save({
        'meta': {
            'epoch': 1
        },
        'state_dict': {}
    }, tmp_path / 'plain.pth')
    cfg = Config(
        dict(
            test_evaluator=dict(
                type='StructureMetric', score_thr='calibrated')))
    assert apply_calibrated_threshold(cfg, str(tmp_path / 'plain.pth')) is None
    assert 'score_thr' not in cfg.test_evaluator
    assert apply_calibrated_threshold(cfg, None) is None


def test_hook_ignores_validations_without_structure_metric():
    hook = StructureCalibrationHook()

    class FakeHub:
        info = {}

        def update_info(self, key, value):
            self.info[key] = value

        def get_info(self, key):
            return self.info.get(key)

    class FakeRunner:
        message_hub = FakeHub()

    hook.after_val_epoch(FakeRunner(), {'coco/bbox_mAP': 0.5})
    checkpoint = {'meta': {}}
    hook.before_save_checkpoint(FakeRunner(), checkpoint)
    assert 'structure_calibration' not in checkpoint['meta']
    assert checkpoint['meta']['structure_trained_iters'] == 0
