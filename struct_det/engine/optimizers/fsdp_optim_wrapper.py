"""Optimizer wrappers whose gradient clipping is global under FSDP.

mmengine's ``OptimWrapper`` clips with ``torch.nn.utils.clip_grad_norm_`` over
the parameters it holds. Under ``FullyShardedDataParallel`` every rank holds
only its shard of each gradient, so each rank would clip by the norm of its own
shard: a different factor per rank and not the model's gradient norm (Co-DINO
clips at ``max_norm=0.1``, so the clip is active at almost every step). These
wrappers clip through the FSDP root's ``clip_grad_norm_``, which reduces the
norm over all ranks.

FSDP cannot shard scalar (0-dim) parameters, such as the per-level ``Scale``
factors of mmdet's ATSS/FCOS heads; a config lists their modules in the FSDP
wrapper's ``ignored_modules``. FSDP then leaves them whole on every rank and
never reduces their gradients, so these wrappers average those gradients over
the ranks before each step (as DDP would), which keeps the replicas equal.

Without FSDP they behave as their mmengine bases.
"""
from contextlib import contextmanager
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch.distributed.fsdp import FullyShardedDataParallel


class _FSDPGlobalClipMixin:
    """Remembers the FSDP root the step runs in and clips through it."""

    _fsdp_root: Optional[FullyShardedDataParallel] = None

    @contextmanager
    def optim_context(self, model: nn.Module):
        if isinstance(model, FullyShardedDataParallel):
            self._fsdp_root = model
        with super().optim_context(model):
            yield

    def step(self, **kwargs) -> None:
        self._average_ignored_grads()
        super().step(**kwargs)

    def _average_ignored_grads(self) -> None:
        """Averages the gradients FSDP does not manage (its ignored
        parameters).
        """
        root = self._fsdp_root
        ignored = [
            p for p in getattr(root, '_ignored_params', ())
            if p.grad is not None
        ]
        if not ignored or not dist.is_initialized():
            return
        group = getattr(root, 'process_group', None)
        world_size = dist.get_world_size(group)
        for param in ignored:
            dist.all_reduce(param.grad, group=group)
            param.grad.div_(world_size)

    def _clip_grad(self) -> None:
        root = self._fsdp_root
        clip_norm = torch.nn.utils.clip_grad_norm_
        if root is None or self.clip_func is not clip_norm:
            # no FSDP, or clipping by value (element-wise: shards need no
            # reduction)
            super()._clip_grad()
            return
        grad_norm = root.clip_grad_norm_(**self.clip_grad_kwargs)
        self.message_hub.update_scalar(f'train/{self.grad_name}',
                                       float(grad_norm))


@OPTIM_WRAPPERS.register_module()
class FSDPOptimWrapper(_FSDPGlobalClipMixin, OptimWrapper):
    """``OptimWrapper`` with ``clip_grad`` over the whole FSDP-sharded model.

    Args:
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """


@OPTIM_WRAPPERS.register_module()
class FSDPAmpOptimWrapper(_FSDPGlobalClipMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` for FSDP: sharded loss scaler and global
    ``clip_grad``.

    Args:
        use_fsdp (bool): use torch's ``ShardedGradScaler`` (default True: the
            point of this class).
        **kwargs: ``AmpOptimWrapper``'s (``loss_scale``, ``dtype``,
            ``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, use_fsdp: bool = True, **kwargs) -> None:
        super().__init__(use_fsdp=use_fsdp, **kwargs)
