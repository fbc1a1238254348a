"""``use_lsj`` with the shipped pipelines: ours and the reference's agree.

Our ``use_lsj=True`` sets every ``img_shape`` to the padded batch shape
while the model runs. The reference (mmdetection ``projects/CO-DETR``) means
to do the same, but its edit lands on a copy of the metainfo (a no-op in
mmdet 3.x), so it always uses the real ``img_shape``. The shipped R50 and
Swin-L configs pad every image to the LSJ square in the pipeline (``Pad``
sets ``img_shape`` to the padded size), so the two agree there: the padded
square *is* the image either way. Checked on the configs' own train, test
and TTA pipelines, and on a model's losses and predictions for such a
batch with ``use_lsj`` on and off.
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
CONFIGS = [
    'configs/codetr/co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py',
    'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py',
]


def _from_arrays(pipeline):
    """The config pipeline fed with decoded arrays instead of files."""
    pipeline = copy.deepcopy(list(pipeline))
    assert pipeline[0]['type'] == 'LoadImageFromFile'
    pipeline[0] = dict(type='LoadImageFromNDArray')
    return pipeline


def _record(h, w, seed):
    rng = np.random.default_rng(seed)
    x1, y1 = w * 0.2, h * 0.3
    x2, y2 = w * 0.6, h * 0.7
    return dict(
        img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        img_id=seed,
        img_path=f'image_{seed}.jpg',
        mos=3.0,
        prompt='',
        instances=[
            dict(
                bbox=[x1, y1, x2, y2],
                bbox_label=0,
                ignore_flag=0,
                mask=[[x1, y1, x2, y1, x2, y2, x1, y2]])
        ])


def _packed(pipeline_cfg, records):
    from mmcv.transforms import Compose
    pipeline = Compose(_from_arrays(pipeline_cfg))
    return [pipeline(copy.deepcopy(r)) for r in records]


def _shape(packed):
    sample = packed['data_samples']
    assert tuple(packed['inputs'].shape[-2:]) == tuple(sample.img_shape)
    return tuple(sample.img_shape)


@pytest.mark.parametrize('config', CONFIGS)
def test_shipped_pipelines_make_the_padded_square_the_image(config):
    import struct_det  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, config))
    size = tuple(cfg.image_size)
    assert cfg.model.use_lsj or 'swin' in config
    records = [_record(300, 200, 0), _record(180, 420, 1)]
    for name in ('train_pipeline', 'test_pipeline'):
        for packed in _packed(cfg[name], records):
            assert _shape(packed) == size, (name, _shape(packed))
    tta = cfg.tta_pipeline
    assert tta[1]['type'] == 'TestTimeAug'
    from mmcv.transforms import Compose
    views = Compose(_from_arrays(tta))(copy.deepcopy(records[1]))
    assert len(views['data_samples']) == 4
    for img, sample in zip(views['inputs'], views['data_samples']):
        assert tuple(img.shape[-2:]) == tuple(sample.img_shape) == size


def test_use_lsj_changes_nothing_on_padded_square_batches(model_factory):
    """The tiny model (box-only) on the R50 config's train and test
    pipelines (1024 squares), ``use_lsj`` on and off: the network sees the
    same shapes, so the losses and the DETR head's outputs are identical,
    and so are the boxes up to clipping to the original image (with
    ``use_lsj`` ours clips boxes to the image inside the padded square)."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[0]))
    records = [_record(300, 200, 0), _record(180, 420, 1)]
    # the model's config merges these into the tiny config's RoI head
    roi_head = dict(mask_roi_extractor=None, mask_head=None)
    models = {
        flag: model_factory(use_lsj=flag, roi_head=roi_head)
        for flag in (True, False)
    }
    models[False].load_state_dict(models[True].state_dict())

    train = pseudo_collate(_packed(cfg.train_pipeline, records))
    test = pseudo_collate(_packed(cfg.test_pipeline, records))
    losses, head_out, preds = {}, {}, {}
    for flag, model in models.items():
        model.train()
        data = model.data_preprocessor(copy.deepcopy(train), training=True)
        assert all(
            tuple(s.batch_input_shape) == tuple(s.img_shape)
            for s in data['data_samples'])
        torch.manual_seed(0)
        losses[flag] = model.loss(data['inputs'], data['data_samples'])
        model.eval()
        data = model.data_preprocessor(copy.deepcopy(test), training=False)
        handle = model.bbox_head.register_forward_hook(
            lambda m, a, out, flag=flag: head_out.__setitem__(flag, out))
        try:
            with torch.no_grad():
                preds[flag] = model.predict(data['inputs'],
                                            data['data_samples'])
        finally:
            handle.remove()
    assert set(losses[True]) == set(losses[False])
    for name, value in losses[True].items():
        values = value if isinstance(value, (list, tuple)) else [value]
        others = losses[False][name]
        others = others if isinstance(others, (list, tuple)) else [others]
        for a, b in zip(values, others):
            torch.testing.assert_close(a, b, msg=name)
    for a, b in zip(head_out[True], head_out[False]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(preds[True], preds[False]):
        ours, plain = a.pred_instances, b.pred_instances
        torch.testing.assert_close(ours.scores, plain.scores)
        ori_h, ori_w = a.ori_shape

        def inside(boxes):
            boxes = boxes.clone()
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, ori_w)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, ori_h)
            return boxes

        torch.testing.assert_close(
            inside(ours.bboxes), inside(plain.bboxes), rtol=0, atol=1e-3)
