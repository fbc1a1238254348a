"""Co-DINO: an image's prediction does not depend on the rest of its batch.

For every test-time branch (``eval_module`` 'detr', 'one-stage', 'two-stage'),
with and without the instance-mask branch, on the tiny config (random init,
dynamic padding): image A (128x128, the batch shape) is predicted alone, first
and second in a batch, and beside a neighbour of another size and content;
image B (96x128, so padded in every batch) alone on the padded canvas, first
and second in a batch, and beside a changed A. Each image's predictions must
agree to float noise. Masks are compared soft (``mask_thr_binary=-1``: the
pasted probabilities as uint8), which shows any change of the mask logits
instead of only those that cross 0.5.

Not covered, because it holds for no mmdet detector (DINO included): an
image that is padded in a batch but not alone. Its backbone sees the
padding near the bottom/right border, and its valid region on a coarse
feature map is not the unpadded image's map; on this random-init model B's
boxes move by up to ~90 px between alone-unpadded and padded (the top-k
changes). The shipped configs pad every image to the same fixed size (LSJ),
where this cannot happen.
"""
import pytest

CANVAS = (128, 128)
ORI_SCALE = 1.5  # original images are 1.5x the network input
BOX_TOL = 1e-3  # px, in the original image
SCORE_TOL = 1e-5
MASK_TOL = 1.0  # soft masks are uint8 probabilities: one rounding step


def _within(dev: dict) -> bool:
    if 'count' in dev or 'mask_shape' in dev or dev['labels']:
        return False
    return (dev['bboxes'] <= BOX_TOL and dev['scores'] <= SCORE_TOL
            and dev.get('mask_abs', 0.0) <= MASK_TOL)


@pytest.fixture(scope='module')
def models(model_factory, tiny_cfg_factory):
    """The tiny Co-DINO with soft masks, and the same weights box-only."""
    test_cfg = tiny_cfg_factory().test_cfg
    test_cfg.rcnn.mask_thr_binary = -1
    with_masks = model_factory(test_cfg=test_cfg)
    # the model's config merges these into the tiny config's RoI head
    roi_head = dict(mask_roi_extractor=None, mask_head=None)
    boxes_only = model_factory(test_cfg=test_cfg, roi_head=roi_head)
    missing, unexpected = boxes_only.load_state_dict(
        with_masks.state_dict(), strict=False)
    assert missing == [] and all('mask_head' in k for k in unexpected)
    for model in (with_masks, boxes_only):
        model.eval()
    assert with_masks.with_mask and not boxes_only.with_mask
    return {True: with_masks, False: boxes_only}


@pytest.mark.parametrize('with_mask', [True, False], ids=['masks', 'boxes'])
@pytest.mark.parametrize('eval_module', ['detr', 'one-stage', 'two-stage'])
def test_prediction_does_not_depend_on_the_batch(models, eval_module,
                                                 with_mask,
                                                 instance_deviation_fn,
                                                 batch_placements_fn):
    model = models[with_mask]
    model.eval_module = eval_module
    try:
        image_a, image_b = batch_placements_fn(model, CANVAS, ORI_SCALE)
    finally:
        model.eval_module = 'detr'

    failures = []
    for cases in (image_a, image_b):
        (ref_name, ref), *others = cases.items()
        assert len(ref) > 0, f'{ref_name}: no predictions to compare'
        assert ('masks' in ref) == with_mask
        for name, pred in others:
            dev = instance_deviation_fn(ref, pred)
            if not _within(dev):
                failures.append(f'{name} vs {ref_name}: {dev}')
    assert not failures, (f'eval_module={eval_module!r}, '
                          f'{"with" if with_mask else "without"} masks:\n' +
                          '\n'.join(failures))
