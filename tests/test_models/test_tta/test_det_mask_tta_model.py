"""DetMaskTTAModel and the instance merge it is built on, on synthetic views.
"""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from struct_det.models.tta import DetMaskTTAModel
from struct_det.models.tta.instance_merge import (mask_iou_matrix,
                                                  masks_to_boxes,
                                                  merge_instances)

H, W = 40, 60


class _EchoDetector(BaseModel):
    """Returns the predictions stored in the input samples (one per view)."""

    def forward(self, inputs, data_samples=None, mode='tensor'):
        raise NotImplementedError

    def test_step(self, data):
        return data['data_samples']


def _objects() -> np.ndarray:
    """Two asymmetric objects, so every flip moves them somewhere else."""
    masks = np.zeros((2, H, W), dtype=bool)
    # even coordinates: a 2x down/up-sampling reproduces them exactly
    masks[0, 4:14, 4:20] = True  # a bar near the top left
    masks[0, 14:24, 4:8] = True  # with a leg: an L
    masks[1, 22:36, 36:52] = True
    masks[1, 22:26, 52:58] = True
    return masks


def _np_boxes(masks: np.ndarray) -> np.ndarray:
    boxes = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _flip_np(masks: np.ndarray, direction: str) -> np.ndarray:
    if direction == 'horizontal':
        return masks[:, :, ::-1].copy()
    if direction == 'vertical':
        return masks[:, ::-1, :].copy()
    return masks[:, ::-1, ::-1].copy()


def _view(masks,
          scores,
          flip=False,
          direction=None,
          labels=None,
          with_masks=True,
          img_shape=(H, W),
          boxes=None) -> DetDataSample:
    """A prediction as a detector returns it for one augmented view."""
    sample = DetDataSample()
    sample.set_metainfo(
        dict(
            img_id=0,
            ori_shape=(H, W),
            img_shape=img_shape,
            flip=flip,
            flip_direction=direction))
    masks = np.asarray(masks, dtype=bool).reshape(-1, *np.shape(masks)[-2:])
    inst = InstanceData()
    inst.bboxes = torch.as_tensor(
        _np_boxes(masks) if boxes is None else np.asarray(boxes, np.float32))
    inst.scores = torch.as_tensor(scores, dtype=torch.float32)
    inst.labels = torch.as_tensor(
        np.zeros(len(masks)) if labels is None else labels).long()
    if with_masks:
        inst.masks = torch.as_tensor(masks)
    sample.pred_instances = inst
    return sample


def _flipped_view(masks, scores, direction, **kwargs) -> DetDataSample:
    """The prediction of a view flipped in ``direction``: ``masks`` (in the
    original frame) flipped as the detector sees them."""
    return _view(
        _flip_np(masks, direction),
        scores,
        flip=True,
        direction=direction,
        **kwargs)


def _empty_view() -> DetDataSample:
    return _view(
        np.zeros((0, H, W), bool), [], flip=True, direction='horizontal')


def _tta(**kwargs) -> DetMaskTTAModel:
    return DetMaskTTAModel(module=_EchoDetector(), **kwargs)


def _merge(views, **kwargs) -> InstanceData:
    return _tta(**kwargs).merge_preds([views])[0].pred_instances


def _instances(masks, scores, groups=None):
    inst = InstanceData()
    masks = torch.as_tensor(np.asarray(masks, bool))
    inst.masks = masks
    inst.bboxes = masks_to_boxes(masks)
    inst.scores = torch.as_tensor(scores, dtype=torch.float32)
    inst.labels = torch.zeros(len(scores), dtype=torch.long)
    return inst


# --------------------------------------------------------------- geometry
@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flipped_view_lands_on_the_unflipped_one(direction):
    masks = _objects()
    flipped = _flip_np(masks, direction)
    # the flipped prediction really is elsewhere before restoring
    assert not np.array_equal(flipped, masks)
    tta = _tta()
    restored = tta.restore_view(
        _view(flipped, [0.9, 0.6], flip=True, direction=direction))
    assert torch.equal(restored.masks, torch.as_tensor(masks))
    torch.testing.assert_close(restored.bboxes,
                               torch.as_tensor(_np_boxes(masks)))


