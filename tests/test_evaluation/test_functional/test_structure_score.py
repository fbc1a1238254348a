"""score_submission: equality with the literal scorer, hand-computed sets,
options, errors.
"""
import numpy as np
import pytest
from scipy import stats

from struct_det.evaluation.functional import final_score, score_submission
from tests.test_evaluation.test_functional.scorer_reference import (
    binarize_prediction, reference_score)
from tests.test_evaluation.test_functional.synthetic import ellipses


def _random_set(n=40, seed=0):
    rng = np.random.default_rng(seed)
    preds, gts = {}, {}
    for i in range(n):
        key = f'{i:032x}'
        gt = ellipses(rng, (1024, 1024), int(rng.integers(0, 4)), 5, 8)
        pred = ellipses(rng, (1024, 1024), int(rng.integers(0, 3)), 5, 8)
        if rng.random() < 0.6:
            pred = np.maximum(pred,
                              np.roll(gt, int(rng.integers(-30, 30)), axis=1))
        mos = float(np.clip(5 - gt.mean() * 40 + rng.normal(0, 0.5), 1, 5))
        gts[key] = {
            'score': round(mos * 3) / 3,
            'pred_area': binarize_prediction(gt)
        }
        preds[key] = {
            'score': float(mos + rng.normal(0, 0.7)),
            'pred_area': pred
        }
    return preds, gts


def test_equals_reference_scorer_exactly():
    preds, gts = _random_set()
    ours = score_submission(preds, gts)
    ref = reference_score(preds, gts)
    for key, value in ref.items():
        assert ours[key] == value, key  # identical, not approximately
    assert list(ours)[:7] == [
        'final_score', 'srcc', 'plcc', 'precision', 'recall', 'f1_score',
        'giou'
    ]
    assert 0 < ours['pixel_f1'] < 1 and ours['num_images'] == 40


def test_gt_order_defines_order_and_extra_keys_are_ignored():
    preds, gts = _random_set(12, seed=1)
    shuffled = dict(reversed(list(preds.items())))
    shuffled['not_in_gt'] = {
        'score': 1.0,
        'pred_area': np.ones((8, 8), np.uint8)
    }
    assert score_submission(shuffled, gts) == score_submission(preds, gts)


def _square(y, x, s, size=512):
    m = np.zeros((size, size), np.uint8)
    m[y:y + s, x:x + s] = 1
    return m


def test_hand_computed_set():
    empty = np.zeros((512, 512), np.uint8)
    two_gt = np.maximum(_square(100, 100, 30), _square(100, 140, 30))
    # a false positive on a clean image, and a sub-threshold speck (13x13)
    clean_pred = np.maximum(_square(300, 300, 20), _square(0, 0, 13))
    # image: GT score, GT mask, predicted score, predicted mask
    cases = {
        'hit': (1.0, _square(200, 200, 40), 1.2, _square(200, 200, 40)),
        # one 80x80 region hits both GT squares (IoU 900 / 6400 > 0.1 each)
        'merged': (2.0, two_gt, 2.5, _square(95, 95, 80)),
        'clean': (4.0, empty, 3.0, clean_pred),
        'missed': (5.0, _square(10, 10, 20), 4.9, empty),
    }
    gts, preds = {}, {}
    for key, (gt_score, gt_area, score, area) in cases.items():
        gts[key] = {'score': gt_score, 'pred_area': gt_area}
        preds[key] = {'score': score, 'pred_area': area}
    res = score_submission(preds, gts)
    assert (res['num_pred_regions'], res['num_pred_hit'],
            res['num_gt_regions'], res['num_gt_missed']) == (3, 2, 4, 1)
    precision, recall = 2 / 3, 1 - 1 / 4
    assert res['precision'] == precision and res['recall'] == recall
    assert res['f1_score'] == 2 * precision * recall / (
        precision + recall + 1e-10)
    gious = [
        1.0, (1800 + 1e-4) / (6400 + 1e-4), 1e-4 / (400 + 169 + 1e-4),
        1e-4 / (400 + 1e-4)
    ]
    assert res['giou'] == pytest.approx(sum(gious) / 4, rel=1e-12)
    assert res['srcc'] == pytest.approx(1.0)
    assert res['final_score'] == res['f1_score'] * 0.7 + (
        res['plcc'] + res['srcc']) * 0.3 / 2
    assert res['pixel_precision'] == pytest.approx(
        (1600 + 1800) / (1600 + 6400 + 400 + 169))


