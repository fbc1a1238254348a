"""EvalMuse-Structure -> COCO converter: output, validation, split, CLI."""
import json
import logging
import os
import os.path as osp
import runpy
import subprocess
import sys
import threading

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from struct_det.datasets.converter import (EvalMuseFormatError,
                                           convert_evalmuse_structure,
                                           dump_coco, dump_cocos,
                                           read_image_size, split_coco,
                                           split_output_paths)
from struct_det.datasets.rasterize import consensus_mask

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'dataset_converters', 'evalmuse_structure.py')

KEY_A = 'a' * 32
KEY_B = 'b' * 32


def rect(x1, y1, x2, y2):
    return {'bbox_type': 1, 'bbox': [{'x': x1, 'y': y1}, {'x': x2, 'y': y2}]}


def make_jpeg(path, width, height, **save_kwargs):
    rng = np.random.default_rng(width * 1000 + height)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format='JPEG', **save_kwargs)


def good_records():
    return {
        # 64 wide, 48 high: a non-square image
        KEY_A: {
            'prompt_en':
            'a hand',
            'mos':
            2.3333333333333335,
            'bbox_info': [
                [rect(10, 10, 30, 20)],
                [rect(30, 25, 8, 5)],  # reversed corners
                [{
                    'bbox_type': 2,
                    'bbox': [[40, 30], [60, 30], [60, 45]]
                }]
            ],
        },
        KEY_B: {
            'prompt_en': 'a face',
            'mos': 5,
            'bbox_info': [[], [], []],
        },
    }


@pytest.fixture
def data(tmp_path):
    """An image dir with two images and a helper to write info files."""
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    make_jpeg(img_dir / f'{KEY_A}.jpg', 64, 48)
    make_jpeg(img_dir / f'{KEY_B}.jpg', 32, 32)

    def write(records, name='info.json'):
        path = tmp_path / name
        text = records if isinstance(records, str) else json.dumps(records)
        path.write_text(text)
        return str(path)

    return tmp_path, str(img_dir), write


def convert(info, img_dir, **kwargs):
    kwargs.setdefault('progress', False)
    return convert_evalmuse_structure(info, img_dir, **kwargs)


# ------------------------------------------------------------ good input
def test_converts_labelled_records(data):
    _, img_dir, write = data
    coco = convert(write(good_records()), img_dir)
    assert coco['categories'] == [{'id': 1, 'name': 'distortion'}]
    assert coco['info']['labeled'] is True
    assert coco['info']['min_annotators'] == 2
    img_a, img_b = coco['images']
    assert img_a == {
        'id': 1,
        'file_name': f'{KEY_A}.jpg',
        'width': 64,
        'height': 48,
        'mos': 2.3333333333333335,
        'prompt': 'a hand',
        'annotator_regions': good_records()[KEY_A]['bbox_info'],
    }
    assert img_b['mos'] == 5.0 and isinstance(img_b['mos'], float)
    assert (img_b['width'], img_b['height']) == (32, 32)

    # annotators 0 and 1 overlap on x 10..29, y 10..19; the polygon is
    # marked by one annotator only.
    (ann, ) = coco['annotations']
    assert ann['image_id'] == 1 and ann['category_id'] == 1
    assert ann['iscrowd'] == 0 and ann['id'] == 1
    assert ann['bbox'] == [10, 10, 20, 10] and ann['area'] == 200
    seg = ann['segmentation']
    decoded = mask_utils.decode({
        'size': seg['size'],
        'counts': seg['counts'].encode()
    })
    assert decoded.shape == (48, 64)
    expected = consensus_mask(good_records()[KEY_A]['bbox_info'], 48, 64)
    np.testing.assert_array_equal(decoded, expected)
    json.dumps(coco, allow_nan=False)


def test_min_annotators(data):
    _, img_dir, write = data
    info = write(good_records())
    k1 = convert(info, img_dir, min_annotators=1)
    # K = 1: the union of both rectangles and the separate polygon
    assert sorted(a['bbox'] for a in k1['annotations']) == [[8, 5, 22, 20],
                                                            [40, 30, 21, 16]]
    assert convert(info, img_dir, min_annotators=3)['annotations'] == []
    with pytest.raises(ValueError, match='min_annotators'):
        convert(info, img_dir, min_annotators=0)


