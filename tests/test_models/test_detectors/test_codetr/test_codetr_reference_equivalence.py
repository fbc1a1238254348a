"""Co-DINO against the reference (mmdetection ``projects/CO-DETR``) on shared
weights.

A state dict laid out as the reference's modules (``query_head.transformer.
...``, ``bbox_head.0`` for ATSS; built synthetically as in the converter
test) is converted and loaded. Every output is then compared with an
independent computation of what the reference computes:

* DETR branch and its losses: mmdet's ``DINO`` with the same weights, its
  head inverting the references at the reference's eps (1e-3), then the
  reference's score threshold and soft-NMS.
* Auxiliary heads (ATSS, RPN + RoI, the mask branch) at test time and in
  training, and the RoI head's gradient into the encoder: the same heads on
  maps built per image from the encoder memory as fresh contiguous tensors
  (one image at a time at test time). The RoI features themselves are
  checked against torchvision's RoIAlign on the image's own map at the level
  the extractor's rule picks.
* Positive-query groups: one decoder pass per group with no other queries
  (the reference's ``forward_aux``), references = the raw priors (ATSS
  anchors larger than the image included), content = the reference's sine
  embedding, losses written out as the reference's ``loss_single_aux``.

Randomness (RPN/RoI sampling, denoising noise) is the same in both
computations: the RPN and the denoising generator reseed when they start.
Image 0 has a full-image ground-truth box, whose normalised width and height
of 1 are where the inverse-sigmoid eps matters.
"""
import copy
import functools
import logging
import math
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from tests.test_models.test_detectors.test_codetr.test_codetr_checkpoint_converter import \
    reference_key_pairs  # noqa: E501

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(HERE))))
R50 = osp.join(REPO, 'configs', 'codetr',
               'co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py')
CANVAS = (64, 96)
SHAPES = ((64, 96), (48, 96))
GT_BOXES = ([[0., 0., 96., 64.], [10., 8., 50., 40.]], [[30., 10., 80., 40.]])
ORI_SCALE = 1.5
RPN_SEED, DN_SEED = 11, 13
REFERENCE_EPS = 1e-3


def compact_cfg():
    """The R50 config at 256 dims (mmdet's DINO needs 256) with a thin
    ResNet-18, one encoder and two decoder layers, 20 queries and smaller
    samplers; the shipped test-time score threshold and soft-NMS."""
    cfg = Config.fromfile(R50).model
    cfg.use_lsj = False
    cfg.num_queries = 20
    cfg.backbone.update(depth=18, base_channels=16, init_cfg=None)
    cfg.neck.in_channels = [16, 32, 64, 128]
    cfg.encoder.num_layers = 1
    cfg.decoder.num_layers = 2
    cfg.dn_cfg.group_cfg.num_dn_queries = 10
    cfg.roi_head.bbox_head.fc_out_channels = 128
    cfg.roi_head.mask_head.num_convs = 1
    cfg.roi_head.mask_head.conv_out_channels = 64
    train_cfg = cfg.train_cfg
    train_cfg.rpn.sampler.num = 64
    train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    train_cfg.rcnn.sampler.num = 64
    assert cfg.test_cfg.detr.score_thr == 0.05
    assert cfg.test_cfg.detr.nms.type == 'soft_nms'
    cfg.test_cfg.detr.max_per_img = 20  # DINO's top-k: at most num_queries
    cfg.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    return cfg


def _build(cfg, seed):
    from mmdet.registry import MODELS

    import struct_det.models.detectors  # noqa: F401
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg))
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


