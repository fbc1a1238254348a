"""Conversion of released-LoDa checkpoints, checked against the released
forward math.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from struct_det.models.regressors import LoDa, convert_official_loda_state

EMBED, DEPTH, LATENT, GRID, HEADS = 48, 2, 16, 2, 2
CHANNELS = (8, 16, 32, 64)
VIT = dict(
    model_name='vit_tiny_patch16_224',
    img_size=32,
    patch_size=8,
    depth=DEPTH,
    embed_dim=EMBED,
    num_heads=3)
CNN = dict(
    model_name='resnet10t',
    channels=CHANNELS,
    stem_width=8,
    out_indices=(1, 2, 3, 4))
REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def build_model(score_range=None) -> LoDa:
    return LoDa(
        vit=dict(VIT),
        cnn=dict(CNN),
        latent_dim=LATENT,
        grid_size=GRID,
        num_heads=HEADS,
        score_range=score_range).eval()


def synthetic_official_checkpoint(cnn_state: dict, seed: int = 0) -> dict:
    """Random tensors in the released layout: learner + the ResNet's BN
    buffers.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.2):
        return torch.randn(*shape, generator=g) * scale

    learner = {}
    for s, channels in enumerate(CHANNELS):
        learner[f'conv.{s}.0.weight'] = rand(LATENT, channels, 1, 1)
        learner[f'conv.{s}.0.bias'] = rand(LATENT)
        learner[f'conv.{s}.2.weight'] = rand(LATENT, LATENT, 3, 3)
    for i in range(DEPTH):
        for name, (d_in, d_hidden,
                   d_out) in (('down_proj', (EMBED, LATENT, LATENT)),
                              ('up_proj', (LATENT, EMBED, EMBED))):
            learner[f'{name}.{i}.fc1.weight'] = rand(d_hidden, d_in)
            learner[f'{name}.{i}.fc1.bias'] = rand(d_hidden)
            learner[f'{name}.{i}.fc2.weight'] = rand(d_out, d_hidden)
            learner[f'{name}.{i}.fc2.bias'] = rand(d_out)
        learner[f'cross_attn.{i}.q.weight'] = rand(LATENT, LATENT)
        learner[f'cross_attn.{i}.kv.weight'] = rand(2 * LATENT, LATENT)
        learner[f'cross_attn.{i}.proj.weight'] = rand(LATENT, LATENT)
        learner[f'cross_attn.{i}.proj.bias'] = rand(LATENT)
    learner['scale_factor'] = rand(DEPTH, EMBED, scale=0.5)
    learner['head.weight'] = rand(EMBED, 1)
    bn_buffer = {}
    for key, value in cnn_state.items():
        if key.endswith('running_mean'):
            bn_buffer[key] = rand(*value.shape)
        elif key.endswith('running_var'):
            bn_buffer[key] = torch.rand(*value.shape, generator=g) + 0.5
        elif key.endswith('num_batches_tracked'):
            bn_buffer[key] = torch.tensor(1234)
    return {'learner': learner, 'bn_buffer': bn_buffer}


def released_forward(ckpt: dict, vit, cnn,
                     images: torch.Tensor) -> torch.Tensor:
    """The released LoDa forward written out with plain tensor ops."""
    w = ckpt['learner']
    batch = images.shape[0]
    tokens = []
    for s, feature in enumerate(cnn(images)):
        y = F.conv2d(feature, w[f'conv.{s}.0.weight'], w[f'conv.{s}.0.bias'])
        y = F.conv2d(F.gelu(y), w[f'conv.{s}.2.weight'], padding=1)
        y = F.adaptive_avg_pool2d(y, GRID)
        tokens.append(y.permute(0, 2, 3, 1).reshape(batch, -1, LATENT))
    tokens = torch.cat(tokens, dim=1)

    def mlp(x, prefix):
        x = F.gelu(
            F.linear(x, w[f'{prefix}.fc1.weight'], w[f'{prefix}.fc1.bias']))
        return F.linear(x, w[f'{prefix}.fc2.weight'], w[f'{prefix}.fc2.bias'])

    def cross_attn(query, i):
        head_dim = LATENT // HEADS
        q = (query @ w[f'cross_attn.{i}.q.weight'].t()).reshape(
            batch, -1, HEADS, head_dim)
        kv = (tokens @ w[f'cross_attn.{i}.kv.weight'].t()).reshape(
            batch, -1, 2, HEADS, head_dim)
        q, k, v = q.transpose(1, 2), kv[:, :,
                                        0].transpose(1,
                                                     2), kv[:, :,
                                                            1].transpose(1, 2)
        attn = (q @ k.transpose(-2, -1) * head_dim**-0.5).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(batch, -1, LATENT)
        return F.linear(out, w[f'cross_attn.{i}.proj.weight'],
                        w[f'cross_attn.{i}.proj.bias'])

    x = vit.patch_embed(images)
    x = torch.cat([vit.cls_token.expand(batch, -1, -1), x],
                  dim=1) + vit.pos_embed
    for i, block in enumerate(vit.blocks):
        down = mlp(x, f'down_proj.{i}')
        down = down + cross_attn(down, i)
        x = x + mlp(down, f'up_proj.{i}') * w['scale_factor'][i]
        x = block(x)
    cls = vit.norm(x)[:, 0]
    return (F.normalize(cls, dim=1) @ F.normalize(w['head.weight'], dim=0))[:,
                                                                            0]


