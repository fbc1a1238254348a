"""Fixtures of the Co-DETR tests: the tiny config's model and small batches."""
import logging
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
TINY_CONFIG = osp.join(REPO, 'configs', 'tiny',
                       'co-dino_tiny_evalmuse-sample.py')


def tiny_model_cfg():
    """The ``model`` section of the tiny Co-DINO config."""
    return Config.fromfile(TINY_CONFIG).model


def build_tiny_model(**overrides):
    """Build the tiny Co-DINO with random init (and optional overrides)."""
    from mmdet.registry import MODELS

    import struct_det.models.detectors  # noqa: F401  (registers CoDETR)
    init_default_scope('mmdet')
    cfg = tiny_model_cfg()
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    # init_weights logs every parameter at INFO
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def make_batch(img_shapes: Sequence[Tuple[int, int]] = ((128, 128), (96, 128)),
               num_gts: Sequence[int] = (3, 1),
               ori_scale: float = 1.0,
               seed: int = 0):
    """A preprocessed batch with boxes and matching rectangular masks.

    Args:
        img_shapes: (h, w) of every image at the network input.
        num_gts: ground-truth instances per image.
        ori_scale: original image size / input size.
        seed: RNG seed.

    Returns:
        tuple: (inputs (bs, 3, H, W), list of DetDataSample).
    """
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    gen = torch.Generator().manual_seed(seed)
    pad_h = max(h for h, _ in img_shapes)
    pad_w = max(w for _, w in img_shapes)
    inputs = torch.rand((len(img_shapes), 3, pad_h, pad_w), generator=gen)
    samples: List[DetDataSample] = []
    for img_id, ((h, w), num) in enumerate(zip(img_shapes, num_gts)):
        ori_h, ori_w = int(round(h * ori_scale)), int(round(w * ori_scale))
        sample = DetDataSample(
            metainfo=dict(
                img_id=img_id,
                img_shape=(h, w),
                ori_shape=(ori_h, ori_w),
                pad_shape=(pad_h, pad_w),
                batch_input_shape=(pad_h, pad_w),
                scale_factor=(w / ori_w, h / ori_h)))
        xy = torch.rand((num, 2), generator=gen) * torch.tensor([w, h]) * .6
        wh = 8 + torch.rand(
            (num, 2), generator=gen) * torch.tensor([w, h]) * .3
        bboxes = torch.cat([xy, xy + wh], 1).round()
        masks = np.zeros((num, h, w), dtype=np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(bboxes.long().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        sample.gt_instances = InstanceData(
            bboxes=bboxes,
            labels=torch.zeros(num, dtype=torch.long),
            masks=BitmapMasks(masks, h, w))
        samples.append(sample)
    return inputs, samples


@pytest.fixture(scope='module')
def tiny_model():
    return build_tiny_model()


@pytest.fixture(scope='session')
def batch_factory():
    """``make_batch`` for the tests (conftest helpers are not importable)."""
    return make_batch


@pytest.fixture(scope='session')
def model_factory():
    """``build_tiny_model`` for the tests."""
    return build_tiny_model


@pytest.fixture(scope='session')
def tiny_cfg_factory():
    """``tiny_model_cfg`` for the tests (a fresh copy on every call)."""
    return tiny_model_cfg


@pytest.fixture(autouse=True)
def single_torch_thread():
    """One intra-op thread: on a small shared CPU, torch's thread pool
    oversubscribes the cores and a tiny Co-DINO step takes 50x longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