def test_all_flips_merge_into_the_original_instances():
    masks = _objects()
    views = [_view(masks, [0.9, 0.6])] + [
        _flipped_view(masks, [0.8, 0.5], d)
        for d in ('horizontal', 'vertical', 'diagonal')
    ]
    for mode in ('nms', 'mask_nms', 'mask_vote', 'wbf'):
        merged = _merge(views, merge_mode=mode)
        assert len(merged) == 2, mode
        order = torch.argsort(merged.bboxes[:, 0])
        assert torch.equal(merged.masks[order], torch.as_tensor(masks)), mode
        torch.testing.assert_close(merged.bboxes[order],
                                   torch.as_tensor(_np_boxes(masks)))


def test_boxes_only_views_are_unflipped_too():
    """Co-DETR without a mask branch: box NMS after un-flipping."""
    boxes = np.array([[4, 5, 20, 25], [35, 22, 58, 36]], np.float32)
    flipped = boxes.copy()
    flipped[:, [0, 2]] = W - boxes[:, [2, 0]]
    views = [
        _view(np.zeros((2, H, W)), [0.9, 0.6], boxes=boxes, with_masks=False),
        _view(
            np.zeros((2, H, W)), [0.7, 0.8],
            boxes=flipped,
            flip=True,
            direction='horizontal',
            with_masks=False),
    ]
    merged = _merge(views, merge_mode='mask_nms')
    assert 'masks' not in merged
    assert len(merged) == 2
    order = torch.argsort(merged.bboxes[:, 0])
    torch.testing.assert_close(merged.bboxes[order], torch.as_tensor(boxes))
    # each survivor keeps the best score among its duplicates
    torch.testing.assert_close(merged.scores[order], torch.tensor([0.9, 0.8]))


