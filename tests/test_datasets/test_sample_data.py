"""The bundled sample-data generator: layout, schema, determinism, labels."""
import json
import os
import os.path as osp
import re
import runpy
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import stats

from struct_det.datasets.converter import convert_evalmuse_structure
from struct_det.datasets.rasterize import consensus_mask, parse_bbox_info
from struct_det.testing import sample_data
from struct_det.testing.sample_data import (generate_sample_dataset,
                                            make_sample_record)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'misc', 'make_sample_data.py')
SMALL = dict(num_train=40, num_val=4, num_test=3, max_size=192)


def tree_bytes(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('sample') / 'evalmuse_sample')
    result = generate_sample_dataset(root, seed=0, **SMALL)
    return root, result


@pytest.fixture(scope='module')
def records():
    """120 labelled records with their planted truth (in memory)."""
    return [make_sample_record(0, 'train', i, 192) for i in range(120)]


def test_layout_and_schema(dataset):
    root, result = dataset
    assert result['generated'] and result['out_dir'] == root
    assert sorted(
        os.listdir(root)) == ['.sample_data.json', 'test', 'train', 'val']
    sizes = set()
    for split, num in (('train', 40), ('val', 4), ('test', 3)):
        assert sorted(os.listdir(osp.join(
            root, split))) == ['images', f'{split}_info.json']
        with open(osp.join(root, split, f'{split}_info.json')) as f:
            info = json.load(f)
        assert len(info) == num
        images = sorted(os.listdir(osp.join(root, split, 'images')))
        assert images == sorted(f'{k}.jpg' for k in info)
        for key, rec in info.items():
            assert re.fullmatch('[0-9a-f]{32}', key)
            assert isinstance(rec['prompt_en'], str) and rec['prompt_en']
            with Image.open(osp.join(root, split, 'images',
                                     f'{key}.jpg')) as img:
                assert img.format == 'JPEG' and img.mode == 'RGB'
                assert max(img.size) <= 192  # 256x256 scales to 128
                sizes.add(img.size)
            if split != 'train':
                assert list(rec) == ['prompt_en']
                continue
            assert list(rec) == ['prompt_en', 'mos', 'bbox_info']
            assert len(rec['bbox_info']) == 3
            for regions in rec['bbox_info']:
                for region in regions:
                    assert set(region) == {'bbox_type', 'bbox'}
                    if region['bbox_type'] == 1:
                        assert len(region['bbox']) == 2
                        assert all(
                            set(p) == {'x', 'y'} for p in region['bbox'])
                    else:
                        assert region['bbox_type'] == 2
                        assert all(len(v) == 2 for v in region['bbox'])
            parse_bbox_info(rec['bbox_info'])  # valid by the converter rules
    # varied sizes, non-square ones in both orientations
    assert len(sizes) >= 4
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    keys = [k for s in ('train', 'val', 'test') for k in result['planted'][s]]
    assert len(set(keys)) == len(keys)


def test_same_seed_gives_identical_files(dataset, tmp_path):
    root, _ = dataset
    again = str(tmp_path / 'again')
    generate_sample_dataset(again, seed=0, **SMALL)
    assert tree_bytes(again) == tree_bytes(root)
    other = str(tmp_path / 'other')
    generate_sample_dataset(other, seed=1, **SMALL)
    assert set(tree_bytes(other)) != set(tree_bytes(root))


def test_images_do_not_depend_on_split_sizes(dataset, tmp_path):
    root, _ = dataset
    few = str(tmp_path / 'few')
    generate_sample_dataset(
        few, seed=0, num_train=5, num_val=1, num_test=0, max_size=192)
    small, full = tree_bytes(few), tree_bytes(root)
    imgs = [p for p in small if p.endswith('.jpg')]
    assert len(imgs) == 6
    assert all(small[p] == full[p] for p in imgs)


def test_mos_in_thirds_and_falls_with_distortion(records):
    mos = np.array([r.record['mos'] for r in records])
    assert mos.min() >= 1 and mos.max() <= 5
    np.testing.assert_allclose(mos * 3, np.round(mos * 3), atol=1e-9)
    num = np.array([len(r.distortions) for r in records])
    assert set(num) == {0, 1, 2, 3}
    means = [mos[num == n].mean() for n in range(4)]
    assert all(a > b for a, b in zip(means, means[1:])), means
    assert stats.spearmanr(num, mos)[0] < -0.6
    assert (mos[num == 0] >= 4).mean() > 0.75  # clean images rated 4-5
    area = np.array([sum(d.area for d in r.distortions) for r in records])
    one = num == 1  # with the count fixed, larger distortions rate lower
    assert stats.spearmanr(area[one], mos[one])[0] < 0


