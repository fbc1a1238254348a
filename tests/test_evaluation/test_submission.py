"""Submission files: reading, validation, writing, conversion of saved
outputs (the unpicklers: ``test_restricted_pickle.py``).
"""
import json
import os
import pickle
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from struct_det.datasets.gt_masks import gt_from_coco
from struct_det.evaluation.functional import score_submission, to_scorer_mask
from struct_det.evaluation.submission_checks import (MaskValueChecks,
                                                     NonBinaryMasks,
                                                     validate_gt,
                                                     validate_submission)
from struct_det.evaluation.submission_io import (format_readme,
                                                 format_score_lines,
                                                 read_submission, split_keys,
                                                 write_submission)
from struct_det.evaluation.submission_preds import predictions_from_results
from struct_det.utils.test_log import runtime_from_test_log

KEY_A, KEY_B = 'a' * 32, 'b' * 32


def _mask(shape, y0, x0, y1, x1, dtype=np.uint8):
    m = np.zeros(shape, dtype)
    m[y0:y1, x0:x1] = 1
    return m


def _preds():
    return {
        KEY_A: {
            'score': 2.5,
            'pred_area': _mask((64, 96), 5, 5, 40, 50)
        },
        KEY_B: {
            'score': 4.0,
            'pred_area': np.zeros((64, 96), np.uint8)
        }
    }


def test_write_and_read_roundtrip(tmp_path):
    path = tmp_path / 'sub.zip'
    readme = format_readme(
        0.523, use_cpu=False, extra_data=True, description='two\nlines')
    assert readme == ('runtime per image [s] : 0.52\nCPU[1] / GPU[0] : 0\n'
                      'Extra Data [1] / No Extra Data [0] : 1\nOther '
                      'description : two lines\n')
    write_submission(str(path), _preds(), readme, keys=[KEY_A, KEY_B])
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ['output.pkl', 'readme.txt']
    preds, text = read_submission(str(path))
    assert text == readme and list(preds) == [KEY_A, KEY_B]
    np.testing.assert_array_equal(preds[KEY_A]['pred_area'],
                                  _preds()[KEY_A]['pred_area'])
    assert isinstance(preds[KEY_A]['score'], float)
    # no temporary left behind
    assert [p.name for p in tmp_path.iterdir()] == ['sub.zip']


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / 'sub.zip'
    path.write_bytes(b'previous')
    bad = _preds()
    bad[KEY_B]['pred_area'] = bad[KEY_B]['pred_area'].astype(bool)
    with pytest.raises(ValueError, match=f"'{KEY_B}'.*bool"):
        write_submission(str(path), bad, 'x', keys=[KEY_A, KEY_B])
    assert path.read_bytes() == b'previous' and len(list(
        tmp_path.iterdir())) == 1


def test_zip_pickle_is_read_without_a_second_full_copy(tmp_path):
    """The zip member is unpickled as it decompresses: the peak is the loaded
    arrays plus small buffers, not also the whole decompressed pickle (2x with
    ``zf.read``)."""
    num, side = 16, 1024
    preds = {
        f'{i:032x}': {
            'score': float(i),
            'pred_area': np.ones((side, side), np.uint8)
        }
        for i in range(num)
    }
    path = tmp_path / 'sub.zip'
    write_submission(str(path), preds, format_readme(1.0))
    loaded_bytes = num * side * side
    tracemalloc.start()
    try:
        loaded, _ = read_submission(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(loaded) == num and all(v['pred_area'].all()
                                      for v in loaded.values())
    assert peak >= loaded_bytes  # the arrays themselves are traced
    assert peak < 1.25 * loaded_bytes, peak / loaded_bytes


def test_read_submission_container_errors(tmp_path):
    no_readme = tmp_path / 'no_readme.zip'
    with zipfile.ZipFile(no_readme, 'w') as zf:
        zf.writestr('output.pkl', pickle.dumps(_preds()))
    with pytest.raises(ValueError, match='no readme.txt'):
        read_submission(str(no_readme))
    nested = tmp_path / 'nested.zip'
    with zipfile.ZipFile(nested, 'w') as zf:
        zf.writestr('sub/output.pkl', pickle.dumps(_preds()))
        zf.writestr('sub/readme.txt', 'x')
    with pytest.raises(ValueError, match="found 'sub/output.pkl'"):
        read_submission(str(nested))
    bare = tmp_path / 'output.pkl'
    bare.write_bytes(pickle.dumps(_preds()))
    preds, readme = read_submission(str(bare))
    assert readme is None and set(preds) == {KEY_A, KEY_B}
    not_dict = tmp_path / 'list.pkl'
    not_dict.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match='must hold a dict'):
        read_submission(str(not_dict))


