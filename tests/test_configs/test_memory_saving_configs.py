"""The memory-saving variants of the largest configs: the same model, trained
the same way.
"""
import copy
import os.path as osp

import numpy as np
import pytest
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CODINO = 'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py'  # noqa: E501
LODA = 'configs/loda/loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py'
# checkpointed + AMP variant -> (plain config, where its with_cp switch is)
CHECKPOINTED = {
    'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-cp-amp-12e_evalmuse-structure.py':  # noqa: E501
    (CODINO, ('model', 'backbone', 'with_cp')),
    'configs/loda/loda_dinov2-l14-reg4-518_8xb8-cp-amp-10e_evalmuse-structure.py':  # noqa: E501
    (LODA, ('model', 'with_cp')),
}
FSDP = 'configs/codetr/co-dino_swin-l_16xb1-lsj-1280-fsdp-12e_evalmuse-structure.py'  # noqa: E501


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path)).to_dict()


def _get(cfg, keys):
    for key in keys:
        cfg = cfg[key]
    return cfg


def _set(cfg, keys, value):
    _get(cfg, keys[:-1])[keys[-1]] = value


@pytest.mark.parametrize('variant', sorted(CHECKPOINTED))
def test_checkpointed_variant_differs_only_in_checkpointing_and_amp(variant):
    plain_path, switch = CHECKPOINTED[variant]
    cp, plain = _cfg(variant), _cfg(plain_path)
    assert _get(cp, switch) is True and _get(plain, switch) is False
    assert cp['optim_wrapper']['type'] == 'AmpOptimWrapper'
    assert cp['optim_wrapper']['loss_scale'] == 'dynamic'
    assert plain['optim_wrapper']['type'] == 'OptimWrapper'
    # everything else (model, data, schedule, optimizer, TTA) is the plain
    # config's
    same = copy.deepcopy(cp)
    _set(same, switch, False)
    same['optim_wrapper']['type'] = 'OptimWrapper'
    same['optim_wrapper'].pop('loss_scale')
    assert same == plain


def test_fsdp_variant_is_the_plain_model_under_fsdp():
    fsdp, plain = _cfg(FSDP), _cfg(CODINO)
    assert fsdp['runner_type'] == 'FlexibleRunner'
    strategy = fsdp['strategy']
    assert strategy['type'] == 'FSDPStrategy' and strategy[
        'state_dict_cfg'] == 'full'
    assert strategy['model_wrapper']['use_orig_params'] is True
    assert fsdp['optim_wrapper']['type'] == 'FSDPAmpOptimWrapper'
    assert OPTIM_WRAPPERS.get('FSDPAmpOptimWrapper') is not None
    for key in ('model', 'train_dataloader', 'test_dataloader', 'train_cfg',
                'param_scheduler', 'tta_model', 'tta_pipeline'):
        assert fsdp[key] == plain[key], key
    for key in ('optimizer', 'clip_grad', 'paramwise_cfg'):
        assert fsdp['optim_wrapper'][key] == plain['optim_wrapper'][key], key


@pytest.mark.slow
@pytest.mark.parametrize('variant', sorted(CHECKPOINTED))
def test_checkpointing_gives_the_plain_losses(variant, tmp_path,
                                              sample_data_root, smoke_tool):
    """Two optimizer steps from the same seed: the second loss sees the first
    step's gradients, which went through the recomputed activations (fp32: AMP
    is off on CPU)."""
    from concurrent.futures import ThreadPoolExecutor
    tool = smoke_tool
    args = tool.parse_args([
        '--input-size', '128', '--train-iters', '2', '--no-test', '--timeout',
        '900', '--data-root', sample_data_root
    ])

    def train(path):
        work_dir = tmp_path / osp.splitext(osp.basename(path))[0]
        work_dir.mkdir()
        return tool.run_isolated(osp.join(REPO, path), args, str(work_dir))

    # the two runs are processes of their own: side by side on two cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(train, (CHECKPOINTED[variant][0], variant)))
    for result in results:
        assert result['ok'], result['error']
    losses = [result['losses'] for result in results]
    assert len(losses[0]) == 2 and np.isfinite(losses).all()
    assert losses[0][0] != losses[0][1]  # the first step changed the model
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4, atol=1e-6)


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_fsdp_strategy_shards_co_dino_over_two_ranks(tmp_path,
                                                     sample_data_root):
    """The FSDP config's strategy, really sharded (2 gloo ranks, the tiny
    Co-DINO's backbone
    blocks as units): it trains, and its checkpoint is a plain state dict that
    tools/test.py
    --tta loads into the unsharded model."""
    import os
    import subprocess
    import sys

    import torch
    strategy = Config.fromfile(osp.join(REPO, FSDP)).strategy.to_dict()
    # the tiny model's backbone blocks take the Swin blocks' part
    assert strategy['model_wrapper']['auto_wrap_policy']['module_names'] == [
        'SwinBlock'
    ]
    strategy['model_wrapper']['auto_wrap_policy']['module_names'] = [
        'BasicBlock'
    ]
    tiny = osp.join(REPO, 'configs/tiny/co-dino_tiny_evalmuse-sample.py')
    data = f"data_root='{sample_data_root}/', indices=4"
    config = tmp_path / 'co-dino_tiny_fsdp.py'
    config.write_text('\n'.join([
        f"_base_ = ['{tiny}']",
        "runner_type = 'FlexibleRunner'",
        f'strategy = {strategy!r}',
        "optim_wrapper = dict(type='FSDPOptimWrapper')",
        f'train_dataloader = dict(batch_size=2, dataset=dict({data}))',
        f'val_dataloader = dict(batch_size=2, dataset=dict({data}))',
        'test_dataloader = val_dataloader',
        'train_cfg = dict(max_iters=2, val_interval=2)',
        "default_hooks = dict(checkpoint=dict(interval=2), "
        "logger=dict(interval=1))",
    ]) + '\n')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    work_dir = tmp_path / 'work'
    train = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        str(_free_port()),
        osp.join(REPO, 'tools', 'train.py'),
        str(config), '--launcher', 'pytorch', '--work-dir',
        str(work_dir)
    ],
                           cwd=REPO,
                           env=env,
                           capture_output=True,
                           text=True,
                           timeout=900)
    log = train.stdout + train.stderr
    assert train.returncode == 0, log[-4000:]
    assert 'Iter(train) [2/2]' in log
    # FSDP falls back to no sharding on one rank only
    assert 'NO_SHARD' not in log
    checkpoint = work_dir / 'iter_2.pth'
    state = torch.load(
        checkpoint, map_location='cpu', weights_only=False)['state_dict']
    # the ignored scalar, whole
    assert state['aux_bbox_head.0.scales.0.scale'].dim() == 0
    plain = Config.fromfile(tiny)
    with torch.device('meta'):
        from mmdet.registry import MODELS
        from mmengine.registry import init_default_scope
        init_default_scope('mmdet')
        shapes = {
            k: v.shape
            for k, v in MODELS.build(plain.model).state_dict().items()
        }
    # unsharded, unprefixed
    assert {k: v.shape for k, v in state.items()} == shapes
    test = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'test.py'),
        str(config),
        str(checkpoint), '--tta', '--work-dir',
        str(tmp_path / 'test')
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    log = test.stdout + test.stderr
    assert test.returncode == 0, log[-4000:]
    assert 'testing with the default runner' in log and 'Iter(test)' in log
    assert 'do not match' not in log  # every weight of the checkpoint loaded
