"""The LoDa configs build: models (without weights) and every pipeline on a
real file.
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

CONFIGS = {
    # config: (trainable parameters, crop side, TTA views)
    'configs/loda/loda_vit-b16-r50_8xb16-10e_evalmuse-structure.py':
    (8_927_488, 224, 15),
    'configs/loda/loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py':
    (29_275_904, 518, 4),
    'configs/tiny/loda_tiny_evalmuse-sample.py': (None, 112, 4),
}


def _dataset(loader_cfg):
    dataset = loader_cfg.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset


@pytest.mark.parametrize('config', sorted(CONFIGS))
def test_loda_config_builds(config, repo_root, tmp_path):
    trainable, side, num_views = CONFIGS[config]
    cfg = Config.fromfile(osp.join(repo_root, config))
    assert cfg.model.type == 'LoDa' and cfg.tta_model.type == 'ScoreTTAModel'
    with torch.device('meta'):
        # weights load in init_weights, not here
        model = MODELS.build(cfg.model)
    if trainable is not None:
        assert model.parameter_counts()['trainable'] == trainable

    # A non-square image exercises the short-side resize and the crops.
    image_file = str(tmp_path / 'image.jpg')
    cv2.imwrite(
        image_file,
        np.random.default_rng(0).integers(
            0, 256, (600, 900, 3), dtype=np.uint8))
    record = dict(img_path=image_file, img_id=0, mos=3.0, prompt='a hand')
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = Compose(_dataset(cfg.train_dataloader).pipeline)(dict(record))
        test = Compose(_dataset(cfg.test_dataloader).pipeline)(dict(record))
        tta = Compose(cfg.tta_pipeline)(dict(record))
    for packed in (train, test):
        assert tuple(packed['inputs'].shape) == (3, side, side)
        assert packed['data_samples'].metainfo['mos'] == 3.0
    assert len(tta['inputs']) == num_views
    assert all(tuple(view.shape) == (3, side, side) for view in tta['inputs'])
    assert len({view.numpy().tobytes() for view in tta['inputs']}) == num_views
    # batch-statistics losses need >= 2 samples
    assert cfg.train_dataloader.drop_last
