"""Fusion of a heatmap tier with an instance tier, on hand-made inputs."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData
from mmseg.structures import SegDataSample

import struct_det  # noqa: F401  registers the modules
from struct_det.models.assessors import StructureAssessor
from struct_det.models.assessors.region_fusion import (fuse_regions,
                                                       mask_instances)

H = W = 20


def _instances(boxes):
    """Box-shaped instances with masks, score 0.9."""
    masks = torch.zeros((len(boxes), H, W), dtype=torch.bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        masks[i, y1:y2, x1:x2] = True
    inst = InstanceData()
    inst.masks = masks
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.scores = torch.full((len(boxes), ), 0.9)
    inst.labels = torch.zeros(len(boxes), dtype=torch.long)
    return inst


@pytest.fixture
def tiers():
    """A heatmap blob under instance A, nothing under instance B, a heat-only
    blob C.
    """
    heat = torch.zeros(H, W)
    heat[2:8, 2:8] = 0.9  # supports A
    heat[14:18, 1:4] = 0.8  # region C: no instance
    return _instances([(2, 2, 8, 8), (12, 12, 18, 18)]), heat


def _union_any(inst, shape):
    return inst.masks.any(0) if len(inst) else torch.zeros(
        shape, dtype=torch.bool)


def _union(inst):
    return inst.masks.any(0) if len(inst) else torch.zeros(
        H, W, dtype=torch.bool)


def test_gated_drops_the_unsupported_instance_union_keeps_it(tiers):
    inst, heat = tiers
    gated = fuse_regions(inst, heat, mode='gated', gate_thr=0.5)
    assert len(gated) == 1
    torch.testing.assert_close(gated.bboxes, inst.bboxes[:1])
    union = fuse_regions(inst, heat, mode='union', heatmap_thr=0.5)
    # A, B and the heatmap's two blobs (one lies under A)
    assert len(union) == 4
    expected = inst.masks.any(0) | (heat > 0.5)
    torch.testing.assert_close(_union(union), expected)
    # B (no heatmap support) is still there, unchanged
    assert any(torch.equal(m, inst.masks[1]) for m in union.masks)


def test_union_counts_each_heatmap_component_once(tiers):
    inst, heat = tiers
    union = fuse_regions(inst, heat, mode='union', heatmap_thr=0.5)
    heat_only = fuse_regions(inst, heat, mode='heatmap', heatmap_thr=0.5)
    assert len(heat_only) == 2 and len(union) == len(inst) + len(heat_only)
    # heatmap regions score their mean heatmap
    assert sorted(heat_only.scores.tolist()) == pytest.approx([0.8, 0.9])
    assert fuse_regions(inst, heat, mode='instances') is inst


def test_vote_by_hand(tiers):
    inst, heat = tiers
    # equal weights: A's pixels (0.9 + 1) / 2 = 0.95; B only 0.5; C only 0.4
    vote = fuse_regions(inst, heat, mode='vote', vote_thr=0.5)
    assert len(vote) == 1
    torch.testing.assert_close(vote.masks[0], inst.masks[0])
    assert vote.scores[0].item() == pytest.approx(0.95)
    # trust the heatmap 3:1: C's pixels 3 * 0.8 / 4 = 0.6 pass, B's 1 / 4 do
    # not
    heavy = fuse_regions(
        inst, heat, mode='vote', vote_thr=0.5, heatmap_weight=3.0)
    expected = (3 * heat + inst.masks.any(0).float()) / 4 > 0.5
    torch.testing.assert_close(_union(heavy), expected)
    assert len(heavy) == 2


def test_mask_instances_components_and_bad_inputs():
    binary = np.zeros((6, 6), np.uint8)
    # diagonal neighbours: one 8-connected blob
    binary[0, 0] = binary[1, 1] = 1
    binary[4:6, 3:6] = 1
    scores = np.arange(36, dtype=np.float32).reshape(6, 6)
    inst = mask_instances(binary, scores)
    assert len(inst) == 2
    # higher mean first
    assert inst.bboxes.tolist() == [[3, 4, 6, 6], [0, 0, 2, 2]]
    assert inst.scores.tolist() == pytest.approx(
        [np.mean([27, 28, 29, 33, 34, 35]), 3.5])
    assert len(mask_instances(binary, scores, min_area=3)) == 1
    with pytest.raises(ValueError, match='needs a heatmap'):
        fuse_regions(_instances([]), None, mode='gated')
    with pytest.raises(ValueError, match='fusion mode'):
        fuse_regions(_instances([]), torch.zeros(H, W), mode='or')
    with pytest.raises(ValueError, match='differ in size'):
        fuse_regions(
            _instances([(0, 0, 2, 2)]), torch.zeros(H + 1, W), mode='gated')


# ------------------------------------------------------------------ the
# assessor
TINY_SEG = 'configs/tiny/heatmap-score_tiny_evalmuse-sample.py'


def _segmentor_member():
    cfg = Config.fromfile(TINY_SEG)
    return dict(
        model=copy.deepcopy(cfg.model),
        name='tiny heatmap',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=False),
            dict(type='PackHeatmapInputs')
        ])


def test_assessor_with_a_segmentor_alone_gives_regions_and_score():
    model = StructureAssessor(
        segmentors=[_segmentor_member()],
        fusion=dict(mode='heatmap', heatmap_thr=0.5))
    img = torch.randint(0, 255, (3, 50, 70), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=(50, 70), img_path='x.jpg'))
    out = model.test_step(dict(inputs=[img], data_samples=[sample]))[0]
    # the member alone on the same image, through its own pipeline
    data = model._segmentor_members[0].pipeline(
        dict(img=img.permute(1, 2, 0).numpy()))
    with torch.no_grad():
        direct = model.segmentors[0].test_step(pseudo_collate([data]))[0]
    assert out.pred_score.shape == (1, ) and 1 < float(out.pred_score) < 5
    assert float(out.pred_score) == pytest.approx(
        float(direct.pred_score), abs=1e-6)
    assert out.pred_instances.masks.shape[-2:] == (50, 70)
    torch.testing.assert_close(
        _union_any(out.pred_instances, (50, 70)), direct.seg_logits.data[0]
        > 0.5)


def test_assessor_member_checks():
    with pytest.raises(ValueError, match='at least one detector or segmentor'):
        StructureAssessor(regressor=None)
    member = _segmentor_member()
    member['model'] = dict(member['model'], score_head=None)
    with pytest.raises(ValueError, match='needs a score'):
        StructureAssessor(segmentors=[member])
    with pytest.raises(TypeError, match='fusion: unknown keys'):
        StructureAssessor(
            segmentors=[_segmentor_member()], fusion=dict(thr=0.5))
    with pytest.raises(ValueError, match='unknown fusion mode'):
        StructureAssessor(
            segmentors=[_segmentor_member()], fusion=dict(mode='and'))
