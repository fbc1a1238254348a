"""StructureSubmissionWriter: the zip written from a test run equals
make_submission's.
"""
import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

from struct_det.evaluation import predictions_from_results, read_submission


def _samples(shape=(40, 60)):
    out = []
    for i in range(3):
        s = DetDataSample(
            metainfo=dict(
                img_id=i, img_path=f'x/{i:032x}.jpg', ori_shape=shape))
        masks = torch.zeros((2, *shape), dtype=torch.bool)
        masks[0, 5:20, 5:30] = True
        masks[1, 25:35, 40:55] = True
        s.pred_instances = InstanceData(
            masks=masks,
            scores=torch.tensor([0.9, 0.1 * i]),
            bboxes=torch.zeros((2, 4)),
            labels=torch.zeros(2, dtype=torch.long))
        s.pred_score = torch.tensor([1.0 + i])
        out.append(s)
    return out


def test_writer_matches_predictions_from_results(tmp_path):
    out = tmp_path / 'sub.zip'
    evaluator = Evaluator(
        METRICS.build(
            dict(
                type='StructureSubmissionWriter',
                out_file=str(out),
                score_thr=0.15,
                runtime_per_image=0.5,
                description='d')))
    samples = _samples()
    evaluator.process(samples)
    assert evaluator.evaluate(len(samples)) == {}
    written, readme = read_submission(str(out))
    expected = predictions_from_results([s.to_dict() for s in samples],
                                        score_thr=0.15)
    assert list(written) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(written[key]['pred_area'],
                                      expected[key]['pred_area'])
        assert written[key]['score'] == expected[key]['score']
    assert readme.startswith('runtime per image [s] : 0.50\nCPU[1] / GPU[0] : '
                             '1')
    # only the third image's weak instance (score 0.2) passes 0.15
    areas = [written[k]['pred_area'].sum() for k in written]
    assert areas[0] == areas[1] < areas[2]


def test_writer_needs_a_zip_and_scores(tmp_path):
    with pytest.raises(ValueError, match='must be a .zip'):
        METRICS.build(
            dict(
                type='StructureSubmissionWriter',
                out_file=str(tmp_path / 'a.pkl')))
    evaluator = Evaluator(
        METRICS.build(
            dict(
                type='StructureSubmissionWriter',
                out_file=str(tmp_path / 'a.zip'))))
    sample = _samples()[0]
    del sample.pred_score
    with pytest.raises(KeyError, match='no pred_score'):
        evaluator.process([sample])