def test_validate_submission():
    with pytest.raises(
            ValueError, match=r'lacks 1 of 2 keys.*carry a file extension'):
        validate_submission(
            {
                KEY_A + '.jpg': _preds()[KEY_A],
                KEY_B: _preds()[KEY_B]
            },
            keys=[KEY_A, KEY_B])
    three_d = _preds()
    three_d[KEY_A]['pred_area'] = three_d[KEY_A]['pred_area'][None]
    with pytest.raises(ValueError, match=f"'{KEY_A}'.*shape \\(1, 64, 96\\)"):
        validate_submission(three_d)
    nan_score = _preds()
    nan_score[KEY_B]['score'] = float('nan')
    with pytest.raises(ValueError, match=f"'{KEY_B}'.*finite"):
        validate_submission(nan_score)
    heat = _preds()
    heat[KEY_A]['pred_area'] = heat[KEY_A]['pred_area'] * np.uint8(200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        notes = validate_submission(
            dict(
                heat,
                extra={
                    'score': 1.0,
                    'pred_area': heat[KEY_B]['pred_area']
                }),
            keys=[KEY_A, KEY_B])
    assert [str(w.message) for w in caught] == notes and len(notes) == 2
    assert 'not in the split' in notes[0] and 'not uint8 0/1' in notes[1]
    with pytest.raises(ValueError, match='keys must be image names'):
        validate_submission({3: _preds()[KEY_A]})


def _dumped_sample(key,
                   shape,
                   instances,
                   scores,
                   pred_score=None,
                   with_masks=True):
    """One sample as mmdet's tools/test.py --out pickles it (masks as RLE)."""
    masks = np.stack(instances).astype(np.uint8) if instances else np.zeros(
        (0, *shape), np.uint8)
    pred = {
        'scores': torch.tensor(scores, dtype=torch.float32),
        'labels': torch.zeros(len(scores), dtype=torch.long),
        'bboxes':
        torch.tensor([[0., 0., 8., 8.]] * len(scores)).reshape(-1, 4)
    }
    if with_masks:
        pred['masks'] = [
            mask_utils.encode(np.asfortranarray(m)) for m in masks
        ]
    sample = {
        'img_path': f'data/test/images/{key}.jpg',
        'img_id': 0,
        'ori_shape': shape,
        'pred_instances': pred
    }
    if pred_score is not None:
        sample['pred_score'] = torch.tensor([pred_score])
    return sample


def test_predictions_from_results():
    shape = (80, 120)
    inst = [_mask(shape, 0, 0, 30, 30), _mask(shape, 40, 40, 70, 100)]
    results = [
        _dumped_sample(KEY_A, shape, inst, [0.9, 0.2], 3.0),
        _dumped_sample(KEY_B, shape, [], [], 1.5)
    ]
    preds = predictions_from_results(results, score_thr=0.3)
    assert list(preds) == [KEY_A, KEY_B]
    np.testing.assert_array_equal(preds[KEY_A]['pred_area'],
                                  to_scorer_mask(inst[0]))
    assert preds[KEY_A]['score'] == 3.0 and not preds[KEY_B]['pred_area'].any()
    full = predictions_from_results(
        results, score_thr=0.1, full_resolution=True)
    np.testing.assert_array_equal(full[KEY_A]['pred_area'], inst[0] | inst[1])
    # Writing at 512x512 with the scorer's own rule scores exactly like full
    # resolution.
    gts = {
        KEY_A: {
            'score': 3.0,
            'pred_area': to_scorer_mask(inst[1])
        },
        KEY_B: {
            'score': 1.0,
            'pred_area': np.zeros((512, 512), np.uint8)
        }
    }
    small = predictions_from_results(results, score_thr=0.1)
    a = score_submission(small, gts, plcc_fit='none')
    b = score_submission(full, gts, plcc_fit='none')
    assert a['f1_score'] == b['f1_score'] and a['giou'] == b['giou']

    scores = [{
        'img_path': f'x/{KEY_B}.png',
        'pred_score': torch.tensor([4.5])
    }, {
        'img_path': f'x/{KEY_A}.png',
        'pred_score': np.float32(2.0)
    }]
    merged = predictions_from_results(results, scores, score_thr=0.3)
    assert merged[KEY_A]['score'] == 2.0 and merged[KEY_B]['score'] == 4.5
    with pytest.raises(ValueError, match=f"'{KEY_B}' has no predicted score"):
        predictions_from_results(results, scores[1:], score_thr=0.3)
    with pytest.raises(ValueError, match=f"'{KEY_A}': no pred_score"):
        predictions_from_results([_dumped_sample(KEY_A, shape, inst, [0.9])],
                                 score_thr=0.3)
    with pytest.raises(ValueError, match='appears twice'):
        predictions_from_results(results + results[:1], score_thr=0.3)
    boxes = predictions_from_results([
        _dumped_sample(KEY_A, shape, inst, [0.9, 0.2], 3.0, with_masks=False)
    ],
                                     score_thr=0.3,
                                     full_resolution=True)
    np.testing.assert_array_equal(boxes[KEY_A]['pred_area'],
                                  _mask(shape, 0, 0, 8, 8))


def _coco(tmp_path, with_mos=True):
    """A tiny COCO file as the converter writes it: RLE instances, mos on
    images.
    """
    shape_a, shape_b = (512, 512), (300, 200)
    inst = [_mask(shape_a, 10, 10, 60, 60), _mask(shape_a, 100, 100, 140, 180)]
    images = [{
        'id': 1,
        'file_name': f'{KEY_A}.jpg',
        'height': 512,
        'width': 512
    }, {
        'id': 2,
        'file_name': f'{KEY_B}.jpg',
        'height': 300,
        'width': 200
    }, {
        'id': 3,
        'file_name': f'{"c" * 32}.jpg',
        'height': 512,
        'width': 512
    }]
    for img, mos in zip(images, (2.0, 4 / 3, 5.0)):
        if with_mos:
            img['mos'] = mos
    anns = []
    for i, m in enumerate(inst):
        rle = mask_utils.encode(np.asfortranarray(m))
        rle['counts'] = rle['counts'].decode('ascii')
        anns.append({
            'id': i + 1,
            'image_id': 1,
            'category_id': 1,
            'segmentation': rle,
            'area': int(m.sum()),
            'bbox': [0, 0, 1, 1],
            'iscrowd': 0
        })
    # A polygon instance on the non-square image.
    anns.append({
        'id': 9,
        'image_id': 2,
        'category_id': 1,
        'iscrowd': 0,
        'area': 1,
        'bbox': [0, 0, 1, 1],
        'segmentation': [[20, 30, 120, 30, 120, 200, 20, 200]]
    })
    path = tmp_path / 'evalmuse_val.json'
    path.write_text(
        json.dumps({
            'images': images,
            'annotations': anns,
            'categories': [{
                'id': 1,
                'name': 'distortion'
            }]
        }))
    return str(path), inst, shape_b


def test_gt_from_coco(tmp_path):
    path, inst, shape_b = _coco(tmp_path)
    gts = gt_from_coco(path)
    assert list(gts) == [KEY_A, KEY_B, 'c' * 32]
    np.testing.assert_array_equal(gts[KEY_A]['pred_area'], inst[0] | inst[1])
    assert gts[KEY_B]['score'] == 4 / 3 and gts['c' * 32]['score'] == 5.0
    polygon = np.zeros(shape_b, np.uint8)
    polygon[30:201, 20:121] = 1  # pycocotools fills the polygon's pixel extent
    dec = mask_utils.decode(
        mask_utils.merge(
            mask_utils.frPyObjects([[20, 30, 120, 30, 120, 200, 20, 200]],
                                   *shape_b)))
    np.testing.assert_array_equal(gts[KEY_B]['pred_area'], to_scorer_mask(dec))
    assert gts[KEY_B]['pred_area'].shape == (
        512, 512) and not gts['c' * 32]['pred_area'].any()
    assert split_keys(path) == [KEY_A, KEY_B, 'c' * 32]
    info = tmp_path / 'test_info.json'
    info.write_text(
        json.dumps({
            KEY_A: {
                'prompt_en': 'x'
            },
            KEY_B: {
                'prompt_en': 'y'
            }
        }))
    assert split_keys(str(info)) == [KEY_A, KEY_B]
    unlabeled, _, _ = _coco(tmp_path, with_mos=False)
    with pytest.raises(ValueError, match=f"{KEY_A}.jpg' has no mos"):
        gt_from_coco(unlabeled)


def test_runtime_from_test_log(tmp_path):
    log = tmp_path / 'run.log'
    log.write_text(
        '2025/02/26 10:00:00 - mmengine - INFO - Epoch(test) [ 50/200]    '
        'eta: 0:01:00  time: 0.4000  data_time: 0.0100  memory: 900\n'
        '2025/02/26 10:01:00 - mmengine - INFO - Epoch(test) [200/200]    '
        'structure/f1: 0.5  data_time: 0.0100  time: 0.5000\n')
    assert runtime_from_test_log(str(log)) == 0.5
    assert runtime_from_test_log(str(log), batch_size=2) == 0.25
    log.write_text('Epoch(test) [ 50/200]  time: 0.3000\nEpoch(test) '
                   '[100/200]  time: 0.5000\n')
    assert runtime_from_test_log(str(log)) == pytest.approx(0.4)
    log.write_text('nothing here\n')
    with pytest.raises(ValueError, match='pass --runtime'):
        runtime_from_test_log(str(log))


def test_format_score_lines():
    res = dict(
        final_score=0.69274,
        srcc=0.6716,
        plcc=0.7085,
        precision=0.5,
        recall=1.0,
        f1_score=2 / 3,
        giou=float('nan'))
    assert format_score_lines(res) == ('Final_Score: 0.6927\nSRCC: '
                                       '0.6716\nPLCC: 0.7085\n'
                                       'Precision: 0.5000\nRecall: 1.0000\n'
                                       'F1_Score: 0.6667\nGIoU: nan\n')


def test_gt_from_coco_decodes_like_coco_ann_to_mask():
    import contextlib
    import io

    from pycocotools.coco import COCO

    from struct_det.evaluation.functional import gt_scorer_mask
    ann_file = os.path.join(
        os.path.dirname(__file__), '..', '..', 'data', 'evalmuse_sample',
        'annotations', 'evalmuse_val.json')
    if not os.path.isfile(ann_file):
        pytest.skip('no sample data')
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ann_file)
    gts = gt_from_coco(ann_file)
    assert len(gts) == len(coco.dataset['images'])
    for img in coco.dataset['images']:
        union = np.zeros((img['height'], img['width']), np.uint8)
        for ann in coco.imgToAnns[img['id']]:
            union |= coco.annToMask(ann)
        key = os.path.splitext(img['file_name'])[0]
        expected = gt_scorer_mask(union)
        assert gts[key]['pred_area'].dtype == expected.dtype
        np.testing.assert_array_equal(gts[key]['pred_area'], expected)


