"""The heatmap segmentor's parts: timm ViT backbone, U-Net head, score head,
losses.
"""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import struct_det  # noqa: F401  registers the modules

TINY = 'configs/tiny/heatmap-score_tiny_evalmuse-sample.py'
VIT = dict(
    type='TimmViT',
    model_name='vit_tiny_patch16_224',
    img_size=32,
    patch_size=8,
    depth=4,
    embed_dim=48,
    num_heads=3,
    out_indices=(1, 3))


@pytest.fixture(autouse=True)
def _mmseg_scope():
    # overwritten for the test only: a leaked default scope would change later
    # tests
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def _sample(heat: torch.Tensor,
            mos: float = 3.0,
            pad_to=None) -> SegDataSample:
    h, w = heat.shape
    sample = SegDataSample(
        metainfo=dict(
            mos=mos,
            img_shape=(h, w),
            ori_shape=(h, w),
            img_path=f'img_{mos}.jpg'))
    label = (heat >= 0.5).long()
    if pad_to is not None:
        label = torch.nn.functional.pad(
            label, (0, pad_to[1] - w, 0, pad_to[0] - h), value=255)
    sample.gt_sem_seg = PixelData(data=label[None])
    sample.gt_heatmap = PixelData(data=heat[None].float())
    return sample


# ------------------------------------------------------------------ losses
def test_heatmap_mse_matches_a_direct_computation():
    loss = MODELS.build(dict(type='HeatmapMSELoss', loss_weight=2.0))
    logits, target = torch.randn(2, 1, 5, 6), torch.rand(2, 1, 5, 6)
    valid = torch.rand(2, 1, 5, 6) > 0.3
    p = logits.sigmoid().numpy()
    t, v = target.numpy(), valid.numpy()
    expected = 2.0 * ((p - t)**2)[v].mean()
    assert loss(logits, target, valid).item() == pytest.approx(
        expected, rel=1e-5)
    assert loss(logits, target).item() == pytest.approx(
        2.0 * ((p - t)**2).mean(), rel=1e-5)
    assert loss.loss_name == 'loss_heatmap_mse'


def test_dice_and_iou_losses_by_hand():
    # probabilities 1 on 4 pixels, target 1 on 2 of them and 0.5 on one more
    prob = torch.zeros(1, 1, 3, 3)
    prob[0, 0, 0, :3] = 1.0
    prob[0, 0, 1, 0] = 1.0
    target = torch.zeros(1, 1, 3, 3)
    target[0, 0, 0, :2] = 1.0
    target[0, 0, 2, 2] = 0.5
    inter, sp, st = 2.0, 4.0, 2.5
    dice = MODELS.build(
        dict(type='DiceIoULoss', mode='dice', smooth=1.0, use_sigmoid=False))
    iou = MODELS.build(
        dict(type='DiceIoULoss', mode='iou', smooth=1.0, use_sigmoid=False))
    assert dice(prob, target).item() == pytest.approx(1 - (2 * inter + 1) /
                                                      (sp + st + 1))
    assert iou(prob, target).item() == pytest.approx(1 - (inter + 1) /
                                                     (sp + st - inter + 1))
    # a clean image predicted clean costs nothing; predicted dirty costs almost
    # 1
    zeros = torch.zeros(1, 1, 8, 8)
    assert dice(zeros, zeros).item() == pytest.approx(0.0)
    assert dice(torch.ones(1, 1, 8, 8),
                zeros).item() == pytest.approx(1 - 1 / 65)
    with pytest.raises(ValueError, match='mode'):
        MODELS.build(dict(type='DiceIoULoss', mode='jaccard'))
    with pytest.raises(ValueError, match='differ in shape'):
        dice(prob, target[..., :2])


# ------------------------------------------------------------------ backbone
def test_timm_vit_maps_freezing_and_eval_mode():
    vit = MODELS.build(dict(VIT, frozen_stages=2, drop_path_rate=0.1))
    feats = vit(torch.randn(2, 3, 32, 48))  # any size divisible by the patch
    assert [tuple(f.shape) for f in feats] == [(2, 48, 4, 6)] * 2
    for name, p in vit.vit.named_parameters():
        frozen = name.startswith(('patch_embed', 'cls_token', 'pos_embed',
                                  'blocks.0.', 'blocks.1.'))
        assert p.requires_grad != frozen, name
    vit.train()
    assert not vit.vit.blocks[0].training and not vit.vit.patch_embed.training
    assert vit.vit.blocks[2].training
    # blocks after the last requested one are pruned: no unused parameters
    assert len(
        vit.vit.blocks) == 4 and not any('head' in n
                                         for n, _ in vit.named_parameters())
    short = MODELS.build(dict(VIT, out_indices=(1, )))
    assert len(short.vit.blocks) == 2
    everything = MODELS.build(dict(VIT, frozen_stages='all'))
    assert not any(p.requires_grad for p in everything.parameters())


def test_timm_vit_bad_inputs():
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(VIT, out_indices=(7, )))
    with pytest.raises(ValueError, match='frozen_stages'):
        MODELS.build(dict(VIT, frozen_stages=9))
    with pytest.raises(ValueError, match='not divisible by the patch size 8'):
        MODELS.build(VIT)(torch.randn(1, 3, 30, 32))
    with pytest.raises(TypeError, match='forward_intermediates'):
        MODELS.build(dict(type='TimmViT', model_name='resnet18'))


