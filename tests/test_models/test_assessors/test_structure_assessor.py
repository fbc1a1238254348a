"""StructureAssessor with small deterministic members whose outputs are known.

The members are test doubles registered here: a detector that segments bright
pixels of whatever image its own pipeline gives it (so flips and resizes show
up in its output unless the assessor undoes them) and a regressor that maps
the brightest pixel to a MOS.
"""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import nn

from struct_det.models.assessors import StructureAssessor
from struct_det.models.tta.instance_merge import masks_to_boxes

H, W = 60, 90
SQUARE = (slice(10, 30), slice(20, 50))  # rows, cols of the bright square


@MODELS.register_module(force=True)
class BrightRegionDetectorForTest(BaseModel):
    """One instance: the pixels brighter than 127, returned at ori_shape."""

    def __init__(self,
                 score: float = 0.9,
                 with_masks: bool = True,
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.score_logit = nn.Parameter(
            torch.logit(torch.tensor(float(score))))
        self.with_masks = with_masks

    def forward(self, inputs, data_samples=None, mode='predict'):
        for img, sample in zip(inputs, data_samples):
            h, w = sample.img_shape
            bright = img.float().mean(0)[:h, :w] > 127
            ori_h, ori_w = sample.ori_shape
            mask = F.interpolate(
                bright[None, None].float(),
                size=(ori_h, ori_w),
                mode='nearest')[0, 0] > 0.5
            inst = InstanceData()
            keep = slice(0, 1 if bool(mask.any()) else 0)
            inst.bboxes = masks_to_boxes(mask[None])[keep]
            inst.scores = torch.sigmoid(self.score_logit).detach()[None][keep]
            inst.labels = torch.zeros(1, dtype=torch.long)[keep]
            if self.with_masks:
                inst.masks = mask[None][keep]
            sample.pred_instances = inst
        return data_samples


@MODELS.register_module(force=True)
class BrightnessRegressorForTest(BaseModel):
    """MOS = 1 + 4 * brightest pixel / 255."""

    def forward(self, inputs, data_samples=None, mode='predict'):
        for img, sample in zip(inputs, data_samples):
            sample.pred_score = (1 + 4 * img.float().max() / 255).reshape(1)
        return data_samples


PREPROCESSOR = dict(
    type='DetDataPreprocessor', mean=[0., 0., 0.], std=[1., 1., 1.])


def _pipeline(scale):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor', 'flip', 'flip_direction', 'mos')),
    ]


FLIP_TTA_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(45, 30), keep_ratio=True)],
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='vertical'),
            ],
            [dict(type='LoadAnnotations', with_bbox=True)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'ori_shape', 'img_shape',
                               'scale_factor', 'flip', 'flip_direction'))
            ],
        ])
]


def _detector(score=0.9, with_masks=True, **extra):
    member = dict(
        model=dict(
            type='BrightRegionDetectorForTest',
            score=score,
            with_masks=with_masks,
            data_preprocessor=PREPROCESSOR),
        pipeline=_pipeline((45, 30)))
    member.update(extra)
    return member


def _regressor(**extra):
    member = dict(
        model=dict(
            type='BrightnessRegressorForTest', data_preprocessor=PREPROCESSOR),
        pipeline=_pipeline((32, 32)))
    member.update(extra)
    return member


def _image(bright=True) -> torch.Tensor:
    img = torch.zeros(3, H, W, dtype=torch.uint8)
    if bright:
        img[:, SQUARE[0], SQUARE[1]] = 255
    return img


def _batch(images):
    samples = []
    for idx, img in enumerate(images):
        sample = DetDataSample()
        sample.set_metainfo(
            dict(
                img_id=idx,
                img_path=f'{idx:032x}.jpg',
                ori_shape=tuple(img.shape[-2:]),
                img_shape=tuple(img.shape[-2:]),
                mos=3.0))
        samples.append(sample)
    return dict(inputs=list(images), data_samples=samples)


def _square_mask():
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[SQUARE] = True
    return mask


def _assessor(**kwargs) -> StructureAssessor:
    kwargs.setdefault('regressor', _regressor())
    kwargs.setdefault('detectors', [_detector()])
    return MODELS.build(dict(type='StructureAssessor', **kwargs))