def test_one_default_score_threshold():
    from struct_det.apis.inferencer import DEFAULT_SCORE_THR as infer_thr
    from struct_det.evaluation import StructureMetric
    from struct_det.evaluation.submission_preds import DEFAULT_SCORE_THR
    assert StructureMetric.DEFAULT_SCORE_THR is DEFAULT_SCORE_THR
    assert infer_thr is DEFAULT_SCORE_THR
    assert StructureMetric().score_thrs == [DEFAULT_SCORE_THR]


@pytest.mark.parametrize('workers', [1, 2])
def test_non_binary_masks_found_while_scoring(workers):
    rng = np.random.default_rng(0)
    keys = [f'{i:032x}' for i in range(9)]
    gts = {
        k: {
            'score': float(i % 5 + 1),
            'pred_area': (rng.random((64, 64)) > 0.9).astype(np.uint8)
        }
        for i, k in enumerate(keys)
    }
    preds = {
        k: {
            'score': float(rng.random()),
            'pred_area': (rng.random((96, 80)) > 0.9).astype(np.uint8)
        }
        for k in keys
    }
    preds[keys[5]]['pred_area'] *= np.uint8(255)
    preds[keys[3]]['pred_area'] = preds[keys[3]]['pred_area'].astype(np.int16)
    found = NonBinaryMasks(keys)

    class Inspect:
        """Each image's own arrays reach the hook once, in some worker."""

        def __call__(self, index, pred_area, gt_area):
            same = (
                pred_area is preds[keys[index]]['pred_area']
                and gt_area is gts[keys[index]]['pred_area'])
            return same, found(index, pred_area, gt_area)

        def collect(self, findings):
            self.findings = findings
            found.collect({i: f[1] for i, f in findings.items() if f[1]})

    inspect = Inspect()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = score_submission(
            preds, gts, check=False, workers=workers, inspect=inspect)
        assert result == score_submission(preds, gts, workers=workers)
        assert found.notes() == validate_submission(preds, keys=keys)
    assert list(inspect.findings) == list(range(len(keys)))
    assert all(same for same, _ in inspect.findings.values())
    assert found.notes()[0].startswith(
        f"2 masks are not uint8 0/1 (e.g. '{keys[3]}')")
    assert validate_submission(preds, keys=keys, scan_pixels=False) == []


