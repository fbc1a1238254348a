"""Makes ``--resume`` continue a run exactly where it stopped, random streams
included.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

META_KEY = 'random_states'


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves the random generators' states with each checkpoint and restores
    them on resume.

    mmengine re-seeds a resumed run from ``randomness.seed``, so dropout, point
    sampling and data augmentation after a resume differ from the uninterrupted
    run. With this hook a run that is killed and resumed ends with the same
    weights (on deterministic ops).

    - Iteration-based loops replay the data loader up to the resumed iteration,
      which replays the augmentation streams too; only the model's torch
      streams are restored, just before the first resumed iteration.
    - Epoch-based loops start a fresh data loader at the next epoch, so every
      stream (Python, numpy, torch CPU and CUDA) of the main process is
      restored before that epoch.

    Limits: only rank 0 writes the checkpoint, so every rank resumes with rank
    0's streams; data-loader worker processes keep their own augmentation
    streams, which are replayed (iteration-based loops) but not saved, so
    exactness after an epoch-based resume needs in-process loading
    (``num_workers=0``).

    Add it with ``custom_hooks = [dict(type='RandomStateHook')]`` (struct_det's
    configs do).
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() else None)
        checkpoint.setdefault('meta', {})[META_KEY] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False):
            self._pending = checkpoint.get('meta', {}).get(META_KEY)

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None and isinstance(runner.train_loop,
                                                    EpochBasedTrainLoop):
            random.setstate(_as_python_state(self._pending['python']))
            np.random.set_state(self._pending['numpy'])
            self._restore_torch()

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is not None:
            self._restore_torch()

    def _restore_torch(self) -> None:
        torch.set_rng_state(self._pending['torch'])
        cuda = self._pending.get('cuda')
        if cuda is not None and torch.cuda.is_available() and \
                len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        self._pending = None


def _as_python_state(state):
    # A checkpoint round trip may turn the state's inner tuple into a list.
    version, internal, gauss = state
    return version, tuple(internal), gauss
