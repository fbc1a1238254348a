"""The joint model of the tiny config (Mask2Former regions + LoDa score,
random weights): an image's regions and score do not depend on the other
images of its batch.

Original images go in, as from the joint pipeline; each member applies its
own test pipeline (Mask2Former: resize to 128, padded per batch; LoDa: short
side 128, one 112 crop). Image A is the largest after the Mask2Former
resize, so no batch pads it: its result must be the same alone, first and
second in a batch and beside a neighbour of another size. Image B (smaller)
is padded beside A; its result must not change when A's content changes,
and its score (LoDa never pads) must equal its score alone. B's regions
alone (unpadded) and beside A (padded) differ as they do for mmdet's
Mask2Former itself (see tests/test_configs/test_mask2former_batch_
independence.py): with dynamic padding its output depends on the batch's
padded shape.
"""
import logging

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

CONFIG = 'configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py'  # noqa: E501
BOX_TOL = 1e-3
SCORE_TOL = 1e-5
MASK_FRAC = 1e-3


def _image(h, w, seed):
    """A BGR uint8 original image as (3, h, w), as LoadImageFromFile packs."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))


def _predict(model, images):
    from mmdet.structures import DetDataSample
    samples = [
        DetDataSample(
            metainfo=dict(
                img_id=idx,
                img_path=f'image_{idx}.jpg',
                ori_shape=tuple(img.shape[1:])))
        for idx, img in enumerate(images)
    ]
    results = model.predict(list(images), samples)
    return [(s.pred_instances, float(s.pred_score[0])) for s in results]


@pytest.fixture(scope='module')
def assessor(repo_root, monkeypatch_module):
    from mmdet.registry import MODELS

    import struct_det  # noqa: F401
    monkeypatch_module.chdir(repo_root)  # the members' config paths
    init_default_scope('mmdet')
    cfg = Config.fromfile(CONFIG)
    # random members: keep every instance so there are regions to compare
    cfg.model.detectors[0].score_thr = 0.0
    torch.manual_seed(0)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model = MODELS.build(cfg.model)
    finally:
        logger.setLevel(level)
    return model.eval()


@pytest.fixture(scope='module')
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _ok(dev):
    return ('count' not in dev and 'mask_shape' not in dev
            and dev['labels'] == 0 and dev['bboxes'] <= BOX_TOL
            and dev['scores'] <= SCORE_TOL
            and dev.get('mask_frac', 0.0) <= MASK_FRAC)


def test_regions_and_score_do_not_depend_on_the_batch(assessor,
                                                      instance_deviation_fn):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, a_changed = _image(200, 200, 0), _image(200, 200, 1)
        b, other = _image(150, 200, 2), _image(300, 240, 3)
        image_a = {
            'A alone':
            _predict(assessor, [a])[0],
            'A first beside B':
            _predict(assessor, [a, b])[0],
            'A second beside B':
            _predict(assessor, [b, a])[1],
            'A beside another neighbour (300x240)':
            _predict(assessor, [a, other])[0],
        }
        b_alone = _predict(assessor, [b])[0]
        image_b = {
            'B beside A': _predict(assessor, [a, b])[1],
            'B beside a changed A': _predict(assessor, [a_changed, b])[1],
        }
    finally:
        torch.set_num_threads(threads)

    failures = []
    for cases in (image_a, image_b):
        (ref_name, (ref, ref_score)), *others = cases.items()
        assert len(ref) > 0 and 'masks' in ref, ref_name
        for name, (pred, score) in others:
            dev = instance_deviation_fn(ref, pred)
            if not _ok(dev) or abs(score - ref_score) > SCORE_TOL:
                failures.append(f'{name} vs {ref_name}: {dev}, score '
                                f'{score:.7f} vs {ref_score:.7f}')
    for name, (_, score) in image_b.items():
        if abs(score - b_alone[1]) > SCORE_TOL:
            failures.append(f'score of {name}: {score:.7f} vs B alone: '
                            f'{b_alone[1]:.7f}')
    assert not failures, '\n'.join(failures)
