"""PillowResize: the antialiased resize of the LoDa reference (torchvision
Resize on PIL)."""
import cv2
import numpy as np
import pytest
import torchvision.transforms as T
from PIL import Image

from struct_det.datasets.transforms import PillowResize, short_side_size


def _real_sized_image(height=682, width=1024):
    """A textured photo-like image (gradients, edges, fine stripes) of
    EvalMuse's size."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * 255 // width), (yy * 255 // height),
                    (127 + 120 * np.sin(xx / 3.0) * np.cos(yy / 5.0))], -1)
    img = img + rng.normal(0, 12, img.shape)
    cv2.circle(img, (400, 300), 120, (255, 30, 30), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize('interpolation,mode',
                         [('bilinear', T.InterpolationMode.BILINEAR),
                          ('bicubic', T.InterpolationMode.BICUBIC)])
def test_matches_torchvision_resize_on_pil_exactly(interpolation, mode,
                                                   tmp_path):
    bgr = _real_sized_image()
    out = PillowResize(384, interpolation)(dict(img=bgr, img_path='x.jpg'))
    # The reference: PIL image in RGB, torchvision's Resize(384), back to BGR.
    expected = np.asarray(
        T.Resize(384, interpolation=mode)(Image.fromarray(bgr[:, :, ::-1])))
    np.testing.assert_array_equal(out['img'], expected[:, :, ::-1])
    assert out['img'].shape == (384, 576, 3) and out['img_shape'] == (384, 576)
    assert out['scale_factor'] == (576 / 1024, 384 / 682) and out['keep_ratio']
    # What it replaces differs visibly: cv2's bilinear resize does not
    # antialias.
    cv2_img = cv2.resize(bgr, (576, 384), interpolation=cv2.INTER_LINEAR)
    assert np.abs(cv2_img.astype(int) - out['img']).mean() > 1.0


def test_size_rule_is_torchvision_s():
    for h, w in [(682, 1024), (1024, 682), (1024, 1024), (577, 1023),
                 (384, 500), (100, 99)]:
        size = T.Resize(384)(Image.new('RGB', (w, h))).size  # (w, h)
        assert short_side_size(h, w, 384) == (size[1], size[0]), (h, w)


def test_grey_exact_size_and_errors():
    grey = _real_sized_image()[:, :, 0]
    out = PillowResize((100, 50), 'lanczos')(dict(img=grey))
    expected = np.asarray(
        Image.fromarray(grey).resize((100, 50), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(out['img'], expected)
    assert not out['keep_ratio']
    same = _real_sized_image(384, 500)
    assert PillowResize(384)(dict(img=same))['img'] is same  # already at size
    with pytest.raises(ValueError, match='interpolation'):
        PillowResize(384, 'area')
    with pytest.raises(ValueError, match=r'uint8.*float64.*f\.jpg'):
        PillowResize(384)(dict(img=np.zeros((8, 8, 3)), img_path='f.jpg'))
