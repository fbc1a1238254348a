import pytest
from mmengine.config import Config

from struct_det.utils import apply_tta, innermost_dataset, config_test_pipeline


def _cfg(with_tta=True) -> Config:
    inner = dict(type='EvalMuseStructureDataset', pipeline=[dict(type='LoadImageFromFile')])
    cfg = dict(model=dict(type='Detector'),
               test_dataloader=dict(dataset=dict(type='RepeatDataset', times=2,
                                                 dataset=inner)))
    if with_tta:
        cfg.update(tta_model=dict(type='DetMaskTTAModel'),
                   tta_pipeline=[dict(type='TestTimeAug', transforms=[])])
    return Config(cfg)


def test_pipeline_is_found_under_dataset_wrappers():
    cfg = _cfg()
    assert innermost_dataset(cfg.test_dataloader.dataset).type == 'EvalMuseStructureDataset'
    assert config_test_pipeline(cfg) == [dict(type='LoadImageFromFile')]


def test_apply_tta_wraps_the_model_and_swaps_the_inner_pipeline():
    cfg = apply_tta(_cfg(), 'x.py')
    assert cfg.model.type == 'DetMaskTTAModel' and cfg.model.module.type == 'Detector'
    assert config_test_pipeline(cfg)[0]['type'] == 'TestTimeAug'
    assert cfg.test_dataloader.dataset.type == 'RepeatDataset'


def test_apply_tta_without_tta_settings_names_the_config():
    with pytest.raises(RuntimeError, match='x.py.*tta_model'):
        apply_tta(_cfg(with_tta=False), 'x.py')
