from .atomic_io import atomic_write, save_torch_atomic
from .checkpoint_compat import (allow_mmengine_checkpoints,
                                checkpoint_safe_globals,
                                history_buffer_getattr)
from .config_path import resolve_config_path
from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .pipeline_cfg import (apply_tta, from_array_pipeline, innermost_dataset,
                           strip_annotation_loading)
from .runner_cli import (add_launcher_args, config_from_args,
                         parse_launcher_args)

__all__ = [
    'atomic_write', 'save_torch_atomic', 'allow_mmengine_checkpoints',
    'checkpoint_safe_globals', 'history_buffer_getattr',
    'DeviceAwareDistributedDataParallel', 'setup_cpu_distributed',
    'resolve_config_path', 'apply_tta', 'innermost_dataset',
    'from_array_pipeline', 'strip_annotation_loading', 'add_launcher_args',
    'config_from_args', 'parse_launcher_args'
]
