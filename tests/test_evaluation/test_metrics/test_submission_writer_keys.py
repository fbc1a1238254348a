"""StructureSubmissionWriter: split completeness, duplicates, box-only models.
"""
import json

import numpy as np
import pytest
import torch

from struct_det.evaluation import read_submission, to_scorer_mask
from struct_det.evaluation.metrics import StructureSubmissionWriter

KEY_A, KEY_B, KEY_C = 'a' * 32, 'b' * 32, 'c' * 32


def _sample(key, score, boxes, scores, shape=(60, 90)):
    """A box-only model output as the evaluator hands it over (``to_dict()``).
    """
    pred = dict(
        bboxes=torch.as_tensor(boxes, dtype=torch.float32),
        scores=torch.as_tensor(scores, dtype=torch.float32),
        labels=torch.zeros(len(scores), dtype=torch.long))
    return dict(
        img_path=f'data/x/{key}.jpg',
        ori_shape=shape,
        pred_score=torch.tensor([score]),
        pred_instances=pred)


def test_box_only_predictions_become_filled_boxes(tmp_path):
    split = tmp_path / 'split.json'
    split.write_text(json.dumps({KEY_A: {}}))
    out = tmp_path / 'out' / 'submission.zip'
    writer = StructureSubmissionWriter(
        out_file=str(out), score_thr=0.5, split_file=str(split))
    writer.process(
        {},
        [_sample(KEY_A, 2.5, [[10, 10, 30, 20], [0, 0, 90, 60]], [0.7, 0.2])])
    writer.evaluate(1)
    preds, _ = read_submission(str(out))
    expected = np.zeros((60, 90), np.uint8)
    expected[10:20, 10:30] = 1  # the 0.2 box is below score_thr
    np.testing.assert_array_equal(preds[KEY_A]['pred_area'],
                                  to_scorer_mask(expected))
    assert preds[KEY_A]['score'] == pytest.approx(2.5)


def test_a_missing_split_key_leaves_no_file(tmp_path):
    split = tmp_path / 'split.json'
    split.write_text(json.dumps({KEY_A: {}, KEY_C: {}}))
    out = tmp_path / 's.zip'
    writer = StructureSubmissionWriter(
        out_file=str(out), split_file=str(split))
    writer.process({}, [_sample(KEY_A, 3.0, [[0, 0, 5, 5]], [0.9])])
    with pytest.raises(ValueError, match='lacks 1 of 2 keys'):
        writer.evaluate(1)
    assert not out.exists()


def test_an_image_seen_twice_is_refused(tmp_path):
    writer = StructureSubmissionWriter(out_file=str(tmp_path / 's.zip'))
    sample = _sample(KEY_B, 3.0, [[0, 0, 5, 5]], [0.9])
    writer.process({}, [sample, sample])
    with pytest.raises(ValueError, match='twice'):
        writer.evaluate(2)


def test_a_sample_without_img_path_names_the_fix(tmp_path):
    writer = StructureSubmissionWriter(out_file=str(tmp_path / 's.zip'))
    sample = _sample(KEY_B, 3.0, [[0, 0, 5, 5]], [0.9])
    sample.pop('img_path')
    with pytest.raises(KeyError, match='meta_keys'):
        writer.process({}, [sample])
