from types import SimpleNamespace

import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from struct_det.evaluation.functional.sample_fields import sample_field


def test_every_sample_form_reads_the_same():
    inst = InstanceData(scores=torch.ones(2))
    sample = DetDataSample(metainfo=dict(ori_shape=(4, 5)))
    sample.pred_instances = inst
    sample.pred_score = torch.tensor([3.0])
    forms = [sample, sample.to_dict(), SimpleNamespace(**sample.to_dict())]
    for form in forms:
        assert sample_field(form, 'ori_shape') == (4, 5)
        assert float(sample_field(form, 'pred_score')[0]) == 3.0
        assert sample_field(form, 'pred_sem_seg') is None
        assert sample_field(form, 'pred_sem_seg', 'none') == 'none'
    assert sample_field(sample, 'pred_instances') is inst
    assert len(sample_field(inst, 'scores')) == 2


def test_methods_and_missing_samples_are_not_fields():
    assert sample_field(DetDataSample(), 'keys') is None
    assert sample_field(InstanceData(), 'masks') is None
    assert sample_field(None, 'pred_instances', 0) == 0
