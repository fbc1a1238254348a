"""A config's network input size, and the same config at a smaller one.

Real-size configs pad, crop and resize to fixed sizes (LSJ at 1024/1280 px,
LoDa crops of 224/518 px). :func:`shrink_input_size` scales every one of those
sizes by one factor so that the largest becomes a requested size, leaving the
architecture alone: the same layers and parameters run on smaller images (a
CPU smoke run, a memory probe). What it touches:

* transforms anywhere in the config (dataloader pipelines, ``tta_pipeline``
  and the other top-level pipelines, ``TestTimeAug`` branches):
  ``Resize``/``RandomResize``/``RandomChoiceResize`` scales, ``PillowResize``
  sizes, absolute ``RandomCrop``/``SeededRandomCrop``/``GridCrop``/
  ``CenterCrop`` crop sizes, ``Pad`` sizes;
* batch augments and preprocessors that pad to a fixed size
  (``BatchFixedSizePad``, mmseg's ``SegDataPreProcessor.size``) and mmseg's
  sliding-window ``crop_size``/``stride``;
* timm ViTs (a ``model_name`` with ``patch<N>``): sizes become multiples of
  the patch size and the ViT is built with ``dynamic_img_size=True``, so its
  position embedding keeps its trained grid (e.g. DINOv2's 37x37 at 518) and
  is interpolated to the smaller one.

Sizes of 10,000 and more are the "unbounded" side of a short-side resize
(``scale=(100000, 384)``) and stay as they are.
"""
import math
import re
from typing import Any, Callable, Iterator, List, Optional, Tuple

# Transform / module type -> the keys holding absolute pixel sizes.
_SIZE_KEYS = {
    'Resize': ('scale', ),
    'RandomResize': ('scale', ),
    'RandomChoiceResize': ('scales', ),
    'FixScaleResize': ('scale', ),
    'PillowResize': ('size', ),
    'RandomCrop': ('crop_size', ),
    'SeededRandomCrop': ('crop_size', ),
    'GridCrop': ('crop_size', ),
    'CenterCrop': ('crop_size', ),
    'Pad': ('size', ),
    'BatchFixedSizePad': ('size', ),
    'SegDataPreProcessor': ('size', ),
}
# The sizes the network sees (crops and pads: every size key but the
# resizes'), the reference that --input-size replaces.
_RESIZE_TYPES = ('Resize', 'RandomResize', 'RandomChoiceResize',
                 'FixScaleResize', 'PillowResize')
_INPUT_SIZE_KEYS = {
    name: keys
    for name, keys in _SIZE_KEYS.items() if name not in _RESIZE_TYPES
}
_RELATIVE_CROPS = ('relative', 'relative_range')
UNBOUNDED = 10000
DEFAULT_DIVISOR = 32
_PATCH = re.compile(r'patch(\d+)')


def _type_name(node: dict) -> str:
    kind = node.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.split('.')[-1]


def _walk(node: Any) -> Iterator[dict]:
    """Every dict inside a config (lists, tuples and dicts looked through)."""
    # An mmengine Config keeps its dict in _cfg_dict (a Config is no dict).
    node = getattr(node, '_cfg_dict', node)
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk(value)


def _size_fields(cfg: Any, table: dict) -> Iterator[Tuple[dict, str]]:
    """(dict, key) pairs of the absolute pixel sizes named by ``table``."""
    for node in _walk(cfg):
        name = _type_name(node)
        keys = list(table.get(name, ()))
        if name == 'RandomCrop' and node.get('crop_type',
                                             'absolute') in _RELATIVE_CROPS:
            keys = []
        # mmseg's sliding-window inference (a segmentor's test_cfg): the
        # window is an input size, its stride follows from it.
        if node.get('mode') == 'slide':
            keys += ['crop_size'] + (['stride'] if table is _SIZE_KEYS else [])
        for key in keys:
            if node.get(key) is not None:
                yield node, key


def _numbers(value: Any) -> List[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _numbers(item)]
    return []


def _map_numbers(value: Any, fn: Callable[[float], int]) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_numbers(item, fn) for item in value)
    return value


def _model(cfg: Any) -> Any:
    return getattr(cfg, '_cfg_dict', cfg).get('model', {})


