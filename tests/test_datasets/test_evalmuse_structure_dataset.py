import json
import os.path as osp

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from pycocotools import mask as mask_utils

import struct_det  # noqa: F401

init_default_scope('mmdet')

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'mos', 'prompt')),
]


def build(root, ann, img='train/images/', **kwargs):
    return DATASETS.build(
        dict(
            type='EvalMuseStructureDataset',
            data_root=root,
            ann_file=f'annotations/{ann}',
            data_prefix=dict(img=img),
            test_mode=True,
            pipeline=PIPELINE,
            **kwargs))


def test_samples_carry_mos_prompt_and_consensus_masks(sample_data_root):
    dataset = build(sample_data_root, 'evalmuse_val.json')
    with open(osp.join(sample_data_root, 'annotations',
                       'evalmuse_val.json')) as f:
        coco = json.load(f)
    assert dataset.metainfo['classes'] == ('distortion', )
    assert len(dataset) == len(coco['images'])
    checked_distorted = checked_clean = False
    for idx in range(len(dataset)):
        image = coco['images'][idx]
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        if (anns and checked_distorted) or (not anns and checked_clean):
            continue
        sample = dataset[idx]['data_samples']
        assert sample.metainfo['mos'] == pytest.approx(image['mos'])
        assert sample.metainfo['prompt'] == image['prompt']
        masks = sample.gt_instances.masks.to_ndarray()
        assert masks.shape[1:] == (image['height'], image['width'])
        expected = np.zeros((image['height'], image['width']), np.uint8)
        for ann in anns:
            expected |= mask_utils.decode(ann['segmentation'])
        np.testing.assert_array_equal(
            masks.any(0) if len(masks) else expected * 0, expected)
        assert (sample.gt_instances.labels == 0).all()
        checked_distorted |= bool(anns)
        checked_clean |= not anns
    assert checked_distorted and checked_clean


def test_unlabeled_split_has_no_mos(sample_data_root):
    dataset = build(sample_data_root, 'evalmuse_test.json', img='test/images/')
    info = dataset.get_data_info(0)
    assert info['mos'] is None and info['instances'] == []
    assert isinstance(info['prompt'], str) and info['prompt']


def test_bad_mos_names_the_file_and_image(sample_data_root, tmp_path):
    with open(osp.join(sample_data_root, 'annotations',
                       'evalmuse_val.json')) as f:
        coco = json.load(f)
    coco['images'][0]['mos'] = 'n/a'
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'bad.json').write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=coco['images'][0]['file_name']):
        DATASETS.build(
            dict(
                type='EvalMuseStructureDataset',
                data_root=str(tmp_path),
                ann_file='annotations/bad.json',
                data_prefix=dict(img=''),
                test_mode=True,
                pipeline=[]))