@pytest.fixture(scope='module')
def shared():
    """(ours, dino): CoDETR and mmdet DINO holding the converted weights."""
    from mmdet.registry import MODELS

    from struct_det.models.detectors.codetr import convert_codetr_state_dict
    from struct_det.testing import dino_counterpart_cfg
    init_default_scope('mmdet')
    cfg = compact_cfg()
    donor = _build(cfg, seed=1)
    state = donor.state_dict()
    source = OrderedDict()
    gen = torch.Generator().manual_seed(3)
    for src, dst in reference_key_pairs(donor):
        value = state[dst].clone()
        if src.startswith('query_head.cls_branches.') and \
                src.endswith('.bias'):
            # scores near 0.5 instead of 0.01: queries pass the shipped
            # score threshold and soft-NMS has overlaps to decay
            value.zero_()
        if src.startswith('query_head.reg_branches.') and \
                src.endswith('.4.weight'):
            # box deltas instead of mmdet's zero init: refined references
            # reach within 1e-3 of 0 and 1, where the eps matters
            value = 0.5 * torch.randn(value.shape, generator=gen)
        source[src] = value
    result = convert_codetr_state_dict(source)
    assert result.unconverted == [] and result.dropped == []
    ours = _build(cfg, seed=2)
    ours.load_state_dict(result.state_dict, strict=True)
    dino = MODELS.build(dino_counterpart_cfg(cfg))
    missing, _ = dino.load_state_dict(result.state_dict, strict=False)
    assert missing == []
    assert ours.bbox_head.inverse_sigmoid_eps == REFERENCE_EPS
    return ours.eval(), dino.eval()


def _batch():
    """Two images of different sizes (one padded), boxes and masks."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(0)
    inputs = torch.zeros((len(SHAPES), 3) + CANVAS)
    samples = []
    for idx, ((h, w), boxes) in enumerate(zip(SHAPES, GT_BOXES)):
        inputs[idx, :, :h, :w] = torch.randn((3, h, w), generator=gen)
        ori = (round(h * ORI_SCALE), round(w * ORI_SCALE))
        sample = DetDataSample(
            metainfo=dict(
                img_id=idx,
                img_shape=(h, w),
                ori_shape=ori,
                pad_shape=CANVAS,
                batch_input_shape=CANVAS,
                scale_factor=(w / ori[1], h / ori[0])))
        bboxes = torch.tensor(boxes)
        masks = np.zeros((len(boxes), h, w), dtype=np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(bboxes.long().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        sample.gt_instances = InstanceData(
            bboxes=bboxes,
            labels=torch.zeros(len(boxes), dtype=torch.long),
            masks=BitmapMasks(masks, h, w))
        samples.append(sample)
    return inputs, samples


@contextmanager
def _reference_eps():
    """mmdet's DETR head inverting its references at the reference's eps."""
    import mmdet.models.dense_heads.deformable_detr_head as detr_head
    original = detr_head.inverse_sigmoid
    detr_head.inverse_sigmoid = functools.partial(original, eps=REFERENCE_EPS)
    try:
        yield
    finally:
        detr_head.inverse_sigmoid = original


@contextmanager
def _seeded(*modules, seed):
    """Reseed torch whenever one of ``modules`` starts a forward."""

    def reseed(*_):
        torch.manual_seed(seed)  # returns None: the inputs stay as they are

    handles = [m.register_forward_pre_hook(reseed) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _seeded_denoising(seed):
    """Reseed torch whenever a denoising generator starts (mmdet's
    ``CdnQueryGenerator`` is called through ``__call__``, not ``forward``,
    so module hooks do not see it)."""
    from mmdet.models.layers import CdnQueryGenerator
    original = CdnQueryGenerator.__call__

    def seeded(self, *args, **kwargs):
        torch.manual_seed(seed)
        return original(self, *args, **kwargs)

    CdnQueryGenerator.__call__ = seeded
    try:
        yield
    finally:
        CdnQueryGenerator.__call__ = original


def _encoder(dino, inputs, samples):
    """mmdet DINO's encoder: memory, decoder inputs and level shapes."""
    img_feats = dino.extract_feat(inputs)
    encoder_inputs, decoder_inputs = dino.pre_transformer(img_feats, samples)
    memory = dino.forward_encoder(**encoder_inputs)['memory']
    return memory, decoder_inputs, [tuple(f.shape[-2:]) for f in img_feats]


def _own_maps(memory, shapes, img_id, downsample):
    """Image ``img_id``'s auxiliary maps, each a fresh contiguous tensor
    holding only that image's memory (+ the downsampled extra level)."""
    dim = memory.size(-1)
    maps, start = [], 0
    for h, w in shapes:
        tokens = memory[img_id, start:start + h * w]  # (h * w, dim)
        maps.append(tokens.t().contiguous().view(1, dim, h, w))
        start += h * w
    maps.append(downsample(maps[-1]))
    return maps


