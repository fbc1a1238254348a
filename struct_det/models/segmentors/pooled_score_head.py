"""An MLP on pooled backbone tokens that predicts the structure score (MOS)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

_POOLS = ('mean', 'max', 'mean_max')


@MODELS.register_module()
class PooledScoreHead(BaseModule):
    """The score branch of a heatmap model: pool a backbone map, MLP, a score
    in range.

    One model gives regions and score, like the RAHF baseline and OPDAI: the
    head reads the same backbone features as the heatmap decoder. The map at
    ``in_index`` is pooled over space (``'mean'`` of the patch tokens,
    ``'max'``, or both concatenated), an MLP maps it to one number ``z`` and
    the score is ``low + (high - low) * sigmoid(z)``, inside ``score_range``
    from the start (the last layer starts near zero: every image scores about
    the middle of the range; not exactly, which would leave the correlation
    losses without a gradient).

    The losses are struct_det's score losses (mmdet registry, hence the
    ``mmdet.`` scope in their types): MSE in MOS units, ``(1 - PLCC) / 2``,
    pairwise ranking, norm-in-norm; OPDAI used MSE + 0.3 (1 - PLCC) + (1 -
    SRCC).

    Args:
        in_channels (int): channels of the pooled map.
        in_index (int): which backbone output to pool (the deepest by default).
        hidden_channels (Sequence[int]): widths of the MLP's hidden layers.
            Defaults to ``(256, )``.
        dropout (float): dropout before each linear layer. Defaults to 0.1.
        pool (str): ``'mean'``, ``'max'`` or ``'mean_max'``. Defaults to
            ``'mean'``.
        score_range (tuple[float, float]): ``(low, high)`` of the predicted
            score. Defaults to ``(1.0, 5.0)``.
        losses (dict | Sequence[dict]): score loss configs, each returning a
            scalar for ``(pred, mos)``. Defaults to
            ``(dict(type='mmdet.ScoreMSELoss'), )``.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 in_index: int = -1,
                 hidden_channels: Sequence[int] = (256, ),
                 dropout: float = 0.1,
                 pool: str = 'mean',
                 score_range: Tuple[float, float] = (1.0, 5.0),
                 losses: Union[dict, Sequence[dict]] = (dict(
                     type='mmdet.ScoreMSELoss'), ),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool not in _POOLS:
            raise ValueError(f'PooledScoreHead: pool must be one of {_POOLS}, '
                             f'got {pool!r}')
        low, high = (float(v) for v in score_range)
        if not high > low:
            raise ValueError('PooledScoreHead: score_range must be (low, '
                             f'high) with high > low, got {score_range}')
        self.in_index = in_index
        self.pool = pool
        self.score_range = (low, high)
        layers: List[nn.Module] = []
        width = in_channels * (2 if pool == 'mean_max' else 1)
        for hidden in hidden_channels:
            layers += [
                nn.Dropout(dropout),
                nn.Linear(width, int(hidden)),
                nn.GELU()
            ]
            width = int(hidden)
        self.last = nn.Linear(width, 1)
        self.mlp = nn.Sequential(*layers, nn.Dropout(dropout))
        if isinstance(losses, dict):
            losses = [losses]
        if not losses:
            raise ValueError('PooledScoreHead: give at least one score loss')
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self._init_last()

    def _init_last(self) -> None:
        nn.init.normal_(self.last.weight, std=1e-2)
        nn.init.zeros_(self.last.bias)

    def init_weights(self) -> None:
        """Runs ``init_cfg``; the last layer starts near zero (a neutral
        start).
        """
        super().init_weights()
        self._init_last()

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Scores of a batch.

        Args:
            feats (Sequence[torch.Tensor]): the backbone's outputs,
                ``(N, C, h, w)`` each.

        Returns:
            torch.Tensor: ``(N,)`` scores in ``score_range``.
        """
        x = feats[self.in_index]
        if self.pool == 'mean':
            pooled = x.mean((-2, -1))
        elif self.pool == 'max':
            pooled = x.amax((-2, -1))
        else:
            pooled = torch.cat([x.mean((-2, -1)), x.amax((-2, -1))], dim=1)
        low, high = self.score_range
        return low + (high - low) * self.last(
            self.mlp(pooled)).squeeze(-1).sigmoid()

    def loss(self, feats: Sequence[torch.Tensor], batch_data_samples) -> dict:
        """The score losses against each sample's ``mos``.

        Args:
            feats (Sequence[torch.Tensor]): the backbone's outputs.
            batch_data_samples (list[SegDataSample]): samples whose metainfo
                carries ``mos``.

        Returns:
            dict: one entry per loss.

        Raises:
            KeyError: a sample without a MOS (naming its image).
        """
        mos = []
        for sample in batch_data_samples:
            value = sample.metainfo.get('mos')
            if value is None:
                raise KeyError(f'{sample.metainfo.get("img_path")}: no mos in '
                               'the metainfo; the score head needs '
                               "PackHeatmapInputs' meta_keys with 'mos' and a "
                               "labelled COCO file")
            mos.append(float(value))
        pred = self.forward(feats)
        target = torch.tensor(mos, dtype=pred.dtype, device=pred.device)
        losses = {}
        for loss_fn in self.losses:
            name = getattr(loss_fn, 'loss_name', 'loss_score')
            value = loss_fn(pred, target)
            losses[name] = losses[name] + value if name in losses else value
        return losses
