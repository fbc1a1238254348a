"""A config that builds and trains from random weights: no weight file is read
or fetched.

Real configs start from released checkpoints (``load_from``), pretrained
backbones (``init_cfg=dict(type='Pretrained', ...)``, ``pretrained=...``,
LoDa's local timm files) and, for the joint model, each member's
``checkpoint``. A smoke run or a memory probe needs none of them;
:func:`clear_weight_files` removes them all and :func:`weight_file_references`
finds any left behind, so a run never stops at a missing file or a download.
"""
from typing import Any, Iterator, List, Tuple

_WEIGHT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.ckpt', '.npz',
                    '.h5')
_WEIGHT_SCHEMES = ('http://', 'https://', 'torchvision://', 'open-mmlab://',
                   'mmcls://', 'mmpretrain://', 'modelzoo://', 'hf-hub:',
                   'hf_hub:', 's3://')
# keys whose string value is a weights file (or a hub name) to load
_WEIGHT_KEYS = ('pretrained', 'checkpoint')


def _is_pretrained_init(init_cfg: Any) -> bool:
    return isinstance(init_cfg, dict) and (str(init_cfg.get(
        'type', '')).split('.')[-1] == 'Pretrained'
                                           or 'checkpoint' in init_cfg)


def _items(node: Any, path: str) -> Iterator[Tuple[str, Any, Any, Any]]:
    """(path, container, key, value) for every entry below ``node``."""
    node = getattr(node, '_cfg_dict', node)
    if isinstance(node, dict):
        for key in list(node.keys()):
            value = node[key]
            sub = f'{path}.{key}' if path else str(key)
            yield sub, node, key, value
            yield from _items(value, sub)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            sub = f'{path}.{index}'
            yield sub, node, index, value
            yield from _items(value, sub)


def clear_weight_files(cfg: Any) -> List[str]:
    """Makes a config start from random weights, in place.

    Clears ``load_from`` and ``resume``; below ``model`` drops ``Pretrained``
    init configs, string ``pretrained``/``checkpoint`` fields (mmdet/mmseg
    backbones, LoDa's timm files, the joint model's member checkpoints),
    ``pretrained=True`` (a timm hub download) and timm's
    ``pretrained_cfg_overlay``.

    Args:
        cfg (Config): an mmengine ``Config``.

    Returns:
        list[str]: the dotted names of the fields cleared.
    """
    cleared = []
    if cfg.get('load_from'):
        cleared.append('load_from')
    cfg.load_from = None
    cfg.resume = False
    pending = []
    for path, container, key, value in _items(cfg.get('model'), 'model'):
        if key == 'init_cfg':
            if _is_pretrained_init(value):
                pending.append((path, container, key, None))
            elif isinstance(value, (list, tuple)) and any(
                    map(_is_pretrained_init, value)):
                kept = [v for v in value if not _is_pretrained_init(v)]
                pending.append((path, container, key, kept or None))
        elif key in _WEIGHT_KEYS and isinstance(value, str) and value:
            pending.append((path, container, key, None))
        elif key == 'pretrained' and value is True:
            pending.append((path, container, key, False))
        elif key == 'pretrained_cfg_overlay' and value:
            pending.append((path, container, key, None))
    replaced = [entry[0] for entry in pending]
    for path, container, key, new in pending:
        if isinstance(container, tuple) or any(
                path.startswith(p + '.') for p in replaced):
            continue  # inside an init_cfg that goes as a whole
        container[key] = new
        cleared.append(path)
    return cleared


def weight_file_references(cfg: Any) -> List[Tuple[str, str]]:
    """Strings below ``model`` (and ``load_from``) that still name weight files
    or URLs.

    Args:
        cfg (Config): an mmengine ``Config``.

    Returns:
        list: ``(dotted name, value)`` pairs; empty for a random-init config.
    """
    found = []
    if isinstance(cfg.get('load_from'), str) and cfg.get('load_from'):
        found.append(('load_from', cfg.load_from))
    for path, _, _, value in _items(cfg.get('model'), 'model'):
        if isinstance(value,
                      str) and (value.lower().endswith(_WEIGHT_SUFFIXES)
                                or value.lower().startswith(_WEIGHT_SCHEMES)):
            found.append((path, value))
    return found
