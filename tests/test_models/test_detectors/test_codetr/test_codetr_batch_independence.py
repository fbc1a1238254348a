"""Co-DINO: an image's prediction does not depend on the rest of its batch.

For every test-time branch (``eval_module`` 'detr', 'one-stage',
'two-stage'), with and without the instance-mask branch, on the tiny config
(random init, dynamic padding): image A (128x128, the batch shape) is
predicted alone, first and second in a batch, and beside a neighbour of
another size and content; image B (96x128, so padded in every batch) alone
on the padded canvas, first and second in a batch, and beside a changed A.
Each image's predictions must agree to float noise. Masks are compared soft
(``mask_thr_binary=-1``: the pasted probabilities as uint8), which shows any
change of the mask logits instead of only those that cross 0.5.

Not covered, because it holds for no mmdet detector (DINO included): an
image that is padded in a batch but not alone. Its backbone sees the
padding near the bottom/right border, and its valid region on a coarse
feature map is not the unpadded image's map; on this random-init model B's
boxes move by up to ~90 px between alone-unpadded and padded (the top-k
changes). The shipped configs pad every image to the same fixed size (LSJ),
where this cannot happen.
"""
import pytest
import torch

CANVAS = (128, 128)
ORI_SCALE = 1.5  # original images are 1.5x the network input
BOX_TOL = 1e-3  # px, in the original image
SCORE_TOL = 1e-5
MASK_TOL = 1.0  # soft masks are uint8 probabilities: one rounding step


def _pixels(h: int, w: int, seed: int) -> torch.Tensor:
    """A normalised network input of one image (no padding)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((3, h, w), generator=gen)


def _batch(images, canvas=None):
    """Zero-padded batch and its samples, as DetDataPreprocessor makes."""
    from mmdet.structures import DetDataSample
    if canvas is None:
        canvas = (max(img.shape[1] for img in images),
                  max(img.shape[2] for img in images))
    inputs = torch.zeros((len(images), 3) + tuple(canvas))
    samples = []
    for idx, img in enumerate(images):
        h, w = img.shape[1:]
        inputs[idx, :, :h, :w] = img
        ori = (round(h * ORI_SCALE), round(w * ORI_SCALE))
        samples.append(
            DetDataSample(
                metainfo=dict(
                    img_id=idx,
                    img_shape=(h, w),
                    ori_shape=ori,
                    pad_shape=tuple(canvas),
                    batch_input_shape=tuple(canvas),
                    scale_factor=(w / ori[1], h / ori[0]))))
    return inputs, samples


def _predict(model, images, canvas=None):
    inputs, samples = _batch(images, canvas)
    with torch.no_grad():
        results = model.predict(inputs, samples, rescale=True)
    return [sample.pred_instances for sample in results]


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
                                                 instance_deviation_fn):
    model = models[with_mask]
    model.eval_module = eval_module
    try:
        a, a_changed = _pixels(128, 128, 0), _pixels(128, 128, 1)
        b, other = _pixels(96, 128, 2), _pixels(112, 96, 3)
        image_a = {
            'A alone': _predict(model, [a])[0],
            'A first beside B': _predict(model, [a, b])[0],
            'A second beside B': _predict(model, [b, a])[1],
            'A beside another neighbour (112x96)':
            _predict(model, [a, other])[0],
        }
        image_b = {
            'B alone on the padded canvas':
            _predict(model, [b], canvas=CANVAS)[0],
            'B second beside A': _predict(model, [a, b])[1],
            'B first beside A': _predict(model, [b, a])[0],
            'B beside a changed A': _predict(model, [a_changed, b])[1],
        }
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
    assert not failures, (
        f'eval_module={eval_module!r}, '
        f'{"with" if with_mask else "without"} masks:\n' +
        '\n'.join(failures))
