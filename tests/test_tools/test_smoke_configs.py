"""tools/misc/smoke_configs.py: real configs train a step and test with TTA
from random init.
"""
import glob
import json
import math
import os.path as osp
import time

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_LODA = osp.join(REPO, 'configs/tiny/loda_tiny_evalmuse-sample.py')
# Small enough for 2 CPU cores and 24 GB with every real config, and the
# smallest Co-DINO takes (its 900 queries need 900 encoder tokens); the
# ViT-L/14 crops become 126 px (a multiple of its patch), the LSJ pads 128 px.
CI_INPUT_SIZE = 128
# Two configs at a time (one thread each) on CI's two cores: ~7 min instead of
# ~14; the largest pair peaks below 16 GB together.
CI_JOBS = 2


def _records(path, keys):
    with open(path, encoding='utf-8') as f:
        records = json.load(f)
    for record in records:
        assert tuple(record) == keys
    return records


def test_default_configs_are_the_real_ones(smoke_tool, repo_root):
    found = smoke_tool.discover_configs(osp.join(repo_root, 'configs'))
    everything = glob.glob(
        osp.join(repo_root, 'configs', '**', '*.py'), recursive=True)
    expected = [
        p for p in everything
        if osp.basename(osp.dirname(p)) not in ('tiny', '_base_')
        and osp.dirname(osp.dirname(p)) == osp.join(repo_root, 'configs')
    ]
    assert sorted(found) == sorted(expected)
    dirs = {osp.basename(osp.dirname(p)) for p in found}
    assert {'codetr', 'mask2former', 'loda', 'joint'} <= dirs


def test_a_failing_config_is_reported_with_its_error(smoke_tool, tmp_path,
                                                     sample_data_root):
    broken = tmp_path / 'loda_broken.py'
    # a model type no registry knows: the model cannot be built
    broken.write_text(f"_base_ = ['{TINY_LODA}']\nmodel = "
                      "dict(type='NoSuchRegressor')\n")
    out = tmp_path / 'smoke.json'
    status = smoke_tool.main([
        str(broken), '--json',
        str(out), '--data-root', sample_data_root, '--work-dir',
        str(tmp_path / 'runs')
    ])
    assert status == 1
    (failed, ) = _records(out, smoke_tool.JSON_KEYS)
    assert failed['config'] == str(broken) and failed['ok'] is False
    assert 'NoSuchRegressor' in failed['error'] and 'run.log' in failed[
        'error'], failed['error']
    assert failed['train_step_s'] is None and failed['test_s_per_img'] is None
    assert failed['input_size'] == 112  # known before the build failed
    assert failed['peak_mem_mb'] > 0 and failed['device'] == 'cpu'


@pytest.mark.slow
def test_a_working_config_reports_every_figure_and_its_shrinking(
        smoke_tool, tmp_path, sample_data_root, capsys):
    out = tmp_path / 'smoke.json'
    assert smoke_tool.main([
        TINY_LODA, '--json',
        str(out), '--input-size', '64', '--data-root', sample_data_root
    ]) == 0
    (record, ) = _records(out, smoke_tool.JSON_KEYS)
    assert record['ok'] is True and record['error'] is None
    # LoDa's backbones are frozen
    assert 0 < record['trainable'] < record['params']
    assert record['train_step_s'] > 0 and record['test_s_per_img'] > 0
    assert record['peak_mem_mb'] > 100 and record['device'] == 'cpu'
    assert record['input_size'] == 64
    assert 'input 64 (shrunk from 112)' in capsys.readouterr().out


@pytest.mark.slow
def test_every_real_config_trains_a_step_and_tests_with_tta(
        smoke_tool, tmp_path, sample_data_root, capsys):
    configs = smoke_tool.discover_configs(osp.join(REPO, 'configs'))
    out = tmp_path / 'smoke.json'
    start = time.perf_counter()
    status = smoke_tool.main(configs + [
        '--json',
        str(out), '--input-size',
        str(CI_INPUT_SIZE), '--jobs',
        str(CI_JOBS), '--timeout', '900', '--data-root', sample_data_root
    ])
    elapsed = time.perf_counter() - start
    printed = capsys.readouterr().out
    print(printed, f'\n{len(configs)} configs in {elapsed:.0f} s')
    records = _records(out, smoke_tool.JSON_KEYS)
    assert [r['config'] for r in records] == configs
    failed = {r['config']: r['error'] for r in records if not r['ok']}
    assert status == 0 and not failed, failed
    for r in records:
        assert r['device'] == 'cpu' and r['peak_mem_mb'] > 0
        assert 0 <= r['trainable'] <= r['params'] and r['params'] > 1e6
        assert r['input_size'] <= CI_INPUT_SIZE
        assert r['test_s_per_img'] > 0
        if 'joint' in r['config']:
            assert r['train_step_s'] is None  # inference only
        else:
            assert r['train_step_s'] > 0
            assert math.isfinite(r['train_step_s'])
    assert 'shrunk from' in printed


def test_a_config_over_the_memory_limit_is_stopped_and_reported(
        smoke_tool, tmp_path, sample_data_root):
    out = tmp_path / 'smoke.json'
    # importing torch and mmdet alone takes more than 300 MB
    status = smoke_tool.main([
        TINY_LODA, '--json',
        str(out), '--max-rss-mb', '300', '--data-root', sample_data_root,
        '--work-dir',
        str(tmp_path / 'runs')
    ])
    assert status == 1
    (record, ) = _records(out, smoke_tool.JSON_KEYS)
    assert record['ok'] is False and record['train_step_s'] is None
    assert record['error'].startswith(
        'stopped at 300.0 MB resident memory'), record['error']
    # Past the limit when stopped; by how much depends on how busy the machine
    # is (the watcher polls every 0.2 s), so no upper bound here.
    assert record['peak_mem_mb'] > 300


def test_bad_command_lines_are_refused(smoke_tool, capsys):
    for argv in (['--input-size', '0'], ['--max-rss-mb',
                                         '-1'], ['--jobs', '0']):
        with pytest.raises(SystemExit):
            smoke_tool.parse_args(argv)
        assert 'must be' in capsys.readouterr().err
