"""GridCrop views and ScoreTTAModel's N-crop averaging."""
import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from struct_det.datasets.transforms import (GridCrop, grid_crop_views,
                                            grid_offsets)
from struct_det.models.regressors import LoDa
from struct_det.models.tta import ScoreTTAModel
from tests.test_models.tiny_loda import TINY_LODA as TINY

META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'mos')


def test_grid_offsets_span_the_image():
    assert grid_offsets(100, 40, 3) == [0, 30, 60]
    assert grid_offsets(100, 40, 1) == [30]
    assert grid_offsets(40, 40, 3) == [0, 0, 0]
    assert grid_offsets(30, 40, 2) == [0, 0]  # crop clipped to the image


def test_grid_crop_views_cover_the_grid_row_by_row():
    img = np.arange(60 * 100 * 3, dtype=np.int64).reshape(60, 100, 3)
    boxes = []
    for view in grid_crop_views((40, 30), (3, 2)):
        out = GridCrop(**{
            k: v
            for k, v in view.items() if k != 'type'
        })(
            dict(img=img, img_shape=(60, 100)))
        x1, y1, x2, y2 = out['grid_crop_bbox']
        np.testing.assert_array_equal(out['img'], img[y1:y2, x1:x2])
        assert out['img_shape'] == (30, 40)
        boxes.append((x1, y1, x2, y2))
    assert boxes == [(0, 0, 40, 30), (30, 0, 70, 30), (60, 0, 100, 30),
                     (0, 30, 40, 60), (30, 30, 70, 60), (60, 30, 100, 60)]


def test_grid_crop_centre_and_untouched_annotations():
    img = np.zeros((50, 80, 3), np.uint8)
    masks = np.ones((1, 50, 80), np.uint8)
    out = GridCrop(crop_size=20)(
        dict(img=img, img_shape=(50, 80), gt_masks=masks))
    assert out['grid_crop_bbox'] == (30, 15, 50, 35)
    # Score metrics compare with the original image's ground truth.
    assert out['gt_masks'] is masks


def test_grid_crop_rejects_bad_arguments():
    with pytest.raises(ValueError, match='outside the 2x2 grid'):
        GridCrop(crop_size=8, grid=(2, 2), index=4)
    with pytest.raises(ValueError, match='crop_size'):
        GridCrop(crop_size=(0, 8))
    with pytest.raises(ValueError, match='grid'):
        GridCrop(crop_size=8, grid=(0, 2))


def _tta_batch(images, grid):
    views = grid_crop_views((32, 32), grid)
    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose([
            dict(
                type='TestTimeAug',
                transforms=[
                    views, [dict(type='PackDetInputs', meta_keys=META_KEYS)]
                ]),
        ])
    samples = []
    for index, img in enumerate(images):
        samples.append(
            pipeline(
                dict(
                    img=img,
                    img_shape=img.shape[:2],
                    ori_shape=img.shape[:2],
                    img_id=index,
                    img_path=f'img{index}.jpg',
                    mos=3.0)))
    return pseudo_collate(samples)


def test_score_tta_averages_the_views_of_each_image():
    torch.manual_seed(0)
    model = LoDa(**copy.deepcopy(TINY)).eval()
    tta = ScoreTTAModel(module=model).eval()
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)
    ]
    merged = tta.test_step(_tta_batch(images, grid=(3, 2)))
    assert len(merged) == 3

    # Independent reference: cut the six 32x32 crops with numpy, score them,
    # average.
    for index, (img, sample) in enumerate(zip(images, merged)):
        crops = [img[y:y + 32, x:x + 32] for y in (0, 16) for x in (0, 16, 32)]
        inputs = [
            torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)
            for c in crops
        ]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=inputs, data_samples=None))
            expected = model(data['inputs'], mode='tensor').mean()
        assert sample.pred_score.shape == (1, )
        torch.testing.assert_close(
            sample.pred_score[0], expected, rtol=1e-5, atol=1e-5)
        assert sample.metainfo['num_tta_views'] == 6
        assert sample.metainfo['img_path'] == f'img{index}.jpg'
        assert sample.metainfo['mos'] == 3.0


def test_score_tta_builds_its_module_from_a_config():
    tta = ScoreTTAModel(module=dict(type='LoDa', **copy.deepcopy(TINY)))
    assert isinstance(tta.module, LoDa)


def test_merge_preds_needs_pred_score():
    tta = ScoreTTAModel(module=LoDa(**copy.deepcopy(TINY)))
    views = [DetDataSample(metainfo=dict(img_path='a.jpg'))]
    with pytest.raises(ValueError, match='a.jpg has no pred_score'):
        tta.merge_preds([views])
    scored = []
    for value in (1.0, 2.0, 4.5):
        view = DetDataSample()
        view.pred_score = torch.tensor([value])
        scored.append(view)
    merged = tta.merge_preds([scored])
    torch.testing.assert_close(merged[0].pred_score, torch.tensor([2.5]))
