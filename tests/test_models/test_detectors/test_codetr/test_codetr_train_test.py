"""End to end: the tiny Co-DINO trains on the sample data with falling loss,
then tools/test.py reports StructureMetric numbers."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

TINY = 'configs/tiny/co-dino_tiny_evalmuse-sample.py'


def _run(repo_root, *args):
    # one thread per process: torch's pool oversubscribes a small shared CPU
    env = dict(os.environ, OMP_NUM_THREADS='1')
    done = subprocess.run([sys.executable, *args],
                          cwd=repo_root,
                          env=env,
                          capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def _train_losses(work_dir):
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert scalars, f'no scalars.json under {work_dir}'
    losses = []
    with open(scalars[0]) as f:
        for line in f:
            record = json.loads(line)
            if 'loss' in record:
                losses.append((record['iter'], record['loss']))
    return losses


@pytest.mark.slow
def test_tiny_codino_trains_then_reports_structure_metric(
        sample_data_root, repo_root, tmp_path):
    work_dir = str(tmp_path / 'train')
    _run(repo_root, 'tools/train.py', TINY, '--work-dir', work_dir,
         '--cfg-options', 'randomness.seed=0')
    losses = _train_losses(work_dir)
    assert len(losses) >= 3, losses
    assert all(math.isfinite(loss) for _, loss in losses), losses
    # windowed means over 10 iterations: the last clearly below the first
    assert losses[-1][1] < 0.9 * losses[0][1], losses

    checkpoint = osp.join(work_dir, 'iter_40.pth')
    assert osp.exists(checkpoint)
    test_dir = str(tmp_path / 'test')
    _run(repo_root, 'tools/test.py', TINY, checkpoint, '--work-dir', test_dir)
    results = [
        path for path in glob.glob(osp.join(test_dir, '*', '*.json'))
        if osp.basename(osp.dirname(path)) + '.json' == osp.basename(path)
    ]
    assert results, f'no metrics json under {test_dir}'
    with open(results[0]) as f:
        metrics = json.load(f)
    structure = {
        k: v
        for k, v in metrics.items() if k.startswith('structure/')
    }
    assert structure, metrics
    assert all(
        isinstance(v, (int, float)) and math.isfinite(v)
        for v in structure.values()), structure
