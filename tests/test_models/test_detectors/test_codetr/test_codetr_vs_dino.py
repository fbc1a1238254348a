"""At test time Co-DINO is DINO: same weights, same boxes."""
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
R50 = osp.join(REPO, 'configs', 'codetr',
               'co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py')


def compact_codino_cfg():
    """The R50 config at 256 dims (mmdet's DINO needs 256) but with a thin
    ResNet-18, one encoder and one decoder layer and 20 queries."""
    cfg = Config.fromfile(R50).model
    cfg.use_lsj = False
    cfg.num_queries = 20
    cfg.backbone.update(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        init_cfg=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False)
    cfg.neck.in_channels = [16, 32, 64, 128]
    cfg.encoder.num_layers = 1
    cfg.decoder.num_layers = 1
    cfg.dn_cfg.group_cfg.num_dn_queries = 10
    cfg.test_cfg.detr = dict(max_per_img=20)
    # DINOHead inverts references at 1e-5 (Co-DINO: 1e-3, the released
    # models'); top-k may pick padded positions whose reference is 1.
    cfg.bbox_head.inverse_sigmoid_eps = 1e-5
    return cfg


def test_codino_predicts_exactly_like_dino_with_its_weights():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample

    import struct_det.models.detectors  # noqa: F401
    from struct_det.testing import dino_counterpart_cfg
    init_default_scope('mmdet')
    cfg = compact_codino_cfg()
    dino_cfg = dino_counterpart_cfg(cfg)
    torch.manual_seed(0)
    codino = MODELS.build(cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    try:
        codino.init_weights()
    finally:
        logger.setLevel(level)
    dino = MODELS.build(dino_cfg)
    assert type(dino).__name__ == 'DINO'
    missing, unexpected = dino.load_state_dict(
        codino.state_dict(), strict=False)
    assert missing == []
    assert {k.split('.')[0]
            for k in unexpected} == {
                'rpn_head', 'roi_head', 'aux_bbox_head', 'aux_downsample',
                'pos_query_generator'
            }
    codino.eval()
    dino.eval()
    # the box-only comparison: CoDETR would add masks from its RoI head
    codino.roi_head[0].mask_head = None
    codino.roi_head[0].mask_roi_extractor = None
    assert not codino.with_mask

    inputs = torch.rand(2, 3, 64, 96)
    samples = []
    for h, w in ((64, 96), (48, 96)):
        samples.append(
            DetDataSample(
                metainfo=dict(
                    img_shape=(h, w),
                    ori_shape=(h, w),
                    batch_input_shape=(64, 96),
                    pad_shape=(64, 96),
                    scale_factor=(1., 1.))))
    with torch.no_grad():
        ours = codino.predict(inputs, [s.clone() for s in samples])
        theirs = dino.predict(inputs, [s.clone() for s in samples])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.pred_instances.bboxes,
                                   b.pred_instances.bboxes)
        torch.testing.assert_close(a.pred_instances.scores,
                                   b.pred_instances.scores)


def test_dino_counterpart_of_a_built_config():
    """Building CoDETR writes into its config; the counterpart still
    builds."""
    from mmdet.registry import MODELS

    import struct_det.models.detectors  # noqa: F401
    from struct_det.testing import dino_counterpart_cfg
    init_default_scope('mmdet')
    cfg = compact_codino_cfg()
    MODELS.build(cfg)
    assert 'share_pred_layer' in cfg.bbox_head
    dino = MODELS.build(dino_counterpart_cfg(cfg))
    assert dino.num_queries == 20 and dino.test_cfg == dict(max_per_img=20)


def test_dino_counterpart_rejects_other_models():
    from struct_det.testing import dino_counterpart_cfg
    with pytest.raises(ValueError, match='CoDETR'):
        dino_counterpart_cfg(dict(type='DINO'))