def _batch_maps(memory, shapes, downsample):
    per_image = [
        _own_maps(memory, shapes, i, downsample) for i in range(len(memory))
    ]
    return tuple(torch.cat(level) for level in zip(*per_image))


def _close(a, b, **kwargs):
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        # a loss normalised by a synced avg_factor has shape (1,)
        torch.testing.assert_close(x.reshape(-1), y.reshape(-1), **kwargs)


def _within(dev, box_tol=1e-3, score_tol=1e-5):
    return ('count' not in dev and 'mask_shape' not in dev
            and dev['labels'] == 0 and dev['bboxes'] <= box_tol
            and dev['scores'] <= score_tol
            and dev.get('mask_frac', 0.0) <= 1e-3)


# ------------------------------------------------------------ RoI features
def test_roi_features_come_from_each_images_own_map(shared):
    import torchvision
    ours, _ = shared
    inputs, samples = _batch()
    extractor = ours.roi_head[0].bbox_roi_extractor
    num_levels = extractor.num_inputs
    strides = extractor.featmap_strides
    # boxes of every extractor level (up to 500 px), in both images
    boxes = torch.tensor([[4., 4., 20., 18.], [10., 5., 90., 60.],
                          [-40., -30., 120., 100.], [-100., -90., 180., 170.],
                          [-200., -200., 300., 290.]])
    rois = torch.cat([
        torch.cat([torch.full((len(boxes), 1), float(i)), boxes], 1)
        for i in range(len(SHAPES))
    ])
    with torch.no_grad():
        img_feats = ours.extract_feat(inputs)
        encoder_inputs, _ = ours.pre_transformer(img_feats, samples)
        memory = ours.forward_encoder(**encoder_inputs)['memory']
        aux_feats = ours.memory_to_aux_feats(memory, img_feats)
        got = extractor(aux_feats[:num_levels], rois)
        shapes = [tuple(f.shape[-2:]) for f in img_feats]
        levels = set()
        for k, roi in enumerate(rois):
            img_id = int(roi[0])
            x1, y1, x2, y2 = roi[1:].tolist()
            # mmdet's level rule, scale = sqrt(area) against finest_scale
            scale = math.sqrt((x2 - x1) * (y2 - y1))
            level = min(
                max(
                    math.floor(
                        math.log2(scale / extractor.finest_scale + 1e-6)), 0),
                num_levels - 1)
            levels.add(level)
            own = _own_maps(memory, shapes, img_id, ours.aux_downsample)[level]
            expected = torchvision.ops.roi_align(
                own, [roi[None, 1:]],
                output_size=7,
                spatial_scale=1.0 / strides[level],
                sampling_ratio=0,
                aligned=True)
            torch.testing.assert_close(
                got[k:k + 1],
                expected,
                atol=1e-5,
                rtol=1e-4,
                msg=lambda m: f'RoI {k} (image {img_id}, level {level}): {m}')
    assert len(levels) >= 3, levels


# ------------------------------------------------------------ eval branches
def _reference_detr_postprocess(results, test_cfg):
    """The reference's decoding after DINO's top-k: score threshold, then
    (soft-)NMS whose decayed scores are the new scores."""
    from mmcv.ops import batched_nms
    results = results[results.scores > test_cfg['score_thr']]
    if len(results) == 0:
        return results
    dets, keep = batched_nms(results.bboxes, results.scores, results.labels,
                             test_cfg['nms'])
    results = results[keep]
    results.scores = dets[:, -1]
    return results


