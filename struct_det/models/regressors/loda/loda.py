"""LoDa: a frozen ViT adapted to quality scoring by a frozen CNN's tokens.

Xu et al., "Boosting Image Quality Assessment through Efficient Transformer
Adaptation with Local Feature Enhancement", CVPR 2024.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from torch.utils.checkpoint import checkpoint

# Registers the score losses the default config names.
from ... import losses  # noqa: F401
from .cosine_linear import CosineLinear
from .distortion_injector import DistortionInjector
from .local_distortion_tokens import LocalDistortionTokens
from .timm_backbones import (build_timm_cnn, build_timm_vit,
                             load_backbone_weights)

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class LoDa(BaseModel):
    """Image quality (MOS) regressor: frozen backbones, a small adapter.

    A frozen CNN's multi-scale features become 196 local distortion tokens
    (see :class:`LocalDistortionTokens`); before every block of a frozen ViT
    a :class:`DistortionInjector` lets all ViT tokens cross-attend to them.
    The head reads the ViT's pooled (CLS) feature after its final norm,
    applies dropout and a cosine linear layer whose [-1, 1] output is mapped
    linearly onto ``score_range``.

    Frozen means frozen: backbone parameters have ``requires_grad=False`` and
    both backbones stay in eval mode whatever ``train()`` is called with, so
    BatchNorm statistics and dropout of the pretrained models never change.

    The predicted MOS is written to each ``DetDataSample`` as ``pred_score``
    (a float tensor of shape (1,)); the training target is
    ``data_sample.metainfo['mos']``.

    Args:
        vit (dict): The timm ViT, ``dict(model_name=..., pretrained=<local
            file or None>, **timm_kwargs)``; any timm ViT with a ``blocks``
            list (CLS/register tokens and patch size are taken from the
            model).
        cnn (dict): The timm CNN, ``dict(model_name=..., pretrained=...,
            out_indices=..., **kwargs)``, built with ``features_only=True``;
            channels come from its ``feature_info``.
        latent_dim (int): The dimension of the distortion tokens and of the
            adapter bottleneck. Defaults to 64.
        grid_size (int): The pooled grid side per CNN scale (tokens = scales
            * grid_size ** 2). Defaults to 7.
        num_heads (int): Heads of the injectors' cross-attention.
            Defaults to 4.
        scale_init_std (float): Std of the near-zero init of each injector's
            output scale. Defaults to 0.02.
        dropout (float): Dropout before the head. Defaults to 0.1.
        score_range (Sequence[float], optional): ``(low, high)`` the head's
            [-1, 1] cosine is mapped onto; None keeps the raw cosine.
            Correlation losses ignore it; it makes predictions MOS-like and
            lets ``ScoreMSELoss`` work. Defaults to ``(1.0, 5.0)``.
        loss (dict | list[dict]): One loss config or a list of them (a
            weighted sum, each with its ``loss_weight``); each must expose
            ``loss_name``. Defaults to ``NormInNormLoss``.
        with_cp (bool): Gradient checkpointing of injector + block pairs in
            training (saves the memory of the frozen ViT's activations at the
            price of a second forward). Defaults to False.
        data_preprocessor (dict | nn.Module, optional): Defaults to None:
            :class:`ScoreDataPreprocessor` with ImageNet mean/std and
            BGR->RGB, the normalisation of the released LoDa code.
        init_cfg (dict, optional): The mmengine init config of the
            non-backbone parts. Defaults to None.
    """

    def __init__(self,
                 vit: dict = dict(
                     model_name='vit_base_patch16_224.augreg2_in21k_ft_in1k'),
                 cnn: dict = dict(
                     model_name='resnet50', out_indices=(1, 2, 3, 4)),
                 latent_dim: int = 64,
                 grid_size: int = 7,
                 num_heads: int = 4,
                 scale_init_std: float = 0.02,
                 dropout: float = 0.1,
                 score_range: Optional[Sequence[float]] = (1.0, 5.0),
                 loss: Union[dict, List[dict]] = dict(
                     type='NormInNormLoss', loss_weight=1.0),
                 with_cp: bool = False,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='ScoreDataPreprocessor',
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):
            # Built here with mmdet's registry so that it resolves without a
            # default scope.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

        vit_cfg, cnn_cfg = copy.deepcopy(dict(vit)), copy.deepcopy(dict(cnn))
        self.vit_pretrained = vit_cfg.pop('pretrained', None)
        self.cnn_pretrained = cnn_cfg.pop('pretrained', None)
        for name, cfg in (('vit', vit_cfg), ('cnn', cnn_cfg)):
            if 'model_name' not in cfg:
                raise KeyError(
                    f"LoDa: `{name}` needs a timm 'model_name', got {cfg}")
        self.vit = build_timm_vit(**vit_cfg)
        self.cnn = build_timm_cnn(**cnn_cfg)
        for backbone in (self.vit, self.cnn):
            backbone.requires_grad_(False)
            backbone.eval()

        embed_dim = self.vit.embed_dim
        self.distortion_tokens = LocalDistortionTokens(
            self.cnn.feature_info.channels(),
            latent_dim=latent_dim,
            grid_size=grid_size)
        self.injectors = nn.ModuleList([
            DistortionInjector(
                embed_dim,
                latent_dim=latent_dim,
                num_heads=num_heads,
                scale_init_std=scale_init_std)
            for _ in range(len(self.vit.blocks))
        ])
        self.head_dropout = nn.Dropout(dropout)
        self.head = CosineLinear(embed_dim, 1)

        if score_range is not None:
            low, high = (float(v) for v in score_range)
            if not high > low:
                raise ValueError(
                    f'LoDa: score_range must be (low, high) with high > low, '
                    f'got {score_range}')
            self.score_range: Optional[Tuple[float, float]] = (low, high)
        else:
            self.score_range = None

        loss_cfgs = [loss] if isinstance(loss, dict) else list(loss)
        if not loss_cfgs:
            raise ValueError('LoDa: `loss` needs at least one loss config')
        self.losses = nn.ModuleList([MODELS.build(cfg) for cfg in loss_cfgs])
        names = [getattr(module, 'loss_name', None) for module in self.losses]
        if None in names or len(set(names)) != len(names):
            raise ValueError(
                f'LoDa: every loss needs a distinct `loss_name`, got {names}; '
                "pass loss_name='loss_...' to tell two of a kind apart")
        self.with_cp = with_cp
        self._log_parameter_counts()

    # ------------------------------------------------------- bookkeeping
    def parameter_counts(self) -> Dict[str, int]:
        """Numbers of trainable and of all parameters.

        Returns:
            dict: ``trainable`` and ``total`` element counts.
        """
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters()
                        if p.requires_grad)
        return dict(trainable=trainable, total=total)

    def _log_parameter_counts(self) -> None:
        counts = self.parameter_counts()
        share = 100.0 * counts['trainable'] / max(counts['total'], 1)
        MMLogger.get_current_instance().info(
            f'LoDa: {counts["trainable"]:,} trainable of {counts["total"]:,} '
            f'parameters ({share:.2f}%); ViT {type(self.vit).__name__} with '
            f'{len(self.vit.blocks)} blocks and CNN channels '
            f'{self.distortion_tokens.in_channels} are frozen')

    def train(self, mode: bool = True) -> 'LoDa':
        """Set the mode of the adapter; the frozen backbones stay in eval.

        Args:
            mode (bool): Train (True) or eval (False) mode of the trainable
                parts. Defaults to True.

        Returns:
            LoDa: self.
        """
        super().train(mode)
        # The released LoDa code left the frozen ResNet in train mode, so its
        # BatchNorm running statistics drifted during training; here they
        # cannot.
        self.vit.eval()
        self.cnn.eval()
        return self

    def init_weights(self) -> None:
        """Load the backbones' local pretrained files, then run ``init_cfg``.

        Test-time runs restore a full checkpoint instead and never call this,
        so the backbone files are only needed for training.
        """
        for name, backbone, path in (('vit', self.vit, self.vit_pretrained),
                                     ('cnn', self.cnn, self.cnn_pretrained)):
            if path:
                load_backbone_weights(backbone, path, name)
            # mmengine's BaseModule.init_weights would call timm's own
            # init_weights on the backbones and re-randomise what was just
            # loaded.
            backbone.is_init = True
        super().init_weights()

    # ------------------------------------------------------- network
    def _injected_block(self, index: int, x: torch.Tensor,
                        distortion_tokens: torch.Tensor) -> torch.Tensor:
        return self.vit.blocks[index](
            self.injectors[index](x, distortion_tokens))

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The pooled ViT feature after the adapted blocks and final norm.

        Args:
            inputs (Tensor): Normalised images ``(B, 3, H, W)``; ``H``, ``W``
                must suit the ViT (its ``img_size`` unless built with
                ``dynamic_img_size=True``).

        Returns:
            Tensor: ``(B, embed_dim)`` (the CLS token for CLS-pooled ViTs).
        """
        # No gradient flows into the frozen CNN and nothing trainable precedes
        # it, so its activations need not be kept for backward.
        with torch.no_grad():
            features = self.cnn(inputs)
        distortion_tokens = self.distortion_tokens(features)

        vit = self.vit
        x = vit.patch_embed(inputs)
        x = vit._pos_embed(x)
        x = getattr(vit, 'patch_drop', nn.Identity())(x)
        x = getattr(vit, 'norm_pre', nn.Identity())(x)
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for index in range(len(vit.blocks)):
            if use_cp:
                x = checkpoint(
                    self._injected_block,
                    index,
                    x,
                    distortion_tokens,
                    use_reentrant=False)
            else:
                x = self._injected_block(index, x, distortion_tokens)
        x = vit.norm(x)
        pooled = vit.forward_head(x, pre_logits=True)
        if pooled.dim() != 2:
            raise ValueError(
                f'LoDa: the ViT pooled to shape {tuple(pooled.shape)}; build '
                "it with a pooling global_pool such as 'token' or 'avg'")
        return pooled

    def _forward(
            self,
            inputs: torch.Tensor,
            data_samples: Optional[List[DetDataSample]] = None
    ) -> torch.Tensor:
        """Predicted scores.

        Args:
            inputs (Tensor): Normalised images ``(B, 3, H, W)``.
            data_samples (list[DetDataSample], optional): Unused.

        Returns:
            Tensor: Scores ``(B,)``, in ``score_range`` if set, else in [-1,
                1].
        """
        cosine = self.head(self.head_dropout(self.extract_feat(inputs)))[:, 0]
        if self.score_range is None:
            return cosine
        low, high = self.score_range
        return low + (cosine + 1) * (0.5 * (high - low))

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[List[DetDataSample]] = None,
        mode: str = 'tensor'
    ) -> Union[Dict[str, torch.Tensor], list, torch.Tensor]:
        """mmengine's three-mode forward.

        Args:
            inputs (Tensor): Normalised images ``(B, 3, H, W)``.
            data_samples (list[DetDataSample], optional): One per image.
            mode (str): ``'loss'`` (a dict of losses), ``'predict'`` (data
                samples with ``pred_score``) or ``'tensor'`` (scores
                ``(B,)``). Defaults to ``'tensor'``.

        Returns:
            dict | list | Tensor: Depending on ``mode``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(
            f"LoDa: invalid mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, torch.Tensor]:
        """Losses against the MOS in ``data_sample.metainfo['mos']``.

        Args:
            inputs (Tensor): Normalised images ``(B, 3, H, W)``.
            data_samples (list[DetDataSample]): One per image, each with
                ``metainfo['mos']``.

        Returns:
            dict: One entry per configured loss, keyed by its ``loss_name``.
        """
        targets = self._targets(data_samples, inputs.device)
        scores = self._forward(inputs, data_samples)
        return {
            module.loss_name: module(scores, targets)
            for module in self.losses
        }

    def predict(
        self,
        inputs: torch.Tensor,
        data_samples: Optional[List[DetDataSample]] = None
    ) -> List[DetDataSample]:
        """Write the predicted MOS into each data sample.

        Args:
            inputs (Tensor): Normalised images ``(B, 3, H, W)``.
            data_samples (list[DetDataSample], optional): One per image;
                created empty when None.

        Returns:
            list[DetDataSample]: The samples, each with ``pred_score`` of shape
                (1,).
        """
        scores = self._forward(inputs, data_samples).detach().float()
        if data_samples is None:
            data_samples = [DetDataSample() for _ in range(scores.shape[0])]
        for data_sample, score in zip(data_samples, scores):
            data_sample.pred_score = score.reshape(1)
        return data_samples

    @staticmethod
    def _targets(data_samples: Optional[List[DetDataSample]],
                 device: torch.device) -> torch.Tensor:
        if not data_samples:
            raise ValueError('LoDa.loss needs data samples carrying the MOS')
        values = []
        for data_sample in data_samples:
            mos = data_sample.metainfo.get('mos')
            if mos is None:
                path = data_sample.metainfo.get('img_path', '<unknown image>')
                raise ValueError(
                    f"LoDa: {path} has no 'mos' in its metainfo. Train on a "
                    "labelled split and add 'mos' to "
                    'PackDetInputs(meta_keys=...).')
            values.append(float(mos))
        return torch.tensor(values, dtype=torch.float32, device=device)
