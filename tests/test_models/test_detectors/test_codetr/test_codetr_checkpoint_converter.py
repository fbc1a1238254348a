"""Converter of projects/CO-DETR checkpoints, on a synthetic state dict laid
out like the released Co-DINO ones (mmcv-1.x transformer under query_head)."""
import os.path as osp
from collections import OrderedDict

import pytest
import torch

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
T = 'query_head.transformer.'
MSDA = [
    f'{n}.{p}' for n in ('sampling_offsets', 'attention_weights', 'value_proj',
                         'output_proj') for p in ('weight', 'bias')
]
FFN = [
    'layers.0.0.weight', 'layers.0.0.bias', 'layers.1.weight', 'layers.1.bias'
]
WB = ('weight', 'bias')


def reference_key_pairs(model):
    """(CO-DETR project key, CoDETR key) for every tensor of ``model``,
    written from the project's module tree, independently of the converter.
    """
    pairs = []
    for i in range(model.encoder.num_layers):
        src, dst = f'{T}encoder.layers.{i}.', f'encoder.layers.{i}.'
        pairs += [(src + 'attentions.0.' + n, dst + 'self_attn.' + n)
                  for n in MSDA]
        pairs += [(src + 'ffns.0.' + n, dst + 'ffn.' + n) for n in FFN]
        pairs += [(f'{src}norms.{j}.{p}', f'{dst}norms.{j}.{p}')
                  for j in range(2) for p in WB]
    for i in range(model.decoder.num_layers):
        src, dst = f'{T}decoder.layers.{i}.', f'decoder.layers.{i}.'
        pairs += [(src + 'attentions.0.attn.' + n, dst + 'self_attn.attn.' + n)
                  for n in ('in_proj_weight', 'in_proj_bias',
                            'out_proj.weight', 'out_proj.bias')]
        pairs += [(src + 'attentions.1.' + n, dst + 'cross_attn.' + n)
                  for n in MSDA]
        pairs += [(src + 'ffns.0.' + n, dst + 'ffn.' + n) for n in FFN]
        pairs += [(f'{src}norms.{j}.{p}', f'{dst}norms.{j}.{p}')
                  for j in range(3) for p in WB]
    for p in WB:
        pairs += [(f'{T}decoder.ref_point_head.0.{p}',
                   f'decoder.ref_point_head.layers.0.{p}'),
                  (f'{T}decoder.ref_point_head.2.{p}',
                   f'decoder.ref_point_head.layers.1.{p}'),
                  (f'{T}decoder.norm.{p}', f'decoder.norm.{p}'),
                  (f'{T}enc_output.{p}', f'memory_trans_fc.{p}'),
                  (f'{T}enc_output_norm.{p}', f'memory_trans_norm.{p}'),
                  (f'query_head.downsample.0.{p}', f'aux_downsample.conv.{p}'),
                  (f'query_head.downsample.1.{p}', f'aux_downsample.gn.{p}')]
        for k in range(model.num_aux_heads):
            pairs += [(f'{T}aux_pos_trans.{k}.{p}',
                       f'pos_query_generator.pos_trans.{k}.{p}'),
                      (f'{T}aux_pos_trans_norm.{k}.{p}',
                       f'pos_query_generator.pos_trans_norm.{k}.{p}')]
        for j in range(model.decoder.num_layers + 1):
            pairs.append((f'query_head.cls_branches.{j}.{p}',
                          f'bbox_head.cls_branches.{j}.{p}'))
            pairs += [(f'query_head.reg_branches.{j}.{m}.{p}',
                       f'bbox_head.reg_branches.{j}.{m}.{p}')
                      for m in (0, 2, 4)]
    pairs += [(f'{T}level_embeds', 'level_embed'),
              (f'{T}query_embed.weight', 'query_embedding.weight'),
              ('query_head.dn_generator.label_embedding.weight',
               'dn_query_generator.label_embedding.weight')]
    # mmdet modules in both: same names, the dense heads renamed
    for key in model.state_dict():
        head = key.split('.')[0]
        if head in ('backbone', 'neck', 'rpn_head', 'roi_head'):
            pairs.append((key, key))
        elif head == 'aux_bbox_head':
            pairs.append(('bbox_head.' + key[len('aux_bbox_head.'):], key))
    return pairs


@pytest.fixture(scope='module')
def model_and_source(model_factory):
    model = model_factory()
    target = model.state_dict()
    pairs = reference_key_pairs(model)
    torch.manual_seed(0)
    source = OrderedDict(
        (src, torch.randn_like(target[dst].float()).to(target[dst].dtype))
        for src, dst in pairs)
    return model, source, dict(pairs)


def test_every_tensor_is_mapped_and_loads_strictly(model_and_source):
    from struct_det.models.detectors.codetr import convert_codetr_state_dict
    model, source, expected = model_and_source
    result = convert_codetr_state_dict(source)
    assert result.unconverted == [] and result.dropped == []
    assert result.mapping == expected
    assert set(result.state_dict) == set(model.state_dict())
    for src, dst in expected.items():
        assert result.state_dict[dst] is source[src]
    model.load_state_dict(result.state_dict, strict=True)
    torch.testing.assert_close(model.level_embed.data,
                               source[f'{T}level_embeds'])