def test_converted_checkpoint_reproduces_the_released_forward():
    torch.manual_seed(0)
    model = build_model()
    ckpt = synthetic_official_checkpoint(model.cnn.state_dict())
    converted = convert_official_loda_state(ckpt)
    result = model.load_state_dict(converted, strict=False)
    assert not result.unexpected_keys
    # Only the backbones' pretrained weights are absent (they come from their
    # files).
    assert all(k.startswith(('vit.', 'cnn.')) for k in result.missing_keys)
    assert not any(k.endswith('running_mean') for k in result.missing_keys)

    reference_cnn = build_model().cnn
    reference_cnn.load_state_dict(model.cnn.state_dict())
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = released_forward(ckpt, model.vit, reference_cnn, images)
        actual = model(images, mode='tensor')
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)

    # With score_range the prediction is the same cosine, mapped linearly onto
    # [1, 5].
    mos_model = build_model(score_range=(1.0, 5.0))
    mos_model.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(
            mos_model(images, mode='tensor'), 3.0 + 2.0 * expected)


def test_merged_backbones_make_a_complete_checkpoint():
    model = build_model()
    vit_state = {
        **build_model().vit.state_dict(), 'head.weight':
        torch.zeros(10, EMBED)
    }
    cnn_state = {
        **build_model().cnn.state_dict(), 'fc.weight': torch.zeros(10, 64)
    }
    ckpt = synthetic_official_checkpoint(model.cnn.state_dict())
    # A training state with DataParallel prefixes, as the released trainer
    # saves it.
    state = {'model': {f'module.{k}': v for k, v in ckpt.items()}, 'step': 10}
    converted = convert_official_loda_state(
        state, vit_state=vit_state, cnn_state=cnn_state)
    model.load_state_dict(converted, strict=True)
    bn_key = next(k for k in ckpt['bn_buffer'] if k.endswith('running_var'))
    assert torch.equal(model.cnn.state_dict()[bn_key],
                       ckpt['bn_buffer'][bn_key])


def test_unknown_layouts_are_reported():
    model = build_model()
    ckpt = synthetic_official_checkpoint(model.cnn.state_dict())
    with pytest.raises(ValueError, match=r"lacks \['bn_buffer'\]"):
        convert_official_loda_state({'learner': ckpt['learner']},
                                    source='x.pt')
    bad = {
        'learner': {
            **ckpt['learner'], 'extra.weight': torch.zeros(1)
        },
        'bn_buffer': ckpt['bn_buffer']
    }
    with pytest.raises(
            ValueError, match="unknown learner entry 'extra.weight'"):
        convert_official_loda_state(bad)
    short = {
        'learner': {
            **ckpt['learner'], 'scale_factor': torch.zeros(DEPTH + 1, EMBED)
        },
        'bn_buffer': ckpt['bn_buffer']
    }
    with pytest.raises(ValueError, match='one row per adapted block'):
        convert_official_loda_state(short)


def test_converter_cli_writes_an_mmengine_checkpoint(tmp_path, capsys,
                                                     load_script_fn):
    tool = load_script_fn(
        'tools/model_converters/loda_official_to_struct_det.py')
    model = build_model()
    src, dst = tmp_path / 'loda.pt', tmp_path / 'out' / 'converted.pth'
    torch.save(synthetic_official_checkpoint(model.cnn.state_dict()), src)
    assert tool.main([str(src), str(dst)]) == 0
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['converted_from'] == 'loda.pt'
    assert 'injectors.1.cross_attn.kv.weight' in saved['state_dict']
    assert 'adapter + BN buffers only' in capsys.readouterr().out

    broken, target = tmp_path / 'broken.pt', tmp_path / 'never.pth'
    torch.save({'weights': torch.zeros(1)}, broken)
    assert tool.main([str(broken), str(target)]) == 1
    assert not target.exists()
    assert 'not a released-LoDa checkpoint' in capsys.readouterr().err
