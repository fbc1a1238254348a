"""The user's path: mim finds our tools/configs, CPU multi-process runs agree
with one process.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

import struct_det

PKG_ROOT = osp.dirname(struct_det.__file__)
TINY = 'configs/tiny/mask2former_tiny_evalmuse-sample.py'
SMALL_RUN = [
    'train_dataloader.dataset.indices=8', 'val_dataloader.dataset.indices=6',
    'test_dataloader.dataset.indices=6', 'train_dataloader.batch_size=2',
    'val_dataloader.batch_size=2', 'test_dataloader.batch_size=2',
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
    'log_level=INFO'
]
CKPT = 'iter_2.pth'


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED='1', **extra)
    bin_dir = osp.dirname(sys.executable)
    env['PATH'] = bin_dir + os.pathsep + env.get('PATH', '')
    env['PYTHON'] = sys.executable
    return env


def _run(cmd, cwd, **env) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=_env(**env), capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    command = ' '.join(map(str, cmd))
    assert proc.returncode == 0, f'{command} failed:\n{out[-4000:]}'
    return out


def _test_metrics(log: str) -> dict:
    """The metrics of the last ``Iter(test)``/``Epoch(test)`` summary line of a
    log.
    """
    lines = [
        ln for ln in log.splitlines()
        if re.search(r'(Iter|Epoch)\(test\).*structure/', ln)
    ]
    assert lines, f'no test summary in the log:\n{log[-3000:]}'
    return {
        k: v
        for k, v in re.findall(r'(structure/[\w.]+): (\S+)', lines[-1])
    }


def test_config_basenames_are_unique_across_the_package(repo_root):
    # mim resolves a config by its basename anywhere under the installed
    # package, following the .mim links, modules and tools included.
    seen = {}
    for base, _, files in os.walk(PKG_ROOT, followlinks=True):
        for name in files:
            if name.endswith('.py'):
                seen.setdefault(name, []).append(osp.join(base, name))
    configs = [
        name for _, _, files in os.walk(osp.join(repo_root, 'configs'))
        for name in files if name.endswith('.py')
    ]
    assert configs
    for name in configs:
        hits = [p for p in seen.get(name, []) if '__pycache__' not in p]
        assert len(hits) == 1, f'{name} is ambiguous for mim: {hits}'


def test_mim_sees_tools_and_configs_through_mim_dir():
    from mim.utils import get_installed_path
    root = get_installed_path('struct_det')
    assert osp.realpath(root) == osp.realpath(PKG_ROOT)
    for item in ('tools/train.py', 'tools/test.py', 'configs/tiny'):
        assert osp.exists(osp.join(root, '.mim', item)), item


@pytest.mark.slow
def test_mim_train_test_and_run(repo_root, sample_data_root, tmp_path):
    work = tmp_path / 'mim'
    name = osp.basename(TINY)
    opts = ['--cfg-options', *SMALL_RUN, f'work_dir={work}']
    _run(['mim', 'train', 'struct_det', name, *opts], cwd=repo_root)
    ckpt = work / CKPT
    assert ckpt.exists()
    log = _run(
        ['mim', 'test', 'struct_det', name, '--checkpoint',
         str(ckpt), *opts],
        cwd=repo_root)
    assert 'structure/f1_score' in ''.join(_test_metrics(log))
    # mim's own `--help` of `run` only knows official codebases; running a tool
    # works.
    gt = tmp_path / 'val_gt.pkl'
    _run([
        'mim', 'run', 'struct_det', 'make_gt_pkl',
        osp.join(sample_data_root, 'annotations', 'evalmuse_val.json'),
        str(gt)
    ],
         cwd=repo_root)
    assert gt.stat().st_size > 0


@pytest.mark.slow
def test_two_rank_cpu_training_and_rank_independent_metric(
        repo_root, sample_data_root, tmp_path):
    work = tmp_path / 'dist'
    opts = ['--cfg-options', *SMALL_RUN, f'work_dir={work}']
    train_log = _run(['bash', 'tools/dist_train.sh', TINY, '2', *opts],
                     cwd=repo_root,
                     PORT='29611',
                     OMP_NUM_THREADS='1')
    assert '(val)' in train_log and 'structure/' in train_log
    ckpt = work / CKPT
    assert ckpt.exists()
    # One image per batch: padding then depends on the image alone, not on
    # which images share a rank's batch, so the predictions are the same and
    # only the gathering differs. 7 images on 2 ranks: the sampler pads one
    # duplicate, which the metric must drop.
    opts += [
        'test_dataloader.batch_size=1', 'test_dataloader.dataset.indices=7'
    ]
    two = _test_metrics(
        _run(['bash', 'tools/dist_test.sh', TINY,
              str(ckpt), '2', *opts],
             cwd=repo_root,
             PORT='29612',
             OMP_NUM_THREADS='1'))
    one = _test_metrics(
        _run([sys.executable, 'tools/test.py', TINY,
              str(ckpt), *opts],
             cwd=repo_root))
    assert one and one == two


def test_tool_help_through_mim_as_the_readme_shows(repo_root, tmp_path):
    # Every `mim ... -- --help` line of the README, run as written from another
    # directory.
    with open(osp.join(repo_root, 'README.md'), encoding='utf-8') as f:
        lines = [
            ln.strip() for ln in f
            if ln.startswith('mim ') and ln.rstrip().endswith('-- --help')
        ]
    assert len(
        lines
    ) >= 2, 'the README no longer shows how to ask a tool for help through mim'
    for line in lines:
        out = _run(line.split(), cwd=tmp_path)
        assert 'usage:' in out, f'{line!r} printed no usage:\n{out[-2000:]}'
        assert 'not an OpenMMLAB codebase' not in out
    # The bare form is mim's own help, which refuses non-official codebases.
    proc = subprocess.run(
        ['mim', 'run', 'struct_det', 'make_gt_pkl', '--help'],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True)
    assert 'usage: make_gt_pkl' not in proc.stdout + proc.stderr
