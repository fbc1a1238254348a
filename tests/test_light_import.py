"""struct_det.light_import: the scorer's modules without the torch stack, and
back to full.
"""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

SCRIPT = '''
import importlib.util, os.path as osp, sys
HEAVY = ('torch', 'mmcv', 'mmdet', 'mmengine')
spec = importlib.util.spec_from_file_location(
    'light', osp.join({repo!r}, 'struct_det', 'light_import.py'))
light = importlib.util.module_from_spec(spec)
spec.loader.exec_module(light)
functional, = light.import_light('struct_det.evaluation.functional')
assert [m for m in HEAVY if m in sys.modules] == [], 'heavy after functional'
submission, = light.import_light('struct_det.evaluation.submission')
assert [m for m in HEAVY if m in sys.modules] == [], 'heavy after submission'
assert light.is_placeholder(sys.modules['struct_det'])
import numpy as np
mask = np.zeros((512, 512), np.uint8)
mask[100:200, 100:200] = 1
counts = functional.image_region_counts(mask, mask)
got = (counts.num_pred, counts.num_pred_hit, counts.num_gt)
assert got == (1, 1, 1), counts
{full}
print('ok')
'''

FULL = '''
package = light.import_full()
import struct_det.evaluation.functional as again
from mmdet.registry import METRICS, MODELS, TRANSFORMS
assert not light.is_placeholder(package)
assert again is functional and package.evaluation.functional is functional
assert package.evaluation.submission is submission
assert MODELS.get('LoDa') is not None
assert TRANSFORMS.get('SeededRandomCrop') is not None
assert METRICS.get('StructureMetric') is not None
'''


def _run(full: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c',
         SCRIPT.format(repo=REPO, full=full)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300)


def test_functional_imports_without_torch():
    run = _run('')
    assert run.returncode == 0 and 'ok' in run.stdout, run.stderr


def test_import_full_registers_everything_and_keeps_loaded_modules():
    run = _run(FULL)
    assert run.returncode == 0 and 'ok' in run.stdout, run.stderr