@pytest.mark.parametrize('eval_module', ['detr', 'one-stage', 'two-stage'])
def test_every_eval_branch_matches_the_reference(shared, eval_module,
                                                 instance_deviation_fn):
    ours, dino = shared
    inputs, samples = _batch()
    ours.eval_module = eval_module
    try:
        with torch.no_grad():
            got = ours.predict(inputs, copy.deepcopy(samples), rescale=True)
    finally:
        ours.eval_module = 'detr'
    roi_head = ours.roi_head[0]
    with torch.no_grad():
        memory, _, shapes = _encoder(dino, inputs, samples)
        if eval_module == 'detr':
            with _reference_eps():
                detr = dino.predict(
                    inputs, copy.deepcopy(samples), rescale=False)
        for img_id, sample in enumerate(samples):
            feats = _own_maps(memory, shapes, img_id, ours.aux_downsample)
            meta = sample.metainfo
            if eval_module == 'detr':
                boxes = _reference_detr_postprocess(
                    detr[img_id].pred_instances, ours.bbox_head.test_cfg)
            elif eval_module == 'one-stage':
                boxes = ours.aux_bbox_head[0].predict(
                    feats, [sample], rescale=False)[0]
            else:
                proposals = ours.rpn_head.predict(
                    feats, [sample], rescale=False)
                boxes = roi_head.predict_bbox(
                    feats, [meta], proposals, roi_head.test_cfg,
                    rescale=False)[0]
            assert len(boxes) > 0, f'{eval_module}: nothing to compare'
            # masks on the branch's boxes; rescales the boxes as well
            expected = roi_head.predict_mask(
                feats, [meta], [boxes], rescale=True)[0]
            dev = instance_deviation_fn(got[img_id].pred_instances, expected)
            assert _within(dev), f'{eval_module}, image {img_id}: {dev}'


def test_head_inverts_references_at_the_reference_eps(shared):
    """A reference at 0 or 1 is clamped to [1e-3, 1 - 1e-3] before the
    regression deltas are added (mmdet's DINOHead clamps at 1e-5)."""
    ours, _ = shared
    head = ours.bbox_head
    dim = head.embed_dims
    states = torch.randn((2, 1, 3, dim))
    refs = torch.tensor([[[0.5, 0.5, 1.0, 1.0], [0.0, 1.0, 0.2, 0.0],
                          [0.3, 0.6, 0.2, 0.4]]])
    references = [refs, refs.flip(-1)]
    with torch.no_grad():
        cls, boxes = head(states, references)
        for layer in range(2):
            ref = references[layer].clamp(REFERENCE_EPS, 1 - REFERENCE_EPS)
            logit = torch.log(ref / (1 - ref))
            delta = head.reg_branches[layer](states[layer])
            torch.testing.assert_close(boxes[layer], (delta + logit).sigmoid())
            torch.testing.assert_close(cls[layer],
                                       head.cls_branches[layer](states[layer]))


# ------------------------------------------------------------ training
def _sine_embedding(boxes, num_feats, temperature=10000):
    """The reference's proposal embedding of normalised boxes: the logit of
    each coordinate clamped to [0, 1] at eps 1e-5, sin/cos features."""
    x = boxes.clamp(0, 1)
    logit = torch.log(x.clamp(min=1e-5) / (1 - x).clamp(min=1e-5))
    dim_t = torch.arange(num_feats, dtype=torch.float32)
    dim_t = temperature**(2 * (dim_t // 2) / num_feats)
    pos = logit.sigmoid()[..., None] * (2 * math.pi) / dim_t
    pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), -1)
    return pos.flatten(-3)


