"""A one-channel U-Net / progressive-upsampling decoder for ViT features."""
from typing import List, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import nn

from ...datasets.transforms.load_heatmap_annotations import IGNORE_INDEX


class _UpBlock(nn.Sequential):
    """2x transposed-conv upsampling followed by norm and activation."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict,
                 act_cfg: dict) -> None:
        layers = [nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)]
        if norm_cfg is not None:
            layers.append(build_norm_layer(norm_cfg, out_channels)[1])
        if act_cfg is not None:
            layers.append(build_activation_layer(act_cfg))
        super().__init__(*layers)


@MODELS.register_module()
class UNetHeatmapHead(BaseDecodeHead):
    """Predicts the distortion heatmap (one channel, logits) from ViT feature
    maps.

    The ViT's maps all have the patch stride; the decoder builds the
    resolutions a U-Net needs (as UNETR does): the deepest map is refined and
    upsampled 2x per stage by a transposed convolution, and stage ``k``
    concatenates a skip from an earlier block, projected and brought to the
    stage's resolution by ``k + 1`` transposed convolutions (first stage:
    second-deepest input, and so on; stages beyond the inputs have no skip).
    Two 3x3 convolutions fuse each stage. The logits are resized to the input
    size by mmseg as usual; the model's one channel is ``sigmoid``-ed by
    mmseg's post-processing into the heatmap in [0, 1].

    Training regresses the soft annotator map ``gt_heatmap`` (from
    :class:`PackHeatmapInputs`) with ``loss_decode`` (default: MSE + Dice, the
    OPDAI recipe); pixels that ``gt_sem_seg`` marks 255 (padding) do not count.

    Args:
        in_channels (Sequence[int]): channels of each input map (one per
            selected ViT block).
        channels (int): width of the bottleneck on the deepest map. Defaults to
            256.
        decoder_channels (Sequence[int]): width of each upsampling stage (one
            2x stage per entry). Defaults to ``(256, 128, 64, 32)``.
        in_index (Sequence[int]): which backbone outputs to use, deepest last.
            Defaults to ``(0, 1, 2, 3)``.
        norm_cfg (dict): norm after each convolution; GroupNorm by default
            (works with the small per-GPU batches ViT-L training allows).
        act_cfg (dict): activation. Defaults to ``dict(type='ReLU')``.
        threshold (float): binarisation threshold of mmseg's ``pred_sem_seg``.
            Defaults to 0.5.
        loss_decode (dict | Sequence[dict]): heatmap losses taking
            ``(logits, soft target, valid mask)``. Defaults to
            ``HeatmapMSELoss`` and ``DiceIoULoss``, each of weight 1.0.
        **kwargs: the rest of ``BaseDecodeHead``'s arguments.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 decoder_channels: Sequence[int] = (256, 128, 64, 32),
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: dict = dict(
                     type='GN', num_groups=8, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 threshold: float = 0.5,
                 loss_decode=(dict(type='HeatmapMSELoss', loss_weight=1.0),
                              dict(type='DiceIoULoss', loss_weight=1.0)),
                 **kwargs) -> None:
        in_channels, in_index = list(in_channels), list(in_index)
        if len(in_channels) != len(in_index):
            raise ValueError(f'UNetHeatmapHead: {len(in_channels)} '
                             f'in_channels for {len(in_index)} in_index '
                             'entries')
        if not decoder_channels:
            raise ValueError('UNetHeatmapHead: decoder_channels needs at '
                             'least one stage')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('out_channels', 1)
        if kwargs['out_channels'] != 1:
            raise ValueError('UNetHeatmapHead predicts one channel '
                             '(out_channels=1)')
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('ignore_index', IGNORE_INDEX)
        super().__init__(
            in_channels,
            channels=int(decoder_channels[-1]),
            in_index=in_index,
            input_transform='multiple_select',
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            threshold=threshold,
            loss_decode=list(loss_decode) if isinstance(
                loss_decode, (list, tuple)) else loss_decode,
            **kwargs)
        self.bottleneck_channels = int(channels)
        self.decoder_channels = [int(c) for c in decoder_channels]
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.bottleneck = ConvModule(
            in_channels[-1], channels, 3, padding=1, **conv)
        self.ups, self.skips, self.fuses = nn.ModuleList(), nn.ModuleList(
        ), nn.ModuleList()
        prev = int(channels)
        for stage, width in enumerate(self.decoder_channels):
            self.ups.append(_UpBlock(prev, width, norm_cfg, act_cfg))
            skip_level = len(in_channels) - 2 - stage
            if skip_level >= 0:
                chain = [ConvModule(in_channels[skip_level], width, 1, **conv)]
                chain += [
                    _UpBlock(width, width, norm_cfg, act_cfg)
                    for _ in range(stage + 1)
                ]
                self.skips.append(nn.Sequential(*chain))
                fuse_in = 2 * width
            else:
                self.skips.append(nn.Identity())
                fuse_in = width
            self.fuses.append(
                nn.Sequential(
                    ConvModule(fuse_in, width, 3, padding=1, **conv),
                    ConvModule(width, width, 3, padding=1, **conv)))
            prev = width

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Decodes the maps into one-channel logits at ``patch / 2**stages``
        stride.

        Args:
            inputs (Sequence[torch.Tensor]): the backbone's outputs.

        Returns:
            torch.Tensor: ``(N, 1, h, w)`` logits.
        """
        feats: List[torch.Tensor] = self._transform_inputs(inputs)
        x = self.bottleneck(feats[-1])
        for stage, (up, skip,
                    fuse) in enumerate(zip(self.ups, self.skips, self.fuses)):
            x = up(x)
            skip_level = len(feats) - 2 - stage
            if skip_level >= 0:
                s = skip(feats[skip_level])
                if s.shape[-2:] != x.shape[-2:]:
                    s = resize(
                        s,
                        size=x.shape[-2:],
                        mode='bilinear',
                        align_corners=self.align_corners)
                x = torch.cat([x, s], dim=1)
            x = fuse(x)
        return self.cls_seg(x)

    def _stack_targets(
            self, batch_data_samples) -> Tuple[torch.Tensor, torch.Tensor]:
        """The soft targets padded like ``gt_sem_seg``, and the valid-pixel
        mask.
        """
        labels, heats = [], []
        for sample in batch_data_samples:
            if 'gt_heatmap' not in sample or 'gt_sem_seg' not in sample:
                raise KeyError(
                    f'{sample.metainfo.get("img_path")}: UNetHeatmapHead '
                    'trains on gt_heatmap: put LoadHeatmapAnnotations and '
                    'PackHeatmapInputs in the training pipeline')
            label = sample.gt_sem_seg.data
            heat = sample.gt_heatmap.data.to(torch.float32)
            pad_h, pad_w = label.shape[-2] - heat.shape[-2], label.shape[
                -1] - heat.shape[-1]
            if pad_h < 0 or pad_w < 0:
                raise ValueError(f'{sample.metainfo.get("img_path")}: '
                                 f'gt_heatmap {tuple(heat.shape)} is larger '
                                 f'than gt_sem_seg {tuple(label.shape)}')
            # the data preprocessor padded gt_sem_seg right/bottom
            if pad_h or pad_w:
                heat = nn.functional.pad(heat, (0, pad_w, 0, pad_h), value=0.0)
            labels.append(label)
            heats.append(heat)
        labels_t = torch.stack(labels)
        return torch.stack(heats).to(
            labels_t.device), labels_t != self.ignore_index

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     batch_data_samples) -> dict:
        """Heatmap losses against the soft annotator map.

        Args:
            seg_logits (torch.Tensor): ``(N, 1, h, w)`` logits of
                :meth:`forward`.
            batch_data_samples (list[SegDataSample]): samples with
                ``gt_heatmap`` and ``gt_sem_seg``.

        Returns:
            dict: one entry per loss, plus ``heatmap_mae`` (mean absolute error
                of the heatmap, for the log).
        """
        target, valid = self._stack_targets(batch_data_samples)
        logits = resize(
            seg_logits,
            size=target.shape[-2:],
            mode='bilinear',
            align_corners=self.align_corners)
        losses_decode = self.loss_decode
        if not isinstance(losses_decode, nn.ModuleList):
            losses_decode = [losses_decode]
        losses = {}
        for loss_fn in losses_decode:
            value = loss_fn(logits, target, valid)
            name = loss_fn.loss_name
            losses[name] = losses[name] + value if name in losses else value
        with torch.no_grad():
            err = (logits.sigmoid() - target).abs() * valid
            losses['heatmap_mae'] = err.sum() / valid.sum().clamp(min=1)
        return losses
