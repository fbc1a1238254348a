"""Installs struct_det and exposes its tools/configs to ``mim`` via
``struct_det/.mim``.
"""
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_ITEMS = ('configs', 'tools', 'requirements')


def readme() -> str:
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        return f.read()


def version() -> str:
    scope: dict = {}
    with open(
            osp.join(ROOT, 'struct_det', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def requirements() -> list:
    with open(
            osp.join(ROOT, 'requirements', 'runtime.txt'),
            encoding='utf-8') as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line]


def add_mim_extension() -> None:
    """Lays configs/, tools/ and requirements/ out under ``struct_det/.mim``.

    ``mim train struct_det CFG`` resolves
    ``<installed struct_det>/.mim/tools/train.py``. A development install
    (``setup.py develop``, egg-link) links them so edits show at once; a
    wheel/regular install copies them into the package.
    """
    link = 'develop' in sys.argv
    mim_dir = osp.join(ROOT, 'struct_det', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for item in MIM_ITEMS:
        src = osp.join(ROOT, item)
        dst = osp.join(mim_dir, item)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if link:
            os.symlink(osp.relpath(src, mim_dir), dst)
        else:
            shutil.copytree(
                src,
                dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


DESCRIPTION = ('Structural-distortion detection and scoring for AI-generated '
               'images (NTIRE 2025 EvalMuse-Structure) as an OpenMMLab '
               'extension')

if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='struct_det',
        version=version(),
        description=DESCRIPTION,
        long_description=readme(),
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        packages=find_packages(include=['struct_det', 'struct_det.*']),
        include_package_data=True,
        package_data={'struct_det': ['.mim/**/*', '.mim/**/.*']},
        python_requires='>=3.8',
        install_requires=requirements(),
        zip_safe=False,
    )
