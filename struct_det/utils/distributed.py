"""Multi-process training and testing without GPUs (gloo), next to the usual
NCCL path.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and its DDP
wrapper passes ``device_ids=[LOCAL_RANK]``; both fail on CPU-only machines (CI,
laptops). When no GPU is visible, the process group is started with gloo here
before the runner asks for it and the model wrapper drops ``device_ids``.
Nothing changes where a GPU is present.
"""
import os
from typing import Any, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


# mmengine's Runner.wrap_model looks wrappers up in its root registry.
@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    Args:
        module (torch.nn.Module): the model to wrap.
        device_ids (list, optional): the runner's ``[LOCAL_RANK]``; ignored for
            a CPU module, for which torch's DDP requires ``None``. Defaults to
            None.
        **kwargs: passed to ``MMDistributedDataParallel``.
    """

    def __init__(self,
                 module: torch.nn.Module,
                 device_ids: Optional[list] = None,
                 **kwargs: Any) -> None:
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepares a config for a multi-process run on CPU when no GPU is visible.

    An mmengine ``FSDPStrategy`` (``FlexibleRunner``) gets ``device_id='cpu'``:
    mmengine passes ``LOCAL_RANK`` there, which FSDP takes for a GPU index.

    Args:
        cfg (Config): the run's config; its ``env_cfg.dist_cfg`` and
            ``model_wrapper_cfg`` (and an FSDP strategy's
            ``model_wrapper.device_id``) are set.
        launcher (str): the launcher of the command line (``none``,
            ``pytorch``, ``slurm``, ``mpi``).

    Returns:
        bool: whether the run was switched to gloo on CPU.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper['type'] = 'DeviceAwareDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper
    strategy = cfg.get('strategy')
    if isinstance(strategy, dict) and str(strategy.get('type',
                                                       '')).startswith('FSDP'):
        strategy.setdefault('model_wrapper', {})['device_id'] = 'cpu'
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    return True