def _reference_group_losses(head, cls_scores, bbox_preds, labels,
                            label_weights, bbox_targets, bbox_weights, metas):
    """The reference's ``loss_single_aux`` for one decoder layer."""
    from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_overlaps
    bs, num = labels.shape
    labels = labels.reshape(-1)
    label_weights = label_weights.reshape(-1)
    bbox_targets = bbox_targets.reshape(-1, 4)
    bbox_weights = bbox_weights.reshape(-1, 4)
    cls_scores = cls_scores.reshape(-1, head.cls_out_channels)
    bbox_preds = bbox_preds.reshape(-1, 4)
    pos = ((labels >= 0) & (labels < head.num_classes)).nonzero().squeeze(1)
    num_pos = pos.numel()
    cls_avg_factor = max(num_pos + (bs * num - num_pos) * head.bg_cls_weight,
                         1)
    quality = label_weights.new_zeros(labels.shape)
    quality[pos] = bbox_overlaps(
        bbox_cxcywh_to_xyxy(bbox_preds[pos]).detach(),
        bbox_cxcywh_to_xyxy(bbox_targets[pos]),
        is_aligned=True)
    loss_cls = head.loss_cls(
        cls_scores, (labels, quality),
        weight=label_weights,
        avg_factor=cls_avg_factor)
    num_total_pos = max(num_pos, 1)
    factors = torch.cat([
        bbox_preds.new_tensor([w, h, w, h]).repeat(num, 1)
        for h, w in (meta['img_shape'] for meta in metas)
    ])
    loss_iou = head.loss_iou(
        bbox_cxcywh_to_xyxy(bbox_preds) * factors,
        bbox_cxcywh_to_xyxy(bbox_targets) * factors,
        bbox_weights,
        avg_factor=num_total_pos)
    loss_bbox = head.loss_bbox(
        bbox_preds, bbox_targets, bbox_weights, avg_factor=num_total_pos)
    return dict(cls=loss_cls, bbox=loss_bbox, iou=loss_iou)


