"""End to end: the tiny joint config under ``tools/test.py --tta`` on the
sample data.

It must print every StructureMetric number, write a submission zip that the
offline scorer accepts, and the scorer's numbers must equal the metric's:
one run, two independent paths (metric in the loop vs. zip + gt.pkl).
"""
import json

import pytest

CONFIG = 'configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py'  # noqa: E501
NUM_IMAGES = 6
METRIC_KEYS = ('srcc', 'plcc', 'precision', 'recall', 'f1_score', 'giou',
               'pixel_f1', 'best_score_thr', 'final_score')


@pytest.fixture(scope='module')
def val_subset(sample_data_root, tmp_path_factory, tiny_e2e):
    """A few labelled val images (clean and distorted) as their own COCO file.
    """
    path = tiny_e2e.write_val_subset(
        sample_data_root,
        tmp_path_factory.mktemp('joint') / 'evalmuse_val_subset.json',
        NUM_IMAGES)
    with open(path) as f:
        coco = json.load(f)
    ids = {img['id'] for img in coco['images']}
    with_gt = {ann['image_id'] for ann in coco['annotations']}
    assert ids & with_gt and ids - with_gt, 'want clean and distorted images'
    return path


def test_joint_tta_reports_every_metric_and_writes_a_valid_submission(
        val_subset, tmp_path, tiny_e2e):
    work_dir = tmp_path / 'work'
    zip_path = tmp_path / 'submission.zip'
    gt_path = tmp_path / 'gt.pkl'
    tiny_e2e.run_tool('tools/misc/make_gt_pkl.py', val_subset, str(gt_path))
    log = tiny_e2e.run_tool(
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
    # --tta wrapped every member in its own config's TTA model
    assert 'around Mask2Former' in log and 'DetMaskTTAModel' in log
    assert 'around LoDa' in log

    metrics = tiny_e2e.read_test_metrics(str(work_dir), METRIC_KEYS)
    tiny_e2e.assert_zip_scores_as_logged(zip_path, gt_path, metrics)