# ------------------------------------------------------------ predictions
def test_regions_and_score_come_back_at_the_original_size():
    out = _assessor().test_step(_batch([_image(), _image(bright=False)]))
    assert len(out) == 2
    first, clean = out
    # the detector saw a 45x30 image, the output is the 60x90 original
    assert tuple(first.pred_instances.masks.shape) == (1, H, W)
    assert torch.equal(first.pred_instances.masks[0], _square_mask())
    torch.testing.assert_close(first.pred_instances.bboxes,
                               torch.tensor([[20., 10., 50., 30.]]))
    torch.testing.assert_close(first.pred_score, torch.tensor([5.0]))
    assert len(clean.pred_instances) == 0
    assert tuple(clean.pred_instances.masks.shape) == (0, H, W)
    torch.testing.assert_close(clean.pred_score, torch.tensor([1.0]))
    # the joint sample keeps its own metainfo
    assert first.metainfo['img_path'] == f'{0:032x}.jpg'
    assert first.metainfo['mos'] == 3.0


def test_member_tta_undoes_its_flips():
    tta_model = dict(type='DetMaskTTAModel', merge_mode='mask_nms')
    model = _assessor(detectors=[
        _detector(
            tta=True, tta_model=tta_model, tta_pipeline=FLIP_TTA_PIPELINE)
    ])
    # an off-centre square: any view left flipped would land elsewhere
    out = model.test_step(_batch([_image()]))[0]
    assert len(out.pred_instances) == 1
    assert torch.equal(out.pred_instances.masks[0], _square_mask())
    # and the member really is wrapped (its views are merged)
    assert type(model.detectors[0]).__name__ == 'DetMaskTTAModel'


def test_assessor_tta_flag_applies_to_members_that_have_tta():
    tta_model = dict(type='DetMaskTTAModel', merge_mode='mask_vote')
    model = MODELS.build(
        dict(
            type='build_assessor_with_member_tta',
            module=dict(
                type='StructureAssessor',
                regressor=_regressor(),  # has no TTA settings: runs plainly
                detectors=[
                    _detector(
                        tta_model=tta_model, tta_pipeline=FLIP_TTA_PIPELINE)
                ])))
    assert isinstance(model, StructureAssessor) and model.tta
    assert type(model.detectors[0]).__name__ == 'DetMaskTTAModel'
    assert type(model.regressor).__name__ == 'BrightnessRegressorForTest'
    out = model.test_step(_batch([_image()]))[0]
    assert torch.equal(out.pred_instances.masks[0], _square_mask())


@pytest.mark.parametrize('mode, expected_len', [('union', 2), ('nms', 1),
                                                ('mask_nms', 1), ('wbf', 1),
                                                ('mask_vote', 1)])
def test_detectors_merge_as_configured(mode, expected_len):
    model = _assessor(
        detectors=[
            _detector(score=0.9),
            _detector(score=0.5, with_masks=False, weight=1.0)
        ],
        merge_mode=mode)
    inst = model.test_step(_batch([_image()]))[0].pred_instances
    assert len(inst) == expected_len
    # a box-only detector's regions become filled boxes next to masks
    assert torch.equal(inst.masks.any(0), _square_mask())
    if mode in ('wbf', 'mask_vote'):
        # 'mean' over the detectors that found it
        assert inst.scores.tolist() == pytest.approx([0.7], abs=1e-5)
    elif mode != 'union':
        assert inst.scores.tolist() == pytest.approx([0.9], abs=1e-5)


def test_each_detector_has_its_own_score_threshold():
    model = _assessor(detectors=[
        _detector(score=0.9, score_thr=0.95),
        _detector(score=0.5, score_thr=0.4)
    ])
    inst = model.test_step(_batch([_image()]))[0].pred_instances
    assert inst.scores.tolist() == pytest.approx([0.5], abs=1e-5)