def test_accepts_a_loaded_dict(data):
    _, img_dir, write = data
    from_dict = convert(good_records(), img_dir)
    from_file = convert(write(good_records()), img_dir)
    assert from_dict['images'] == from_file['images']
    assert from_dict['annotations'] == from_file['annotations']


def test_unlabelled_info_gives_image_only_coco(data):
    _, img_dir, write = data
    info = write({KEY_A: {'prompt_en': 'x'}, KEY_B: {'prompt_en': 'y'}})
    coco = convert(info, img_dir)
    assert coco['info']['labeled'] is False
    assert coco['annotations'] == []
    assert coco['images'][0] == {
        'id': 1,
        'file_name': f'{KEY_A}.jpg',
        'width': 64,
        'height': 48,
        'prompt': 'x'
    }


def test_size_read_from_header_only(data, monkeypatch):
    tmp, img_dir, write = data
    # A truncated JPEG: the header is intact, the pixel data is not.
    path = osp.join(img_dir, f'{KEY_B}.jpg')
    make_jpeg(path, 40, 24)
    with open(path, 'rb') as f:
        head = f.read(700)
    with open(path, 'wb') as f:
        f.write(head)

    def no_decode(self, *args, **kwargs):
        raise AssertionError('the converter must not decode pixels')

    monkeypatch.setattr(Image.Image, 'load', no_decode)
    coco = convert(write(good_records()), img_dir)
    assert [(i['width'], i['height']) for i in coco['images']] == [(64, 48),
                                                                   (40, 24)]


def test_exif_rotation_swaps_size(tmp_path):
    path = str(tmp_path / 'rot.jpg')
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: decoders return a 48 x 64 (w x h) image
    make_jpeg(path, 64, 48, exif=exif.tobytes())
    assert read_image_size(path) == (48, 64)
    import cv2
    assert cv2.imread(path).shape[:2] == (64, 48)


def test_progress_bar(data, capsys):
    _, img_dir, write = data
    info = write(good_records())
    threads = threading.enumerate()
    convert(info, img_dir, progress=True)
    assert 'EvalMuse -> COCO' in capsys.readouterr().err
    convert(info, img_dir, progress=False)
    assert capsys.readouterr().err == ''
    # no thread outlives the bar (a scorer later in this process forks
    # workers only where it runs alone)
    assert threading.enumerate() == threads


# ------------------------------------------------------------- bad input
def _mutate(records, key, field, value):
    records[key][field] = value
    return records