def test_timm_vit_loads_a_local_weights_file(tmp_path):
    source = MODELS.build(VIT)
    path = tmp_path / 'vit.pth'
    torch.save(source.vit.state_dict(), path)
    target = MODELS.build(dict(VIT, pretrained=str(path), frozen_stages=1))
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(source(x)[-1], target(x)[-1])
    target.init_weights()
    source.eval()
    target.eval()
    torch.testing.assert_close(source(x)[-1], target(x)[-1])
    assert not target.vit.blocks[0].norm1.weight.requires_grad
    with pytest.raises(FileNotFoundError, match='nothing is fetched'):
        MODELS.build(dict(VIT, pretrained=str(tmp_path /
                                              'missing.pth'))).init_weights()


# ------------------------------------------------------------------ heads
def test_unet_head_shape_and_padding_is_ignored():
    head = MODELS.build(
        dict(
            type='UNetHeatmapHead',
            in_channels=[48, 48],
            in_index=(0, 1),
            channels=32,
            decoder_channels=(16, 8)))
    feats = [torch.randn(2, 48, 4, 6), torch.randn(2, 48, 4, 6)]
    logits = head(feats)
    assert tuple(logits.shape) == (2, 1, 16, 24)  # two 2x stages
    heat = [torch.rand(32, 48), torch.rand(32, 48)]
    plain = head.loss_by_feat(logits, [_sample(h) for h in heat])
    # the same targets padded by the data preprocessor (gt_sem_seg 255): padded
    # pixels must not count, so the loss on the unpadded part is unchanged
    padded = head.loss_by_feat(
        torch.nn.functional.pad(
            torch.nn.functional.interpolate(
                logits, size=(32, 48), mode='bilinear'), (0, 16, 0, 8)),
        [_sample(h, pad_to=(40, 64)) for h in heat])
    for key in ('loss_heatmap_mse', 'loss_dice_iou'):
        assert padded[key].item() == pytest.approx(
            plain[key].item(), rel=1e-4), key
    with pytest.raises(KeyError, match='gt_heatmap'):
        bare = SegDataSample(metainfo=dict(img_path='a.jpg'))
        head.loss_by_feat(logits[:1], [bare])


def test_score_head_range_and_missing_mos():
    head = MODELS.build(
        dict(
            type='PooledScoreHead',
            in_channels=48,
            pool='mean_max',
            score_range=(1.0, 5.0),
            losses=[
                dict(type='mmdet.ScoreMSELoss'),
                dict(type='mmdet.PLCCLoss', loss_weight=0.3)
            ]))
    feats = [torch.randn(4, 48, 4, 4) * 100]
    scores = head(feats)
    assert scores.shape == (4, ) and bool(((scores > 1) & (scores < 5)).all())
    # not constant: the correlation losses have a gradient
    assert scores.std() > 0
    losses = head.loss(
        feats, [_sample(torch.rand(8, 8), m) for m in (1.5, 2.0, 4.0, 4.5)])
    assert set(losses) == {'loss_mse', 'loss_plcc'}
    sum(losses.values()).backward()
    assert head.last.weight.grad.abs().sum() > 0
    with pytest.raises(KeyError, match='no mos'):
        bare = SegDataSample(metainfo=dict(img_path='b.jpg'))
        head.loss(feats[:1] and [feats[0][:1]], [bare])


# ------------------------------------------------------------------ segmentor
def test_segmentor_predicts_heatmap_and_score_at_the_original_size():
    cfg = Config.fromfile(TINY)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.eval()
    img = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
    sample = SegDataSample(
        metainfo=dict(
            ori_shape=(100, 70), img_shape=(64, 64), img_path='c.jpg'))
    out = model.test_step(dict(inputs=[img], data_samples=[sample]))[0]
    heat = out.seg_logits.data
    assert tuple(heat.shape) == (1, 100, 70)
    assert float(heat.min()) >= 0 and float(heat.max()) <= 1
    np.testing.assert_array_equal(
        out.pred_sem_seg.data.numpy(),
        (heat > model.decode_head.threshold).float().numpy())
    assert out.pred_score.shape == (1, ) and 1 < float(out.pred_score) < 5
    # the same image alone or in a batch: the same heatmap
    pair = model.test_step(
        dict(
            inputs=[img, img.flip(-1)],
            data_samples=[
                SegDataSample(metainfo=sample.metainfo),
                SegDataSample(metainfo=sample.metainfo)
            ]))
    torch.testing.assert_close(
        pair[0].seg_logits.data, heat, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        pair[0].pred_score, out.pred_score, atol=1e-5, rtol=0)
    # heatmap-only model: no score
    no_score = MODELS.build(dict(copy.deepcopy(cfg.model), score_head=None))
    no_score.eval()
    assert 'pred_score' not in no_score.test_step(
        dict(
            inputs=[img],
            data_samples=[SegDataSample(metainfo=sample.metainfo)]))[0]
