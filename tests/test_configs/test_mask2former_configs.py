"""Mask2Former configs: single-class settings, TTA wiring, and a tiny CPU run.
"""
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL = [
    'configs/mask2former/mask2former_r50_8xb2-lsj-50e_evalmuse-structure.py',
    'configs/mask2former/'
    'mask2former_swin-l-p4-w12-384-in21k_8xb2-lsj-50e_evalmuse-structure.py',
]
TINY = 'configs/tiny/mask2former_tiny_evalmuse-sample.py'


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path))


def _types(transforms):
    for t in transforms:
        if isinstance(t, (list, tuple)):
            yield from _types(t)
            continue
        yield t
        if t['type'] == 'TestTimeAug':
            yield from _types(t['transforms'])


@pytest.mark.parametrize('path', REAL + [TINY])
def test_single_class_instance_segmentation(path):
    cfg = _cfg(path)
    head = cfg.model.panoptic_head
    fusion = cfg.model.panoptic_fusion_head
    assert (head.num_things_classes, head.num_stuff_classes) == (1, 0)
    assert (fusion.num_things_classes, fusion.num_stuff_classes) == (1, 0)
    assert head.loss_cls.class_weight == [1.0, 0.1]
    test_cfg = cfg.model.test_cfg
    assert test_cfg.instance_on and not test_cfg.panoptic_on
    # instance_postprocess takes top-k over queries x classes
    assert test_cfg.max_per_image <= head.num_queries
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'EvalMuseStructureDataset'
        assert loader.dataset.metainfo['classes'] == ('distortion', )
    assert cfg.test_evaluator.type == 'StructureMetric'
    meta_keys = cfg.test_dataloader.dataset.pipeline[-1].meta_keys
    assert 'mos' in meta_keys


@pytest.mark.parametrize('path', REAL)
def test_real_configs_fine_tune_released_coco_weights(path):
    cfg = _cfg(path)
    assert cfg.load_from.startswith(
        'https://download.openmmlab.com/mmdetection/v3.0/mask2former/')
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'


@pytest.mark.parametrize('path', REAL + [TINY])
def test_tta_is_ready_for_tools_test(path):
    cfg = _cfg(path)
    assert cfg.tta_model.type == 'DetMaskTTAModel'
    assert cfg.tta_model.max_per_img <= cfg.model.panoptic_head.num_queries
    transforms = list(_types(cfg.tta_pipeline))
    flips = [t for t in transforms if t['type'] == 'RandomFlip']
    assert any(t['prob'] == 1.0 for t in flips)
    [pack] = [t for t in transforms if t['type'] == 'PackDetInputs']
    assert {'flip', 'flip_direction', 'ori_shape',
            'mos'} <= set(pack.meta_keys)
    # GT after the geometric views: the metric compares at the original size
    names = [t['type'] for t in transforms]
    assert names.index('LoadAnnotations') > names.index('RandomFlip')


def test_config_basenames_are_unique():
    names = [
        osp.basename(p) for p in glob.glob(
            osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p
    ]
    assert len(names) == len(set(names))


def test_tiny_mask2former_trains_on_cpu_and_predicts_at_original_size(
        sample_data_root, tmp_path):
    cfg = _cfg(TINY)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_iters = 6
    cfg.train_cfg.val_interval = 6
    cfg.param_scheduler.end = 6
    cfg.param_scheduler.milestones = [5]
    cfg.default_hooks.checkpoint.interval = 6
    cfg.default_hooks.logger.interval = 2
    cfg.val_dataloader.dataset.indices = 4
    cfg.test_dataloader = cfg.val_dataloader
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    assert osp.isfile(osp.join(str(tmp_path), 'iter_6.pth'))

    model = runner.model.eval()
    batch = next(iter(runner.val_dataloader))
    with torch.no_grad():
        outputs = model.test_step(batch)
    for sample in outputs:
        pred = sample.pred_instances
        height, width = sample.metainfo['ori_shape']
        # the images are not 128 px: predictions come back at their size
        assert tuple(pred.masks.shape[1:]) == (height, width)
        assert len(pred) <= cfg.model.panoptic_head.num_queries
        assert bool(((pred.scores >= 0) & (pred.scores <= 1)).all())
