"""The tiny LoDa config trains on the sample data and learns; --tta averages
grid crops.
"""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

TINY_CONFIG = 'configs/tiny/loda_tiny_evalmuse-sample.py'
# 60 val images: a chance SRCC has a standard deviation of about 0.13, so 0.3
# is well beyond chance; seeds 0-2 reach 0.42-0.52.
MIN_SRCC = 0.3


def _point_at(cfg: Config, sample_data_root: str) -> None:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = sample_data_root + '/'


@pytest.mark.slow
def test_tiny_loda_learns_and_tta_averages(sample_data_root, repo_root,
                                           tmp_path, load_script_fn):
    cfg = Config.fromfile(osp.join(repo_root, TINY_CONFIG))
    _point_at(cfg, sample_data_root)
    cfg.work_dir = str(tmp_path / 'train')
    cfg.randomness = dict(seed=0)
    # The val split is scored once, after training (below).
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert not model.vit.training and not model.cnn.training
    metrics = runner.val()
    assert metrics['structure/srcc'] > MIN_SRCC, metrics
    assert metrics['structure/plcc'] > MIN_SRCC, metrics

    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    assert osp.isfile(checkpoint)
    tool = load_script_fn('tools/test.py')
    args = tool.parse_args([
        osp.join(repo_root, TINY_CONFIG), checkpoint, '--tta', '--work-dir',
        str(tmp_path / 'tta'), '--cfg-options',
        f'test_dataloader.dataset.data_root={sample_data_root}/'
    ])
    tta_cfg = tool.build_test_config(args)
    assert tta_cfg.model.type == 'ScoreTTAModel'
    tta_runner = Runner.from_cfg(tta_cfg)
    tta_metrics = tta_runner.test()
    assert tta_metrics['structure/srcc'] > MIN_SRCC, tta_metrics
