"""The real heatmap configs: published timm backbones by name, local weights,
shapes that fit (built on the meta device: no memory, no weights)."""
import copy
import os.path as osp

import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

import struct_det  # noqa: F401  registers the modules

CONFIGS = {
    'configs/heatmap/unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.py':  # noqa: E501
    (448, 14, 1024),
    'configs/heatmap/unet-heatmap-score_siglip2-so400m-p16-512_8xb4-3k_evalmuse-structure.py':  # noqa: E501
    (512, 16, 1152),
}


@pytest.mark.parametrize('path', sorted(CONFIGS))
def test_real_heatmap_config_builds_and_fits(repo_root, path):
    size, patch, width = CONFIGS[path]
    cfg = Config.fromfile(osp.join(repo_root, path))
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(
        imports=['struct_det'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    name, tag = backbone.model_name.split('.')
    # published weights
    assert backbone.model_name in timm.list_pretrained(name + '*')
    # a local file, nothing fetched
    assert backbone.pretrained.startswith('checkpoints/')
    assert cfg.tta_model.type == 'HeatmapTTAModel'
    assert cfg.model.data_preprocessor.size_divisor == patch
    with DefaultScope.overwrite_default_scope('mmseg'), torch.device('meta'):
        model = MODELS.build(copy.deepcopy(cfg.model))
        feats = model.backbone(torch.empty(1, 3, size, size))
        logits = model.decode_head(feats)
        score = model.score_head(feats)
    assert [tuple(f.shape)
            for f in feats] == [(1, width, size // patch, size // patch)] * 4
    assert tuple(logits.shape) == (1, 1, size // patch * 16,
                                   size // patch * 16)
    assert tuple(score.shape) == (1, )
    frozen = sum(p.numel() for p in model.backbone.parameters()
                 if not p.requires_grad)
    assert 0 < frozen < sum(p.numel() for p in model.backbone.parameters())


def test_wecan_joint_config_names_both_tiers(repo_root):
    cfg = Config.fromfile(
        osp.join(
            repo_root,
            'configs/joint/structure-assessor_eva02-l-heatmap_mask2former-swin-l_evalmuse-structure.py'  # noqa: E501
        ))
    assert cfg.model.type == 'StructureAssessor'
    assert cfg.model.regressor is None
    assert 'mask2former' in cfg.model.detectors[0].config
    assert 'configs/heatmap/' in cfg.model.segmentors[0].config
    assert cfg.model.fusion.mode == 'union'
    for member in cfg.model.detectors + cfg.model.segmentors:
        assert osp.isfile(osp.join(repo_root, member.config))