BAD_CASES = {
    'missing mos':
    (lambda r: r[KEY_A].pop('mos') and r, 'missing_field', '"mos"'),
    'missing bbox_info': (lambda r: r[KEY_A].pop('bbox_info') and r,
                          'missing_field', '"bbox_info"'),
    'missing prompt': (lambda r: r[KEY_A].pop('prompt_en') and r,
                       'missing_field', '"prompt_en"'),
    'string coordinate':
    (lambda r: _mutate(r, KEY_A, 'bbox_info', [[rect(1, 2, 'x', 4)]]),
     'bad_coordinate', "'x'"),
    'null coordinate':
    (lambda r: _mutate(r, KEY_A, 'bbox_info', [[rect(1, 2, None, 4)]]),
     'bad_coordinate', 'None'),
    'nan coordinate': (lambda r: _mutate(r, KEY_A, 'bbox_info', [[{
        'bbox_type':
        2,
        'bbox': [[0, 0], [float('nan'), 1], [3, 3]]
    }]]), 'bad_coordinate', 'nan'),
    'inf coordinate':
    (lambda r: _mutate(r, KEY_A, 'bbox_info', [[rect(1, 2, float('inf'), 4)]]),
     'bad_coordinate', 'inf'),
    'unknown bbox_type': (
        lambda r: _mutate(r, KEY_A, 'bbox_info', [[{
            'bbox_type': 3,
            'bbox': []
        }]]), 'unknown_bbox_type', 'bbox_type 3'),
    'mos too low': (lambda r: _mutate(r, KEY_A, 'mos', 0.5), 'bad_mos',
                    'outside [1, 5]'),
    'mos too high': (lambda r: _mutate(r, KEY_A, 'mos', 5.5), 'bad_mos',
                     'outside [1, 5]'),
    'mos nan': (lambda r: _mutate(r, KEY_A, 'mos', float('nan')), 'bad_mos',
                'nan'),
    'mos string': (lambda r: _mutate(r, KEY_A, 'mos', '3'), 'bad_mos',
                   'not a number'),
    'mos bool': (lambda r: _mutate(r, KEY_A, 'mos', True), 'bad_mos',
                 'not a number'),
    'record not a dict': (lambda r: _mutate(r, KEY_A, 'bbox_info', 1) and {
        **r, KEY_A: [1, 2]
    }, 'malformed', 'expected a dict'),
    'bbox_info not a list': (lambda r: _mutate(r, KEY_A, 'bbox_info', {}),
                             'malformed', 'bbox_info'),
    'annotator not a list': (lambda r: _mutate(r, KEY_A, 'bbox_info', [[], 7]),
                             'malformed', 'annotator 1'),
    'rectangle with 3 corners': (lambda r: _mutate(r, KEY_A, 'bbox_info', [[{
        'bbox_type':
        1,
        'bbox': [{
            'x': 1,
            'y': 1
        }] * 3
    }]]), 'malformed', 'exactly 2'),
    'prompt not a string': (lambda r: _mutate(r, KEY_A, 'prompt_en', 3),
                            'malformed', 'prompt_en'),
    'key is a path': (lambda r: {
        **r, '../evil': r[KEY_A]
    }, 'bad_key', 'evil'),
}


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_record_names_key_and_problem(data, case):
    _, img_dir, write = data
    mutate, problem, text = BAD_CASES[case]
    records = mutate(good_records())
    bad_key = '../evil' if problem == 'bad_key' else KEY_A
    info = write(records)
    with pytest.raises(EvalMuseFormatError) as e:
        convert(info, img_dir)
    assert e.value.key == bad_key and e.value.problem == problem
    msg = str(e.value)
    assert repr(bad_key) in msg and problem in msg and text in msg
    assert info in msg  # names the file too
    assert isinstance(e.value, ValueError)


def test_missing_image(data):
    _, img_dir, write = data
    os.remove(osp.join(img_dir, f'{KEY_B}.jpg'))
    with pytest.raises(EvalMuseFormatError) as e:
        convert(write(good_records()), img_dir)
    assert (e.value.key, e.value.problem) == (KEY_B, 'missing_image')
    assert f'{KEY_B}.jpg not found' in str(e.value)


def test_key_with_extension_gets_a_hint(data):
    _, img_dir, write = data
    with pytest.raises(EvalMuseFormatError, match='must not carry'):
        convert(write({KEY_A + '.jpg': {'prompt_en': 'x'}}), img_dir)


def test_unreadable_image(data):
    _, img_dir, write = data
    with open(osp.join(img_dir, f'{KEY_B}.jpg'), 'wb') as f:
        f.write(b'this is not an image')
    with pytest.raises(EvalMuseFormatError) as e:
        convert(write(good_records()), img_dir)
    assert (e.value.key, e.value.problem) == (KEY_B, 'unreadable_image')


def test_duplicate_keys(data):
    _, img_dir, write = data
    rec = json.dumps(good_records()[KEY_A])
    text = (f'{{"{KEY_A}": {rec}, "{KEY_B}": {rec}, "{KEY_A}": {rec}}}')
    with pytest.raises(EvalMuseFormatError) as e:
        convert(write(text), img_dir)
    assert (e.value.key, e.value.problem) == (KEY_A, 'duplicate_key')
    assert 'more than once' in str(e.value)


def test_duplicate_field_inside_record(data):
    _, img_dir, write = data
    text = (f'{{"{KEY_B}": {{"prompt_en": "x", "mos": 5, "mos": 1, '
            '"bbox_info": []}}')
    with pytest.raises(EvalMuseFormatError) as e:
        convert(write(text), img_dir)
    assert (e.value.key, e.value.problem) == (KEY_B, 'duplicate_key')
    assert "'mos'" in str(e.value)


@pytest.mark.parametrize('text, match', [
    ('[1, 2]', 'expected a JSON object'),
    ('{"a": ', 'not a readable JSON'),
    ('{}', 'no valid records'),
])
def test_bad_info_file(data, text, match):
    _, img_dir, write = data
    with pytest.raises(EvalMuseFormatError, match=match):
        convert(write(text), img_dir)


def test_missing_info_file_and_image_dir(data):
    tmp, img_dir, write = data
    with pytest.raises(EvalMuseFormatError, match='not found'):
        convert(str(tmp / 'nope.json'), img_dir)
    with pytest.raises(EvalMuseFormatError, match='does not exist') as e:
        convert(write(good_records()), str(tmp / 'no_images'))
    assert e.value.problem == 'bad_image_dir'


def test_skip_invalid_summarises(data, caplog):
    _, img_dir, write = data
    records = good_records()
    records['c' * 32] = {'prompt_en': 'x', 'mos': 9, 'bbox_info': []}
    records['d' * 32] = {'prompt_en': 'x', 'mos': 3, 'bbox_info': []}
    records['e' * 32] = {
        'prompt_en': 'x',
        'mos': 3,
        'bbox_info': [[{
            'bbox_type': 7,
            'bbox': []
        }]]
    }
    records[KEY_B]['mos'] = 0  # bad mos
    with caplog.at_level(logging.WARNING):
        coco = convert(write(records), img_dir, skip_invalid=True)
    assert [i['file_name'] for i in coco['images']] == [f'{KEY_A}.jpg']
    assert coco['images'][0]['id'] == 1
    assert coco['info']['num_records'] == 5
    assert coco['info']['skipped'] == {
        'bad_mos': [KEY_B, 'c' * 32],
        'missing_image': ['d' * 32],
        'unknown_bbox_type': ['e' * 32],
    }
    assert 'skipped 4 of 5 records' in caplog.text
    assert 'bad_mos: 2' in caplog.text and 'd' * 32 in caplog.text


def test_skip_invalid_with_nothing_left_fails(data):
    _, img_dir, write = data
    with pytest.raises(EvalMuseFormatError, match='no valid records'):
        convert(
            write({'c' * 32: {
                'prompt_en': 'x'
            }}), img_dir, skip_invalid=True)


# ----------------------------------------------------------------- split
@pytest.fixture
def many(tmp_path):
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    make_jpeg(img_dir / 'template.jpg', 16, 16)
    records = {}
    for i in range(20):
        key = f'{i:032x}'
        os.link(img_dir / 'template.jpg', img_dir / f'{key}.jpg')
        records[key] = {
            'prompt_en': str(i),
            'mos': 1 + i % 5,
            'bbox_info': [[rect(0, 0, 8, 8)]] * (i % 3)
        }
    return records, str(img_dir)


def test_split_is_deterministic_and_disjoint(many):
    records, img_dir = many
    train, val = convert(records, img_dir, val_ratio=0.25, seed=3)
    names = lambda c: [i['file_name'] for i in c['images']]  # noqa: E731
    assert len(val['images']) == 5 and len(train['images']) == 15
    assert not set(names(train)) & set(names(val))
    full = convert(records, img_dir)
    assert sorted(names(train) + names(val)) == sorted(names(full))
    # ids match the unsplit conversion; annotations follow their images
    by_name = {i['file_name']: i['id'] for i in full['images']}
    for part in (train, val):
        assert all(by_name[i['file_name']] == i['id'] for i in part['images'])
        ids = {i['id'] for i in part['images']}
        assert all(a['image_id'] in ids for a in part['annotations'])
        assert part['info']['split'] in ('train', 'val')
    assert len(train['annotations']) + len(val['annotations']) == len(
        full['annotations'])

    again = convert(records, img_dir, val_ratio=0.25, seed=3)
    assert again == (train, val)
    # independent of the record order
    shuffled = dict(reversed(list(records.items())))
    assert names(convert(shuffled, img_dir, val_ratio=0.25, seed=3)[1]) \
        == names(val)[::-1]
    other = convert(records, img_dir, val_ratio=0.25, seed=4)[1]
    assert set(names(other)) != set(names(val))


def test_split_arguments(many):
    records, img_dir = many
    coco = convert(records, img_dir)
    for ratio in (0, 1, -0.1, 1.5, 'a'):
        with pytest.raises(ValueError, match='val_ratio'):
            split_coco(coco, ratio)
    with pytest.raises(ValueError, match='seed'):
        split_coco(coco, 0.2, seed=1.5)
    # tiny ratios still give one validation image
    assert len(split_coco(coco, 0.001)[1]['images']) == 1
    assert split_output_paths('a/b/x.json') == ('a/b/x_train.json',
                                                'a/b/x_val.json')


