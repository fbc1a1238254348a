"""The restricted unpicklers: numpy data and containers only, and files
mapped into memory with arrays as views of the mapping."""
import os
import pickle
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest
import torch

from struct_det.evaluation.restricted_pickle import (restricted_load,
                                                     restricted_loads)


class _Exploit:

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def _payload():
    """Arrays above and below the mapping threshold (64 KiB), in every layout
    a submission might hold, plus scalars and containers."""
    rng = np.random.default_rng(0)
    big = (rng.random((300, 400)) > 0.7).astype(np.uint8)
    return OrderedDict(
        a={
            'score': 2.5,
            'pred_area': big
        },
        same_array_again={
            'score': np.float64(1.0),
            'pred_area': big
        },
        b={
            'score': np.float32(3.0),
            'pred_area': -rng.integers(0, 3, (260, 270)).astype(np.int16)
        },
        c={
            'score': 4,
            'pred_area': np.asfortranarray(rng.random((200, 150)))
        },
        d={
            'score': np.array(1.5),
            'pred_area': rng.random((300, 300, 1)).astype(np.float32)
        },
        small={
            'score': 5.0,
            'pred_area': np.eye(8, dtype=np.uint8)
        },
        bools=np.array([True, False]),
        items=[1, (2.0, 'x')],
        set={1, 2},
        strided=np.arange(400000, dtype=np.uint8)[::2])


def _assert_same(loaded, expected):
    """Equal values, dtypes, shapes and memory order, recursively."""
    assert type(loaded) is type(expected)
    if isinstance(expected, np.ndarray):
        assert loaded.dtype == expected.dtype
        assert loaded.shape == expected.shape
        assert loaded.flags.f_contiguous == expected.flags.f_contiguous
        np.testing.assert_array_equal(loaded, expected)
    elif isinstance(expected, dict):
        assert list(loaded) == list(expected)
        for key in expected:
            _assert_same(loaded[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(loaded) == len(expected)
        for a, b in zip(loaded, expected):
            _assert_same(a, b)
    else:
        assert loaded == expected


@pytest.mark.parametrize('protocol', [0, 1, 2, 3, 4, 5])
def test_mapped_file_loads_like_pickle(tmp_path, protocol):
    path = tmp_path / 'output.pkl'
    path.write_bytes(pickle.dumps(_payload(), protocol=protocol))
    with open(path, 'rb') as f:
        expected = pickle.load(f)
    loaded = restricted_load(str(path))
    _assert_same(loaded, expected)
    # One array pickled twice stays one object, as pickle.load gives it.
    assert loaded['same_array_again']['pred_area'] is loaded['a']['pred_area']
    if protocol >= 3:  # protocol 2 pickles bytes as latin-1 text
        big = loaded['a']['pred_area']
        assert not big.flags.writeable and not big.flags.owndata
        assert loaded['small']['pred_area'].flags.writeable


@pytest.mark.parametrize('protocol', [4, 5])
def test_mapped_file_does_not_copy_the_arrays(tmp_path, protocol):
    masks = {
        f'{i:032x}': {
            'score': 1.0,
            'pred_area': np.full((512, 512), i % 2, np.uint8)
        }
        for i in range(16)
    }
    path = tmp_path / 'output.pkl'
    path.write_bytes(pickle.dumps(masks, protocol=protocol))
    tracemalloc.start()
    try:
        loaded = restricted_load(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.05 * path.stat().st_size
    _assert_same(loaded, masks)


@pytest.mark.parametrize('payload,match', [
    (_Exploit(), r'refusing to load (posix|nt|os)\.system'),
    (torch.zeros(2), r'refusing to load torch'),
])
def test_restricted_unpicklers_refuse_other_globals(tmp_path, payload, match):
    data = pickle.dumps({'k': payload})
    with pytest.raises(ValueError, match=match):
        restricted_loads(data, 'sub.pkl')
    path = tmp_path / 'sub.pkl'
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f'{path}: {match}'):
        restricted_load(str(path))


def test_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ValueError, match='not a readable pickle'):
        restricted_loads(b'\x80\x04garbage', 'sub.pkl')
    data = pickle.dumps(_payload(), protocol=4)
    cases = {
        'garbage.pkl': b'\x80\x04garbage',
        'unknown_opcode.pkl': b'\x80\x04\xff',
        'empty.pkl': b'',
        # Cut inside the first large array's bytes.
        'truncated.pkl': data[:len(data) // 3],
        'no_stop.pkl': data[:-1],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f'{path}: not a readable pickle'):
            restricted_load(str(path))


def test_stream_unpickler_loads_numpy_and_containers():
    obj = _payload()
    for protocol in (2, 4, 5):
        _assert_same(
            restricted_loads(pickle.dumps(obj, protocol=protocol)),
            pickle.loads(pickle.dumps(obj, protocol=protocol)))
