"""Local weight files load as timm's ``pretrained_cfg_overlay`` loads them."""
import pytest
import timm
import torch

from struct_det.models.regressors import (build_timm_cnn, build_timm_vit,
                                          load_backbone_weights)

VIT = dict(model_name='vit_tiny_patch16_224', img_size=32, depth=2)
CNN = dict(model_name='resnet10t', out_indices=(1, 2))


def _save(model, path):
    if str(path).endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file({
            k: v.contiguous()
            for k, v in model.state_dict().items()
        }, str(path))
    else:
        torch.save(dict(state_dict=model.state_dict()), str(path))


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth'])
def test_vit_weights_match_timm_pretrained_cfg_overlay(tmp_path, suffix):
    torch.manual_seed(0)
    source = build_timm_vit(**VIT)
    path = tmp_path / f'vit{suffix}'
    _save(source, path)
    torch.manual_seed(1)
    ours = build_timm_vit(**VIT)
    load_backbone_weights(ours, str(path), 'vit')
    _assert_same(ours, source)
    name = VIT['model_name']
    kwargs = {k: v for k, v in VIT.items() if k != 'model_name'}
    reference = timm.create_model(
        name,
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay=dict(file=str(path)),
        **kwargs)
    _assert_same(ours, reference)


def test_cnn_weights_match_timm_pretrained_cfg_overlay(tmp_path):
    torch.manual_seed(0)
    source = build_timm_cnn(**CNN)
    path = tmp_path / 'cnn.safetensors'
    _save(source, path)
    torch.manual_seed(1)
    ours = build_timm_cnn(**CNN)
    load_backbone_weights(ours, str(path), 'cnn')
    _assert_same(ours, source)
    reference = timm.create_model(
        CNN['model_name'],
        pretrained=True,
        features_only=True,
        out_indices=CNN['out_indices'],
        pretrained_cfg_overlay=dict(file=str(path)))
    _assert_same(ours, reference)


def test_a_file_missing_weights_is_an_error_timm_would_ignore(tmp_path):
    source = build_timm_vit(**VIT)
    state = {
        k: v
        for k, v in source.state_dict().items()
        if not k.startswith('blocks.1.')
    }
    path = tmp_path / 'partial.pth'
    torch.save(state, str(path))
    # timm drops strictness once the classifier differs (num_classes=0): it
    # loads this file.
    name = VIT['model_name']
    kwargs = {k: v for k, v in VIT.items() if k != 'model_name'}
    timm.create_model(
        name,
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay=dict(file=str(path)),
        **kwargs)
    with pytest.raises(KeyError, match='missing from the file'):
        load_backbone_weights(build_timm_vit(**VIT), str(path), 'vit')
