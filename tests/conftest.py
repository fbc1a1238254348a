"""Shared fixtures: the bundled sample data, generated once per checkout."""
import fcntl
import os
import os.path as osp
import subprocess
import sys

import pytest

# The tiny models gain nothing from intra-op threads, and on a loaded 2-core machine
# torch's thread pool made a training step ~50x slower: one thread per process
# (subprocesses inherit the variable).
os.environ.setdefault('OMP_NUM_THREADS', '1')
import torch  # noqa: E402

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLE = osp.join(REPO, 'data', 'evalmuse_sample')


def ensure_sample_data(root: str = SAMPLE) -> str:
    """Generates and converts the sample data exactly as ``make data`` does, if missing."""
    done = osp.join(root, 'annotations', 'evalmuse_test.json')
    os.makedirs(osp.dirname(root), exist_ok=True)
    with open(osp.join(osp.dirname(root), '.sample.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not osp.exists(done):
            run = lambda *a: subprocess.run([sys.executable, *a], cwd=REPO, check=True)  # noqa
            if not osp.exists(osp.join(root, 'train', 'train_info.json')):
                run('tools/misc/make_sample_data.py', '--out', root, '--seed', '0')
            run('tools/dataset_converters/evalmuse_structure.py', '--info',
                osp.join(root, 'train', 'train_info.json'), '--img-dir',
                osp.join(root, 'train', 'images'), '--out',
                osp.join(root, 'annotations', 'evalmuse.json'), '--val-ratio', '0.2',
                '--seed', '0', '--no-progress')
            run('tools/dataset_converters/evalmuse_structure.py', '--info',
                osp.join(root, 'test', 'test_info.json'), '--img-dir',
                osp.join(root, 'test', 'images'), '--out', done, '--no-progress')
    return root


@pytest.fixture(scope='session')
def sample_data_root() -> str:
    """Path of data/evalmuse_sample (EvalMuse layout + converted COCO annotations)."""
    return ensure_sample_data()


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO
