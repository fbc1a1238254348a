"""Test and demo helpers: not needed to train or evaluate on real data."""
from .dino_counterpart import dino_counterpart_cfg
from .sample_data import (DISTORTION_KINDS, PlantedDistortion, SampleRecord,
                          generate_sample_dataset, image_size,
                          make_sample_record, render_sample, sample_key,
                          simulate_annotations, simulate_mos)

__all__ = [
    'DISTORTION_KINDS', 'PlantedDistortion', 'SampleRecord', 'render_sample',
    'simulate_annotations', 'simulate_mos', 'sample_key', 'image_size',
    'make_sample_record', 'generate_sample_dataset', 'dino_counterpart_cfg'
]
