"""Where a config keeps its test pipeline, and how ``--tta`` rewrites it."""
from mmengine.config import Config, ConfigDict


def innermost_dataset(dataset_cfg: dict) -> dict:
    """The dataset config under wrappers such as ``RepeatDataset`` or ``ClassBalancedDataset``.

    Args:
        dataset_cfg: a dataloader's ``dataset`` config.

    Returns:
        dict: the innermost dataset config (the same object, not a copy).
    """
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def config_test_pipeline(cfg: Config) -> list:
    """The test dataloader's pipeline of a config, wrappers looked through."""
    return list(innermost_dataset(cfg.test_dataloader.dataset).pipeline)


def apply_tta(cfg: Config, source: str) -> Config:
    """Wraps ``cfg.model`` in ``cfg.tta_model`` and swaps in ``cfg.tta_pipeline``, in place.

    Args:
        cfg: the config to change.
        source: the config's name, for the error message.

    Returns:
        Config: ``cfg``.

    Raises:
        RuntimeError: when the config has no ``tta_model`` or ``tta_pipeline``.
    """
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise RuntimeError(f'{source}: test-time augmentation needs `tta_model` and '
                           '`tta_pipeline` in the config')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    innermost_dataset(cfg.test_dataloader.dataset).pipeline = cfg.tta_pipeline
    return cfg
