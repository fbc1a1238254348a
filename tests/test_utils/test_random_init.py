"""Random-init configs: every weight file a real config names is cleared, none
is left.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from struct_det.utils.random_init import (clear_weight_files,
                                          weight_file_references)


def _real_configs(repo_root):
    return sorted(
        p for p in glob.glob(osp.join(repo_root, 'configs', '*', '*.py'))
        if osp.basename(osp.dirname(p)) not in ('tiny', '_base_'))


def test_real_configs_name_weight_files_and_lose_them_all(repo_root):
    configs = _real_configs(repo_root)
    assert len(configs) >= 7
    for path in configs:
        cfg = Config.fromfile(path)
        named = weight_file_references(cfg)
        # a joint config names its members' checkpoints
        if 'joint' not in path:
            assert named, f'{path} names no weights: is it a real config?'
        cleared = clear_weight_files(cfg)
        assert weight_file_references(cfg) == [], path
        assert cfg.load_from is None and cfg.resume is False
        # what was named was cleared, by name
        for name, _ in named:
            assert any(name == c or name.startswith(c + '.')
                       for c in cleared), (path, name)


def test_what_each_kind_of_field_becomes():
    cfg = Config(
        dict(
            load_from='checkpoints/x.pth',
            model=dict(
                type='LoDa',
                vit=dict(
                    model_name='vit_base_patch16_224',
                    pretrained='checkpoints/vit.safetensors'),
                cnn=dict(
                    model_name='resnet50',
                    pretrained=True,
                    pretrained_cfg_overlay=dict(file='r50.bin')),
                backbone=dict(init_cfg=[
                    dict(
                        type='Pretrained',
                        checkpoint='torchvision://resnet50'),
                    dict(type='Constant', val=0, layer='Linear')
                ]),
                neck=dict(
                    init_cfg=dict(
                        type='Pretrained', checkpoint='open-mmlab://x'),
                    in_channels=[256, 512]),
                detectors=[
                    dict(
                        config='configs/a.py',
                        checkpoint='work_dirs/a.pth',
                        score_thr=0.3)
                ])))
    cleared = clear_weight_files(cfg)
    assert cfg.load_from is None
    assert cfg.model.vit.pretrained is None
    assert cfg.model.vit.model_name == 'vit_base_patch16_224'
    assert cfg.model.cnn.pretrained is False
    assert cfg.model.cnn.pretrained_cfg_overlay is None
    assert cfg.model.backbone.init_cfg == [
        dict(type='Constant', val=0, layer='Linear')
    ]
    assert cfg.model.neck.init_cfg is None and cfg.model.neck.in_channels == [
        256, 512
    ]
    assert cfg.model.detectors[0].checkpoint is None
    # a config, not weights
    assert cfg.model.detectors[0].config == 'configs/a.py'
    assert set(cleared) == {
        'load_from', 'model.vit.pretrained', 'model.cnn.pretrained',
        'model.cnn.pretrained_cfg_overlay', 'model.backbone.init_cfg',
        'model.neck.init_cfg', 'model.detectors.0.checkpoint'
    }
    assert weight_file_references(cfg) == []


@pytest.mark.parametrize('value', [
    'weights/model.pth', 'https://host/x.safetensors', 'hf-hub:timm/vit_base'
])
def test_unknown_weight_fields_are_found(value):
    cfg = Config(dict(model=dict(backbone=dict(weights_file=value))))
    clear_weight_files(cfg)
    assert weight_file_references(cfg) == [('model.backbone.weights_file',
                                            value)]