@pytest.mark.parametrize('workers', [1, 2])
def test_gt_values_checked_while_scoring(workers):
    rng = np.random.default_rng(1)
    keys = [f'{i:032x}' for i in range(8)]

    def mask(shape):
        return (rng.random(shape) > 0.9).astype(np.uint8)

    gts = {
        k: {
            'score': float(i % 5 + 1),
            'pred_area': mask((64, 64))
        }
        for i, k in enumerate(keys)
    }
    preds = {
        k: {
            'score': float(rng.random()),
            'pred_area': mask((80, 96))
        }
        for k in keys
    }
    for k in (keys[6], keys[2]):
        gts[k]['pred_area'] = gts[k]['pred_area'] * np.uint8(255)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        expected = validate_gt(gts, 'gt.pkl')
        assert validate_gt(gts, 'gt.pkl', scan_pixels=False) == []
        checks = MaskValueChecks(keys, 'gt.pkl')
        result = score_submission(
            preds, gts, check=False, workers=workers, inspect=checks)
        assert result == score_submission(preds, gts, workers=workers)
    assert checks.notes() == expected and len(expected) == 2
    assert expected[0].startswith(f"gt.pkl: GT '{keys[2]}'")
    gts[keys[4]]['pred_area'] = gts[keys[4]]['pred_area'] * np.uint8(7)
    with pytest.raises(
            ValueError,
            match=f"gt.pkl: GT '{keys[4]}': the mask holds values other"):
        score_submission(
            preds,
            gts,
            check=False,
            workers=workers,
            inspect=MaskValueChecks(keys, 'gt.pkl'))
