from .fsdp_optim_wrapper import FSDPAmpOptimWrapper, FSDPOptimWrapper

__all__ = ['FSDPAmpOptimWrapper', 'FSDPOptimWrapper']