def test_every_training_loss_matches_the_reference(shared):
    from mmdet.models.dense_heads import ATSSHead
    from mmdet.models.roi_heads import StandardRoIHead
    ours, dino = shared
    inputs, samples = _batch()
    metas = [s.metainfo for s in samples]
    captured = {}
    hooks = [
        ours.encoder.register_forward_hook(
            lambda m, a, out: captured.setdefault('memory', out)),
        ours.pos_query_generator.register_forward_hook(
            lambda m, args, out: captured.update(
                positives=args[0], pos_out=out)),
    ]
    ours.train()
    dino.train()
    try:
        with _seeded(ours.rpn_head, seed=RPN_SEED), \
                _seeded_denoising(seed=DN_SEED):
            losses = ours.loss(inputs, copy.deepcopy(samples))
            with _reference_eps():
                detr_losses = dino.loss(inputs, copy.deepcopy(samples))
            mmdet_eps_losses = dino.loss(inputs, copy.deepcopy(samples))

            # --- the auxiliary heads on per-image contiguous maps
            memory, decoder_inputs, shapes = _encoder(dino, inputs, samples)
            torch.testing.assert_close(captured['memory'], memory)
            memory = memory.detach().requires_grad_()
            feats = _batch_maps(memory, shapes, ours.aux_downsample)
            rpn_losses, proposals = ours.rpn_head.loss_and_predict(
                feats,
                copy.deepcopy(samples),
                proposal_cfg=ours.stage_train_cfgs[1]['rpn_proposal'])
            roi_losses = StandardRoIHead.loss(ours.roi_head[0],
                                              feats, proposals,
                                              copy.deepcopy(samples))
            atss = ours.aux_bbox_head[0]
            atss_losses = ATSSHead.loss_by_feat(
                atss, *atss(feats), [s.gt_instances for s in samples], metas)
    finally:
        for hook in hooks:
            hook.remove()
        ours.eval()
        dino.eval()

    # DETR: matching, denoising and encoder losses
    assert set(detr_losses) <= set(losses), sorted(
        set(detr_losses) - set(losses))
    for name, value in detr_losses.items():
        _close(losses[name], value, msg=lambda m, n=name: f'{n}: {m}')
    # ... and the eps matters here (mmdet's 1e-5 gives other losses)
    differs = [
        name for name in detr_losses if not torch.allclose(
            detr_losses[name], mmdet_eps_losses[name], rtol=1e-4, atol=1e-6)
    ]
    assert differs, 'eps 1e-5 and 1e-3 agree: the test cannot tell them apart'

    # RPN, RoI head (boxes + masks), ATSS
    pairs = [(f'loss_rpn_{k}', rpn_losses[f'loss_rpn_{k}'])
             for k in ('cls', 'bbox')]
    pairs += [(f'aux0_{k}', v) for k, v in roi_losses.items()]
    pairs += [(f'aux1_{k}', v) for k, v in atss_losses.items()]
    assert {'aux0_loss_cls', 'aux0_acc', 'aux0_loss_bbox',
            'aux0_loss_mask'} <= {name
                                  for name, _ in pairs}
    for name, value in pairs:
        _close(losses[name], value, msg=lambda m, n=name: f'{n}: {m}')
    # the RoI head's gradient into the encoder memory
    roi_total = sum(v for k, v in roi_losses.items() if 'loss' in k)
    expected_grad, = torch.autograd.grad(roi_total, memory)
    ours_total = sum(v for k, v in losses.items() if k.startswith('aux0_loss'))
    got_grad, = torch.autograd.grad(ours_total, captured['memory'])
    assert expected_grad.abs().sum() > 0
    torch.testing.assert_close(got_grad, expected_grad, atol=1e-7, rtol=1e-4)

    # positive-query groups, one separate decoder pass each
    pos_query, pos_reference, meta = captured['pos_out']
    head = dino.bbox_head
    start = 0
    raw_outside = False
    pos_eps_differs = []
    for group, size in enumerate(meta['group_sizes']):
        sl = slice(start, start + size)
        refs = pos_reference[:, sl]
        labels = meta['labels'][group]
        weights = meta['label_weights'][group]
        for img_id, positives in enumerate(captured['positives'][group]):
            h, w = metas[img_id]['img_shape']
            x1, y1, x2, y2 = positives.priors.unbind(-1)
            raw = torch.stack([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h,
                               (x2 - x1) / w, (y2 - y1) / h], -1)
            used = weights[img_id] > 0
            # every query starts at one of the head's own priors, unclamped
            dist = (refs[img_id, used][:, None] - raw[None]).abs().amax(-1)
            assert float(dist.min(1).values.max()) < 1e-6
            is_pos = (positives.labels >= 0) & (positives.labels < 1)
            assert int((labels[img_id]
                        < 1).sum()) == min(int(is_pos.sum()), size)
            raw_outside |= bool(
                ((refs[img_id, used] < 0) | (refs[img_id, used] > 1)).any())
        content = ours.pos_query_generator.pos_trans_norm[group](
            ours.pos_query_generator.pos_trans[group](_sine_embedding(
                refs, head.embed_dims // 2)))
        torch.testing.assert_close(pos_query[:, sl], content)
        with torch.no_grad():
            states, references = dino.decoder(
                query=content,
                value=memory.detach(),
                key_padding_mask=decoder_inputs['memory_mask'],
                self_attn_mask=None,
                reference_points=refs,
                spatial_shapes=decoder_inputs['spatial_shapes'],
                level_start_index=decoder_inputs['level_start_index'],
                valid_ratios=decoder_inputs['valid_ratios'],
                reg_branches=head.reg_branches)
            num_layers = states.size(0)
            for layer in range(num_layers):
                prefix = '' if layer == num_layers - 1 else f'd{layer}.'
                for eps in (REFERENCE_EPS, 1e-5):
                    ref = references[layer].clamp(eps, 1 - eps)
                    boxes = (head.reg_branches[layer](states[layer]) +
                             torch.log(ref / (1 - ref))).sigmoid()
                    expected = _reference_group_losses(
                        head, head.cls_branches[layer](states[layer]), boxes,
                        labels, weights, meta['bbox_targets'][group],
                        meta['bbox_weights'][group], metas)
                    for kind, value in expected.items():
                        name = f'{prefix}pos{group}_loss_{kind}'
                        if eps == REFERENCE_EPS:
                            _close(
                                losses[name].detach(),
                                value,
                                rtol=1e-4,
                                atol=1e-5,
                                msg=lambda m, n=name: f'{n}: {m}')
                        elif not torch.allclose(
                                losses[name].detach().reshape(-1),
                                value.reshape(-1),
                                rtol=1e-4,
                                atol=1e-5):
                            pos_eps_differs.append(name)
        start += size
    # the full-image box (an RoI positive) is where the eps matters
    assert any(
        name.startswith(('pos0', 'd0.pos0'))
        for name in pos_eps_differs), pos_eps_differs
    assert raw_outside, 'no prior outside the image: the raw-anchor case ' \
        'was not exercised'
