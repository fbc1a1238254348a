"""LoDa: frozen-ness, parameter counts, ViT handling, I/O contract."""
import copy

import pytest
import timm
import torch
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper

from struct_det.models.regressors import LoDa, ScoreDataPreprocessor
from tests.test_models.tiny_loda import TINY_CNN, TINY_LODA, TINY_VIT


def tiny_loda(**overrides) -> LoDa:
    cfg = dict(TINY_LODA, **overrides)
    return LoDa(**copy.deepcopy(cfg))


def make_batch(model: LoDa,
               mos=(1.0, 2.0, 3.6667, 5.0),
               size=32,
               seed=0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    images = [
        torch.randint(
            0, 256, (3, size, size), generator=generator, dtype=torch.uint8)
        for _ in mos
    ]
    samples = [
        DetDataSample(metainfo=dict(mos=value, img_path=f'img{i}.jpg'))
        for i, value in enumerate(mos)
    ]
    return dict(inputs=images, data_samples=samples)


def expected_trainable(embed_dim: int,
                       depth: int,
                       cnn_channels,
                       latent: int = 64) -> int:
    """LoDa's trainable parameters, term by term from the architecture."""
    tokens = sum(c * latent + latent + latent * latent * 9
                 for c in cnn_channels)
    # MLP D->l->l
    down = (embed_dim * latent + latent) + (latent * latent + latent)
    # q, kv, proj
    attn = latent * latent + latent * 2 * latent + (latent * latent + latent)
    up = (latent * embed_dim + embed_dim) + (embed_dim * embed_dim + embed_dim)
    scale = embed_dim
    head = embed_dim  # cosine linear D->1, no bias
    return tokens + depth * (down + attn + up + scale) + head


def test_frozen_backbones_stay_bit_identical_after_optimizer_steps():
    torch.manual_seed(0)
    model = tiny_loda()
    frozen_before = {
        f'{name}.{key}': value.clone()
        for name in ('vit', 'cnn')
        for key, value in getattr(model, name).state_dict().items()
    }
    assert any(key.endswith('running_mean') for key in frozen_before)
    assert any(key.endswith('num_batches_tracked') for key in frozen_before)
    trainable_before = {
        name: p.detach().clone()
        for name, p in model.named_parameters() if p.requires_grad
    }
    assert trainable_before and not any(
        name.startswith(('vit.', 'cnn.')) for name in trainable_before)

    # mmengine's default constructor hands every parameter (frozen ones too) to
    # AdamW with weight decay, as in a real run.
    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.01)))
    model.train()
    assert model.training and model.injectors.training
    assert not any(m.training for m in model.vit.modules())
    assert not any(m.training for m in model.cnn.modules())
    for step in range(3):
        log_vars = model.train_step(
            make_batch(model, seed=step), optim_wrapper)
        assert torch.isfinite(log_vars['loss'])

    for name in ('vit', 'cnn'):
        for key, value in getattr(model, name).state_dict().items():
            assert torch.equal(
                value, frozen_before[f'{name}.{key}']), f'{name}.{key} changed'
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert not torch.equal(
                p.detach(), trainable_before[name]), f'{name} did not train'

    # Control: a CNN in train mode (the released code's bug) would move its
    # statistics, so the check above can fail.
    model.cnn.train()
    with torch.no_grad():
        model.cnn(torch.randn(2, 3, 32, 32))
    drifted = [
        k for k, v in model.cnn.state_dict().items()
        if k.endswith('running_mean')
        and not torch.equal(v, frozen_before[f'cnn.{k}'])
    ]
    assert drifted


def test_trainable_count_matches_formula_for_paper_and_winner_settings():
    with torch.device('meta'):
        vit_b = LoDa()  # ViT-B/16 augreg2 + ResNet-50
        dinov2_l = LoDa(
            vit=dict(model_name='vit_large_patch14_reg4_dinov2.lvd142m'))
    r50_channels = (256, 512, 1024, 2048)
    counts = vit_b.parameter_counts()
    assert counts['trainable'] == expected_trainable(768, 12,
                                                     r50_channels) == 8_927_488
    frozen = sum(p.numel() for p in vit_b.vit.parameters()) + sum(
        p.numel() for p in vit_b.cnn.parameters())
    assert counts['total'] == counts['trainable'] + frozen
    assert counts['total'] > 95_000_000
    counts = dinov2_l.parameter_counts()
    assert counts['trainable'] == expected_trainable(
        1024, 24, r50_channels) == 29_275_904
    assert len(dinov2_l.injectors) == 24


