"""Any timm ViT as an mmseg backbone: multi-layer patch-token maps.

Its weights come from local files only.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from ..regressors.loda.timm_backbones import load_backbone_weights

try:
    import timm
except ImportError:  # pragma: no cover - timm is a runtime requirement
    timm = None

# Parameters after the last block: frozen only when the whole model is.
_POST_PREFIXES = ('norm.', 'fc_norm.', 'head.', 'attn_pool.', 'head_drop.')


@MODELS.register_module()
class TimmViT(BaseModule):
    """A timm vision transformer returning chosen blocks' patch tokens as maps.

    Works for any timm model with ``forward_intermediates`` and a ``blocks``
    list: the CLIP (``vit_large_patch14_clip_336.openai``), SigLIP / SigLIP 2
    (``vit_so400m_patch16_siglip_512.v2_webli``), EVA-02 / EVA-CLIP
    (``eva02_large_patch14_clip_336.merged2b``) and DINOv2
    (``vit_large_patch14_reg4_dinov2``) families and the plain ImageNet ViTs.
    Prefix tokens (class, registers) are dropped; each output is
    ``(N, C, H / patch, W / patch)``. The model is created with
    ``pretrained=False`` and ``dynamic_img_size=True`` (any input size
    divisible by the patch; the position embedding is resampled) and its
    weights come from the local file ``pretrained`` names, loaded by
    :meth:`init_weights` (nothing is downloaded; timm's own filter converts
    OpenCLIP / original DINOv2 / EVA layouts).

    Blocks after the last requested one, the final norm (unless ``out_norm``)
    and the classifier are pruned away, so no parameter goes unused under
    DDP.

    Args:
        model_name (str): The timm model name.
        pretrained (str, optional): A local weights file (``.safetensors`` /
            ``.pth``), or None (random init: tests and tiny configs).
            Defaults to None.
        out_indices (Sequence[int]): Blocks whose outputs are returned
            (negative ones count from the end). Defaults to ``(-1, )``.
        frozen_stages (int | str): -1 trains everything; 0 freezes the patch
            embedding, position embedding and prefix tokens; ``n > 0`` also
            the first ``n`` blocks; the number of blocks (or ``'all'``)
            freezes the whole backbone. Frozen parts stay in eval mode (no
            dropout / drop-path) whatever ``train()`` is called with.
            Defaults to -1.
        out_norm (bool): Apply the final norm to every returned map (timm's
            ``norm=True``). Defaults to False.
        with_cp (bool): Gradient checkpointing of the blocks (saves memory
            in training). Defaults to False.
        init_cfg (dict, optional): The mmengine init config (rarely needed:
            the weights come from ``pretrained``). Defaults to None.
        **timm_kwargs: Forwarded to ``timm.create_model`` (``img_size``,
            ``depth``, ``embed_dim``, ``drop_path_rate``, ...).
    """

    def __init__(self,
                 model_name: str,
                 pretrained: Optional[str] = None,
                 out_indices: Sequence[int] = (-1, ),
                 frozen_stages: Union[int, str] = -1,
                 out_norm: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if timm is None:  # pragma: no cover
            raise ImportError('TimmViT needs timm: pip install timm')
        timm_kwargs.setdefault('num_classes', 0)
        timm_kwargs.setdefault('global_pool', '')
        timm_kwargs.setdefault('dynamic_img_size', True)
        try:
            model = timm.create_model(
                model_name, pretrained=False, **timm_kwargs)
        except TypeError as err:  # e.g. a CNN does not take dynamic_img_size
            raise TypeError(
                f'TimmViT: timm cannot build {model_name!r} with '
                f'{sorted(timm_kwargs)} ({err}); TimmViT takes ViT-family '
                'models with forward_intermediates (vit_*, eva*, *clip*, '
                '*siglip*, *dinov2*)') from None
        blocks = getattr(model, 'blocks', None)
        if not hasattr(model, 'forward_intermediates') or not isinstance(
                blocks, (nn.Sequential, nn.ModuleList)):
            raise TypeError(
                f'TimmViT: timm model {model_name!r} ({type(model).__name__}) '
                'has no forward_intermediates or no list of blocks; use a '
                'ViT-family model (vit_*, eva*, *clip*, *siglip*, *dinov2*)')
        num_blocks = len(model.blocks)
        indices = sorted({i + num_blocks if i < 0 else i for i in out_indices})
        if not indices or indices[0] < 0 or indices[-1] >= num_blocks:
            raise ValueError(
                f'TimmViT: out_indices {tuple(out_indices)} outside the '
                f'{num_blocks} blocks of {model_name}')
        if frozen_stages == 'all':
            frozen_stages = num_blocks
        if isinstance(frozen_stages, bool) or not isinstance(
                frozen_stages, int) or not -1 <= frozen_stages <= num_blocks:
            raise ValueError(
                f"TimmViT: frozen_stages must be -1..{num_blocks} or 'all', "
                f'got {frozen_stages!r}')
        self.model_name = model_name
        self.pretrained = pretrained
        self.out_indices: Tuple[int, ...] = tuple(indices)
        self.out_norm = out_norm
        self.num_blocks = num_blocks
        self.frozen_stages = frozen_stages
        # Kept before pruning: the full model's parameter names decide what
        # is frozen.
        if hasattr(model, 'prune_intermediate_layers'):
            model.prune_intermediate_layers(
                list(indices), prune_norm=not out_norm, prune_head=True)
        if with_cp and hasattr(model, 'set_grad_checkpointing'):
            model.set_grad_checkpointing(True)
        self.vit = model
        self.embed_dim = int(
            getattr(model, 'embed_dim', getattr(model, 'num_features', 0)))
        self.patch_size = self._patch_size(model)
        self._freeze()

    @staticmethod
    def _patch_size(model: nn.Module) -> int:
        size = getattr(model.patch_embed, 'patch_size', 16)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def out_channels(self) -> List[int]:
        """list[int]: channels of each returned map (the embedding width)."""
        return [self.embed_dim] * len(self.out_indices)

    def _is_frozen(self, name: str) -> bool:
        if self.frozen_stages < 0:
            return False
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) < self.frozen_stages
        if name.startswith(_POST_PREFIXES):
            return self.frozen_stages >= self.num_blocks
        # Patch / position embeddings, prefix tokens, pre-norm, rope.
        return True

    def _freeze(self) -> None:
        for name, param in self.vit.named_parameters():
            if self._is_frozen(name):
                param.requires_grad_(False)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [
            m for n, m in self.vit.named_children()
            if n not in ('blocks', 'norm', 'fc_norm', 'head')
        ]
        modules += list(self.vit.blocks)[:self.frozen_stages]
        if self.frozen_stages >= self.num_blocks:
            modules += [
                m for n, m in self.vit.named_children()
                if n in ('norm', 'fc_norm')
            ]
        return modules

    def train(self, mode: bool = True) -> 'TimmViT':
        """Set the mode, keeping the frozen parts in eval mode.

        Args:
            mode (bool): The training mode of the trainable parts.
                Defaults to True.

        Returns:
            TimmViT: self.
        """
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def init_weights(self) -> None:
        """Load ``pretrained`` (a local file), then run ``init_cfg``."""
        if self.pretrained:
            load_backbone_weights(self.vit, self.pretrained, self.model_name)
            # BaseModule.init_weights would call timm's own init_weights on
            # the model and re-randomise what was just loaded.
            self.vit.is_init = True
            self._freeze()
        super().init_weights()

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Patch-token maps of the chosen blocks.

        Args:
            inputs (Tensor): ``(N, 3, H, W)`` normalised images; ``H`` and
                ``W`` divisible by the patch size (pad with the data
                preprocessor's ``size_divisor``).

        Returns:
            tuple[Tensor]: ``(N, C, H / patch, W / patch)`` per out index.
        """
        height, width = inputs.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f'TimmViT: input {height}x{width} is not divisible by the '
                f'patch size {self.patch_size}; set the data preprocessor\'s '
                'size_divisor (and test_cfg.size_divisor) to '
                f'{self.patch_size}')
        feats = self.vit.forward_intermediates(
            inputs,
            indices=list(self.out_indices),
            norm=self.out_norm,
            output_fmt='NCHW',
            intermediates_only=True)
        return tuple(feats)
