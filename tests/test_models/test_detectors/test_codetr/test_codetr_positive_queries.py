"""Customized positive queries: selection, padding, targets, isolation."""
import pytest
import torch
from mmengine.structures import InstanceData


def _generator(**kwargs):
    from struct_det.models.detectors.codetr import PositiveQueryGenerator
    cfg = dict(
        num_groups=1,
        embed_dims=16,
        num_classes=1,
        max_queries_per_group=4,
        min_queries_per_group=2)
    cfg.update(kwargs)
    torch.manual_seed(0)
    gen = PositiveQueryGenerator(**cfg)
    gen.init_weights()
    return gen


def _positives(priors, labels, targets):
    return InstanceData(
        priors=torch.tensor(priors, dtype=torch.float32),
        labels=torch.tensor(labels),
        bboxes=torch.tensor(targets, dtype=torch.float32))


META = [dict(img_shape=(100, 200)), dict(img_shape=(100, 200))]


def test_targets_are_normalised_cxcywh_of_the_assigned_boxes():
    gen = _generator()
    img0 = _positives([[0, 0, 100, 50], [50, 50, 150, 100], [0, 0, 10, 10]],
                      [0, 1, 0],
                      [[10, 10, 110, 60], [0, 0, 0, 0], [0, 0, 20, 20]])
    img1 = _positives([[20, 20, 60, 60]], [0], [[20, 30, 60, 70]])
    query, ref, meta = gen([[img0, img1]], META)
    # two positives in img0 -> group length max(2, min 2) = 2
    assert meta['group_sizes'] == [2] and meta['num_queries'] == 2
    assert query.shape == (2, 2, 16) and ref.shape == (2, 2, 4)
    labels, weights = meta['labels'][0], meta['bbox_weights'][0]
    assert labels[0].tolist() == [0, 0]
    # img1: its positive, then the only other choice is padding
    assert labels[1].tolist() == [0, 1]
    assert meta['label_weights'][0][1].tolist() == [1.0, 0.0]
    assert weights[1].tolist() == [[1.0] * 4, [0.0] * 4]
    # reference = prior, target = assigned box, as (cx, cy, w, h) / image
    expected_ref = {(0.25, 0.25, 0.5, 0.5), (0.025, 0.05, 0.05, 0.1)}
    got_ref = {tuple(round(v, 4) for v in r) for r in ref[0].tolist()}
    assert got_ref == expected_ref
    order = [tuple(round(v, 4) for v in r) for r in ref[0].tolist()]
    target_of = {
        (0.25, 0.25, 0.5, 0.5): [0.3, 0.35, 0.5, 0.5],
        (0.025, 0.05, 0.05, 0.1): [0.05, 0.1, 0.1, 0.2]
    }
    for row, key in enumerate(order):
        torch.testing.assert_close(meta['bbox_targets'][0][0, row],
                                   torch.tensor(target_of[key]))
    torch.testing.assert_close(ref[1, 0], torch.tensor([.2, .4, .2, .4]))
    torch.testing.assert_close(meta['bbox_targets'][0][1, 0],
                               torch.tensor([.2, .5, .2, .4]))


def test_padding_uses_negatives_then_subsamples_positives():
    gen = _generator(max_queries_per_group=3, min_queries_per_group=3)
    many = _positives([[0, 0, 10, 10]] * 5 + [[5, 5, 20, 20]] * 4,
                      [0] * 5 + [1] * 4, [[0, 0, 10, 10]] * 9)
    few = _positives([[0, 0, 10, 10], [5, 5, 20, 20], [5, 5, 30, 30]],
                     [0, 1, 1], [[0, 0, 10, 10]] * 3)
    _, _, meta = gen([[many, few]], META)
    labels = meta['labels'][0]
    assert meta['group_sizes'] == [3]
    assert labels[0].tolist() == [0, 0, 0]  # 5 positives capped at 3
    assert labels[1].tolist() == [0, 1, 1]  # 1 positive + 2 negatives
    assert meta['label_weights'][0].min() == 1  # no dummy queries needed


def test_query_content_depends_on_the_box_and_the_group():
    gen = _generator(num_groups=2)
    boxes = torch.tensor([[[.5, .5, .2, .2], [.1, .8, .3, .1]]])
    q0 = gen.embed_boxes(boxes, 0)
    q1 = gen.embed_boxes(boxes, 1)
    assert q0.shape == (1, 2, 16)
    assert not torch.allclose(q0[0, 0], q0[0, 1])
    assert not torch.allclose(q0, q1)


