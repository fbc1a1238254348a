"""The cold path of ``make setup``: no cached mmcv wheel, so mmcv is built from
an sdist.

The real build takes ~30 minutes, so these tests hand
``tools/misc/setup_env.sh`` a tiny fake mmcv sdist (``STRUCT_DET_MMCV_SDIST``)
whose ``setup.py`` carries the same ``-std=c++17`` line as the real one and
prints ninja-style progress, an empty wheel cache (``STRUCT_DET_CACHE``) and a
virtual environment that already sees this environment's packages except mmcv
(so nothing is downloaded). The script runs exactly as ``make setup`` runs it
(relative venv path, cwd = repo root) up to and including building, caching and
installing the fake wheel (``STRUCT_DET_SETUP_UNTIL=mmcv``).
"""
import os
import os.path as osp
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY_DIR = f'python{sys.version_info.major}.{sys.version_info.minor}'
PY_TAG = f'cp{sys.version_info.major}{sys.version_info.minor}'

FAKE_SETUP = '''\
import os
import sys
import time

from setuptools import setup

# The line mmcv's setup.py hard-codes; setup_env.sh must patch it to C++20.
extra_compile_args = {{'cxx': ['-std=c++17']}}

if 'bdist_wheel' in sys.argv:
    os.makedirs('mmcv', exist_ok=True)
    with open(os.path.join('mmcv', 'build_flags.txt'), 'w') as f:
        f.write(' '.join(extra_compile_args['cxx']))
    for i in range(1, {units} + 1):
        # pip -v indents the build's output, as it does ninja's in the real
        # build.
        cxx = extra_compile_args["cxx"][0]
        print(f'[{{i}}/{units}] c++ {{cxx}} -c op{{i}}.cpp', flush=True)
        time.sleep(1.5)
    {fail}

setup(name='mmcv', version='2.1.0', packages=['mmcv'],
      package_data={{'mmcv': ['build_flags.txt']}})
'''


def make_fake_sdist(root: Path, fail: bool = False, units: int = 3) -> Path:
    """Writes ``mmcv-2.1.0.tar.gz`` laid out like the PyPI sdist (setup.py,
    requirements/).
    """
    src = root / 'src' / 'mmcv-2.1.0'
    (src / 'mmcv').mkdir(parents=True)
    (src / 'mmcv' / '__init__.py').write_text("__version__ = '2.1.0'\n")
    (src / 'requirements').mkdir()
    # Already satisfied here: the script installs them without reaching the
    # registry.
    (src / 'requirements' / 'runtime.txt').write_text('numpy\npackaging\n')
    fail_line = ("sys.exit('error: fake compiler failure in op2.cpp')"
                 if fail else 'pass')
    (src / 'setup.py').write_text(
        FAKE_SETUP.format(units=units, fail=fail_line))
    sdist = root / 'mmcv-2.1.0.tar.gz'
    with tarfile.open(sdist, 'w:gz') as tar:
        tar.add(src, arcname='mmcv-2.1.0')
    return sdist


def make_venv_without_mmcv(path: Path, shadow: Path) -> None:
    """A venv that sees every package of this one except mmcv and struct_det.

    The packages are linked into ``shadow`` and put on the new venv's path by a
    ``.pth`` file, so pip counts them as installed (torch included) and the
    script's mmcv step is the only one with work to do.
    """
    subprocess.run([
        getattr(sys, '_base_executable', sys.executable), '-m', 'venv',
        '--without-pip',
        str(path)
    ],
                   check=True)
    if not shadow.exists():
        shadow.mkdir()
        purelib = sysconfig.get_paths()['purelib']
        for name in os.listdir(purelib):
            if (name.startswith(('mmcv', 'struct_det', '__editable__'))
                    or name.endswith(('.pth', '.egg-link'))):
                continue
            (shadow / name).symlink_to(osp.join(purelib, name))
    site = path / 'lib' / PY_DIR / 'site-packages'
    (site / 'struct_det_test_shadow.pth').write_text(f'{shadow}\n')


