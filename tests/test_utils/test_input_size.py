"""Shrinking a config's input sizes: every fixed size follows, the architecture
does not.
"""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from struct_det.utils import innermost_dataset
from struct_det.utils.input_size import (UNBOUNDED, config_input_size,
                                         min_input_size, shrink_input_size,
                                         size_divisor)

CODINO_R50 = 'configs/codetr/co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py'  # noqa: E501
CODINO_SWIN = 'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py'  # noqa: E501
M2F_R50 = 'configs/mask2former/mask2former_r50_8xb2-lsj-50e_evalmuse-structure.py'  # noqa: E501
LODA_B = 'configs/loda/loda_vit-b16-r50_8xb16-10e_evalmuse-structure.py'
LODA_L = 'configs/loda/loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py'
SIZE_KEYS = ('scale', 'scales', 'crop_size', 'size')


def _cfg(repo_root, path):
    return Config.fromfile(osp.join(repo_root, path))


def _sizes(node, path=''):
    """{dotted path: number} of every pixel size under a transform/pad dict."""
    node = getattr(node, '_cfg_dict', node)
    found = {}
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f'{path}.{key}'
            if key in SIZE_KEYS and 'type' in node and value is not None:
                for i, n in enumerate(
                        np.ravel(np.asarray(value, dtype=float))):
                    found[f'{sub}[{i}]'] = n
            else:
                found.update(_sizes(value, sub))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found.update(_sizes(value, f'{path}.{i}'))
    return found


@pytest.mark.parametrize('path,size', [(CODINO_R50, 1024), (CODINO_SWIN, 1280),
                                       (M2F_R50, 1024), (LODA_B, 224),
                                       (LODA_L, 518)])
def test_input_size_is_the_largest_pad_or_crop(repo_root, path, size):
    assert config_input_size(_cfg(repo_root, path)) == size


@pytest.mark.parametrize('path,target', [(CODINO_R50, 256), (CODINO_SWIN, 256),
                                         (M2F_R50, 320), (LODA_L, 256),
                                         (LODA_B, 112)])
def test_every_size_scales_by_one_factor(repo_root, path, target):
    cfg = _cfg(repo_root, path)
    before = _sizes(cfg)
    original, new = shrink_input_size(cfg, target)
    after = _sizes(cfg)
    assert original == config_input_size(_cfg(repo_root, path))
    divisor = size_divisor(cfg)
    assert new == config_input_size(cfg) and target - divisor < new <= target
    assert before.keys() == after.keys() and len(before) > 3
    factor = target / original
    for key, old in before.items():
        if old >= UNBOUNDED:
            why = f'{key}: the unbounded side of a short-side resize'
            assert after[key] == old, why
            continue
        assert after[key] % divisor == 0, key
        # rounded down to a multiple of the divisor (never below one)
        low, high = max(divisor,
                        old * factor - divisor), max(divisor, old * factor)
        assert low <= after[key] <= high + 1e-3
    # the order of sizes is kept, e.g. TTA scales still fit the LSJ pad
    keys = sorted(before)
    for a in keys:
        for b in keys:
            if before[a] < before[b] < UNBOUNDED:
                assert after[a] <= after[b]


def test_co_dino_lsj_pads_and_crops_follow(repo_root):
    cfg = _cfg(repo_root, CODINO_R50)
    shrink_input_size(cfg, 256)
    assert tuple(cfg.model.data_preprocessor.batch_augments[0].size) == (256,
                                                                         256)
    train = {
        t['type']: t
        for t in innermost_dataset(cfg.train_dataloader.dataset).pipeline
    }
    assert tuple(train['RandomResize'].scale) == (256, 256)
    assert tuple(train['RandomCrop'].crop_size) == (256, 256)
    assert tuple(train['Pad'].size) == (256, 256)
    tta_resizes = [t.scale for t in cfg.tta_pipeline[1].transforms[0]]
    # 896 and 1024 x 1/4
    assert [tuple(s) for s in tta_resizes] == [(224, 224), (256, 256)]


def test_vit_keeps_its_positional_grid_and_patch_multiple(repo_root):
    cfg = _cfg(repo_root, LODA_L)
    shrink_input_size(cfg, 256)
    assert size_divisor(cfg) == 14
    assert cfg.model.vit.img_size == 518 and cfg.model.vit.dynamic_img_size
    crop = innermost_dataset(
        cfg.train_dataloader.dataset).pipeline[2].crop_size
    assert tuple(crop) == (252, 252)