def test_multi_scale_views_merge_at_the_original_size():
    masks = _objects()
    # a view predicted at half resolution (masks and boxes in that frame),
    # flipped there; and a view at double resolution
    half = masks[:, ::2, ::2]
    double = masks.repeat(2, axis=1).repeat(2, axis=2)
    views = [
        _flipped_view(
            half, [0.9, 0.6], 'horizontal', img_shape=(H // 2, W // 2)),
        _view(double, [0.8, 0.7], img_shape=(2 * H, 2 * W)),
    ]
    tta = _tta(merge_mode='mask_vote')
    for view in views:
        restored = tta.restore_view(view)
        assert tuple(restored.masks.shape[-2:]) == (H, W)
    merged = tta.merge_preds([views])[0].pred_instances
    assert tuple(merged.masks.shape) == (2, H, W)
    order = torch.argsort(merged.bboxes[:, 0])
    assert torch.equal(merged.masks[order], torch.as_tensor(masks))
    torch.testing.assert_close(merged.bboxes[order],
                               torch.as_tensor(_np_boxes(masks)))


# --------------------------------------------------------------- empty views
@pytest.mark.parametrize('mode',
                         ['union', 'nms', 'mask_nms', 'mask_vote', 'wbf'])
def test_an_empty_view_changes_nothing(mode):
    masks = _objects()
    shifted = np.roll(masks, 2, axis=2)
    views = [
        _view(masks, [0.9, 0.6]),
        _flipped_view(shifted, [0.7, 0.5], 'horizontal')
    ]
    without = _merge(views, merge_mode=mode)
    with_empty = _merge(views + [_empty_view()], merge_mode=mode)
    assert len(without) == len(with_empty) > 0
    for key in ('bboxes', 'scores', 'labels', 'masks'):
        torch.testing.assert_close(without.get(key), with_empty.get(key))


def test_only_empty_views_give_an_empty_prediction_at_original_size():
    merged = _merge([_empty_view(), _empty_view()])
    assert len(merged) == 0
    assert tuple(merged.masks.shape) == (0, H, W)


def test_mean_all_counts_a_view_that_missed_as_zero():
    masks = _objects()
    views = [_view(masks, [0.9, 0.6]), _view(masks, [0.7, 0.4])]
    merged = _merge(views, merge_mode='mask_vote', score_mode='mean_all')
    with_empty = _merge(
        views + [_empty_view()], merge_mode='mask_vote', score_mode='mean_all')
    torch.testing.assert_close(merged.scores, torch.tensor([0.8, 0.5]))
    torch.testing.assert_close(with_empty.scores,
                               torch.tensor([0.8, 0.5]) * 2 / 3)


# --------------------------------------------------------------- merge modes
def _twins():
    """Two masks with the same box but no common pixel (two triangles)."""
    yy, xx = np.mgrid[0:H, 0:W]
    box = (yy >= 10) & (yy < 30) & (xx >= 10) & (xx < 30)
    upper = box & (xx - 10 > yy - 10)
    lower = box & ~upper
    return upper, lower


def test_nms_uses_boxes_and_mask_nms_uses_masks():
    upper, lower = _twins()
    views = [_view([upper], [0.9]), _view([lower], [0.8])]
    assert mask_iou_matrix(torch.as_tensor(np.stack([upper, lower])))[0,
                                                                      1] == 0
    by_box = _merge(views, merge_mode='nms')
    by_mask = _merge(views, merge_mode='mask_nms')
    assert len(by_box) == 1
    assert torch.equal(by_box.masks[0], torch.as_tensor(upper))
    assert by_box.scores.tolist() == pytest.approx([0.9])
    assert len(by_mask) == 2
    assert by_mask.scores.tolist() == pytest.approx([0.9, 0.8])


def test_mask_vote_keeps_pixels_most_views_agree_on():
    base = np.zeros((H, W), bool)
    base[10:30, 10:30] = True
    candidates = [np.roll(base, s, axis=1) for s in (0, 3, 6)]
    views = [_view([m], [0.6]) for m in candidates]
    merged = _merge(views, merge_mode='mask_vote', iou_thr=0.3)
    assert len(merged) == 1
    # equal scores: a pixel stays when >= half of the views cover it
    expected = np.sum(candidates, axis=0) >= 2
    assert torch.equal(merged.masks[0], torch.as_tensor(expected))
    torch.testing.assert_close(merged.bboxes[0],
                               torch.as_tensor(_np_boxes(expected[None])[0]))
    assert merged.scores.tolist() == pytest.approx([0.6])


def test_mask_vote_weights_pixels_by_score():
    a = np.zeros((H, W), bool)
    a[10:30, 10:30] = True
    b = np.zeros((H, W), bool)
    b[10:30, 10:34] = True
    merged = _merge([_view([a], [0.9]), _view([b], [0.3])],
                    merge_mode='mask_vote')
    # columns 30..33 only have 0.3 / 1.2 = 25 % of the weight
    assert torch.equal(merged.masks[0], torch.as_tensor(a))
    assert merged.scores.tolist() == pytest.approx([0.6])
    top = _merge([_view([a], [0.9]), _view([b], [0.3])],
                 merge_mode='mask_vote',
                 score_mode='max')
    assert top.scores.tolist() == pytest.approx([0.9])


def test_wbf_averages_boxes_by_score():
    boxes = np.array([[10, 10, 30, 30], [12, 10, 32, 30]], np.float32)
    views = [
        _view(np.zeros((1, H, W)), [0.75], boxes=boxes[:1], with_masks=False),
        _view(np.zeros((1, H, W)), [0.25], boxes=boxes[1:], with_masks=False),
    ]
    merged = _merge(views, merge_mode='wbf')
    expected = 0.75 * boxes[0] + 0.25 * boxes[1]
    torch.testing.assert_close(merged.bboxes[0], torch.as_tensor(expected))
    assert merged.scores.tolist() == pytest.approx([0.5])


def test_union_keeps_everything_sorted():
    masks = _objects()
    merged = _merge([_view(masks, [0.5, 0.9]),
                     _view(masks, [0.7, 0.1])],
                    merge_mode='union')
    assert merged.scores.tolist() == pytest.approx([0.9, 0.7, 0.5, 0.1])


def test_labels_merge_only_with_their_own_class():
    masks = _objects()[:1]
    views = [_view(masks, [0.9], labels=[0]), _view(masks, [0.8], labels=[1])]
    assert len(_merge(views, merge_mode='mask_nms')) == 2
    assert len(_merge(views, merge_mode='mask_nms', class_agnostic=True)) == 1


def test_score_thr_and_max_per_img():
    masks = _objects()
    views = [_view(masks, [0.9, 0.04])]
    assert _merge(
        views, score_thr=0.05).scores.tolist() == pytest.approx([0.9])
    assert len(_merge(views, max_per_img=1)) == 1


def test_nms_matches_classic_greedy_nms():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=gen) * 40
    wh = torch.rand(60, 2, generator=gen) * 20 + 2
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = torch.rand(60, generator=gen)
    inst = InstanceData(
        bboxes=boxes, scores=scores, labels=torch.zeros(60, dtype=torch.long))
    merged = merge_instances(inst, mode='nms', iou_thr=0.3)
    # reference: textbook greedy NMS
    order = torch.argsort(scores, descending=True).tolist()
    iou = bbox_overlaps(boxes, boxes)
    keep = []
    for idx in order:
        if all(iou[idx, k] <= 0.3 for k in keep):
            keep.append(idx)
    torch.testing.assert_close(merged.bboxes, boxes[keep])


def _brute_force_iou(masks):
    flat = masks.reshape(len(masks), -1).numpy()
    inter = (flat[:, None] & flat[None]).sum(-1)
    union = (flat[:, None] | flat[None]).sum(-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 0)


def test_mask_iou_of_scattered_blobs_matches_brute_force():
    """Separate, chained and empty masks: grouping by box overlap is exact."""
    gen = torch.Generator().manual_seed(2)
    masks = torch.zeros(25, 60, 80, dtype=torch.bool)
    for idx in range(24):  # the last mask stays empty
        y, x = torch.randint(0, 50, (1, ), generator=gen).item(), \
            torch.randint(0, 70, (1, ), generator=gen).item()
        h, w = torch.randint(2, 12, (2, ), generator=gen).tolist()
        blob = torch.rand(h, w, generator=gen) > 0.3
        masks[idx, y:y + h, x:x + w] = blob[:60 - y, :80 - x]
    np.testing.assert_allclose(
        mask_iou_matrix(masks).numpy(), _brute_force_iou(masks), rtol=1e-6)


def test_mask_iou_is_exact_and_chunked(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    masks = torch.rand(7, 9, 11, generator=gen) > 0.5
    import struct_det.models.tta.instance_merge as merge_module
    monkeypatch.setattr(merge_module, '_MASK_IOU_CHUNK_ELEMS', 2 * 99)
    np.testing.assert_allclose(
        mask_iou_matrix(masks).numpy(), _brute_force_iou(masks), rtol=1e-6)


# --------------------------------------------------------------- plumbing
def test_test_step_runs_views_and_returns_one_sample_per_image():
    masks = _objects()
    views_img0 = [
        _view(masks, [0.9, 0.6]),
        _flipped_view(masks, [0.8, 0.5], 'vertical')
    ]
    views_img1 = [_view(masks[:1], [0.7]), _empty_view()]
    # BaseTTAModel layout: [view][image]
    data = dict(
        inputs=[[torch.zeros(3, H, W)] * 2, [torch.zeros(3, H, W)] * 2],
        data_samples=[[views_img0[0], views_img1[0]],
                      [views_img0[1], views_img1[1]]])
    results = _tta(merge_mode='mask_nms').test_step(data)
    assert len(results) == 2
    assert len(results[0].pred_instances) == 2
    assert len(results[1].pred_instances) == 1
    assert results[0].metainfo['flip'] is False


def test_mmdet_style_tta_cfg_is_accepted():
    tta = _tta(
        tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.65), max_per_img=7))
    assert tta.iou_thr == 0.65 and tta.max_per_img == 7


@pytest.mark.parametrize('kwargs, error', [
    (dict(merge_mode='average'), ValueError),
    (dict(score_mode='median'), ValueError),
    (dict(iou_thr=1.5), ValueError),
    (dict(tta_cfg=dict(nms_thr=0.5)), TypeError),
])
def test_bad_settings_are_refused(kwargs, error):
    with pytest.raises(error):
        _tta(**kwargs)


def test_missing_flip_direction_and_wrong_view_weights_are_explained():
    view = _view(_objects(), [0.9, 0.6], flip=True, direction=None)
    with pytest.raises(KeyError, match='flip_direction'):
        _tta().merge_preds([[view]])
    with pytest.raises(ValueError, match='view_weights'):
        _tta(view_weights=[1, 1, 1]).merge_preds(
            [[_view(_objects(), [0.9, 0.6])]])