def config_input_size(cfg: Any) -> Optional[int]:
    """The largest fixed size a config feeds its network.

    That is a pad, crop or batch pad size. Only what runs counts: the model
    and the dataloaders' and TTA pipelines. Configs without any fixed pad or
    crop (e.g. Mask2Former's test pipeline only resizes) fall back to their
    largest bounded resize scale.

    Args:
        cfg (Config | dict | list): An mmengine ``Config`` (or any nested
            dict or list).

    Returns:
        int, optional: The size in pixels; None when the config fixes no size
            at all (e.g. a joint model whose members bring their own
            pipelines).
    """
    root = getattr(cfg, '_cfg_dict', cfg)
    # What runs: the model, the dataloaders and the TTA pipeline (a joint
    # config inherits top-level pipelines it never uses).
    used = [
        root.get(key)
        for key in ('model', 'train_dataloader', 'val_dataloader',
                    'test_dataloader', 'tta_pipeline')
    ]
    sizes = [
        n for node, key in _size_fields(used, _INPUT_SIZE_KEYS)
        for n in _numbers(node[key]) if n < UNBOUNDED
    ]
    if not sizes:
        sizes = [
            n for node, key in _size_fields(used, _SIZE_KEYS)
            for n in _numbers(node[key]) if n < UNBOUNDED
        ]
    return int(max(sizes)) if sizes else None


def size_divisor(cfg: Any) -> int:
    """The multiple every shrunk size keeps: a timm ViT's patch size, else 32.

    Args:
        cfg (Config | dict): The config (its ``model`` is searched for timm
            ``model_name`` entries).

    Returns:
        int: The divisor (the least common multiple of the patch sizes).
    """
    patches = [
        int(m.group(1)) for node in _walk(_model(cfg))
        if isinstance(node.get('model_name'), str)
        for m in [_PATCH.search(node['model_name'])] if m
    ]
    if not patches:
        return DEFAULT_DIVISOR
    return math.lcm(*patches)


def min_input_size(cfg: Any) -> Optional[int]:
    """The smallest input a two-stage DETR can select its queries from.

    A two-stage DETR (DINO, Co-DINO) takes its ``num_queries`` top-scoring
    encoder tokens as the decoder's queries, so the encoder must have at
    least that many: the tokens of its ``num_feature_levels`` maps, at
    strides 4, 8, ... from the backbone's first output (ResNet/Swin stage
    ``i`` is stride ``4 * 2**i``), on a square input.

    Args:
        cfg (Config | dict): The config.

    Returns:
        int, optional: The smallest multiple of :func:`size_divisor` that has
            enough tokens; None for other models.
    """
    model = _model(cfg)
    queries, levels = model.get('num_queries'), model.get('num_feature_levels')
    if not (model.get('as_two_stage') and queries and levels):
        return None
    out_indices = (model.get('backbone') or {}).get('out_indices') or (0, )
    finest = 4 * 2**int(min(out_indices))
    strides = [finest * 2**level for level in range(int(levels))]
    divisor = size_divisor(cfg)
    size = divisor
    while sum(math.ceil(size / stride)**2 for stride in strides) < queries:
        size += divisor
    return size


def shrink_input_size(cfg: Any, input_size: int) -> Optional[Tuple[int, int]]:
    """Scale a config's fixed input sizes; the largest becomes ``input_size``.

    Sizes are scaled by ``input_size / config_input_size(cfg)`` and rounded
    down to multiples of :func:`size_divisor` (never below one divisor).
    Nothing changes when the config's size is already at most ``input_size``.

    Args:
        cfg (Config | dict): The config, changed in place.
        input_size (int): The wanted largest input size in pixels.

    Returns:
        tuple[int, int], optional: ``(original size, new size)`` when the
            config was shrunk, else None.

    Raises:
        ValueError: When ``input_size`` is smaller than the divisor the model
            needs, or than :func:`min_input_size`.
    """
    divisor = size_divisor(cfg)
    if input_size < divisor:
        raise ValueError(
            f'--input-size {input_size} is below {divisor}, the multiple this '
            'model needs (its patch size or the detector stride)')
    smallest = min_input_size(cfg)
    if smallest is not None and input_size < smallest:
        raise ValueError(
            f'--input-size {input_size} is below {smallest}: this two-stage '
            f'DETR selects {_model(cfg)["num_queries"]} queries from its '
            'encoder tokens, and a smaller input has fewer tokens than that')
    original = config_input_size(cfg)
    if original is None or original <= input_size:
        return None
    factor = input_size / original

    def scale(value: float) -> int:
        if value >= UNBOUNDED:
            return int(value)
        return max(divisor, int(value * factor / divisor + 1e-6) * divisor)

    done = set()
    for node, key in list(_size_fields(cfg, _SIZE_KEYS)):
        # A pipeline may be one object referenced from several places: scale
        # it once.
        if (id(node), key) not in done:
            done.add((id(node), key))
            node[key] = _map_numbers(node[key], scale)
    for node in _walk(_model(cfg)):
        if isinstance(node.get('model_name'), str) and _PATCH.search(
                node['model_name']):
            node['dynamic_img_size'] = True
    return original, scale(original)
