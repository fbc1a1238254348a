import json
import logging
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.logging import MMLogger

from struct_det.apis import StructureInferencer, list_images

DETECTOR = 'configs/tiny/mask2former_tiny_evalmuse-sample.py'


@pytest.fixture(scope='module')
def images(sample_data_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp('imgs')
    src = osp.join(sample_data_root, 'test', 'images')
    names = sorted(os.listdir(src))[:2]
    for name in names:
        os.symlink(osp.join(src, name), folder / name)
    (folder / 'corrupt.jpg').write_bytes(b'not a jpeg at all')
    return folder, names


class _Records(logging.Handler):

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_folder_with_a_corrupt_image_is_reported_and_skipped(
        repo_root, images):
    folder, names = images
    inferencer = StructureInferencer(
        osp.join(repo_root, DETECTOR), score_thr=0.0)
    # Read the reports from mmengine's logger itself: its stream handler keeps
    # the stdout of whichever test created it first, which capsys/capfd of this
    # test may not see.
    records = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        results = list(
            inferencer([str(folder), str(folder / 'missing.jpg')],
                       progress=False))
    finally:
        logger.removeHandler(records)
    assert [osp.basename(r['image']) for r in results] == names
    out = '\n'.join(records.messages)
    assert 'corrupt.jpg' in out and 'missing.jpg' in out
    for r in results:
        assert r['mask'].shape == (r['height'],
                                   r['width']) and r['mask'].dtype == np.uint8
        assert r['score'] is None  # a detector alone predicts no MOS
        # score_thr=0 keeps every instance: the mask is the union of their
        # masks.
        assert len(r['regions']) > 0 and r['mask'].any()
        for region in r['regions']:
            x1, y1, x2, y2 = region['bbox']
            assert 0 <= x1 <= x2 <= r['width'] and 0 <= y1 <= y2 <= r['height']


def test_threshold_filters_regions_and_lists_expand(repo_root, images):
    folder, names = images
    inferencer = StructureInferencer(
        osp.join(repo_root, DETECTOR), score_thr=1.01)
    result = inferencer.predict_one(str(folder / names[0]))
    assert result['regions'] == [] and not result['mask'].any()
    listing = folder / 'list.txt'
    listing.write_text('\n'.join(names) + '\n')
    assert list_images(str(listing)) == [str(folder / n) for n in names]
    rgb = np.zeros((40, 60, 3), np.uint8)
    assert inferencer.predict_one(rgb)['mask'].shape == (40, 60)


def test_infer_cli_writes_json_and_overlays(repo_root, images, tmp_path):
    folder, names = images
    out = tmp_path / 'out'
    proc = subprocess.run([
        sys.executable, 'tools/infer.py', DETECTOR,
        str(folder), '--out-dir',
        str(out), '--score-thr', '0.5'
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / 'results.json').read_text())
    assert [osp.basename(r['image']) for r in results] == names
    assert all(r['score_thr'] == 0.5 and 'mask_area' in r for r in results)
    assert all(osp.isfile(r['overlay']) for r in results)
    assert 'corrupt.jpg' in proc.stdout + proc.stderr


@pytest.mark.parametrize('tta', [False, True])
def test_pipeline_keeps_to_float32_of_the_mask2former_config(repo_root, tta):
    inferencer = StructureInferencer(osp.join(repo_root, DETECTOR), tta=tta)
    load = inferencer.pipeline.transforms[0]
    assert type(load).__name__ == 'LoadImageFromNDArray'
    assert load.to_float32
    names = [type(t).__name__ for t in inferencer.pipeline.transforms]
    assert 'LoadAnnotations' not in names
    loaded = load(dict(img=np.zeros((8, 8, 3), np.uint8)))
    assert loaded['img'].dtype == np.float32
