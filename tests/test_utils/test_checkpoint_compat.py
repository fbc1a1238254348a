import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import struct_det  # noqa: F401  installs the allow-list
from struct_det.utils import history_buffer_getattr


def _mmengine_like_checkpoint() -> dict:
    hub = MessageHub.get_instance('compat_test')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
    hub.update_info('best_thr', np.float64(0.3))
    return dict(
        meta=dict(
            epoch=1,
            iter=3,
            seed=0,
            arr=np.arange(4, dtype=np.int64),
            scalar=np.float32(0.5)),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict())


def test_mmengine_checkpoint_loads_with_weights_only():
    buf = io.BytesIO()
    torch.save(_mmengine_like_checkpoint(), buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    history = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(history, HistoryBuffer)
    assert history.mean() == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    np.testing.assert_array_equal(ckpt['meta']['arr'], np.arange(4))
    assert ckpt['meta']['scalar'] == np.float32(0.5)
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))


class _AttributeProbe:
    """Pickles as ``getattr(HistoryBuffer, '__init__')``: a getattr outside the
    pattern.
    """

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


class _UnknownGlobal:
    pass


def test_other_getattr_and_globals_stay_refused():
    buf = io.BytesIO()
    torch.save({'x': _AttributeProbe()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        torch.load(buf, weights_only=True)
    buf = io.BytesIO()
    torch.save({'x': _UnknownGlobal()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)
    with pytest.raises(pickle.UnpicklingError, match='does not allow'):
        history_buffer_getattr(HistoryBuffer, '__init__')
    assert history_buffer_getattr(HistoryBuffer, 'max') is HistoryBuffer.max


def test_fresh_process_loads_a_checkpoint(tmp_path):
    # HistoryBuffer fills its statistics registry lazily: a process that loads
    # before creating any buffer must still resolve the methods the pickle
    # names.
    import subprocess
    import sys
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), str(path))
    code = (f'import struct_det, torch; ck = torch.load({str(path)!r}, '
            'weights_only=True); '
            "print(ck['message_hub']['log_scalars']['train/loss'].current())")
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) == pytest.approx(1 / 3)


def test_one_numpy_allow_list_for_checkpoints_and_submissions():
    from struct_det.evaluation.restricted_pickle import RestrictedUnpickler
    from struct_det.utils.checkpoint_compat import checkpoint_safe_globals
    from struct_det.utils.safe_globals import (numpy_safe_globals,
                                               submission_safe_globals)
    safe = checkpoint_safe_globals()
    numpy_objs = numpy_safe_globals(frombuffer=False).values()
    assert all(any(obj is s for s in safe) for obj in numpy_objs)
    # Each object once, and nothing of protocol 5 for torch's list.
    assert len({id(s[0] if isinstance(s, tuple) else s) for s in safe}) \
        == len(safe)
    assert not any(getattr(s, '__name__', '') == '_frombuffer' for s in safe)
    assert RestrictedUnpickler._ALLOWED == submission_safe_globals()
    assert set(numpy_safe_globals()) <= set(RestrictedUnpickler._ALLOWED)
