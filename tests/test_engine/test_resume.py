"""A run killed mid-training and resumed ends with the uninterrupted run's
weights.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import struct_det  # noqa: F401

CONFIG = 'configs/tiny/mask2former_tiny_evalmuse-sample.py'
MAX_ITERS, SAVE_EVERY, KILL_AT = 6, 3, 5


class Killed(RuntimeError):
    pass


class KillAfter(Hook):
    """Stands in for a node failure: the process dies after iteration ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.iter + 1 >= self.n:
            raise Killed(f'killed after iteration {self.n}')


def make_cfg(repo_root, sample_data_root, work_dir, resume=False) -> Config:
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = sample_data_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=MAX_ITERS, val_interval=10**6)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', T_max=MAX_ITERS, by_epoch=False)
    ]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=SAVE_EVERY, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = [dict(type='RandomStateHook')]
    cfg.randomness = dict(seed=7)
    cfg.log_level = 'WARNING'
    cfg.resume = resume
    return cfg


def final_weights(runner) -> dict:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted(repo_root,
                                                      sample_data_root,
                                                      tmp_path):
    straight = Runner.from_cfg(
        make_cfg(repo_root, sample_data_root, tmp_path / 'straight'))
    straight.train()
    expected = final_weights(straight)

    work = tmp_path / 'killed'
    killed = Runner.from_cfg(make_cfg(repo_root, sample_data_root, work))
    killed.register_hook(KillAfter(KILL_AT))
    with pytest.raises(Killed):
        killed.train()
    assert (work / f'iter_{SAVE_EVERY}.pth').exists()
    assert not (work / f'iter_{MAX_ITERS}.pth').exists()

    resumed = Runner.from_cfg(
        make_cfg(repo_root, sample_data_root, work, resume=True))
    resumed.train()
    assert resumed.iter == MAX_ITERS
    got = final_weights(resumed)
    assert got.keys() == expected.keys()
    changed = [k for k in got if not torch.equal(got[k], expected[k])]
    assert not changed, f'weights differ after resume: {changed[:5]}'
    # The run really learned something between the checkpoint and the end.
    ckpt = torch.load(str(work / f'iter_{SAVE_EVERY}.pth'), map_location='cpu')
    assert any(not torch.equal(ckpt['state_dict'][k], expected[k])
               for k in expected if expected[k].is_floating_point())