def test_annotators_have_realistic_quirks(records):
    regions = [
        reg for r in records for a in r.record['bbox_info'] for reg in a
    ]
    rects = [r['bbox'] for r in regions if r['bbox_type'] == 1]
    polys = [r['bbox'] for r in regions if r['bbox_type'] == 2]
    assert len(rects) > 30 and len(polys) > 30
    reversed_corners = [
        b for b in rects if b[0]['x'] > b[1]['x'] or b[0]['y'] > b[1]['y']
    ]
    assert len(reversed_corners) >= 3
    assert any(len(p) < 3 for p in polys)
    empty = [
        a for r in records if r.distortions for a in r.record['bbox_info']
        if not a
    ]
    assert empty  # misses
    false_alarms = [
        r for r in records if not r.distortions and any(r.record['bbox_info'])
    ]
    assert false_alarms


def test_consensus_matches_planted_distortions(records):
    covered, outside = [], []
    for r in records:
        h, w = r.image.shape[:2]
        mask = consensus_mask(r.record['bbox_info'], h, w)
        truth = np.zeros((h, w), bool)
        for d in r.distortions:
            x1, y1, x2, y2 = d.box
            truth[y1:y2, x1:x2] = True
            covered.append(mask[y1:y2, x1:x2].mean())
        outside.append(mask[~truth].mean())
    assert np.mean(covered) > 0.7
    assert np.mean(outside) < 0.03


def test_distortions_are_visible(records):
    """Planted areas carry far more high-frequency energy than clean ones."""
    inside, clean = [], []
    for r in records:
        gray = cv2.cvtColor(r.image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        # judge at the 128 px scale the tiny configs train on
        scale = 128 / max(gray.shape)
        small = cv2.resize(
            gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        lap = np.abs(cv2.Laplacian(small, cv2.CV_32F))
        for d in r.distortions:
            x1, y1, x2, y2 = (int(v * scale) for v in d.box)
            inside.append(lap[y1:y2 + 1, x1:x2 + 1].mean())
        if not r.distortions:
            clean.append(lap.mean())
    assert np.median(inside) > 3 * np.median(clean)


def test_converts_cleanly(dataset):
    root, result = dataset
    coco = convert_evalmuse_structure(
        osp.join(root, 'train', 'train_info.json'),
        osp.join(root, 'train', 'images'),
        progress=False)
    assert len(coco['images']) == 40 and not coco['info']['skipped']
    assert len(coco['annotations']) > 10
    test = convert_evalmuse_structure(
        osp.join(root, 'test', 'test_info.json'),
        osp.join(root, 'test', 'images'),
        progress=False)
    assert len(test['images']) == 3 and not test['info']['labeled']


def test_up_to_date_replace_and_refuse(tmp_path):
    root = str(tmp_path / 'ds')
    args = dict(seed=0, num_train=3, num_val=1, num_test=1, max_size=64)
    assert generate_sample_dataset(root, **args)['generated']
    os.makedirs(osp.join(root, 'annotations'))
    assert not generate_sample_dataset(root, **args)['generated']
    assert osp.isdir(osp.join(root, 'annotations'))  # untouched
    # other settings: replaced as a whole (stale derived files go too)
    assert generate_sample_dataset(root, **{**args, 'seed': 1})['generated']
    assert not osp.exists(osp.join(root, 'annotations'))
    assert generate_sample_dataset(
        root, **{
            **args, 'seed': 1
        }, force=True)['generated']
    # a foreign non-empty directory is never touched
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'):
        generate_sample_dataset(str(foreign), **args)
    assert os.listdir(foreign) == ['keep.txt']
    with pytest.raises(ValueError, match='num_train'):
        generate_sample_dataset(root, num_train=-1)
    assert sorted(os.listdir(tmp_path)) == ['ds', 'foreign']


def test_crash_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = sample_data.make_sample_record

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError('boom')
        return real(*args, **kwargs)

    monkeypatch.setattr(sample_data, 'make_sample_record', flaky)
    with pytest.raises(RuntimeError, match='boom'):
        generate_sample_dataset(
            str(tmp_path / 'ds'),
            num_train=5,
            num_val=0,
            num_test=0,
            max_size=64)
    assert os.listdir(tmp_path) == []


def test_cli(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'cli')
    argv = [
        CLI, '--out', out, '--seed', '2', '--num-train', '2', '--num-val', '1',
        '--num-test', '1', '--max-size', '64'
    ]
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(CLI, run_name='__main__')
    assert e.value.code == 0 and 'wrote' in capsys.readouterr().out
    assert len(os.listdir(osp.join(out, 'train', 'images'))) == 2
    monkeypatch.setattr(sys, 'argv', argv[:2] + [str(tmp_path)])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(CLI, run_name='__main__')
    assert e.value.code == 1
    assert capsys.readouterr().err.startswith('error:')
