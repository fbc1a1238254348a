"""CoDETR's auxiliary heads and train/test configs, positional or keyed by
branch name: the same model either way, and keyed configs merge."""
import copy
import os.path as osp
from typing import Dict

import pytest
import torch
from mmengine.config import Config, ConfigDict

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
TINY_CONFIG = osp.join(REPO, 'configs', 'tiny',
                       'co-dino_tiny_evalmuse-sample.py')


def positional(model_cfg: ConfigDict) -> Dict[str, list]:
    """The heads and train/test configs of the keyed tiny config in the
    positional layout ``[detr, roi (rpn, rpn_proposal, rcnn), atss]``."""
    model_cfg = copy.deepcopy(model_cfg)
    dense = model_cfg.aux_bbox_head
    layout = dict(
        roi_head=[model_cfg.roi_head], aux_bbox_head=list(dense.values()))
    for key, rpn_keys in (('train_cfg', ('rpn', 'rpn_proposal')), ('test_cfg',
                                                                   ('rpn', ))):
        keyed = model_cfg[key]
        roi_entry = {name: keyed[name] for name in rpn_keys}
        roi_entry['rcnn'] = keyed.rcnn
        layout[key] = [keyed.detr, roi_entry] + [keyed[name] for name in dense]
    return layout


def _plain(cfg):
    return None if cfg is None else ConfigDict(cfg).to_dict()


def _losses(model, batch_factory) -> Dict[str, torch.Tensor]:
    inputs, samples = batch_factory()
    model.train()
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    return {
        name: torch.stack(value) if isinstance(value, list) else value
        for name, value in losses.items()
    }


def test_tiny_config_is_keyed(tiny_cfg_factory):
    cfg = tiny_cfg_factory()
    assert cfg.roi_head.type == 'CoStandardRoIHead'
    assert list(cfg.aux_bbox_head) == ['atss']
    assert isinstance(cfg.train_cfg, dict) and isinstance(cfg.test_cfg, dict)


def test_positional_config_builds_the_same_model(model_factory,
                                                 tiny_cfg_factory,
                                                 batch_factory):
    keyed = model_factory()
    listed = model_factory(**positional(tiny_cfg_factory()))
    keyed_state, listed_state = keyed.state_dict(), listed.state_dict()
    assert list(keyed_state) == list(listed_state)
    for name, value in keyed_state.items():
        torch.testing.assert_close(listed_state[name], value, rtol=0, atol=0)
    for stages in ('stage_train_cfgs', 'stage_test_cfgs'):
        assert [_plain(c) for c in getattr(keyed, stages)] == \
            [_plain(c) for c in getattr(listed, stages)]
    assert keyed.rpn_head.train_cfg == listed.rpn_head.train_cfg
    assert keyed.roi_head[0].train_cfg == listed.roi_head[0].train_cfg
    assert keyed.roi_head[0].test_cfg == listed.roi_head[0].test_cfg
    assert keyed.aux_bbox_head[0].test_cfg == listed.aux_bbox_head[0].test_cfg
    keyed_losses = _losses(keyed, batch_factory)
    listed_losses = _losses(listed, batch_factory)
    assert list(keyed_losses) == list(listed_losses)
    for name, value in keyed_losses.items():
        torch.testing.assert_close(
            listed_losses[name], value, rtol=0, atol=0, msg=name)


def test_keyed_entries_reach_their_heads_in_order(model_factory,
                                                  tiny_cfg_factory):
    cfg = tiny_cfg_factory()
    atss = cfg.aux_bbox_head.atss
    test_cfg = cfg.test_cfg
    test_cfg.second = dict(test_cfg.atss, nms_pre=7)
    test_cfg.rpn.nms_pre = 11
    test_cfg.rcnn.max_per_img = 5
    model = model_factory(
        aux_bbox_head=dict(atss=atss, second=copy.deepcopy(atss)),
        train_cfg=dict(cfg.train_cfg, second=cfg.train_cfg.atss),
        test_cfg=test_cfg)
    assert len(model.aux_bbox_head) == 2
    assert model.aux_bbox_head[0].test_cfg.nms_pre == 200
    assert model.aux_bbox_head[1].test_cfg.nms_pre == 7
    assert model.rpn_head.test_cfg.nms_pre == 11
    assert model.roi_head[0].test_cfg.max_per_img == 5
    # the positive-query groups follow the heads: RoI, atss, second
    assert model.pos_query_generator.num_groups == 3
    assert model.stage_test_cfgs[3].nms_pre == 7


def test_missing_keyed_entries_mean_no_config(model_factory, tiny_cfg_factory):
    cfg = tiny_cfg_factory()
    model = model_factory(test_cfg=dict(rpn=None))
    assert model.rpn_head.test_cfg is None
    assert model.stage_test_cfgs[1].rpn is None
    assert model.stage_test_cfgs[1].rcnn == cfg.test_cfg.rcnn


@pytest.mark.parametrize('overrides, message', [
    (dict(train_cfg=[None, None, None]), 'keyed by branch name'),
    (dict(test_cfg=dict(detr=None, retina=None)), 'name no branch'),
    (dict(aux_bbox_head=dict(type='CoATSSHead')), 'key it by a branch name'),
    (dict(aux_bbox_head=[dict(type='CoATSSHead')]), 'both be keyed'),
    (dict(aux_bbox_head=dict(detr=dict(type='CoATSSHead'))), 'reserve'),
    (dict(aux_bbox_head=dict(rcnn=dict(type='CoATSSHead'))), 'both an RoI'),
])
def test_keyed_config_errors_are_explained(model_factory, overrides, message):
    with pytest.raises(ValueError, match=message):
        model_factory(**overrides)


def test_positional_config_with_keyed_cfg_is_refused(model_factory,
                                                     tiny_cfg_factory):
    layout = positional(tiny_cfg_factory())
    layout['test_cfg'] = tiny_cfg_factory().test_cfg
    with pytest.raises(ValueError, match='test_cfg must be a list'):
        model_factory(**layout)


def test_child_config_overrides_one_keyed_value(tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(
        f'_base_ = [{TINY_CONFIG!r}]\n'
        'model = dict(test_cfg=dict(atss=dict(nms_pre=7)),\n'
        '             aux_bbox_head=dict(atss=dict(stacked_convs=2)))\n')
    base = Config.fromfile(TINY_CONFIG).model
    merged = Config.fromfile(str(child)).model
    assert merged.test_cfg.atss.nms_pre == 7
    assert merged.aux_bbox_head.atss.stacked_convs == 2
    merged.test_cfg.atss.nms_pre = base.test_cfg.atss.nms_pre
    merged.aux_bbox_head.atss.stacked_convs = 1
    assert merged.to_dict() == base.to_dict()


def test_dino_counterpart_takes_the_keyed_detr_entries(tiny_cfg_factory):
    from struct_det.testing import dino_counterpart_cfg
    cfg = tiny_cfg_factory()
    dino = dino_counterpart_cfg(cfg)
    assert dino.train_cfg == cfg.train_cfg.detr
    assert dino.test_cfg == dict(max_per_img=30)
    listed = copy.deepcopy(cfg)
    listed.update(positional(cfg))
    assert dino_counterpart_cfg(listed).to_dict() == dino.to_dict()