def test_wrong_number_of_groups_is_explained():
    gen = _generator(num_groups=2)
    with pytest.raises(ValueError, match='num_groups'):
        gen([[_positives([[0, 0, 1, 1]], [0], [[0, 0, 1, 1]])] * 2], META)
    with pytest.raises(ValueError, match='min_queries_per_group'):
        _generator(max_queries_per_group=1, min_queries_per_group=2)


def test_attn_mask_isolates_groups():
    from struct_det.models.detectors.codetr import positive_query_attn_mask
    base = torch.tensor([[False, True], [False, False]])
    mask = positive_query_attn_mask(base, 2, [2, 1], torch.device('cpu'))
    expected = torch.tensor([
        [0, 1, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [1, 1, 0, 0, 1],
        [1, 1, 0, 0, 1],
        [1, 1, 1, 1, 0],
    ],
                            dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_one_decoder_pass_equals_separate_passes(model_factory):
    """Appending the groups with the block mask changes nothing for DINO's
    queries, and each group decodes as if it were alone."""
    from struct_det.models.detectors.codetr import positive_query_attn_mask
    model = model_factory()
    model.eval()
    decoder = model.decoder
    torch.manual_seed(0)
    bs, dim = 2, model.embed_dims
    # the decoder's cross-attention is built for the model's 4 levels
    spatial_shapes = torch.tensor([(8, 8), (4, 4), (2, 2), (1, 1)])
    level_start_index = torch.tensor([0, 64, 80, 84])
    value = torch.randn(bs, 85, dim)
    valid_ratios = torch.ones(bs, 4, 2)
    sizes = [6, 3, 4]  # base queries, group 0, group 1
    query = torch.randn(bs, sum(sizes), dim)
    refs = torch.rand(bs, sum(sizes), 4) * 0.5 + 0.25
    base_mask = torch.zeros(6, 6, dtype=torch.bool)
    base_mask[:3, 3:] = True  # some DINO-like structure

    def run(q, r, mask):
        states, references = decoder(
            query=q,
            value=value,
            key_padding_mask=None,
            self_attn_mask=mask,
            reference_points=r,
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=valid_ratios,
            reg_branches=model.bbox_head.reg_branches)
        return states, references

    with torch.no_grad():
        joint, joint_refs = run(
            query, refs,
            positive_query_attn_mask(base_mask, 6, sizes[1:], query.device))
        alone = [run(query[:, :6], refs[:, :6], base_mask)]
        alone.append(run(query[:, 6:9], refs[:, 6:9], None))
        alone.append(run(query[:, 9:], refs[:, 9:], None))
    starts = [0, 6, 9, 13]
    for part, (states, references) in enumerate(alone):
        sl = slice(starts[part], starts[part + 1])
        torch.testing.assert_close(joint[:, :, sl], states)
        torch.testing.assert_close(joint_refs[:, :, sl], references)


@pytest.mark.parametrize('clamp', [False, True])
def test_priors_larger_than_the_image_stay_raw_unless_clamped(clamp):
    """The reference keeps an ATSS anchor larger than the image as the
    query's reference (normalised w, h > 1); ``clamp_references`` clips."""
    gen = _generator(clamp_references=clamp)
    # a 400x300 anchor centred in a 200x100 image, and an inner one
    positives = _positives([[-100, -100, 300, 200], [20, 20, 60, 60]], [0, 0],
                           [[0, 0, 200, 100], [20, 30, 60, 70]])
    _, ref, meta = gen([[positives, positives]], META)
    big = torch.tensor([.5, .5, 2., 3.])
    expected = big.clamp(0, 1) if clamp else big
    rows = {tuple(round(v, 4) for v in r) for r in ref[0].tolist()}
    assert tuple(expected.tolist()) in rows
    assert (0.2, 0.4, 0.2, 0.4) in rows
    # the content embedding clamps either way: both settings embed alike
    torch.testing.assert_close(
        gen.embed_boxes(big.view(1, 1, 4), 0),
        gen.embed_boxes(big.clamp(0, 1).view(1, 1, 4), 0))
