"""LoDa (the tiny config, random init): an image's score does not depend on
the rest of its batch, plainly and under the config's crop TTA.

LoDa never pads (its preprocessor refuses crops of different sizes), so the
only ways a neighbour could leak in are batch-wise operations (BatchNorm in
train mode, attention across the batch axis); the test runs the images
through the config's own test pipeline from originals of different sizes.
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY = osp.join(REPO, 'configs', 'tiny', 'loda_tiny_evalmuse-sample.py')
SCORE_TOL = 1e-5


def _image(h, w, seed):
    return np.random.default_rng(seed).integers(
        0, 256, (h, w, 3), dtype=np.uint8)


def _as_array_pipeline(pipeline):
    """The config pipeline fed with decoded arrays instead of files."""
    pipeline = copy.deepcopy(list(pipeline))
    assert pipeline[0]['type'] == 'LoadImageFromFile'
    pipeline[0] = dict(type='LoadImageFromNDArray')
    return pipeline


@pytest.fixture(scope='module')
def loda():
    from mmcv.transforms import Compose
    from mmdet.registry import MODELS

    import struct_det  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(TINY)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    tta = MODELS.build(dict(cfg.tta_model, module=model)).eval()
    return dict(
        model=model,
        tta=tta,
        pipeline=Compose(_as_array_pipeline(cfg.test_pipeline)),
        tta_pipeline=Compose(_as_array_pipeline(cfg.tta_pipeline)))


def _scores(loda, images, tta):
    pipeline = loda['tta_pipeline' if tta else 'pipeline']
    model = loda['tta' if tta else 'model']
    batch = pseudo_collate(
        [pipeline(dict(img=img, mos=3.0)) for img in images])
    with torch.no_grad():
        samples = model.test_step(batch)
    return [float(s.pred_score.reshape(-1)[0]) for s in samples]


@pytest.mark.parametrize('tta', [False, True], ids=['plain', 'tta'])
def test_score_does_not_depend_on_the_batch(loda, tta):
    a, a_changed = _image(160, 200, 0), _image(160, 200, 1)
    b, other = _image(200, 150, 2), _image(130, 300, 3)
    image_a = {
        'A alone': _scores(loda, [a], tta)[0],
        'A first beside B': _scores(loda, [a, b], tta)[0],
        'A second beside B': _scores(loda, [b, a], tta)[1],
        'A in a batch of three': _scores(loda, [other, a, b], tta)[1],
    }
    image_b = {
        'B alone': _scores(loda, [b], tta)[0],
        'B beside A': _scores(loda, [a, b], tta)[1],
        'B beside a changed A': _scores(loda, [a_changed, b], tta)[1],
    }
    failures = []
    for cases in (image_a, image_b):
        (ref_name, ref), *others = cases.items()
        for name, score in others:
            if abs(score - ref) > SCORE_TOL:
                failures.append(f'{name}: {score:.7f} vs {ref_name}: '
                                f'{ref:.7f}')
    assert not failures, '\n'.join(failures)
    # the neighbours are different images with different scores
    assert abs(image_a['A alone'] - image_b['B alone']) > SCORE_TOL
