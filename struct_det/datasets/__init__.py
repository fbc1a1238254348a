from .evalmuse_structure import EvalMuseStructureDataset

__all__ = ['EvalMuseStructureDataset']