def test_parameter_counts_are_logged(tmp_path):
    log_file = tmp_path / 'loda.log'
    MMLogger.get_instance('test_loda_counts', log_file=str(log_file))
    model = tiny_loda()
    counts = model.parameter_counts()
    text = log_file.read_text()
    assert (f'{counts["trainable"]:,} trainable of {counts["total"]:,} '
            'parameters') in text


@pytest.mark.parametrize(
    'vit_cfg',
    [
        TINY_VIT,
        # registers + position embedding without prefix tokens + layer scale
        # (DINOv2)
        dict(
            model_name='vit_small_patch14_reg4_dinov2',
            img_size=28,
            depth=2,
            embed_dim=48,
            num_heads=3),
        # pre-norm (CLIP)
        dict(
            model_name='vit_base_patch16_clip_224',
            img_size=32,
            depth=2,
            embed_dim=48,
            num_heads=3),
        # no class token, average pooling
        dict(
            model_name='vit_small_patch16_224',
            img_size=32,
            depth=2,
            embed_dim=48,
            num_heads=3,
            class_token=False,
            global_pool='avg'),
    ])
def test_adapter_off_reproduces_the_plain_vit(vit_cfg):
    torch.manual_seed(0)
    model = tiny_loda(vit=vit_cfg).eval()
    size = vit_cfg['img_size']
    inputs = torch.randn(2, 3, size, size)
    assert len(model.injectors) == vit_cfg['depth']
    for injector in model.injectors:
        injector.scale.data.zero_()
    with torch.no_grad():
        plain = model.vit.forward_head(
            model.vit.forward_features(inputs), pre_logits=True)
        adapted = model.extract_feat(inputs)
    torch.testing.assert_close(adapted, plain)
    for injector in model.injectors:
        injector.scale.data.fill_(0.5)
    with torch.no_grad():
        assert not torch.allclose(model.extract_feat(inputs), plain, atol=1e-4)


def test_predict_writes_pred_score_and_modes():
    torch.manual_seed(0)
    model = tiny_loda().eval()
    data = model.data_preprocessor(make_batch(model), False)
    samples = model(**data, mode='predict')
    assert len(samples) == 4
    for sample in samples:
        assert sample.pred_score.shape == (
            1, ) and sample.pred_score.dtype == torch.float32
        assert 1.0 <= sample.pred_score.item() <= 5.0
    scores = model(data['inputs'], mode='tensor')
    assert scores.shape == (4, )
    torch.testing.assert_close(
        torch.cat([s.pred_score for s in samples]), scores)
    # test_step is what the runner and ScoreTTAModel call.
    stepped = model.test_step(make_batch(model))
    torch.testing.assert_close(
        torch.cat([s.pred_score for s in stepped]), scores)
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(data['inputs'], mode='features')

    raw = tiny_loda(score_range=None).eval()
    raw.load_state_dict(model.state_dict())
    cosine = raw(data['inputs'], mode='tensor')
    assert cosine.abs().max() <= 1.0
    torch.testing.assert_close(1.0 + (cosine + 1) * 2.0, scores)


