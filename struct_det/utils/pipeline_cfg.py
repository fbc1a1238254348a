"""Test pipelines of configs: where they live, ``--tta``, and array input.

The test pipeline itself is read with
:func:`mmdet.utils.get_test_pipeline_cfg`; this module adds what mmdet lacks:
swapping in a config's TTA pipeline and turning a test pipeline into one that
takes a decoded image instead of a file (shared by
:class:`~struct_det.apis.StructureInferencer` and the members of
:class:`~struct_det.models.assessors.StructureAssessor`).
"""
import copy
from typing import List, Optional, Sequence

from mmengine.config import Config, ConfigDict


def innermost_dataset(dataset_cfg: dict) -> dict:
    """The dataset config under wrappers such as ``RepeatDataset``.

    Args:
        dataset_cfg (dict): A dataloader's ``dataset`` config.

    Returns:
        dict: The innermost dataset config (the same object, not a copy).
    """
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def apply_tta(cfg: Config, source: str) -> Config:
    """Wrap ``cfg.model`` in ``cfg.tta_model`` and use ``cfg.tta_pipeline``.

    The config is changed in place.

    Args:
        cfg (Config): The config to change.
        source (str): The config's name, for the error message.

    Returns:
        Config: ``cfg``.

    Raises:
        RuntimeError: When the config has no ``tta_model`` or ``tta_pipeline``.
    """
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise RuntimeError(f'{source}: test-time augmentation needs '
                           '`tta_model` and `tta_pipeline` in the config')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    innermost_dataset(cfg.test_dataloader.dataset).pipeline = cfg.tta_pipeline
    return cfg


def _type_name(transform: dict) -> str:
    return str(transform.get('type', '')).split('.')[-1]


def strip_annotation_loading(transforms: Sequence) -> list:
    """Drop ground-truth loading from a pipeline, inside ``TestTimeAug`` too.

    Args:
        transforms (Sequence): Transform dicts, or lists of them (the stages
            of a ``TestTimeAug``).

    Returns:
        list: The transforms without any ``*LoadAnnotations`` step; stages left
            empty are dropped.
    """
    kept = []
    for transform in transforms:
        if isinstance(transform, (list, tuple)):
            stage = strip_annotation_loading(list(transform))
            if stage:
                kept.append(stage)
            continue
        if _type_name(transform).endswith('LoadAnnotations'):
            continue
        if _type_name(transform) == 'TestTimeAug':
            transform = copy.deepcopy(transform)
            transform['transforms'] = strip_annotation_loading(
                list(transform['transforms']))
        kept.append(transform)
    return kept


def from_array_pipeline(pipeline: Sequence[dict],
                        name: str,
                        load_type: str = 'LoadImageFromNDArray') -> List[dict]:
    """A test pipeline fed with a decoded image instead of its file.

    The first step (``LoadImageFromFile``) becomes ``load_type`` with the same
    ``to_float32`` (the Mask2Former configs set it), and ground-truth loading
    is dropped: the result only predicts.

    Args:
        pipeline (Sequence[dict]): A test (or TTA) pipeline whose first step
            loads the image.
        name (str): The model's name, for the error message.
        load_type (str): The transform that takes the array, e.g.
            ``'mmdet.LoadImageFromNDArray'`` outside an mmdet scope.
            Defaults to ``'LoadImageFromNDArray'``.

    Returns:
        list[dict]: The new pipeline (copies; ``pipeline`` is unchanged).

    Raises:
        ValueError: When the pipeline does not start by loading the image.
    """
    steps = [copy.deepcopy(dict(t)) for t in pipeline]
    if not steps or not _type_name(steps[0]).startswith('LoadImage'):
        first: Optional[dict] = steps[0] if steps else None
        raise ValueError(
            f'{name}: its test pipeline must start with LoadImageFromFile '
            f'(got {first if first else "an empty pipeline"})')
    steps[0] = dict(
        type=load_type, to_float32=steps[0].get('to_float32', False))
    return strip_annotation_loading(steps)