def test_members_from_config_files_load_their_checkpoints(tmp_path):
    det_cfg = tmp_path / 'det.py'
    det_cfg.write_text(
        f'model = {_detector()["model"]!r}\n'
        'test_dataloader = '
        f'dict(dataset=dict(pipeline={_pipeline((45, 30))!r}))\n')
    reg_cfg = tmp_path / 'reg.py'
    reg_cfg.write_text(
        f'model = {_regressor()["model"]!r}\n'
        'test_dataloader = dict(dataset=dict(type="ConcatDataset", '
        f'dataset=dict(pipeline={_pipeline((32, 32))!r})))\n')
    trained = BrightRegionDetectorForTest(score=0.3)
    ckpt = tmp_path / 'det.pth'
    torch.save(dict(state_dict=trained.state_dict()), ckpt)
    model = _assessor(
        regressor=dict(config=str(reg_cfg)),
        detectors=[
            dict(config=str(det_cfg), checkpoint=str(ckpt), score_thr=0.0)
        ])
    out = model.test_step(_batch([_image()]))[0]
    # the config says 0.9, the checkpoint 0.3
    assert out.pred_instances.scores.tolist() == pytest.approx([0.3], abs=1e-5)
    torch.testing.assert_close(out.pred_score, torch.tensor([5.0]))


# ------------------------------------------------------------ bad input
def test_a_resized_joint_input_is_refused():
    batch = _batch([_image()])
    batch['inputs'] = [F.interpolate(_image()[None].float(), size=(30, 45))[0]]
    with pytest.raises(ValueError, match='must not resize'):
        _assessor().test_step(batch)


def test_tta_views_in_the_joint_pipeline_are_refused():
    batch = _batch([_image()])
    batch['inputs'] = [batch['inputs']]
    batch['data_samples'] = [batch['data_samples']]
    with pytest.raises(ValueError, match='TestTimeAug'):
        _assessor().test_step(batch)


@pytest.mark.parametrize('member, error, match', [
    (dict(model=dict(type='BrightRegionDetectorForTest')), ValueError,
     'pipeline'),
    (dict(config='x.py', model=dict(type='BrightRegionDetectorForTest')),
     ValueError, 'exactly one'),
    (dict(config='does/not/exist.py'), FileNotFoundError, 'not found'),
    (_detector(threshold=0.3), TypeError, 'unknown keys'),
    (_detector(tta=True), ValueError, 'tta_pipeline'),
])
def test_bad_member_specs_are_explained(member, error, match):
    with pytest.raises(error, match=match):
        _assessor(detectors=[member])


def test_bad_settings_and_training_are_refused():
    with pytest.raises(ValueError, match='merge_mode'):
        _assessor(merge_mode='average')
    with pytest.raises(ValueError, match='at least one detector'):
        _assessor(detectors=[])
    with pytest.raises(RuntimeError, match='inference-only'):
        _assessor()(torch.zeros(1, 3, H, W), None, mode='loss')


def test_members_do_not_load_ground_truth():
    tta_model = dict(type='DetMaskTTAModel')
    model = _assessor(detectors=[
        _detector(
            tta=True, tta_model=tta_model, tta_pipeline=FLIP_TTA_PIPELINE)
    ])

    def type_names(transforms):
        for t in transforms:
            yield type(t).__name__
            if type(t).__name__ == 'TestTimeAug':
                for sub in t.subroutines:
                    yield from type_names(sub.transforms)

    for member in [model._regressor_member] + model._detector_members:
        names = list(type_names(member.pipeline.transforms))
        assert names[0] == 'LoadImageFromNDArray'
        assert 'LoadAnnotations' not in names
        assert 'PackDetInputs' in names


def test_a_missing_checkpoint_names_the_member_and_the_fix(tmp_path):
    with pytest.raises(
            FileNotFoundError, match='model.detectors.0.checkpoint'):
        _assessor(detectors=[_detector(checkpoint=str(tmp_path / 'no.pth'))])


def test_box_masks_follow_the_metric_rule():
    from struct_det.evaluation.functional import boxes_to_masks
    boxes = torch.tensor([[2.0, 3.0, 7.0, 9.0], [0.3, 1.7, 4.2, 5.6],
                          [-3., 50., 95., 70.]])
    masks = StructureAssessor._box_masks(boxes, H, W)
    assert masks.dtype == torch.bool and masks.shape == (3, H, W)
    assert (masks.numpy() == boxes_to_masks(boxes.numpy(), (H, W))).all()
    # [floor(x1), ceil(x2)) x [floor(y1), ceil(y2)), clipped to the image.
    assert masks[1].nonzero()[:, 0].unique().tolist() == [1, 2, 3, 4, 5]
    assert masks[1].nonzero()[:, 1].unique().tolist() == [0, 1, 2, 3, 4]
    assert masks[2].sum() == (H - 50) * W
