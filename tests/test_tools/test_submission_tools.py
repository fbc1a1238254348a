"""The submission CLIs end to end: make_gt_pkl -> make_submission ->
evaluate_submission.
"""
import json
import os.path as osp
import pickle
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from struct_det.evaluation.functional import score_submission
from struct_det.evaluation.submission import (read_submission, restricted_load,
                                              validate_submission)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = [f'{i:032x}' for i in range(6)]
SHAPE = (128, 96)


def _tool(*args):
    return subprocess.run([sys.executable, *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)


def _square(y, x, s):
    m = np.zeros(SHAPE, np.uint8)
    m[y:y + s, x:x + s] = 1
    return m


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A labelled COCO file and a tools/test.py --out pickle of a model with
    scores.
    """
    root = tmp_path_factory.mktemp('subm')
    rng = np.random.default_rng(0)
    images, anns, results = [], [], []
    for i, key in enumerate(KEYS):
        images.append({
            'id': i + 1,
            'file_name': f'{key}.jpg',
            'height': SHAPE[0],
            'width': SHAPE[1],
            'mos': [1.0, 2.0, 7 / 3, 3.0, 4.0, 5.0][i]
        })
        gt = [
            _square(int(rng.integers(0, 80)), int(rng.integers(0, 50)), 30)
            for _ in range(i % 3)
        ]
        for j, m in enumerate(gt):
            rle = mask_utils.encode(np.asfortranarray(m))
            rle['counts'] = rle['counts'].decode('ascii')
            anns.append({
                'id': len(anns) + 1,
                'image_id': i + 1,
                'category_id': 1,
                'segmentation': rle,
                'area': int(m.sum()),
                'iscrowd': 0,
                'bbox': [0, 0, 1, 1]
            })
        inst = [np.roll(m, 3, axis=1) for m in gt] + [_square(100, 60, 20)]
        scores = [0.8] * len(gt) + [0.2]
        results.append({
            'img_path':
            f'data/val/images/{key}.jpg',
            'img_id':
            i + 1,
            'ori_shape':
            SHAPE,
            'pred_score':
            torch.tensor([images[-1]['mos'] + float(rng.normal(0, 0.6))]),
            'pred_instances': {
                'scores': torch.tensor(scores),
                'labels': torch.zeros(len(scores)).long(),
                'bboxes': torch.zeros((len(scores), 4)),
                'masks':
                [mask_utils.encode(np.asfortranarray(m)) for m in inst]
            }
        })
    coco = root / 'evalmuse_val.json'
    coco.write_text(
        json.dumps({
            'images': images,
            'annotations': anns,
            'categories': [{
                'id': 1,
                'name': 'distortion'
            }]
        }))
    out = root / 'results.pkl'
    with open(out, 'wb') as f:
        pickle.dump(results, f)
    return root, str(coco), str(out)


def test_make_evaluate_roundtrip(files):
    root, coco, results = files
    gt_pkl, sub = str(root / 'gt.pkl'), str(root / 'sub.zip')
    run = _tool('tools/misc/make_gt_pkl.py', coco, gt_pkl)
    assert run.returncode == 0, run.stderr
    assert 'wrote' in run.stdout
    assert '6 images (2 without distortion)' in run.stdout
    gts = restricted_load(gt_pkl)
    assert list(gts) == KEYS and gts[KEYS[1]]['pred_area'].shape == (512, 512)

    run = _tool('tools/make_submission.py', results, '--score-thr', '0.5',
                '--runtime', '0.37', '--split-keys', coco, '--description',
                'toy run', '--out', sub)
    assert run.returncode == 0, run.stderr
    preds, readme = read_submission(sub)
    assert readme.splitlines() == [
        'runtime per image [s] : 0.37', 'CPU[1] / GPU[0] : 0',
        'Extra Data [1] / No Extra Data [0] : 0', 'Other description : toy run'
    ]
    assert all(v['pred_area'].dtype == np.uint8 and v['pred_area'].ndim == 2
               for v in preds.values())

    out_json = str(root / 'scores.json')
    run = _tool('tools/evaluate_submission.py', sub, gt_pkl, '--out-json',
                out_json)
    assert run.returncode == 0, run.stderr
    expected = score_submission(preds, gts)
    lines = run.stdout.splitlines()
    assert [ln.split(':')[0] for ln in lines] == [
        'Final_Score', 'SRCC', 'PLCC', 'Precision', 'Recall', 'F1_Score',
        'GIoU'
    ]
    assert lines[5] == f"F1_Score: {expected['f1_score']:.4f}"
    with open(out_json) as f:
        saved = json.load(f)
    assert saved['f1_score'] == expected['f1_score'] and saved[
        'srcc'] == expected['srcc']
    # the 0.2-score false positives fell below 0.5
    assert saved['precision'] == 1.0


def _load_tool(relpath):
    """Imports a CLI module for in-process calls of its main() (no subprocess
    start-up).
    """
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        osp.basename(relpath)[:-3], osp.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_evaluate_rejects_invalid_submission(files, tmp_path, capsys):
    root, coco, _ = files
    gt_pkl = str(tmp_path / 'gt.pkl')
    _load_tool('tools/misc/make_gt_pkl.py').main([coco, '--out', gt_pkl])
    gts = restricted_load(gt_pkl)
    evaluate = _load_tool('tools/evaluate_submission.py').main
    bad = {
        k: {
            'score': 1.0,
            'pred_area': v['pred_area'].astype(bool)
        }
        for k, v in gts.items()
    }
    bad_zip = tmp_path / 'bad.zip'
    with zipfile.ZipFile(bad_zip, 'w') as zf:
        zf.writestr('output.pkl', pickle.dumps(bad))
        zf.writestr('readme.txt', 'x')
    with pytest.raises(
            SystemExit, match=f"'{KEYS[0]}': pred_area is a bool array"):
        evaluate([str(bad_zip), gt_pkl])
    missing = tmp_path / 'missing.pkl'
    missing.write_bytes(
        pickle.dumps(
            {KEYS[0]: {
                 'score': 1.0,
                 'pred_area': np.zeros((4, 4), np.uint8)
             }}))
    with pytest.raises(SystemExit, match='lacks 5 of 6 keys'):
        evaluate([str(missing), gt_pkl])
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(
        pickle.dumps({
            KEYS[0]: {
                'score': torch.tensor(1.0),
                'pred_area': np.zeros((4, 4), np.uint8)
            }
        }))
    with pytest.raises(SystemExit, match='refusing to load torch'):
        evaluate([str(evil), gt_pkl])


def test_make_submission_needs_every_split_key(files, tmp_path, capsys):
    root, coco, results = files
    make = _load_tool('tools/make_submission.py').main
    info = tmp_path / 'test_info.json'
    info.write_text(
        json.dumps({k: {
            'prompt_en': ''
        }
                    for k in KEYS + ['f' * 32]}))
    out = tmp_path / 'sub.zip'
    with pytest.raises(SystemExit, match='lacks 1 of 7 keys'):
        make([
            results, '--score-thr', '0.3', '--runtime', '1', '--split-keys',
            str(info), '--out',
            str(out)
        ])
    assert not out.exists()
    with pytest.raises(
            SystemExit,
            match=r'test_info.json: no "Epoch\(test\).*pass --runtime'):
        make([results, str(out), '--test-log', str(info)])
    log = tmp_path / 'test.log'
    log.write_text('Epoch(test) [6/6]  time: 0.8000  data_time: 0.1\n')
    # The output as a positional argument, the split as --ann-file, the default
    # threshold.
    make([
        results,
        str(out), '--ann-file', coco, '--test-log',
        str(log),
        str(log), '--cpu'
    ])
    assert 'using score_thr 0.3' in capsys.readouterr().out
    _, readme = read_submission(str(out))
    assert readme.splitlines()[:2] == [
        'runtime per image [s] : 1.60', 'CPU[1] / GPU[0] : 1'
    ]


def test_make_submission_uses_the_calibrated_threshold(files, tmp_path,
                                                       capsys):
    root, coco, results = files
    ckpt = tmp_path / 'best.pth'
    torch.save(
        {
            'state_dict': {},
            'meta': {
                'structure_trained_iters': 40,
                'structure_calibration': {
                    'score_thr': 0.5,
                    'trained_iters': 40,
                    'epoch': 4,
                    'iter': 40,
                    'f1_score': 0.7
                }
            }
        }, ckpt)
    make = _load_tool('tools/make_submission.py').main
    out_cal, out_low = tmp_path / 'cal.zip', tmp_path / 'low.zip'
    make([
        results, '--calibration',
        str(ckpt), '--runtime', '1', '--out',
        str(out_cal)
    ])
    assert 'score_thr 0.5 calibrated at epoch 4' in capsys.readouterr().out
    make([
        results, '--score-thr', '0.1', '--runtime', '1', '--out',
        str(out_low)
    ])
    cal, _ = read_submission(str(out_cal))
    low, _ = read_submission(str(out_low))
    # The 0.2-score false positive is kept at 0.1 only.
    assert all(cal[k]['pred_area'].sum() < low[k]['pred_area'].sum()
               for k in KEYS)


def test_scorer_tools_run_without_torch(files, tmp_path):
    """The scorer CLIs import numpy, OpenCV and SciPy only: no torch, mmcv,
    mmdet, mmengine after their imports and after scoring and writing a gt.pkl
    (in a fresh process)."""
    root, coco, _ = files
    gts = {}
    for i, key in enumerate(KEYS):
        gts[key] = {'score': float(i + 1), 'pred_area': _square(10 * i, 5, 30)}
    gt_pkl, sub = tmp_path / 'gt.pkl', tmp_path / 'sub.zip'
    gt_pkl.write_bytes(
        pickle.dumps({
            k: {
                'score': v['score'],
                'pred_area': v['pred_area']
            }
            for k, v in gts.items()
        }))
    with zipfile.ZipFile(sub, 'w') as zf:
        zf.writestr(
            'output.pkl',
            pickle.dumps({
                k: {
                    'score': v['score'] + (i % 2) * 0.5,
                    'pred_area': np.roll(v['pred_area'], 2)
                }
                for i, (k, v) in enumerate(gts.items())
            }))
        zf.writestr('readme.txt', 'runtime per image [s] : 1.00\n')
    script = f'''
import runpy, sys
HEAVY = ('torch', 'mmcv', 'mmdet', 'mmengine')
def heavy():
    return sorted(m for m in HEAVY if m in sys.modules)
tools = {{}}
for tool in ('tools/evaluate_submission.py', 'tools/make_submission.py',
             'tools/misc/make_gt_pkl.py'):
    tools[tool] = runpy.run_path(tool, run_name='imported')
    assert heavy() == [], (tool, heavy())
evaluate = tools['tools/evaluate_submission.py']['main']
result = evaluate([{str(sub)!r}, {str(gt_pkl)!r}])
make_gt = tools['tools/misc/make_gt_pkl.py']['main']
make_gt([{coco!r}, {str(tmp_path / "gt2.pkl")!r}])
assert heavy() == [], heavy()
print('light', repr(result['final_score']))
'''
    run = _tool('-c', script)
    assert run.returncode == 0, run.stderr
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        expected = score_submission(
            read_submission(str(sub))[0], restricted_load(str(gt_pkl)))
    assert f"light {expected['final_score']!r}" in run.stdout


def test_make_submission_uses_the_shared_default_threshold():
    from struct_det.evaluation.submission_preds import DEFAULT_SCORE_THR
    make = _load_tool('tools/make_submission.py')
    assert make.DEFAULT_SCORE_THR is DEFAULT_SCORE_THR


def test_evaluate_notes_non_binary_masks_while_scoring(files, tmp_path,
                                                       capsys):
    """The tool reads each mask's values while scoring it; the note is the
    one validate_submission's own pass gives, for any thread count."""
    root, coco, _ = files
    gt_pkl = str(tmp_path / 'gt.pkl')
    _load_tool('tools/misc/make_gt_pkl.py').main([coco, '--out', gt_pkl])
    gts = restricted_load(gt_pkl)
    preds = {
        k: {
            'score': float(i),
            'pred_area': v['pred_area'].copy()
        }
        for i, (k, v) in enumerate(gts.items())
    }
    preds[KEYS[2]]['pred_area'] *= np.uint8(255)
    preds[KEYS[4]]['pred_area'] = preds[KEYS[4]]['pred_area'] * np.float32(0.7)
    sub = tmp_path / 'output.pkl'
    sub.write_bytes(pickle.dumps(preds, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        expected_note = validate_submission(preds, keys=gts)
        expected = score_submission(preds, gts)
    assert expected_note == [
        f"2 masks are not uint8 0/1 (e.g. '{KEYS[2]}'); the scorer counts "
        'every pixel > 0 after resizing as foreground'
    ]
    evaluate = _load_tool('tools/evaluate_submission.py').main
    for workers in ('1', '2'):
        result = evaluate([str(sub), gt_pkl, '--workers', workers])
        err = capsys.readouterr().err
        assert f'note: {expected_note[0]}' in err.splitlines(), err
        assert result == expected


def test_evaluate_names_a_bad_gt_mask_found_while_scoring(files, tmp_path):
    root, coco, _ = files
    gt_pkl = tmp_path / 'gt.pkl'
    _load_tool('tools/misc/make_gt_pkl.py').main([coco, '--out', str(gt_pkl)])
    gts = restricted_load(str(gt_pkl))
    preds = {
        k: {
            'score': 1.0 + i,
            'pred_area': v['pred_area']
        }
        for i, (k, v) in enumerate(gts.items())
    }
    gts = {k: dict(v) for k, v in gts.items()}
    gts[KEYS[3]]['pred_area'] = np.full((512, 512), 3, np.uint8)
    bad_gt = tmp_path / 'bad_gt.pkl'
    bad_gt.write_bytes(pickle.dumps(gts, protocol=4))
    sub = tmp_path / 'output.pkl'
    sub.write_bytes(pickle.dumps(preds, protocol=4))
    evaluate = _load_tool('tools/evaluate_submission.py').main
    with pytest.raises(
            SystemExit,
            match=f"error: {bad_gt}: GT '{KEYS[3]}': the mask holds values"):
        evaluate([str(sub), str(bad_gt)])