def test_options_change_the_counts():
    preds, gts = _random_set(16, seed=2)
    base = score_submission(preds, gts)
    coarse = score_submission(preds, gts, area_ratio=0.005)
    assert coarse['num_pred_regions'] < base['num_pred_regions']
    assert score_submission(preds, gts, gt_min_area=1500)['num_gt_regions'] < \
        base['num_gt_regions']
    assert score_submission(
        preds, gts, iou_thr=0.8)['num_pred_hit'] < base['num_pred_hit']
    ref = reference_score(
        preds, gts, area_ratio=0.005, gt_min_area=1500, iou_thr=0.3)
    ours = score_submission(
        preds, gts, area_ratio=0.005, gt_min_area=1500, iou_thr=0.3)
    assert ours['f1_score'] == ref['f1_score'] and ours['giou'] == ref['giou']
    y = [gts[k]['score'] for k in gts]
    x = [preds[k]['score'] for k in gts]
    assert score_submission(
        preds, gts, plcc_fit='none')['plcc'] == pytest.approx(
            stats.pearsonr(y, x)[0], abs=1e-15)
    assert score_submission(
        preds, gts, plcc_fit='poly3')['plcc'] != base['plcc']
    with pytest.raises(ValueError, match='plcc_fit'):
        score_submission(preds, gts, plcc_fit='linear')


def test_degenerate_sets_give_nan_with_warnings():
    empty = np.zeros((64, 64), np.uint8)
    gts = {f'k{i}': {'score': float(i), 'pred_area': empty} for i in range(3)}
    preds = {f'k{i}': {'score': 1.0, 'pred_area': empty} for i in range(3)}
    with pytest.warns(RuntimeWarning) as record:
        res = score_submission(preds, gts)
    messages = ' | '.join(str(w.message) for w in record)
    assert 'no predicted region' in messages and 'no GT region' in messages
    assert 'predicted scores are equal' in messages
    assert 'at least 4' in messages
    for key in ('precision', 'recall', 'f1_score', 'srcc', 'plcc',
                'final_score'):
        assert np.isnan(res[key]), key
    assert res['giou'] == 1.0


@pytest.mark.parametrize('area,match', [
    (np.zeros((64, 64), bool), 'bool array'),
    (np.zeros((1, 64, 64), np.uint8), r'shape \(1, 64, 64\)'),
    (np.zeros((64, 64), np.int64), 'dtype int64'),
    (np.full((64, 64), -1.0), 'negative'),
    (np.full((64, 64), np.nan), 'NaN'),
    ([[0, 1]], 'numpy array'),
])
def test_invalid_prediction_names_the_key(area, match, assert_rejected):
    assert_rejected({'score': 1.0, 'pred_area': area}, f"'img_a'.*{match}")


def test_invalid_scores_and_keys(assert_rejected):
    mask = np.zeros((512, 512), np.uint8)
    assert_rejected({
        'score': float('inf'),
        'pred_area': mask
    }, "'img_a'.*finite")
    assert_rejected({
        'score': '3.0',
        'pred_area': mask
    }, "'img_a'.*real number")
    assert_rejected({
        'score': 1.0,
        'pred_area': mask
    },
                    r"lacks 1 of the 1 GT keys.*img_a",
                    key='img_a.jpg')
    assert_rejected({
        'score': 1.0,
        'pred_area': mask
    },
                    "GT 'img_a'.*other than 0 and 1",
                    gt_area=mask * 255 + 3)
    assert_rejected({'pred_area': mask}, "'img_a'.*'score' and 'pred_area'")


def test_final_score_weights():
    assert final_score(0.5, 0.6, 0.8) == 0.5 * 0.7 + (0.8 + 0.6) * 0.3 / 2
    assert final_score(0.6938, 0.6716, 0.7085) == pytest.approx(
        0.6927, abs=1e-4)
