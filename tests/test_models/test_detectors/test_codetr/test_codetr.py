"""CoDETR on the tiny config: losses, query groups, eval branches, masks."""
import copy

import pytest
import torch

DETR_LOSSES = ('loss_cls', 'loss_bbox', 'loss_iou', 'd0.loss_cls',
               'd0.loss_bbox', 'd0.loss_iou', 'enc_loss_cls', 'enc_loss_bbox',
               'enc_loss_iou')
DN_LOSSES = ('dn_loss_cls', 'dn_loss_bbox', 'dn_loss_iou', 'd0.dn_loss_cls',
             'd0.dn_loss_bbox', 'd0.dn_loss_iou')
# RPN, then the RoI head (aux0, with the mask branch), then ATSS (aux1)
AUX_LOSSES = ('loss_rpn_cls', 'loss_rpn_bbox', 'aux0_loss_cls',
              'aux0_loss_bbox', 'aux0_loss_mask', 'aux1_loss_cls',
              'aux1_loss_bbox', 'aux1_loss_centerness')
POS_LOSSES = tuple(f'{layer}pos{g}_loss_{kind}' for g in (0, 1)
                   for layer in ('', 'd0.') for kind in ('cls', 'bbox', 'iou'))


def _values(loss):
    return loss if isinstance(loss, (list, tuple)) else [loss]


def _total(losses):
    return sum(v.sum() for name, loss in losses.items() if 'loss' in name
               for v in _values(loss))


def _components(mask: torch.Tensor) -> int:
    """Connected components of the 'may attend' graph of a self-attn mask."""
    visible = ~mask
    visible = visible | visible.T
    n = mask.size(0)
    seen = torch.zeros(n, dtype=torch.bool)
    count = 0
    for start in range(n):
        if seen[start]:
            continue
        count += 1
        frontier = torch.zeros(n, dtype=torch.bool)
        frontier[start] = True
        while True:
            reach = frontier | visible[frontier].any(0)
            if torch.equal(reach, frontier):
                break
            frontier = reach
        seen |= frontier
    return count


def test_every_loss_is_finite(tiny_model, batch_factory):
    tiny_model.train()
    inputs, samples = batch_factory()
    losses = tiny_model.loss(inputs, samples)
    expected = DETR_LOSSES + DN_LOSSES + AUX_LOSSES + POS_LOSSES
    missing = [name for name in expected if name not in losses]
    assert not missing, f'missing losses {missing} in {sorted(losses)}'
    for name, loss in losses.items():
        for value in _values(loss):
            assert torch.isfinite(value).all(), f'{name} = {value}'
    # the positive groups are trained on real positives
    assert float(losses['pos0_loss_bbox']) > 0
    assert float(losses['pos1_loss_bbox']) > 0


def test_losses_reach_every_trainable_part(model_factory, batch_factory):
    model = model_factory()
    model.train()
    inputs, samples = batch_factory()
    _total(model.loss(inputs, samples)).backward()
    for name in ('encoder', 'decoder', 'aux_downsample', 'pos_query_generator',
                 'rpn_head', 'roi_head', 'aux_bbox_head', 'dn_query_generator',
                 'query_embedding'):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_positive_losses_use_their_weight(model_factory, batch_factory):
    inputs, samples = batch_factory()
    results = {}
    for weight in (1.0, 3.0):
        model = model_factory(
            bbox_head=dict(pos_query_loss_weight=[weight, 1.0]))
        model.train()
        torch.manual_seed(1)
        results[weight] = model.loss(inputs, copy.deepcopy(samples))
    for kind in ('cls', 'bbox', 'iou'):
        torch.testing.assert_close(results[3.0][f'pos0_loss_{kind}'],
                                   3 * results[1.0][f'pos0_loss_{kind}'])
        torch.testing.assert_close(results[3.0][f'pos1_loss_{kind}'],
                                   results[1.0][f'pos1_loss_{kind}'])
    torch.testing.assert_close(results[3.0]['loss_cls'],
                               results[1.0]['loss_cls'])


def test_decoder_query_groups_are_one_plus_aux_heads(tiny_model,
                                                     batch_factory):
    tiny_model.train()
    inputs, samples = batch_factory()
    seen = {}

    def capture(module, args, kwargs):
        seen['mask'] = kwargs['self_attn_mask']
        seen['num_queries'] = kwargs['query'].size(1)

    handle = tiny_model.decoder.register_forward_pre_hook(
        capture, with_kwargs=True)
    try:
        tiny_model.loss(inputs, samples)
    finally:
        handle.remove()
    assert tiny_model.num_aux_heads == 2
    mask = seen['mask']
    assert mask.shape == (seen['num_queries'], seen['num_queries'])
    # DINO's denoising + matching queries form one group (the denoising
    # groups all see the matching queries); every auxiliary head adds one.
    assert _components(mask) == 1 + tiny_model.num_aux_heads


def test_no_positive_groups_when_disabled(model_factory, batch_factory):
    model = model_factory(with_pos_queries=False)
    model.train()
    inputs, samples = batch_factory()
    losses = model.loss(inputs, samples)
    assert not any('pos' in name for name in losses)
    assert 'aux1_loss_centerness' in losses and 'aux0_loss_mask' in losses


@pytest.mark.parametrize('num_gts', [(0, 2), (0, 0)])
def test_images_without_distortions(tiny_model, batch_factory, num_gts):
    tiny_model.train()
    inputs, samples = batch_factory(num_gts=num_gts)
    losses = tiny_model.loss(inputs, samples)
    for name, loss in losses.items():
        for value in _values(loss):
            assert torch.isfinite(value).all(), f'{name} = {value}'
    _total(losses).backward()