def test_shrunk_model_is_the_same_model_on_smaller_images(repo_root, tmp_path):
    """Same parameters (names and shapes) before and after; it runs at the new
    size.
    """
    plain, small = _cfg(repo_root, LODA_B), _cfg(repo_root, LODA_B)
    shrink_input_size(small, 112)
    with torch.device('meta'):
        shapes = {
            k: v.shape
            for k, v in MODELS.build(plain.model).state_dict().items()
        }
    torch.manual_seed(0)
    model = MODELS.build(small.model).eval()
    assert {k: v.shape for k, v in model.state_dict().items()} == shapes
    image_file = str(tmp_path / 'image.jpg')
    cv2.imwrite(
        image_file,
        np.random.default_rng(0).integers(
            0, 256, (300, 400, 3), dtype=np.uint8))
    with DefaultScope.overwrite_default_scope('mmdet'):
        packed = Compose(
            innermost_dataset(small.test_dataloader.dataset).pipeline)(
                dict(img_path=image_file, img_id=0, mos=3.0, prompt='x'))
    assert tuple(packed['inputs'].shape) == (3, 112, 112)
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(
                inputs=[packed['inputs']] * 2,
                data_samples=[packed['data_samples']] * 2))
        scores = model(data['inputs'], mode='tensor')
    assert scores.shape == (2, ) and torch.isfinite(scores).all()


def test_nothing_changes_when_the_config_is_small_enough(repo_root):
    cfg = _cfg(repo_root, LODA_B)
    before = copy.deepcopy(cfg.to_dict())
    assert shrink_input_size(cfg, 224) is None and shrink_input_size(
        cfg, 4096) is None
    assert cfg.to_dict() == before


def test_joint_config_fixes_no_size_of_its_own(repo_root):
    cfg = _cfg(
        repo_root,
        'configs/joint/structure-assessor_co-dino-swin-l_loda-dinov2-l_evalmuse-structure.py'  # noqa: E501
    )
    assert config_input_size(cfg) is None and shrink_input_size(cfg,
                                                                128) is None


def test_relative_crops_and_slide_windows(repo_root):
    cfg = Config(
        dict(
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=dict(
                    type='SegDataPreProcessor', size=(512, 512)),
                test_cfg=dict(
                    mode='slide', crop_size=(512, 512), stride=(341, 341))),
            train_pipeline=[
                dict(
                    type='RandomCrop',
                    crop_type='relative_range',
                    crop_size=(0.5, 0.5)),
                dict(
                    type='mmseg.RandomResize',
                    scale=(2048, 512),
                    ratio_range=(0.5, 2.0))
            ]))
    assert config_input_size(cfg) == 512
    shrink_input_size(cfg, 128)
    assert tuple(cfg.model.data_preprocessor.size) == (128, 128)
    assert tuple(cfg.model.test_cfg.crop_size) == (128, 128)
    # 85.25 down to a multiple of 32
    assert tuple(cfg.model.test_cfg.stride) == (64, 64)
    assert tuple(cfg.train_pipeline[0].crop_size) == (0.5, 0.5)
    assert tuple(cfg.train_pipeline[1].scale) == (512, 128)
    assert cfg.train_pipeline[1].ratio_range == (0.5, 2.0)


def test_too_small_an_input_size_is_refused(repo_root):
    with pytest.raises(ValueError, match='below 14'):
        shrink_input_size(_cfg(repo_root, LODA_L), 10)


@pytest.mark.parametrize('path', [CODINO_R50, CODINO_SWIN])
def test_co_dino_needs_as_many_encoder_tokens_as_queries(repo_root, path):
    # 900 queries from 5 levels at strides 4..64: 128 px has 32^2 + 16^2 + 8^2
    # + 4^2 + 2^2 = 1364 tokens, 96 px only 769
    assert min_input_size(_cfg(repo_root, path)) == 128
    with pytest.raises(ValueError, match='below 128.*900 queries'):
        shrink_input_size(_cfg(repo_root, path), 96)
    assert shrink_input_size(_cfg(repo_root, path), 128)[1] == 128


def test_models_without_query_selection_have_no_minimum(repo_root):
    assert min_input_size(_cfg(repo_root, M2F_R50)) is None
    assert min_input_size(_cfg(repo_root, LODA_B)) is None
