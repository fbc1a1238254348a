"""Inputs the released scorer scores although they are not the documented form.

Rule: where the released ``evaluate.py`` produces a number,
    ``score_submission`` produces the
same number (with a warning when the input looks like a mistake); where it
crashes or misreads, we stop with a clear error. Each case is computed against
the literal scorer of ``scorer_reference.py`` (which resizes with
``cv2.resize``, sets ``> 0`` to 1 in place, casts to uint8 for ``findContours``
and counts ``== 1`` pixels for the GIoU, as the released code).
"""
import copy
import warnings

import cv2
import numpy as np
import pytest

from struct_det.evaluation.functional import (gt_scorer_masks,
                                              pred_scorer_masks,
                                              score_submission)
from struct_det.evaluation.submission import validate_gt, validate_submission
from tests.test_evaluation.test_functional.scorer_reference import (
    binarize_prediction, reference_score)
from tests.test_evaluation.test_functional.synthetic import ellipses

SCORE_KEYS = ('final_score', 'srcc', 'plcc', 'precision', 'recall', 'f1_score',
              'giou')


def _plain_set(n=24, seed=0):
    """A valid submission at assorted sizes and its 512x512 GT."""
    rng = np.random.default_rng(seed)
    preds, gts = {}, {}
    for i in range(n):
        key = f'{i:032x}'
        shape = [(1024, 1024), (576, 1024), (768, 640), (512, 512)][i % 4]
        gt = binarize_prediction(
            ellipses(rng, shape, int(rng.integers(0, 4)), 10, 6))
        pred = cv2.resize(
            gt, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        pred = np.maximum(
            np.roll(pred, int(rng.integers(-20, 20)), axis=1),
            ellipses(rng, shape, int(rng.integers(0, 2)), 10, 6))
        mos = float(np.clip(4.5 - 30 * gt.mean() + rng.normal(0, 0.5), 1, 5))
        gts[key] = {'score': round(mos * 3) / 3, 'pred_area': gt}
        preds[key] = {
            'score': float(mos + rng.normal(0, 0.6)),
            'pred_area': pred
        }
    return preds, gts


def _score(preds, gts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = score_submission(preds, gts)
    return result, [
        str(w.message) for w in caught if w.category is UserWarning
    ]


def _scores(result):
    return {k: result[k] for k in SCORE_KEYS}


def _assert_reference(result, preds, gts):
    ref = reference_score(preds, gts)
    for key in SCORE_KEYS:
        assert result[key] == ref[key], key  # bit-identical


def test_plain_set_matches_the_reference():
    preds, gts = _plain_set()
    result, notes = _score(preds, gts)
    _assert_reference(result, preds, gts)
    assert notes == []


@pytest.mark.parametrize(
    'field,change',
    [
        # (H, W, 1), 512x512 ones too
        ('pred_area', lambda area: area[:, :, None]),
        ('score', np.array),
    ],
    ids=['mask_with_a_channel_axis', 'zero_dim_array_scores'])
def test_odd_records_score_like_the_plain_ones(field, change):
    preds, gts = _plain_set()
    plain, _ = _score(preds, gts)
    odd = copy.deepcopy(preds)
    for entry in odd.values():
        entry[field] = change(entry[field])
    result, notes = _score(odd, gts)
    _assert_reference(result, odd, gts)
    assert _scores(result) == _scores(plain)
    assert notes == []


def test_bool_scores_score_as_zero_and_one_with_a_warning():
    preds, gts = _plain_set()
    odd = copy.deepcopy(preds)
    keys = list(odd)
    odd[keys[0]]['score'] = True
    odd[keys[1]]['score'] = np.bool_(False)
    result, notes = _score(odd, gts)
    _assert_reference(result, odd, gts)
    floats = copy.deepcopy(odd)
    floats[keys[0]]['score'], floats[keys[1]]['score'] = 1.0, 0.0
    assert result['srcc'] == _score(floats, gts)[0]['srcc']
    assert result['plcc'] == _score(floats, gts)[0]['plcc']
    assert len(notes) == 2 and all('is a bool' in n for n in notes)


def test_negative_int16_mask_scores_the_scorers_way_with_a_warning():
    preds, gts = _plain_set()
    odd = copy.deepcopy(preds)
    keys = list(odd)
    # -1 wraps to 255 in the scorer's uint8 cast: a region, but not a GIoU
    # pixel; -256 wraps to 0: nothing.
    for key, value in zip(keys[:3], (-1, -256, -3)):
        area = odd[key]['pred_area'].astype(np.int16)
        h, w = area.shape
        area[h // 4:h // 2, w // 4:w // 2] = value
        odd[key]['pred_area'] = area
    result, notes = _score(odd, gts)
    _assert_reference(result, odd, gts)
    assert any('negative values' in n for n in notes)

    regions, giou = pred_scorer_masks(
        np.array([[-1, 1], [-256, 0]], np.int16), size=2)
    np.testing.assert_array_equal(regions, [[1, 1], [0, 0]])
    np.testing.assert_array_equal(giou, [[0, 1], [0, 0]])


def test_extra_keys_with_bad_records_or_int_keys_are_ignored():
    preds, gts = _plain_set()
    plain, _ = _score(preds, gts)
    odd = dict(preds)
    odd['not_in_gt'] = {
        'score': float('nan'),
        'pred_area': np.zeros((4, 4), bool)
    }
    odd['no_record'] = None
    odd[7] = {'score': 1.0, 'pred_area': np.zeros((8, 8), np.uint8)}
    odd['valid_extra'] = {
        'score': 1.0,
        'pred_area': np.zeros((8, 8), np.uint8)
    }
    result, _ = _score(odd, gts)
    assert _scores(result) == _scores(plain)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        notes = validate_submission(odd, keys=gts)
    assert len(
        notes) == 1 and '4 submission keys are not in the split' in notes[0]
    assert '3 of them are not valid records' in notes[0]
    # Without the split's keys every record is checked.
    with pytest.raises(ValueError, match="'not_in_gt': score is nan"):
        validate_submission(odd)


def test_gt_stored_as_0_255_keeps_regions_and_reads_giou_as_the_scorer():
    preds, gts = _plain_set()
    plain, _ = _score(preds, gts)
    odd = copy.deepcopy(gts)
    for entry in odd.values():
        entry['pred_area'] = entry['pred_area'] * np.uint8(255)
    result, notes = _score(preds, odd)
    _assert_reference(result, preds, odd)
    for key in ('final_score', 'srcc', 'plcc', 'precision', 'recall',
                'f1_score'):
        assert result[key] == plain[key], key
    # The scorer's GIoU counts GT pixels equal to 1: a 0/255 GT has none.
    assert result['giou'] < plain['giou']
    assert any('0/255' in n for n in notes)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        assert any('0/255' in n for n in validate_gt(odd, 'gt.pkl'))

    regions, giou = gt_scorer_masks(
        np.array([[0, 255], [1, 0]], np.uint8), size=2)
    np.testing.assert_array_equal(regions, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(giou, [[0, 0], [1, 0]])


def test_many_records_of_one_kind_give_one_short_warning():
    preds, gts = _plain_set()
    odd = copy.deepcopy(preds)
    for entry in odd.values():
        entry['score'] = bool(entry['score'] > 3)
    _, notes = _score(odd, gts)
    assert len(notes) == 4 and notes[-1].startswith('... and 21 more records '
                                                    'with a bool')


@pytest.mark.parametrize('area,match', [
    (np.zeros((64, 64), bool), 'bool array, which crashes'),
    (np.zeros((1, 64, 64), np.uint8), r'\(1, H, W\) array as one row'),
    (np.zeros((64, 64, 3), np.uint8), '3 channels'),
    (np.zeros((2, 64, 64, 1), np.uint8), r'shape \(2, 64, 64, 1\)'),
    (np.full((64, 64), -0.5, np.float32), 'negative floats'),
])
def test_what_the_scorer_crashes_on_or_misreads_stays_an_error(
        area, match, assert_rejected):
    assert_rejected({'score': 1.0, 'pred_area': area}, f"'img_a'.*{match}")


def test_nan_scores_missing_keys_and_non_scalar_scores_stay_errors(
        assert_rejected):
    mask = np.zeros((512, 512), np.uint8)
    assert_rejected({
        'score': np.array(float('nan')),
        'pred_area': mask
    }, "'img_a'.*finite")
    assert_rejected({
        'score': np.array([2.0]),
        'pred_area': mask
    }, "'img_a'.*an array of shape \\(1,\\)")
    assert_rejected({
        'score': 1.0,
        'pred_area': mask
    },
                    'lacks 1 of the 1 GT keys',
                    key='img_b')


def test_the_benchmark_anchor_gives_the_scorer_s_numbers():
    """benchmarks/released_scorer_procedure.py (the speed anchor) is the scorer
    too.
    """
    import importlib.util
    import os.path as osp
    path = osp.join(
        osp.dirname(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
        'benchmarks', 'released_scorer_procedure.py')
    spec = importlib.util.spec_from_file_location('released_scorer_procedure',
                                                  path)
    anchor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(anchor)
    preds, gts = _plain_set(seed=3)
    result, _ = _score(preds, gts)
    assert anchor.score(copy.deepcopy(preds), gts) == _scores(result)