@pytest.mark.parametrize('eval_module', ['detr', 'one-stage', 'two-stage'])
def test_every_eval_module_predicts_masks_of_the_image_size(
        tiny_model, batch_factory, eval_module):
    tiny_model.eval()
    tiny_model.eval_module = eval_module
    try:
        inputs, samples = batch_factory(ori_scale=2.0)
        with torch.no_grad():
            results = tiny_model.predict(inputs, samples, rescale=True)
    finally:
        tiny_model.eval_module = 'detr'
    for sample in results:
        pred = sample.pred_instances
        ori_h, ori_w = sample.ori_shape
        num = len(pred)
        assert num > 0
        assert pred.bboxes.shape == (num, 4)
        assert pred.scores.shape == (num, ) and pred.labels.shape == (num, )
        assert (pred.labels == 0).all()
        assert pred.masks.shape == (num, ori_h, ori_w)
        assert pred.masks.dtype == torch.bool
        # boxes are in the original image: inside it (up to rounding)
        assert float(pred.bboxes[:, 2].max()) <= ori_w + 1e-3
        assert float(pred.bboxes[:, 3].max()) <= ori_h + 1e-3
        if eval_module == 'detr':
            assert num <= tiny_model.num_queries


def test_detr_boxes_match_the_detr_head(tiny_model, batch_factory):
    """Without masks and with rescale the boxes are the head's own output."""
    tiny_model.eval()
    inputs, samples = batch_factory(ori_scale=2.0)
    with torch.no_grad():
        with_masks = tiny_model.predict(inputs, copy.deepcopy(samples))
        head_inputs = tiny_model.forward_transformer(
            tiny_model.extract_feat(inputs), samples)
        direct = tiny_model.bbox_head.predict(
            **head_inputs, rescale=True, batch_data_samples=samples)
    for sample, res in zip(with_masks, direct):
        torch.testing.assert_close(sample.pred_instances.bboxes, res.bboxes)
        torch.testing.assert_close(sample.pred_instances.scores, res.scores)


def test_box_only_model_has_no_masks(model_factory, batch_factory):
    # the model's config merges these into the tiny config's RoI head
    roi_head = dict(mask_roi_extractor=None, mask_head=None)
    model = model_factory(roi_head=roi_head)
    assert not model.with_mask
    model.train()
    inputs, samples = batch_factory()
    assert 'aux0_loss_mask' not in model.loss(inputs, samples)
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert 'masks' not in results[0].pred_instances


def test_lsj_uses_the_padded_shape_and_restores_it(model_factory,
                                                   batch_factory):
    model = model_factory(use_lsj=True)
    inputs, samples = batch_factory(img_shapes=((128, 128), (96, 128)))
    seen = []
    original = model.pre_transformer

    def spy(img_feats, batch_data_samples):
        seen.extend(s.img_shape for s in batch_data_samples)
        return original(img_feats, batch_data_samples)

    model.pre_transformer = spy
    model.train()
    losses = model.loss(inputs, samples)
    assert all(
        torch.isfinite(v).all() for n, loss in losses.items()
        for v in _values(loss))
    assert seen == [(128, 128), (128, 128)]
    assert [s.img_shape for s in samples] == [(128, 128), (96, 128)]
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert results[1].img_shape == (96, 128)
    assert results[1].pred_instances.masks.shape[1:] == (96, 128)


def test_tensor_mode_forward(tiny_model, batch_factory):
    tiny_model.eval()
    inputs, samples = batch_factory()
    with torch.no_grad():
        cls_scores, bbox_preds = tiny_model(inputs, samples, mode='tensor')
    num_layers = tiny_model.decoder.num_layers
    assert cls_scores.shape == (num_layers, 2, tiny_model.num_queries, 1)
    assert bbox_preds.shape == (num_layers, 2, tiny_model.num_queries, 4)


def test_aux_heads_do_not_run_at_test_time(tiny_model, batch_factory):
    tiny_model.eval()
    calls = []
    hooks = [
        head.register_forward_hook(lambda *args: calls.append(1))
        for head in [tiny_model.rpn_head, *tiny_model.aux_bbox_head]
    ] + [
        tiny_model.roi_head[0].bbox_head.register_forward_hook(
            lambda *args: calls.append(1))
    ]
    try:
        inputs, samples = batch_factory()
        with torch.no_grad():
            tiny_model.predict(inputs, samples)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == []


@pytest.mark.parametrize('overrides, message', [
    (dict(eval_module='rcnn'), 'eval_module'),
    (dict(eval_module='one-stage', eval_index=1), 'eval_index'),
    (dict(train_cfg=dict(assigner=dict(type='HungarianAssigner'))),
     'train_cfg'),
    (dict(rpn_head=None), 'rpn_head and roi_head'),
])
def test_config_errors_are_explained(model_factory, overrides, message):
    with pytest.raises(ValueError, match=message):
        model_factory(**overrides)


def test_plain_heads_need_pos_queries_disabled(model_factory,
                                               tiny_cfg_factory):
    dense = tiny_cfg_factory().aux_bbox_head
    dense.atss.type = 'ATSSHead'
    with pytest.raises(TypeError, match='with_pos_queries=False'):
        model_factory(aux_bbox_head=dense)
    model = model_factory(aux_bbox_head=dense, with_pos_queries=False)
    assert model.pos_query_generator is None
