from .inferencer import (StructureInferencer, list_images, result_to_json,
                         write_results_json)

__all__ = [
    'StructureInferencer', 'list_images', 'result_to_json',
    'write_results_json'
]
