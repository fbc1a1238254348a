"""SeededRandomCrop: LoDa's random test crops, reproducible per image from a
seed."""
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope

from struct_det.datasets.transforms import (SeededRandomCrop,
                                            seeded_crop_offset,
                                            seeded_random_crop_views)

IMG = np.arange(384 * 576 * 3, dtype=np.int64).reshape(384, 576, 3)


def _boxes(seed, name='a.jpg', num=15):
    boxes = []
    for view in seeded_random_crop_views(224, num=num, seed=seed):
        out = SeededRandomCrop(**{
            k: v
            for k, v in view.items() if k != 'type'
        })(
            dict(img=IMG, img_path=f'/data/{name}'))
        x1, y1, x2, y2 = out['seeded_crop_bbox']
        np.testing.assert_array_equal(out['img'], IMG[y1:y2, x1:x2])
        assert out['img_shape'] == (224, 224) and (x2 - x1, y2 - y1) == (224,
                                                                         224)
        boxes.append((x1, y1))
    return boxes


def test_crops_are_reproducible_with_a_seed_and_differ_with_another():
    first = _boxes(seed=0)
    assert first == _boxes(seed=0)  # a second run: the same crops
    assert len(set(first)) == 15  # 15 different views
    assert _boxes(seed=1) != first
    assert _boxes(seed=0, name='b.jpg') != first  # each image its own crops
    # Only the file name counts, not the folder it was read from.
    out = SeededRandomCrop(
        224, seed=0, index=0)(
            dict(img=IMG, img_path='elsewhere/a.jpg'))
    assert out['seeded_crop_bbox'][:2] == first[0]


def test_offsets_cover_every_position_uniformly():
    xs = [
        seeded_crop_offset(f'{i}.jpg', 0, 0, (230, 234), (224, 224))
        for i in range(4000)
    ]
    x, y = np.array(xs).T
    assert x.min() == 0 and x.max() == 10 and y.min() == 0 and y.max() == 6
    counts = np.bincount(x, minlength=11)
    assert counts.min() > 4000 / 11 * 0.7  # no position starved


def test_crop_larger_than_the_image_is_clipped_and_bad_arguments_fail():
    out = SeededRandomCrop((300, 100), seed=3)(
        dict(img=np.zeros((50, 80, 3)), img_path='x'))
    assert out['img'].shape == (50, 80,
                                3) and out['seeded_crop_bbox'] == (0, 0, 80,
                                                                   50)
    with pytest.raises(ValueError, match='crop_size'):
        SeededRandomCrop((0, 8))
    with pytest.raises(ValueError, match='seed and index'):
        SeededRandomCrop(8, index=-1)
    with pytest.raises(ValueError, match='num'):
        seeded_random_crop_views(8, num=0)


def test_tta_pipeline_gives_the_same_views_twice():
    with DefaultScope.overwrite_default_scope('mmdet'):
        pipeline = Compose([
            dict(
                type='TestTimeAug',
                transforms=[
                    seeded_random_crop_views(64, num=5, seed=0),
                    [
                        dict(
                            type='PackDetInputs',
                            meta_keys=('img_path', 'img_shape'))
                    ]
                ])
        ])
    img = np.random.default_rng(0).integers(
        0, 256, (96, 160, 3), dtype=np.uint8)
    one = pipeline(dict(img=img, img_path='k.jpg', img_shape=img.shape[:2]))
    two = pipeline(dict(img=img, img_path='k.jpg', img_shape=img.shape[:2]))
    assert len(one['inputs']) == 5
    for a, b in zip(one['inputs'], two['inputs']):
        assert a.shape == (3, 64, 64) and bool((a == b).all())
