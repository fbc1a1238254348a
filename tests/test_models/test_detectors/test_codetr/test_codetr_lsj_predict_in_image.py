"""With LSJ the predicted boxes stay in the image, not in the padding around
it.

mmdet's ``Pad`` sets ``img_shape`` to the padded square, so clamping boxes to
``img_shape`` let boxes that lie in the padding survive; rescaled to the
original image they lie outside it, and pasting such a box's mask crashes on
CPU (mmdet pastes box by box there and ``torch.arange`` gets an empty range the
wrong way round).
"""
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from .conftest import build_tiny_model


def _sample():
    # a 200 x 100 (h x w) image resized by 0.64 to 128 x 64, padded to 128 x
    # 128
    sample = DetDataSample()
    sample.set_metainfo(
        dict(
            ori_shape=(200, 100),
            img_shape=(128, 128),
            pad_shape=(128, 128),
            batch_input_shape=(128, 128),
            scale_factor=(0.64, 0.64),
            img_id=0,
            img_path='x.jpg'))
    return sample


def test_boxes_in_the_padding_are_clipped_to_the_image(monkeypatch):
    model = build_tiny_model(use_lsj=True).eval()
    # inside the 64 px wide image
    boxes = torch.tensor([
        [4.0, 6.0, 40.0, 50.0],
        [80.0, 10.0, 120.0, 60.0],  # wholly in the padding
        # across the image's right edge
        [50.0, 100.0, 90.0, 127.0]
    ])

    def head_predict(*args, **kwargs):
        return [
            InstanceData(
                bboxes=boxes.clone(),
                scores=torch.tensor([0.9, 0.8, 0.7]),
                labels=torch.zeros(3, dtype=torch.long))
        ]

    monkeypatch.setattr(model.bbox_head, 'predict', head_predict)
    with torch.no_grad():
        (result, ) = model.predict(
            torch.zeros(1, 3, 128, 128), [_sample()], rescale=True)
    pred = result.pred_instances
    assert pred.masks.shape[-2:] == (200, 100)
    assert (pred.bboxes[:, 0::2] <= 100 +
            1e-3).all() and (pred.bboxes[:, 1::2] <= 200 + 1e-3).all()
    # the inside box is only rescaled; the padding one is squeezed onto the
    # right edge
    torch.testing.assert_close(pred.bboxes[0], boxes[0] / 0.64)
    assert pred.bboxes[1, 0] == pred.bboxes[1, 2] == 100
    torch.testing.assert_close(pred.bboxes[2],
                               torch.tensor([50.0, 100.0, 64.0, 127.0]) / 0.64)


def test_the_image_extent_comes_from_the_resize():
    from struct_det.models.detectors.codetr.codetr import CoDETR
    assert CoDETR._resized_image_shape(_sample().metainfo) == (128, 64)
    # without a resize factor the image shape is all there is
    assert CoDETR._resized_image_shape(
        dict(img_shape=(96, 80), ori_shape=(96, 80))) == (96, 80)