def test_unknown_tensors_are_reported(model_and_source):
    from struct_det.models.detectors.codetr import convert_codetr_state_dict
    _, source, expected = model_and_source
    extra = OrderedDict(source)
    extra[f'{T}pos_feats_trans.0.weight'] = torch.zeros(2, 2)
    extra['ema_query_head.foo'] = torch.zeros(1)
    result = convert_codetr_state_dict(extra)
    assert result.unconverted == [
        f'{T}pos_feats_trans.0.weight', 'ema_query_head.foo'
    ]
    assert len(result.mapping) == len(expected)


def test_class_specific_tensors_can_be_dropped(model_and_source):
    from struct_det.models.detectors.codetr import convert_codetr_state_dict
    model, source, _ = model_and_source
    result = convert_codetr_state_dict(source, drop_class_specific=True)
    num_pred = model.decoder.num_layers + 1
    expected = {
        f'bbox_head.cls_branches.{j}.{p}'
        for j in range(num_pred)
        for p in WB
    }
    expected |= {'dn_query_generator.label_embedding.weight'}
    expected |= {
        f'roi_head.0.bbox_head.{m}.{p}'
        for m in ('fc_cls', 'fc_reg')
        for p in WB
    }
    expected |= {f'roi_head.0.mask_head.conv_logits.{p}' for p in WB}
    expected |= {f'aux_bbox_head.0.atss_cls.{p}' for p in WB}
    assert set(result.dropped) == expected
    missing, unexpected = model.load_state_dict(
        result.state_dict, strict=False)
    assert set(missing) == expected and unexpected == []


def test_extract_state_dict_variants():
    from struct_det.models.detectors.codetr import extract_state_dict
    sd = OrderedDict([('backbone.conv1.weight', torch.zeros(1))])
    assert extract_state_dict(dict(state_dict=sd, meta={})) is sd
    assert extract_state_dict(dict(model=sd)) is sd
    assert extract_state_dict(sd) is sd
    ddp = OrderedDict([('module.backbone.conv1.weight', torch.zeros(1))])
    assert list(extract_state_dict(ddp)) == ['backbone.conv1.weight']
    with pytest.raises(ValueError, match='no state dict'):
        extract_state_dict(dict(state_dict={}))
    with pytest.raises(ValueError, match='checkpoint dict'):
        extract_state_dict([1, 2])


CONVERTER = 'tools/model_converters/codetr_to_struct_det.py'


def test_cli_converts_and_reports(model_and_source, tmp_path, capsys,
                                  load_script_fn):
    model, source, expected = model_and_source
    main = load_script_fn(CONVERTER).main
    src = tmp_path / 'co_dino_5scale_r50_lsj_8xb2_1x_coco.pth'
    extra = OrderedDict(source)
    extra[f'{T}pos_feats_trans.0.weight'] = torch.zeros(2, 2)
    torch.save(dict(state_dict=extra, meta=dict(epoch=12)), src)

    dst = tmp_path / 'out' / 'converted.pth'
    assert main([str(src), str(dst), '--strict']) == 1
    out = capsys.readouterr()
    assert f'{T}pos_feats_trans.0.weight' in out.out
    assert 'nothing written' in out.err
    assert not dst.exists()

    assert main([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert f'converted {len(expected)} of {len(extra)} tensors' in out
    converted = torch.load(dst, map_location='cpu', weights_only=True)
    assert converted['meta']['converted_from'] == src.name
    model.load_state_dict(converted['state_dict'], strict=True)
    # nothing but the result is left in the output folder
    assert [p.name for p in (tmp_path / 'out').iterdir()] == ['converted.pth']

    with pytest.raises(FileNotFoundError, match='does not exist'):
        main([str(tmp_path / 'nope.pth'), str(dst)])


def test_cli_refuses_untrusted_pickles(tmp_path, load_script_fn):
    main = load_script_fn(CONVERTER).main
    src = tmp_path / 'odd.pth'
    torch.save(
        dict(
            state_dict={'backbone.x': torch.zeros(1)},
            meta=dict(when=OddMeta())), src)
    with pytest.raises(RuntimeError, match='--trust-source'):
        main([str(src), str(tmp_path / 'out.pth')])
    assert main([str(src), str(tmp_path / 'out.pth'), '--trust-source']) == 0


class OddMeta:
    """A class the restricted unpickler does not know."""


@pytest.mark.parametrize('config', [
    'co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py',
    'co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py'
])
def test_released_layouts_convert_completely(config):
    """The full R50 / Swin-L models: every tensor of the released layout has
    a target and every model tensor a source."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import struct_det.models.detectors  # noqa: F401
    from struct_det.models.detectors.codetr import convert_codetr_state_dict
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'codetr', config))
    model = MODELS.build(cfg.model)
    assert model.num_aux_heads == 2 and model.decoder.num_layers == 6
    target = model.state_dict()
    # the model's own tensors stand in for the released values
    source = OrderedDict(
        (src, target[dst]) for src, dst in reference_key_pairs(model))
    result = convert_codetr_state_dict(source)
    assert result.unconverted == []
    assert set(result.state_dict) == set(target)