# ---------------------------------------------------------- atomic write
def test_dump_coco_is_atomic(tmp_path):
    out = tmp_path / 'sub' / 'coco.json'
    dump_coco({'images': [1]}, out)
    assert json.loads(out.read_text()) == {'images': [1]}
    with pytest.raises((TypeError, ValueError)):
        dump_coco({'images': [object()]}, out)
    with pytest.raises(ValueError):
        dump_coco({'x': float('nan')}, tmp_path / 'nan.json')
    # the old file is untouched and no temporary file is left behind
    assert json.loads(out.read_text()) == {'images': [1]}
    assert os.listdir(out.parent) == ['coco.json']
    assert os.listdir(tmp_path) == ['sub']


def test_dump_cocos_writes_all_or_none(tmp_path):
    a, b, c = (str(tmp_path / 'out' / f'{n}.json') for n in 'abc')
    with pytest.raises((TypeError, ValueError)):
        dump_cocos({a: {'x': 1}, b: {'x': 2}, c: {'x': object()}})
    assert os.listdir(tmp_path / 'out') == []
    dump_cocos({a: {'x': 1}, b: {'x': 2}})
    assert sorted(os.listdir(tmp_path / 'out')) == ['a.json', 'b.json']
    assert json.loads(open(b).read()) == {'x': 2}
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(a).st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError):
        dump_cocos({a: {'x': 3}, c: {'x': float('nan')}})
    assert json.loads(open(a).read()) == {'x': 1}  # the old file is kept
    assert sorted(os.listdir(tmp_path / 'out')) == ['a.json', 'b.json']


# ------------------------------------------------------------------- CLI
def run_cli_inprocess(argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [CLI] + argv)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(CLI, run_name='__main__')
    return e.value.code


def test_cli_split_and_failure(data, monkeypatch, capsys):
    tmp, img_dir, write = data
    info = write(good_records())
    out = tmp / 'ann' / 'evalmuse.json'
    code = run_cli_inprocess([
        '--info', info, '--img-dir', img_dir, '--out',
        str(out), '--val-ratio', '0.5', '--no-progress'
    ], monkeypatch)
    assert code == 0
    assert sorted(os.listdir(
        tmp / 'ann')) == ['evalmuse_train.json', 'evalmuse_val.json']
    train = json.loads((tmp / 'ann' / 'evalmuse_train.json').read_text())
    val = json.loads((tmp / 'ann' / 'evalmuse_val.json').read_text())
    assert len(train['images']) == len(val['images']) == 1

    records = good_records()
    records[KEY_B]['mos'] = 7
    bad = tmp / 'bad.json'
    code = run_cli_inprocess([
        '--info',
        write(records), '--img-dir', img_dir, '--out',
        str(bad), '--no-progress'
    ], monkeypatch)
    err = capsys.readouterr().err.strip()
    assert code == 1 and not bad.exists()
    assert len(err.splitlines()) == 1 and KEY_B in err and 'bad_mos' in err

    code = run_cli_inprocess([
        '--info', info, '--img-dir', img_dir, '--out',
        str(bad), '--no-progress', '--skip-invalid'
    ], monkeypatch)
    assert code == 0 and bad.exists()


def test_cli_end_to_end_subprocess(data):
    tmp, img_dir, write = data
    out = tmp / 'coco.json'
    ok = subprocess.run([
        sys.executable, CLI, '--info',
        write(good_records()), '--img-dir', img_dir, '--out',
        str(out), '--min-annotators', '1'
    ],
                        capture_output=True,
                        text=True,
                        cwd=str(tmp))
    assert ok.returncode == 0, ok.stderr
    assert 'EvalMuse -> COCO' in ok.stderr  # progress bar on by default
    from pycocotools.coco import COCO
    coco = COCO(str(out))
    assert len(coco.getImgIds()) == 2 and len(coco.getAnnIds()) == 2
    mask = coco.annToMask(coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0])
    assert mask.shape == (48, 64)
