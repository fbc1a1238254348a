from .structure_metric import StructureMetric
from .submission_writer import StructureSubmissionWriter

__all__ = ['StructureMetric', 'StructureSubmissionWriter']
