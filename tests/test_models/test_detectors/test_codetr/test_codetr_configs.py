"""Co-DINO configs: single class, the dataset and metric, released weights,
TTA wiring."""
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
REAL = {
    'configs/codetr/co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py':
    ('co_dino_5scale_r50_lsj_8xb2_1x_coco-69a72d67', 1024),
    'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py':
    ('co_dino_5scale_lsj_swin_large_1x_coco-3af73af2', 1280),
}
TINY = 'configs/tiny/co-dino_tiny_evalmuse-sample.py'


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path))


def _flatten(transforms):
    for t in transforms:
        if isinstance(t, (list, tuple)):
            yield from _flatten(t)
        else:
            yield t
            if t['type'] == 'TestTimeAug':
                yield from _flatten(t['transforms'])


@pytest.mark.parametrize('path', list(REAL) + [TINY])
def test_single_class_codino_on_evalmuse(path):
    cfg = _cfg(path)
    model = cfg.model
    assert model.type == 'CoDETR' and model.eval_module == 'detr'
    assert model.bbox_head.type == 'CoDINOHead'
    assert model.bbox_head.num_classes == 1
    roi = model.roi_head
    assert roi.type == 'CoStandardRoIHead'
    assert roi.bbox_head.num_classes == roi.mask_head.num_classes == 1
    assert list(model.aux_bbox_head) == ['atss']
    assert model.aux_bbox_head.atss.type == 'CoATSSHead'
    assert model.aux_bbox_head.atss.num_classes == 1
    # by branch: DETR, RPN + RoI head ('rcnn'), ATSS
    assert set(
        model.train_cfg) == {'detr', 'rpn', 'rpn_proposal', 'rcnn', 'atss'}
    assert set(model.test_cfg) == {'detr', 'rpn', 'rcnn', 'atss'}
    assert model.train_cfg.rcnn.mask_size == 28
    assert model.test_cfg.rcnn.mask_thr_binary == 0.5
    assert model.test_cfg.detr.max_per_img <= model.num_queries
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.type == 'EvalMuseStructureDataset'
    # clean images are training examples too
    assert cfg.train_dataloader.dataset.filter_cfg.filter_empty_gt is False
    assert cfg.test_evaluator.type == 'StructureMetric'
    test_types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert test_types.index('LoadAnnotations') > test_types.index('Resize')
    meta_keys = cfg.test_dataloader.dataset.pipeline[-1].meta_keys
    assert {'mos', 'flip', 'flip_direction'} <= set(meta_keys)
    train_types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'LoadAnnotations' in train_types
    load = cfg.train_dataloader.dataset.pipeline[train_types.index(
        'LoadAnnotations')]
    assert load.with_mask, 'the mask branch trains from the GT masks'
    # TTA keeps masks: struct_det's model, not mmdet's DetTTAModel
    assert cfg.tta_model.get('type', 'DetMaskTTAModel') == 'DetMaskTTAModel'
    tta_types = [t['type'] for t in _flatten(cfg.tta_pipeline)]
    assert 'TestTimeAug' in tta_types and 'LoadAnnotations' in tta_types


@pytest.mark.parametrize('path', list(REAL))
def test_real_configs_start_from_converted_released_weights(path):
    cfg = _cfg(path)
    release, size = REAL[path]
    assert osp.basename(cfg.load_from) == f'{release}_struct-det.pth'
    # the comment documents the conversion of exactly that file
    with open(osp.join(REPO, path)) as f:
        text = f.read()
    assert 'tools/model_converters/codetr_to_struct_det.py' in text
    assert f'{release}.pth' in text
    # the released models were trained with LSJ at this size
    assert cfg.model.use_lsj
    pad = cfg.model.data_preprocessor.batch_augments[0]
    assert pad.type == 'BatchFixedSizePad' and tuple(pad.size) == (size, size)
    pads = [
        t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Pad'
    ]
    assert pads and tuple(pads[0]['size']) == (size, size)
    tta_pads = [t for t in _flatten(cfg.tta_pipeline) if t['type'] == 'Pad']
    assert tta_pads and tuple(tta_pads[0]['size']) == (size, size)
    for t in _flatten(cfg.tta_pipeline):
        if t['type'] == 'Resize':
            assert max(t['scale']) <= size, 'views must fit the LSJ pad'
    assert cfg.default_hooks.checkpoint.save_best == 'structure/f1_score'


def test_tiny_config_is_tiny():
    model = _cfg(TINY).model
    assert model.backbone.depth == 18 and model.backbone.base_channels == 16
    assert model.encoder.num_layers == 1 and model.decoder.num_layers == 2
    assert model.num_queries == 30
    assert model.dn_cfg.group_cfg.num_dn_queries <= 10
    assert _cfg(TINY).load_from is None


def test_r50_config_takes_the_two_stage_branch_from_mmdet():
    """The RPN, the RoI head and their train/test configs are mmdet's Mask
    R-CNN model base, but for what Co-DINO changes (written in the config)."""
    import mmdet
    mask_rcnn = Config.fromfile(
        osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs', '_base_', 'models',
            'mask-rcnn_r50_fpn.py')).model
    model = _cfg(list(REAL)[0]).model
    assert model.train_cfg.rpn == mask_rcnn.train_cfg.rpn
    assert model.test_cfg.rpn == mask_rcnn.test_cfg.rpn
    changed = dict(
        rpn_proposal=dict(nms_pre=4000), rcnn=dict(match_low_quality=False))
    assert model.train_cfg.rpn_proposal == dict(
        mask_rcnn.train_cfg.rpn_proposal, **changed['rpn_proposal'])
    rcnn = model.train_cfg.rcnn
    assert rcnn.assigner == dict(mask_rcnn.train_cfg.rcnn.assigner,
                                 **changed['rcnn'])
    assert rcnn.sampler == mask_rcnn.train_cfg.rcnn.sampler
    assert model.test_cfg.rcnn == dict(mask_rcnn.test_cfg.rcnn, score_thr=0.0)
    assert model.rpn_head.bbox_coder == mask_rcnn.rpn_head.bbox_coder
    ours, theirs = model.roi_head, mask_rcnn.roi_head
    assert ours.bbox_head.bbox_coder == theirs.bbox_head.bbox_coder
    assert ours.mask_head.num_convs == theirs.mask_head.num_convs == 4
    assert ours.bbox_roi_extractor.roi_layer == \
        theirs.bbox_roi_extractor.roi_layer
