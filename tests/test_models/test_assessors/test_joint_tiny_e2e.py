"""End to end: the tiny joint config under ``tools/test.py --tta`` on the
sample data.

It must print every StructureMetric number, write a submission zip that the
offline scorer accepts, and the scorer's numbers must equal the metric's:
one run, two independent paths (metric in the loop vs. zip + gt.pkl).
"""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

CONFIG = 'configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py'  # noqa: E501
NUM_IMAGES = 6
METRIC_KEYS = ('srcc', 'plcc', 'precision', 'recall', 'f1_score', 'giou',
               'pixel_f1', 'best_score_thr', 'final_score')


def _run(repo_root, *args):
    proc = subprocess.run([sys.executable, *args],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def val_subset(sample_data_root, tmp_path_factory):
    """A few labelled val images (clean and distorted) as their own COCO file.
    """
    with open(osp.join(sample_data_root, 'annotations',
                       'evalmuse_val.json')) as f:
        coco = json.load(f)
    images = coco['images'][:NUM_IMAGES]
    ids = {img['id'] for img in images}
    with_gt = {ann['image_id'] for ann in coco['annotations']}
    assert ids & with_gt and ids - with_gt, 'want clean and distorted images'
    coco['images'] = images
    coco['annotations'] = [
        a for a in coco['annotations'] if a['image_id'] in ids
    ]
    path = tmp_path_factory.mktemp('joint') / 'evalmuse_val_subset.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_joint_tta_reports_every_metric_and_writes_a_valid_submission(
        repo_root, val_subset, tmp_path):
    work_dir = tmp_path / 'work'
    zip_path = tmp_path / 'submission.zip'
    gt_path = tmp_path / 'gt.pkl'
    _run(repo_root, 'tools/misc/make_gt_pkl.py', val_subset, str(gt_path))
    proc = _run(
        repo_root,
        'tools/test.py',
        CONFIG,
        '--tta',
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        f'test_dataloader.dataset.ann_file={val_subset}',
        # random members: keep every instance so there are regions to score
        'model.detectors.0.score_thr=0.0',
        'randomness.seed=0',
        f'test_evaluator.1.out_file={zip_path}',
        f'test_evaluator.1.split_file={val_subset}')
    log = proc.stdout + proc.stderr
    # --tta wrapped every member in its own config's TTA model
    assert 'around Mask2Former' in log and 'DetMaskTTAModel' in log
    assert 'around LoDa' in log

    [metrics_file] = glob.glob(str(work_dir / '*' / '*.json'))
    with open(metrics_file) as f:
        metrics = json.loads(f.readline())
    for key in METRIC_KEYS:
        assert f'structure/{key}' in metrics, key

    out_json = tmp_path / 'scores.json'
    _run(repo_root, 'tools/evaluate_submission.py', str(zip_path),
         str(gt_path), '--out-json', str(out_json))
    scores = json.loads(out_json.read_text())
    for key in ('final_score', 'f1_score', 'precision', 'recall', 'srcc',
                'plcc'):
        # the scorer's JSON writes NaN as null
        ours = float('nan') if scores[key] is None else scores[key]
        assert ours == pytest.approx(
            metrics[f'structure/{key}'], abs=1e-4, nan_ok=True), key
