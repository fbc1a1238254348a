"""EvalMuseHeatmapDataset: dense targets straight from the converter's COCO
files."""
import json
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.registry import DefaultScope

from struct_det.datasets import EvalMuseHeatmapDataset
from struct_det.datasets.rasterize import annotator_mask

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHeatmapAnnotations'),
    dict(type='PackHeatmapInputs'),
]


@pytest.fixture(autouse=True)
def _mmseg_scope():
    # overwritten for the test only: a leaked default scope would change
    # later tests
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def _dataset(root, split='val', pipeline=PIPELINE, **kwargs):
    return EvalMuseHeatmapDataset(
        ann_file=f'annotations/evalmuse_{split}.json',
        data_root=root,
        data_prefix=dict(
            img_path=f'{"test" if split == "test" else "train"}/images/'),
        pipeline=pipeline,
        test_mode=True,
        **kwargs)


def _coco(root, split='val'):
    with open(osp.join(root, 'annotations', f'evalmuse_{split}.json')) as f:
        return json.load(f)


def _instance_union(coco, image):
    """The converter's consensus: the union of its stored RLE instances."""
    union = np.zeros((image['height'], image['width']), np.uint8)
    for ann in coco['annotations']:
        if ann['image_id'] == image['id']:
            rle = dict(
                ann['segmentation'],
                counts=ann['segmentation']['counts'].encode())
            union |= mask_utils.decode(rle).astype(np.uint8)
    return union


@pytest.mark.parametrize('split', ['val', 'train'])
def test_targets_equal_the_converters_rasters(sample_data_root, split):
    coco = _coco(sample_data_root, split)
    dataset = _dataset(sample_data_root, split)
    assert len(dataset) == len(coco['images'])
    by_name = {img['file_name']: img for img in coco['images']}
    k = coco['info']['min_annotators']
    num_distorted = 0
    # every val image; the first 80 train images (the rest are more of the
    # same)
    for idx in range(min(len(dataset), 80)):
        sample = dataset[idx]['data_samples']
        image = by_name[osp.basename(sample.img_path)]
        consensus = sample.gt_sem_seg.data[0].numpy()
        soft = sample.gt_heatmap.data[0].numpy()
        assert consensus.shape == soft.shape == (image['height'],
                                                 image['width'])
        # binary target == the union of the COCO instances, pixel for pixel
        np.testing.assert_array_equal(consensus, _instance_union(coco, image))
        # soft target == fraction of annotators, each annotator's regions
        # rasterised alone
        regions = image['annotator_regions']
        count = sum(
            annotator_mask(r, image['height'], image['width']).astype(np.int64)
            for r in regions)
        np.testing.assert_allclose(
            soft, count / len(regions), rtol=0, atol=1e-7)
        assert set(np.unique(soft * len(regions)).round(5)) <= set(
            range(len(regions) + 1))
        # the binary map is the soft map at K of N annotators
        np.testing.assert_array_equal(consensus, (count >= k).astype(np.uint8))
        assert sample.mos == pytest.approx(image['mos'])
        assert sample.num_annotators == len(
            regions) and sample.min_annotators == k
        num_distorted += int(consensus.any())
    # the check saw real regions, not only clean images
    assert num_distorted > 5


def test_min_annotators_override(sample_data_root):
    sample = _dataset(sample_data_root, min_annotators=1)[0]['data_samples']
    soft = sample.gt_heatmap.data[0].numpy()
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                  (soft > 0).astype(np.uint8))


def test_flip_and_resize_keep_the_targets_aligned(sample_data_root):
    plain = _dataset(sample_data_root)
    size = (40, 56)  # (w, h)
    moved = _dataset(
        sample_data_root,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadHeatmapAnnotations'),
            dict(type='Resize', scale=size, keep_ratio=False),
            dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            dict(type='PackHeatmapInputs'),
        ])
    import cv2
    for idx in range(10):
        a, b = plain[idx]['data_samples'], moved[idx]['data_samples']
        ref = cv2.resize(
            a.gt_heatmap.data[0].numpy(),
            size,
            interpolation=cv2.INTER_NEAREST)
        np.testing.assert_allclose(
            b.gt_heatmap.data[0].numpy(), ref[:, ::-1], atol=1e-7)
        ref_bin = cv2.resize(
            a.gt_sem_seg.data[0].numpy().astype(np.uint8),
            size,
            interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(b.gt_sem_seg.data[0].numpy(),
                                      ref_bin[:, ::-1])


def test_unlabelled_split_has_no_targets(sample_data_root):
    dataset = _dataset(sample_data_root, 'test')
    sample = dataset[0]['data_samples']
    assert 'gt_sem_seg' not in sample and 'gt_heatmap' not in sample
    assert sample.mos is None


def _write(tmp_path, coco):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_labelled_record_without_regions_is_named(sample_data_root, tmp_path):
    coco = _coco(sample_data_root)
    name = coco['images'][3]['file_name']
    del coco['images'][3]['annotator_regions']
    with pytest.raises(ValueError, match=f"bad.json: image '{name}' has no"):
        EvalMuseHeatmapDataset(
            ann_file=_write(tmp_path, coco), pipeline=PIPELINE)


def test_bad_regions_and_sizes_are_named(sample_data_root, tmp_path):
    coco = _coco(sample_data_root)
    coco['images'] = coco['images'][:2]
    coco['images'][0]['annotator_regions'] = [[{'bbox_type': 7, 'bbox': []}]]
    coco['images'][1]['height'] += 1
    dataset = EvalMuseHeatmapDataset(
        ann_file=_write(tmp_path, coco),
        pipeline=PIPELINE,
        data_prefix=dict(
            img_path=osp.join(sample_data_root, 'train', 'images')))
    first, second = (
        osp.join(sample_data_root, 'train', 'images', img['file_name'])
        for img in coco['images'])
    with pytest.raises(
            ValueError,
            match=f'{first}: annotator_regions cannot be rasterised'):
        dataset[0]
    with pytest.raises(ValueError, match=f'{second}: the COCO file says'):
        dataset[1]


def test_bad_mos_and_not_a_coco_file(sample_data_root, tmp_path):
    coco = _coco(sample_data_root)
    coco['images'][0]['mos'] = 'high'
    with pytest.raises(ValueError, match='has mos='):
        EvalMuseHeatmapDataset(
            ann_file=_write(tmp_path, coco), pipeline=PIPELINE)
    with pytest.raises(ValueError, match='not a COCO file'):
        EvalMuseHeatmapDataset(
            ann_file=_write(tmp_path, [1, 2]), pipeline=PIPELINE)
    with pytest.raises(ValueError, match='min_annotators'):
        EvalMuseHeatmapDataset(
            ann_file='x.json', min_annotators=0, lazy_init=True)


def test_padding_is_ignored_not_counted():
    from struct_det.datasets.transforms import PackHeatmapInputs
    counts = np.array([[0, 1, 2, 3], [255, 255, 3, 0]], np.uint8)
    packed = PackHeatmapInputs()(
        dict(
            img=np.zeros((2, 4, 3), np.uint8),
            gt_seg_map=counts,
            num_annotators=3,
            min_annotators=2))
    sample = packed['data_samples']
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                  [[0, 0, 1, 1], [255, 255, 1, 0]])
    np.testing.assert_allclose(
        sample.gt_heatmap.data[0].numpy(),
        [[0, 1 / 3, 2 / 3, 1], [0, 0, 1, 0]],
        atol=1e-7)
    assert sample.gt_heatmap.data.dtype == torch.float32
