"""``tools/train.py --auto-scale-lr`` works with every shipped training config:
mmdet's flag needs ``auto_scale_lr`` with both ``enable`` and
``base_batch_size``, and the base batch is the one the config's name promises
(``8xb16`` = 8 GPUs x 16 images)."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

import struct_det  # noqa: F401  registers the modules

# The assessor configs only test; every other config trains.
TRAINING_CONFIGS = sorted(
    path for path in glob.glob(
        osp.join(osp.dirname(__file__), '../../configs/*/*.py'))
    if '_base_' not in path and '/joint/' not in path
    and not osp.basename(path).startswith('structure-assessor'))


def test_training_configs_were_found():
    assert len(TRAINING_CONFIGS) >= 15, TRAINING_CONFIGS


@pytest.mark.parametrize('path', TRAINING_CONFIGS, ids=osp.basename)
def test_auto_scale_lr_is_usable_and_matches_the_name(path):
    cfg = Config.fromfile(path)
    assert 'auto_scale_lr' in cfg, f'{path}: no auto_scale_lr'
    assert set(cfg.auto_scale_lr) >= {
        'enable', 'base_batch_size'
    }, (f'{path}: --auto-scale-lr needs enable and base_batch_size, got '
        f'{cfg.auto_scale_lr}')
    # scaling is the user's choice, by the flag
    assert cfg.auto_scale_lr.enable is False
    match = re.search(r'_(\d+)xb(\d+)-', osp.basename(path))
    if match:  # e.g. 8xb16: the learning rate was set for 8 GPUs x 16 images
        gpus, per_gpu = map(int, match.groups())
        assert cfg.auto_scale_lr.base_batch_size == gpus * per_gpu, path
        assert cfg.train_dataloader.batch_size == per_gpu, path