def run_setup(cmd, cwd, cache: Path,
              sdist: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        STRUCT_DET_CACHE=str(cache),
        STRUCT_DET_MMCV_SDIST=str(sdist),
        STRUCT_DET_SETUP_UNTIL='mmcv',
        STRUCT_DET_PROGRESS_EVERY='1',
        MAX_JOBS='1')
    env.pop('PYTHONPATH', None)
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def installed_mmcv(venv: Path) -> Path:
    return venv / 'lib' / PY_DIR / 'site-packages' / 'mmcv'


def wheel_dir(cache: Path) -> Path:
    import torch
    torch_version = torch.__version__.split('+')[0]
    return cache / f'mmcv-2.1.0-torch{torch_version}-{PY_TAG}'


@pytest.fixture
def shadow(tmp_path) -> Path:
    return tmp_path / 'shadow-site-packages'


@pytest.mark.slow
def test_cold_setup_builds_caches_and_installs_mmcv_then_reuses_the_wheel(
        tmp_path, shadow):
    cache = tmp_path / 'cache'  # empty: the machine has never built mmcv
    sdist = make_fake_sdist(tmp_path)
    venv = tmp_path / 'venv'
    make_venv_without_mmcv(venv, shadow)

    # `make setup` from the repo root with a relative venv path, as a newcomer
    # runs it.
    proc = run_setup(['make', 'setup', f'VENV={osp.relpath(venv, REPO)}'],
                     REPO, cache, sdist)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    log = cache / 'mmcv-build.log'
    assert f'compiler output: {log}' in out
    # progress while building: whole lines of the documented form, nothing
    # appended
    assert re.search(
        r'^\[setup\]   \d+m\d\ds: compiled \[\d/3\] translation '
        r'units$', out, re.M), out
    assert 'built and cached' in out and 'stopped after mmcv' in out

    # The C++20 patch reached the build, the wheel is in the cache and nothing
    # else is.
    assert (installed_mmcv(venv) /
            'build_flags.txt').read_text() == '-std=c++20'
    assert sorted(p.name for p in wheel_dir(cache).iterdir()) == [
        'mmcv-2.1.0-py3-none-any.whl'
    ]
    assert '[3/3] c++ -std=c++20' in log.read_text()

    # A second setup from another directory, absolute script path, relative
    # venv: the cached wheel is installed and nothing is built (the sdist is
    # gone).
    sdist.unlink()
    other = tmp_path / 'elsewhere'
    other.mkdir()
    make_venv_without_mmcv(other / 'venv2', shadow)
    proc = run_setup(
        ['bash',
         osp.join(REPO, 'tools', 'misc', 'setup_env.sh'), 'venv2'], other,
        cache, sdist)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'cached wheel' in out and 'building mmcv' not in out
    assert (installed_mmcv(other / 'venv2') /
            'build_flags.txt').read_text() == '-std=c++20'


@pytest.mark.slow
def test_failed_build_names_its_log_and_caches_nothing(tmp_path, shadow):
    cache = tmp_path / 'cache'
    sdist = make_fake_sdist(tmp_path, fail=True)
    venv = tmp_path / 'venv'
    make_venv_without_mmcv(venv, shadow)
    proc = run_setup(['make', 'setup', f'VENV={osp.relpath(venv, REPO)}'],
                     REPO, cache, sdist)
    assert proc.returncode != 0
    log = cache / 'mmcv-build.log'
    assert 'building mmcv failed after' in proc.stderr
    assert f'the compiler output is in {log}' in proc.stderr
    # the log's tail is shown
    assert 'fake compiler failure in op2.cpp' in proc.stderr
    assert not wheel_dir(cache).exists() or not list(
        wheel_dir(cache).iterdir())
    assert not installed_mmcv(venv).exists()