def test_weighted_loss_sum_and_loss_names():
    torch.manual_seed(0)
    model = tiny_loda(loss=[
        dict(type='NormInNormLoss', loss_weight=1.0),
        dict(type='PairwiseRankingLoss', loss_weight=0.5, margin=0.2),
        dict(type='ScoreMSELoss', loss_weight=0.1),
    ])
    data = model.data_preprocessor(make_batch(model), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_norm_in_norm', 'loss_rank', 'loss_mse'}
    with pytest.raises(ValueError, match='distinct `loss_name`'):
        tiny_loda(loss=[
            dict(type='PLCCLoss'),
            dict(type='PLCCLoss', loss_weight=2.0)
        ])


def test_missing_mos_names_the_image():
    model = tiny_loda()
    batch = make_batch(model)
    batch['data_samples'][2] = DetDataSample(
        metainfo=dict(img_path='unlabelled.jpg'))
    data = model.data_preprocessor(batch, True)
    with pytest.raises(ValueError, match="unlabelled.jpg has no 'mos'"):
        model(**data, mode='loss')


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = tiny_loda(dropout=0.0)
    checkpointed = tiny_loda(dropout=0.0, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, checkpointed):
        model.train()
        data = model.data_preprocessor(make_batch(model), True)
        model(**data, mode='loss')['loss_norm_in_norm'].backward()
        grads.append({
            n: p.grad
            for n, p in model.named_parameters() if p.requires_grad
        })
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def test_pretrained_backbones_load_from_local_files(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(1)
    vit_kwargs = {k: v for k, v in TINY_VIT.items() if k != 'model_name'}
    source_vit = timm.create_model(
        TINY_VIT['model_name'], num_classes=7, **vit_kwargs)
    cnn_kwargs = {
        k: v
        for k, v in TINY_CNN.items() if k not in ('model_name', 'out_indices')
    }
    source_cnn = timm.create_model(TINY_CNN['model_name'], **cnn_kwargs)
    vit_file, cnn_file = tmp_path / 'vit.pth', tmp_path / 'cnn.safetensors'
    torch.save({'state_dict': source_vit.state_dict()}, vit_file)
    save_file({
        k: v.contiguous()
        for k, v in source_cnn.state_dict().items()
    }, str(cnn_file))

    model = tiny_loda(
        vit=dict(TINY_VIT, pretrained=str(vit_file)),
        cnn=dict(TINY_CNN, pretrained=str(cnn_file)))
    model.init_weights()
    source = {
        **{
            f'vit.{k}': v
            for k, v in source_vit.state_dict().items()
        },
        **{
            f'cnn.{k}': v
            for k, v in source_cnn.state_dict().items()
        }
    }
    for key, value in model.state_dict().items():
        if key.startswith(('vit.', 'cnn.')):
            assert torch.equal(value, source[key]), key

    wrong = tmp_path / 'wrong.pth'
    torch.save(
        {
            k: v
            for k, v in source_vit.state_dict().items() if 'blocks.1.' not in k
        }, wrong)
    with pytest.raises(KeyError, match='missing from the file'):
        tiny_loda(vit=dict(TINY_VIT, pretrained=str(wrong))).init_weights()
    with pytest.raises(
            FileNotFoundError, match='nothing is fetched at run time'):
        tiny_loda(
            cnn=dict(TINY_CNN, pretrained=str(tmp_path /
                                              'absent.pth'))).init_weights()


def test_init_weights_keeps_backbones_without_pretrained_files():
    model = tiny_loda()
    before = copy.deepcopy(model.vit.state_dict())
    model.init_weights()
    for key, value in model.vit.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_non_vit_model_is_refused():
    with pytest.raises(TypeError, match='not a ViT with a list of blocks'):
        tiny_loda(vit=dict(model_name='resnet10t'))


def test_score_data_preprocessor_normalises_and_refuses_mixed_sizes():
    preprocessor = ScoreDataPreprocessor(
        mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 5.0), bgr_to_rgb=True)
    image = torch.arange(3 * 2 * 2, dtype=torch.uint8).reshape(3, 2, 2)
    out = preprocessor(dict(inputs=[image, image],
                            data_samples=None))['inputs']
    rgb = image.flip(0).float()
    expected = (rgb - torch.tensor([10.0, 20.0, 30.0]).view(
        3, 1, 1)) / torch.tensor([2.0, 4.0, 5.0]).view(3, 1, 1)
    assert out.shape == (2, 3, 2, 2)
    torch.testing.assert_close(out[1], expected)

    samples = [
        DetDataSample(metainfo=dict(img_path=p)) for p in ('a.jpg', 'b.jpg')
    ]
    with pytest.raises(ValueError, match=r'b.jpg: \(3, 4, 2\).*GridCrop'):
        preprocessor(
            dict(
                inputs=[image, torch.zeros(3, 4, 2, dtype=torch.uint8)],
                data_samples=samples))
    with pytest.raises(ValueError, match='both mean and std'):
        ScoreDataPreprocessor(mean=(1.0, 2.0, 3.0))
