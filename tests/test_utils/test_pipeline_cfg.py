import pytest
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config

from struct_det.utils import (apply_tta, from_array_pipeline,
                              innermost_dataset, strip_annotation_loading)


def _cfg(with_tta=True) -> Config:
    inner = dict(
        type='EvalMuseStructureDataset',
        pipeline=[dict(type='LoadImageFromFile')])
    cfg = dict(
        model=dict(type='Detector'),
        test_dataloader=dict(
            dataset=dict(type='RepeatDataset', times=2, dataset=inner)))
    if with_tta:
        cfg.update(
            tta_model=dict(type='DetMaskTTAModel'),
            tta_pipeline=[dict(type='TestTimeAug', transforms=[])])
    return Config(cfg)


def test_pipeline_is_found_under_dataset_wrappers():
    cfg = _cfg()
    assert innermost_dataset(
        cfg.test_dataloader.dataset).type == 'EvalMuseStructureDataset'
    assert list(get_test_pipeline_cfg(cfg)) == [dict(type='LoadImageFromFile')]


def test_apply_tta_wraps_the_model_and_swaps_the_inner_pipeline():
    cfg = apply_tta(_cfg(), 'x.py')
    assert cfg.model.type == 'DetMaskTTAModel'
    assert cfg.model.module.type == 'Detector'
    assert get_test_pipeline_cfg(cfg)[0]['type'] == 'TestTimeAug'
    assert cfg.test_dataloader.dataset.type == 'RepeatDataset'


def test_apply_tta_without_tta_settings_names_the_config():
    with pytest.raises(RuntimeError, match='x.py.*tta_model'):
        apply_tta(_cfg(with_tta=False), 'x.py')


def test_from_array_pipeline_keeps_to_float32_and_drops_annotations():
    pipeline = [
        dict(type='LoadImageFromFile', to_float32=True, backend_args=None),
        dict(type='mmdet.LoadAnnotations', with_bbox=True),
        dict(
            type='TestTimeAug',
            transforms=[[dict(type='Resize', scale=(8, 8))],
                        [dict(type='mmseg.LoadAnnotations')],
                        [dict(type='PackDetInputs')]]),
    ]
    steps = from_array_pipeline(
        pipeline, 'x.py', load_type='mmdet.LoadImageFromNDArray')
    assert steps[0] == dict(type='mmdet.LoadImageFromNDArray', to_float32=True)
    assert [s['type']
            for s in steps] == ['mmdet.LoadImageFromNDArray', 'TestTimeAug']
    assert steps[1]['transforms'] == [[dict(type='Resize', scale=(8, 8))],
                                      [dict(type='PackDetInputs')]]
    # The input is left as given.
    assert pipeline[0]['type'] == 'LoadImageFromFile' and len(
        pipeline[2]['transforms']) == 3
    assert strip_annotation_loading(pipeline[1:2]) == []


def test_from_array_pipeline_needs_an_image_loading_first_step():
    with pytest.raises(
            ValueError, match='x.py.*must start with LoadImageFromFile'):
        from_array_pipeline([dict(type='PackDetInputs')], 'x.py')
    with pytest.raises(ValueError, match='an empty pipeline'):
        from_array_pipeline([], 'x.py')
