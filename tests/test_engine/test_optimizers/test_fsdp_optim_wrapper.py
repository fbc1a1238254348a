"""FSDPOptimWrapper clips by the whole model's gradient norm, not by each
rank's shard.
"""
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

from struct_det.engine import FSDPOptimWrapper

MAX_NORM = 0.05
# Two gloo ranks on CPU, FULL_SHARD, three FSDP units: each rank holds half of
# every gradient. Rank 0 writes the full parameters after one clipped SGD step.
SCRIPT = textwrap.dedent('''
    import functools, os, sys
    import torch, torch.distributed as dist, torch.multiprocessing as mp

    class Scale(torch.nn.Module):
        """A scalar factor, as mmcv's Scale in the ATSS head: FSDP cannot
        shard it."""

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(1.5))

        def forward(self, x):
            return x * self.scale

    def build():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(),
                                   torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                   torch.nn.Linear(16, 1), Scale())

    def inputs(rank):
        gen = torch.Generator().manual_seed(100 + rank)
        return torch.randn(4, 6, generator=gen)

    def run(rank, port, wrapper, out):
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
        dist.init_process_group('gloo', rank=rank, world_size=2)
        import struct_det  # noqa: F401
        from mmdet.registry import OPTIM_WRAPPERS
        from mmengine.logging import MessageHub
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from torch.distributed.fsdp.wrap import size_based_auto_wrap_policy
        module = build()
        model = FSDP(module,
                     device_id=torch.device('cpu'),
                     use_orig_params=True,
                     auto_wrap_policy=functools.partial(size_based_auto_wrap_policy,
                                                        min_num_params=50),
                     ignored_states=[module[5]])
        optim = OPTIM_WRAPPERS.build(dict(
            type=wrapper,
            optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
            clip_grad=dict(max_norm=%r)))
        with optim.optim_context(model):
            loss = model(inputs(rank)).pow(2).mean()
        optim.update_params(loss)
        with FSDP.summon_full_params(model):
            params = [p.detach().clone() for p in model.parameters()]
        hub = MessageHub.get_current_instance()
        norm = hub.get_scalar('train/grad_norm').current()
        torch.save(dict(params=params, grad_norm=norm), f'{out}.{rank}')
        dist.destroy_process_group()

    if __name__ == '__main__':
        mp.spawn(
            run, args=(int(sys.argv[1]), sys.argv[2], sys.argv[3]), nprocs=2)
''' % MAX_NORM)


def _reference():
    """One process, full gradients: FSDP's mean over ranks, clipped, one SGD
    step.
    """
    namespace = {}
    exec(SCRIPT.split("if __name__")[0], namespace)
    model = namespace['build']()
    loss = sum(model(namespace['inputs'](r)).pow(2).mean()
               for r in range(2)) / 2
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    optimizer.step()
    return [p.detach() for p in model.parameters()], float(norm)


def _sharded_step(tmp_path, wrapper):
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    script = tmp_path / 'fsdp_step.py'
    script.write_text(SCRIPT)
    out = tmp_path / f'{wrapper}.pth'
    proc = subprocess.run(
        [sys.executable,
         str(script),
         str(port), wrapper,
         str(out)],
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [torch.load(f'{out}.{rank}') for rank in range(2)]


@pytest.mark.slow
def test_clipping_is_over_the_whole_sharded_model(tmp_path):
    reference, reference_norm = _reference()
    assert reference_norm > 10 * MAX_NORM  # the clip is active
    for rank, sharded in enumerate(
            _sharded_step(tmp_path, 'FSDPOptimWrapper')):
        assert sharded['grad_norm'] == pytest.approx(reference_norm, rel=1e-5)
        # every parameter, the unsharded scalar included, on both ranks
        assert len(sharded['params']) == len(reference)
        for got, expected in zip(sharded['params'], reference):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # mmengine's own wrapper clips each rank's shard by that shard's norm and
    # leaves the scalar with each rank's own gradient: the two replicas of it
    # part
    per_shard = _sharded_step(tmp_path, 'OptimWrapper')
    assert not all(
        torch.allclose(g, e, atol=1e-6)
        for g, e in zip(per_shard[0]['params'], reference))
    assert per_shard[0]['params'][-1] != per_shard[1]['params'][-1]


def test_without_fsdp_it_is_mmengines_wrapper():
    torch.manual_seed(0)
    models = [nn.Linear(4, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    wrappers = [
        FSDPOptimWrapper(
            optimizer=torch.optim.SGD(models[0].parameters(), lr=0.5),
            clip_grad=dict(max_norm=0.01))
    ]
    from mmengine.optim import OptimWrapper
    wrappers.append(
        OptimWrapper(
            optimizer=torch.optim.SGD(models[1].parameters(), lr=0.5),
            clip_grad=dict(max_norm=0.01)))
    x = torch.randn(3, 4)
    for model, wrapper in zip(models, wrappers):
        with wrapper.optim_context(model):
            loss = model(x).sum()
        wrapper.update_params(loss)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)
