"""HeatmapTTAModel: flips are undone, views averaged once (no second sigmoid),
scores too.
"""
import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

import struct_det  # noqa: F401  registers the modules

TINY = 'configs/tiny/heatmap-score_tiny_evalmuse-sample.py'
PACK = dict(type='PackHeatmapInputs')


@pytest.fixture(autouse=True)
def _mmseg_scope():
    # overwritten for the test only: a leaked default scope would change later
    # tests
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


@pytest.fixture(scope='module')
def segmentor():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(copy.deepcopy(Config.fromfile(TINY).model))
    model.init_weights()
    # random weights predict ~0.5 everywhere; make the heatmap vary across the
    # image
    with torch.no_grad():
        model.decode_head.conv_seg.weight.mul_(40)
    return model.eval()


def _views(flips, scales=((64, 64), )):
    return Compose([
        dict(type='LoadImageFromNDArray'),
        dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='Resize', scale=s, keep_ratio=False) for s in scales
            ],
                        [
                            dict(
                                type='RandomFlip',
                                prob=float(f),
                                direction='horizontal') for f in flips
                        ], [PACK]]),
    ])


def _plain():
    return Compose([
        dict(type='LoadImageFromNDArray'),
        dict(type='Resize', scale=(64, 64), keep_ratio=False), PACK
    ])


def _tta_heatmap(segmentor, img, flips, scales=((64, 64), )):
    tta = MODELS.build(dict(type='HeatmapTTAModel', module=segmentor))
    data = pseudo_collate([_views(flips, scales)(dict(img=img))])
    with torch.no_grad():
        out = tta.test_step(data)[0]
    return out


def _plain_heatmap(segmentor, img):
    with torch.no_grad():
        return segmentor.test_step(pseudo_collate([_plain()(dict(img=img))
                                                   ]))[0]


@pytest.fixture(scope='module')
def images():
    rng = np.random.default_rng(0)
    half = rng.integers(0, 255, (80, 48, 3), dtype=np.uint8)
    # 80 x 96, mirror-symmetric
    symmetric = np.concatenate([half, half[:, ::-1]], axis=1)
    return symmetric, rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)


def test_one_view_equals_plain_inference(segmentor, images):
    """No second sigmoid (mmseg's SegTTAModel applies one) and the score passes
    through.
    """
    _, img = images
    plain = _plain_heatmap(segmentor, img)
    tta = _tta_heatmap(segmentor, img, flips=[0])
    torch.testing.assert_close(tta.seg_logits.data, plain.seg_logits.data)
    torch.testing.assert_close(tta.pred_score, plain.pred_score)
    assert tta.num_tta_views == 1


def test_flip_tta_of_a_symmetric_input_leaves_the_heatmap_unchanged(
        segmentor, images):
    symmetric, _ = images
    plain = _plain_heatmap(segmentor, symmetric).seg_logits.data
    heat = _tta_heatmap(segmentor, symmetric, flips=[0, 1]).seg_logits.data
    # the model is not symmetric
    assert not torch.allclose(plain, plain.flip(-1), atol=1e-3)
    # the flipped view sees the same image; un-flipped, its heatmap is the
    # mirror of the plain one, so the average is mirror-symmetric and a flip
    # leaves it unchanged
    torch.testing.assert_close(heat, heat.flip(-1), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        heat, (plain + plain.flip(-1)) / 2, atol=1e-6, rtol=0)


def test_flip_tta_is_flip_equivariant_and_merges_scales(segmentor, images):
    _, img = images
    scales = ((64, 64), (80, 80))
    out = _tta_heatmap(segmentor, img, flips=[0, 1], scales=scales)
    mirrored = _tta_heatmap(
        segmentor,
        np.ascontiguousarray(img[:, ::-1]),
        flips=[0, 1],
        scales=scales)
    torch.testing.assert_close(
        mirrored.seg_logits.data,
        out.seg_logits.data.flip(-1),
        atol=1e-6,
        rtol=0)
    assert out.num_tta_views == 4
    assert tuple(out.seg_logits.data.shape) == (1, 80, 96)
    binary = out.seg_logits.data > segmentor.decode_head.threshold
    np.testing.assert_array_equal(out.pred_sem_seg.data.numpy(),
                                  binary.float().numpy())
    assert out.pred_score.shape == (1, )
