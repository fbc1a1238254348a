# Copyright (c) struct_det contributors. All rights reserved.
"""Co-DETR (Co-DINO) built on mmdet's DINO."""
import copy
from contextlib import contextmanager
from typing import (Dict, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import torch
from mmcv.cnn import ConvModule
from mmdet.models.detectors import DINO
from mmdet.models.layers import (DeformableDetrTransformerEncoder,
                                 SinePositionalEncoding)
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, OptSampleList, SampleList
from mmdet.utils import ConfigType, InstanceList, OptConfigType
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .co_dino_decoder import CoDinoTransformerDecoder
from .positive_query_generator import positive_query_attn_mask

EVAL_MODULES = ('detr', 'one-stage', 'two-stage')
# Keys of a keyed train/test config that are no auxiliary head's name: the
# DETR head's entry and the RPN's (shared by all RoI heads, as in mmdet's
# two-stage detectors).
DETR_KEY = 'detr'
RPN_KEYS = ('rpn', 'rpn_proposal')
# Branch name of an RoI head given as a single config (mmdet's layout:
# ``train_cfg=dict(rpn=..., rpn_proposal=..., rcnn=...)``).
SINGLE_ROI_NAME = 'rcnn'
# one config for the DETR head and each auxiliary head, or a single dict
StageConfigs = Union[OptConfigType, Sequence[OptConfigType]]
# auxiliary heads: positional, keyed by branch name or (RoI) a single config
HeadConfigs = Union[None, ConfigType, Sequence[ConfigType],
                    Mapping[str, ConfigType]]


def _named_heads(
    heads: HeadConfigs, arg: str, single_name: Optional[str]
) -> Tuple[Optional[List[str]], List[ConfigType]]:
    """Branch names and configs of one kind of auxiliary head.

    Args:
        heads (list | dict, optional): A list of head configs (positional),
            a dict mapping branch names to head configs, or one head config
            (a dict with ``type``) when ``single_name`` is given.
        arg (str): The argument's name, for error messages.
        single_name (str, optional): Branch name of a single head config.

    Returns:
        tuple: ``(names, cfgs)``; ``names`` is None for positional heads.

    Raises:
        ValueError: For a single head config where none is accepted, or a
            branch name that a train/test config reserves.
    """
    if heads is None:
        return None, []
    if not isinstance(heads, Mapping):
        return None, list(heads)
    if 'type' in heads:
        if single_name is None:
            raise ValueError(
                f'CoDETR.{arg} takes a list of head configs or a dict '
                'mapping branch names to head configs, got a single head '
                f"config (type={heads['type']!r}); key it by a branch "
                f"name, e.g. {arg}=dict(atss=dict(type=...)).")
        return [single_name], [heads]
    names = list(heads)
    for head_name in names:
        if head_name in (DETR_KEY, ) + RPN_KEYS:
            raise ValueError(
                f'CoDETR.{arg} names a head {head_name!r}, a key that '
                'train_cfg/test_cfg reserve for the DETR head and the RPN.')
    return names, [heads[head_name] for head_name in names]


def _split_stage_cfgs(cfg: Union[StageConfigs, Mapping[str, OptConfigType]],
                      roi_names: Optional[List[str]],
                      dense_names: Optional[List[str]], num_roi: int,
                      num_dense: int, name: str) -> List[OptConfigType]:
    """Split a Co-DETR train/test config into one entry per branch.

    Two layouts are accepted. Positional: a list ``[detr, roi_0, ...,
    dense_0, ...]`` whose RoI entries hold ``rpn`` (``rpn_proposal``) and
    ``rcnn`` (the layout of mmdetection's CO-DETR project), or a single dict
    when there are no auxiliary heads. Keyed, when the heads are named: a
    dict with ``detr``, the RPN's ``rpn`` (and ``rpn_proposal``) and one
    entry per auxiliary head name; missing keys mean no config. Both give
    the positional entries.

    Args:
        cfg (list | dict, optional): The config.
        roi_names (list[str], optional): Names of the RoI heads, or None
            when they are positional.
        dense_names (list[str], optional): Names of the dense heads, or
            None when they are positional.
        num_roi (int): Number of RoI heads.
        num_dense (int): Number of dense heads.
        name (str): ``'train_cfg'`` or ``'test_cfg'``, for error messages.

    Returns:
        list: ``1 + num_roi + num_dense`` entries.

    Raises:
        ValueError: For a config of the wrong layout or length, or keys that
            name no branch.
    """
    num_aux = num_roi + num_dense
    num_stages = 1 + num_aux
    keyed = roi_names is not None or dense_names is not None
    if cfg is None:
        return [None] * num_stages
    if isinstance(cfg, Mapping):
        if keyed or (num_aux == 0 and DETR_KEY in cfg):
            return _keyed_stage_cfgs(cfg, roi_names or [], dense_names or [],
                                     name)
        if num_aux == 0:
            return [cfg]
        raise ValueError(
            f'CoDETR.{name} must be a list [detr, roi heads..., auxiliary '
            f'dense heads...] of {num_stages} entries when auxiliary heads '
            'are configured, got a single dict.')
    if keyed:
        raise ValueError(
            f'CoDETR.{name} is a list but the auxiliary heads are keyed by '
            f'branch name; give dict({DETR_KEY}=..., rpn=..., '
            '<head name>=...).')
    cfg = list(cfg)
    if len(cfg) != num_stages:
        raise ValueError(
            f'CoDETR.{name} has {len(cfg)} entries but the model has 1 DETR '
            f'head and {num_aux} auxiliary heads; give {num_stages} '
            'entries in the order [detr, roi heads..., dense heads...].')
    return cfg


def _keyed_stage_cfgs(cfg: Mapping[str, OptConfigType], roi_names: List[str],
                      dense_names: List[str],
                      name: str) -> List[OptConfigType]:
    """The positional entries of a train/test config keyed by branch."""
    allowed = [DETR_KEY] + (list(RPN_KEYS) if roi_names else []) + \
        roi_names + dense_names
    unknown = [key for key in cfg if key not in allowed]
    if unknown:
        raise ValueError(
            f'CoDETR.{name} has keys {unknown} that name no branch of the '
            f'model; the keys are {allowed}.')
    rpn = {key: cfg[key] for key in RPN_KEYS if key in cfg}
    stages = [cfg.get(DETR_KEY)]
    stages += [ConfigDict(**rpn, rcnn=cfg.get(head)) for head in roi_names]
    stages += [cfg.get(head) for head in dense_names]
    return stages


def resolve_branch_cfgs(
    roi_head: HeadConfigs = None,
    aux_bbox_head: HeadConfigs = None,
    train_cfg: Union[StageConfigs, Mapping] = None,
    test_cfg: Union[StageConfigs, Mapping] = None
) -> Tuple[List[ConfigType], List[ConfigType], List[OptConfigType],
           List[OptConfigType]]:
    """The auxiliary heads and per-branch configs of a ``CoDETR`` config.

    Args:
        roi_head (list | dict, optional): ``CoDETR.roi_head``.
        aux_bbox_head (list | dict, optional): ``CoDETR.aux_bbox_head``.
        train_cfg (list | dict, optional): ``CoDETR.train_cfg``.
        test_cfg (list | dict, optional): ``CoDETR.test_cfg``.

    Returns:
        tuple: ``(roi_cfgs, dense_cfgs, train_cfgs, test_cfgs)``: the head
            configs in order (RoI heads, dense heads) and the positional
            train/test entries ``[detr, roi_0, ..., dense_0, ...]``.

    Raises:
        ValueError: For configs that do not fit together.
    """
    roi_names, roi_cfgs = _named_heads(roi_head, 'roi_head', SINGLE_ROI_NAME)
    dense_names, dense_cfgs = _named_heads(aux_bbox_head, 'aux_bbox_head',
                                           None)
    if roi_names is not None and dense_names is None and dense_cfgs or \
            dense_names is not None and roi_names is None and roi_cfgs:
        raise ValueError(
            'CoDETR.roi_head and aux_bbox_head must both be keyed by branch '
            'name or both be lists.')
    duplicates = set(roi_names or []) & set(dense_names or [])
    if duplicates:
        raise ValueError(f'CoDETR branch names {sorted(duplicates)} name '
                         'both an RoI head and a dense head.')
    splits = [
        _split_stage_cfgs(cfg, roi_names, dense_names, len(roi_cfgs),
                          len(dense_cfgs), name)
        for cfg, name in ((train_cfg, 'train_cfg'), (test_cfg, 'test_cfg'))
    ]
    return roi_cfgs, dense_cfgs, splits[0], splits[1]


@MODELS.register_module()
class CoDETR(DINO):
    r"""Co-DETR with a DINO core (`Co-DINO
    <https://arxiv.org/abs/2211.12860>`_).

    The DINO part (encoder, mixed query selection, contrastive denoising,
    decoder) is mmdet's :class:`DINO`. During training, the encoder memory
    is reshaped back into the multi-scale maps (plus one extra stride-2 level
    from ``aux_downsample``) and fed to auxiliary one-to-many heads: an RPN
    with one or more :class:`CoStandardRoIHead` and any number of dense heads
    such as :class:`CoATSSHead`. Their assigned priors become customized
    positive query groups of the decoder (:class:`PositiveQueryGenerator`),
    trained by :class:`CoDINOHead`. At test time only the branch named by
    ``eval_module`` runs; with ``'detr'`` the cost equals DINO's (plus the
    mask head when an RoI head has one: its masks are predicted on the final
    DETR boxes).

    Args:
        rpn_head (dict, optional): RPN head config; required with
            ``roi_head``.
        roi_head (list | dict, optional): RoI head configs
            (:class:`CoStandardRoIHead`): a list, a dict mapping branch
            names to configs, or one head config (a dict with ``type``,
            named ``'rcnn'``: mmdet's two-stage layout, so mmdet's model
            bases merge into it).
        aux_bbox_head (list | dict, optional): Dense auxiliary head
            configs (:class:`CoATSSHead`): a list or a dict mapping branch
            names to configs.
        train_cfg (list | dict, optional): Positional, with list heads:
            ``[detr, roi_0.., dense_0..]``, each RoI entry holding ``rpn``,
            ``rpn_proposal`` and ``rcnn``. Keyed, with named heads:
            ``dict(detr=..., rpn=..., rpn_proposal=..., <name>=...)`` with
            each RoI head's ``rcnn`` entry and each dense head's entry under
            its branch name (so configs inheriting this one override single
            values). Modules and parameters are the same either way: heads
            are built in order (RoI heads, then dense heads) into
            ``roi_head.<i>`` and ``aux_bbox_head.<j>``.
        test_cfg (list | dict, optional): Same layout as ``train_cfg``
            (without ``rpn_proposal``).
        with_pos_queries (bool): Feed the auxiliary heads' positives to the
            decoder as extra query groups. Defaults to True.
        pos_query_cfg (dict, optional): Extra arguments of
            :class:`PositiveQueryGenerator` (``max_queries_per_group``,
            ``min_queries_per_group``).
        eval_module (str): Branch that predicts at test time: ``'detr'``,
            ``'one-stage'`` (``aux_bbox_head[eval_index]``) or ``'two-stage'``
            (RPN + ``roi_head[eval_index]``).
        eval_index (int): Which auxiliary head predicts for ``'one-stage'``
            and ``'two-stage'``. Defaults to 0.
        use_lsj (bool): Treat the whole padded batch as the image (no padding
            masks, boxes normalised by the batch shape), as the released
            Co-DINO LSJ models were trained. Defaults to False.
        aux_extra_level (bool): Add a stride-2 downsampled copy of the last
            memory level for the auxiliary heads. Defaults to True.
        aux_norm_cfg (dict): Norm of the downsampling conv.
            Defaults to ``dict(type='GN', num_groups=32)``.
    """

    def __init__(self,
                 *args,
                 rpn_head: OptConfigType = None,
                 roi_head: HeadConfigs = None,
                 aux_bbox_head: HeadConfigs = None,
                 train_cfg: Union[StageConfigs, Mapping] = None,
                 test_cfg: Union[StageConfigs, Mapping] = None,
                 with_pos_queries: bool = True,
                 pos_query_cfg: OptConfigType = None,
                 eval_module: str = 'detr',
                 eval_index: int = 0,
                 use_lsj: bool = False,
                 aux_extra_level: bool = True,
                 aux_norm_cfg: ConfigType = dict(type='GN', num_groups=32),
                 **kwargs) -> None:
        roi_cfgs, dense_cfgs, train_cfgs, test_cfgs = resolve_branch_cfgs(
            roi_head, aux_bbox_head, train_cfg, test_cfg)
        num_aux = len(roi_cfgs) + len(dense_cfgs)
        if eval_module not in EVAL_MODULES:
            raise ValueError(f'CoDETR.eval_module must be one of '
                             f'{EVAL_MODULES}, got {eval_module!r}.')
        num_eval_heads = dict(
            detr=1,
            **{
                'one-stage': len(dense_cfgs),
                'two-stage': len(roi_cfgs)
            })[eval_module]
        if eval_module != 'detr' and not 0 <= eval_index < num_eval_heads:
            raise ValueError(
                f'CoDETR.eval_module={eval_module!r} with eval_index='
                f'{eval_index}, but {num_eval_heads} such heads are '
                'configured.')
        super().__init__(
            *args, train_cfg=train_cfgs[0], test_cfg=test_cfgs[0], **kwargs)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.stage_train_cfgs = train_cfgs
        self.stage_test_cfgs = test_cfgs
        self.use_lsj = use_lsj

        if (rpn_head is None) != (len(roi_cfgs) == 0):
            raise ValueError(
                'CoDETR needs rpn_head and roi_head together (the RoI heads '
                'classify the RPN proposals); set both or neither.')
        self.rpn_head = None
        self.roi_head = nn.ModuleList()
        if rpn_head is not None:
            rpn_cfg = copy.deepcopy(rpn_head)
            rpn_cfg.update(
                train_cfg=self._stage_cfg(train_cfgs[1], 'rpn'),
                test_cfg=self._stage_cfg(test_cfgs[1], 'rpn'))
            self.rpn_head = MODELS.build(rpn_cfg)
        for i, cfg in enumerate(roi_cfgs):
            cfg = copy.deepcopy(cfg)
            cfg.update(
                train_cfg=self._stage_cfg(train_cfgs[1 + i], 'rcnn'),
                test_cfg=self._stage_cfg(test_cfgs[1 + i], 'rcnn'))
            self.roi_head.append(MODELS.build(cfg))
        self.aux_bbox_head = nn.ModuleList()
        for j, cfg in enumerate(dense_cfgs):
            stage = 1 + len(roi_cfgs) + j
            cfg = copy.deepcopy(cfg)
            cfg.update(train_cfg=train_cfgs[stage], test_cfg=test_cfgs[stage])
            self.aux_bbox_head.append(MODELS.build(cfg))

        self.aux_downsample = None
        if num_aux > 0 and aux_extra_level:
            # A biased conv followed by GroupNorm, as in the released Co-DINO
            # checkpoints (so they load without leftovers).
            self.aux_downsample = ConvModule(
                self.embed_dims,
                self.embed_dims,
                3,
                stride=2,
                padding=1,
                bias=True,
                norm_cfg=aux_norm_cfg,
                act_cfg=None)

        self.pos_query_generator = None
        if num_aux > 0 and with_pos_queries:
            for head in list(self.roi_head) + list(self.aux_bbox_head):
                if not hasattr(head, 'loss_and_positives'):
                    raise TypeError(
                        f'{type(head).__name__} cannot provide positive boxes '
                        'for the customized queries; use CoStandardRoIHead / '
                        'CoATSSHead or set with_pos_queries=False.')
            gen_cfg = dict(type='PositiveQueryGenerator')
            gen_cfg.update(pos_query_cfg or {})
            gen_cfg.update(
                num_groups=num_aux,
                embed_dims=self.embed_dims,
                num_classes=self.bbox_head.num_classes)
            self.pos_query_generator = MODELS.build(gen_cfg)

        self.eval_module = eval_module
        self.eval_index = eval_index

    def _init_layers(self) -> None:
        """DINO's layers, with a decoder that works for any embed_dims."""
        self.positional_encoding = SinePositionalEncoding(
            **self.positional_encoding)
        self.encoder = DeformableDetrTransformerEncoder(**self.encoder)
        self.decoder = CoDinoTransformerDecoder(**self.decoder)
        self.embed_dims = self.encoder.embed_dims
        if self.positional_encoding.num_feats * 2 != self.embed_dims:
            raise ValueError(
                'CoDETR needs positional_encoding.num_feats * 2 == embed_dims,'
                f' got num_feats={self.positional_encoding.num_feats} and '
                f'embed_dims={self.embed_dims}.')
        # Content queries only; DINO takes their positions from the encoder.
        self.query_embedding = nn.Embedding(self.num_queries, self.embed_dims)
        self.level_embed = nn.Parameter(
            torch.Tensor(self.num_feature_levels, self.embed_dims))
        self.memory_trans_fc = nn.Linear(self.embed_dims, self.embed_dims)
        self.memory_trans_norm = nn.LayerNorm(self.embed_dims)

    @staticmethod
    def _stage_cfg(cfg, key: str):
        return None if cfg is None else cfg.get(key, None)

    # mmdet's BaseDetector assumes a single ``roi_head`` module.
    @property
    def with_shared_head(self) -> bool:
        """bool: Whether an RoI head has a shared head."""
        return any(head.with_shared_head for head in self.roi_head)

    @property
    def with_bbox(self) -> bool:
        """bool: Always True (the DETR head)."""
        return True

    @property
    def with_mask(self) -> bool:
        """bool: Whether the instance-mask branch is configured."""
        return self.mask_head_index is not None

    @property
    def mask_head_index(self) -> Optional[int]:
        """int, optional: Index of the RoI head whose mask head predicts
        masks for the final boxes (the evaluated one if it has a mask)."""
        with_mask = [
            i for i, head in enumerate(self.roi_head) if head.with_mask
        ]
        if not with_mask:
            return None
        if self.eval_index in with_mask:
            return self.eval_index
        return with_mask[0]

    @property
    def num_aux_heads(self) -> int:
        """int: Number of auxiliary heads (RoI heads + dense heads)."""
        return len(self.roi_head) + len(self.aux_bbox_head)

    @contextmanager
    def _image_shapes_for_lsj(self,
                              batch_data_samples: SampleList) -> Iterator:
        """With ``use_lsj``, let ``img_shape`` be the padded batch shape."""
        if not self.use_lsj:
            yield
            return
        saved = [
            sample.metainfo.get('img_shape') for sample in batch_data_samples
        ]
        for sample in batch_data_samples:
            sample.set_metainfo(
                dict(img_shape=tuple(sample.batch_input_shape)))
        try:
            yield
        finally:
            for sample, shape in zip(batch_data_samples, saved):
                sample.set_metainfo(dict(img_shape=shape))

    def memory_to_aux_feats(self, memory: Tensor,
                            img_feats: Sequence[Tensor]) -> Tuple[Tensor]:
        """Reshape the encoder memory into the auxiliary multi-scale maps.

        Args:
            memory (Tensor): Encoder output (bs, num_feat_points, dim).
            img_feats (Sequence[Tensor]): Neck outputs, giving each level's
                (h, w).

        Returns:
            tuple[Tensor]: One contiguous (bs, dim, h, w) map per level, plus
                the downsampled extra level when ``aux_downsample`` exists.
        """
        bs, _, dim = memory.shape
        feats = []
        start = 0
        for feat in img_feats:
            h, w = feat.shape[-2:]
            # The transposed slice is a strided view of the memory; mmcv's
            # RoIAlign indexes its input as if it were contiguous, so without
            # the copy an RoI reads scrambled channels of another image.
            feats.append(memory[:,
                                start:start + h * w].transpose(1, 2).reshape(
                                    bs, dim, h, w).contiguous())
            start += h * w
        if self.aux_downsample is not None:
            feats.append(self.aux_downsample(feats[-1]))
        return tuple(feats)

    def pre_decoder(
        self,
        memory: Tensor,
        memory_mask: Tensor,
        spatial_shapes: Tensor,
        batch_data_samples: OptSampleList = None,
        group_positives: Optional[List[InstanceList]] = None
    ) -> Tuple[Dict, Dict]:
        """DINO's query preparation plus the positive query groups.

        Args:
            memory (Tensor): Encoder output (bs, num_feat_points, dim).
            memory_mask (Tensor): Padding mask of the memory, or None.
            spatial_shapes (Tensor): (num_levels, 2) feature shapes.
            batch_data_samples (list[:obj:`DetDataSample`], optional): Batch
                samples.
            group_positives (list[list[InstanceData]], optional): Positive
                boxes per auxiliary head and image (training only).

        Returns:
            tuple[dict, dict]: Decoder inputs and head inputs; in training with
                auxiliary positives the decoder inputs hold the appended groups
                and a block-diagonal ``dn_mask``, and the head inputs get
                ``pos_query_meta``.
        """
        decoder_inputs_dict, head_inputs_dict = super().pre_decoder(
            memory, memory_mask, spatial_shapes, batch_data_samples)
        if not self.training:
            return decoder_inputs_dict, head_inputs_dict
        if head_inputs_dict['dn_meta']['num_denoising_queries'] == 0:
            # Without targets the label embedding gets no gradient, which
            # breaks DDP; a zero-weighted use keeps it in the graph.
            decoder_inputs_dict['query'] = decoder_inputs_dict['query'] + \
                self.dn_query_generator.label_embedding.weight[0, 0] * 0.0
        if not group_positives or self.pos_query_generator is None:
            return decoder_inputs_dict, head_inputs_dict

        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        pos_query, pos_reference, pos_meta = self.pos_query_generator(
            group_positives, batch_img_metas)
        query = decoder_inputs_dict['query']
        num_base = query.size(1)
        decoder_inputs_dict['query'] = torch.cat([query, pos_query], 1)
        decoder_inputs_dict['reference_points'] = torch.cat(
            [decoder_inputs_dict['reference_points'], pos_reference], 1)
        decoder_inputs_dict['dn_mask'] = positive_query_attn_mask(
            decoder_inputs_dict['dn_mask'], num_base, pos_meta['group_sizes'],
            query.device)
        head_inputs_dict['pos_query_meta'] = pos_meta
        return decoder_inputs_dict, head_inputs_dict

    @staticmethod
    def _class_agnostic_samples(batch_data_samples: SampleList) -> SampleList:
        """Light copies of the samples with all labels set to 0 for the RPN
        (no deep copy of the masks)."""
        rpn_samples = []
        for sample in batch_data_samples:
            rpn_sample = DetDataSample(metainfo=sample.metainfo)
            gt = sample.gt_instances
            rpn_sample.gt_instances = InstanceData(
                bboxes=gt.bboxes, labels=torch.zeros_like(gt.labels))
            if 'ignored_instances' in sample:
                ignored = sample.ignored_instances
                rpn_sample.ignored_instances = InstanceData(
                    bboxes=ignored.bboxes,
                    labels=torch.zeros_like(ignored.labels))
            rpn_samples.append(rpn_sample)
        return rpn_samples

    def loss_aux_heads(
        self, aux_feats: Tuple[Tensor], batch_data_samples: SampleList
    ) -> Tuple[Dict[str, Tensor], List[InstanceList]]:
        """Losses of the auxiliary heads and their positive boxes.

        Args:
            aux_feats (tuple[Tensor]): Maps from :meth:`memory_to_aux_feats`.
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples.

        Returns:
            tuple: ``(losses, group_positives)``: RPN losses keep mmdet's
                names, the k-th auxiliary head's losses are prefixed
                ``aux{k}_`` (RoI heads first, then dense heads);
                ``group_positives`` has one list of per-image positives per
                auxiliary head (empty when positive queries are disabled).
        """
        losses = dict()
        group_positives = []
        collect = self.pos_query_generator is not None

        def add(head_losses: dict, k: int) -> None:
            for name, value in head_losses.items():
                losses[f'aux{k}_{name}'] = value

        if self.rpn_head is not None:
            stage_train = self.stage_train_cfgs[1]
            proposal_cfg = None if stage_train is None else stage_train.get(
                'rpn_proposal', None)
            if proposal_cfg is None:
                proposal_cfg = self._stage_cfg(self.stage_test_cfgs[1], 'rpn')
            rpn_losses, proposals = self.rpn_head.loss_and_predict(
                aux_feats,
                self._class_agnostic_samples(batch_data_samples),
                proposal_cfg=proposal_cfg)
            for name in list(rpn_losses):
                if 'loss' in name and 'rpn' not in name:
                    rpn_losses[f'rpn_{name}'] = rpn_losses.pop(name)
            losses.update(rpn_losses)
            for k, roi_head in enumerate(self.roi_head):
                if collect:
                    head_losses, positives = roi_head.loss_and_positives(
                        aux_feats, proposals, batch_data_samples)
                    group_positives.append(positives)
                else:
                    head_losses = roi_head.loss(aux_feats,
                                                [p.clone() for p in proposals],
                                                batch_data_samples)
                add(head_losses, k)
        for j, head in enumerate(self.aux_bbox_head):
            k = len(self.roi_head) + j
            if collect:
                head_losses, positives = head.loss_and_positives(
                    aux_feats, batch_data_samples)
                group_positives.append(positives)
            else:
                head_losses = head.loss(aux_feats, batch_data_samples)
            add(head_losses, k)
        return losses, group_positives

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of DINO, the auxiliary heads and the positive queries.

        Args:
            batch_inputs (Tensor): Images (bs, 3, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples
                with ``gt_instances``.

        Returns:
            dict[str, Tensor]: Loss components.
        """
        with self._image_shapes_for_lsj(batch_data_samples):
            img_feats = self.extract_feat(batch_inputs)
            encoder_inputs_dict, decoder_inputs_dict = self.pre_transformer(
                img_feats, batch_data_samples)
            encoder_outputs_dict = self.forward_encoder(**encoder_inputs_dict)

            losses = dict()
            group_positives = []
            if self.num_aux_heads > 0:
                aux_feats = self.memory_to_aux_feats(
                    encoder_outputs_dict['memory'], img_feats)
                aux_losses, group_positives = self.loss_aux_heads(
                    aux_feats, batch_data_samples)
                losses.update(aux_losses)

            tmp_dec_in, head_inputs_dict = self.pre_decoder(
                **encoder_outputs_dict,
                batch_data_samples=batch_data_samples,
                group_positives=group_positives)
            decoder_inputs_dict.update(tmp_dec_in)
            head_inputs_dict.update(
                self.forward_decoder(**decoder_inputs_dict))
            losses.update(
                self.bbox_head.loss(
                    **head_inputs_dict, batch_data_samples=batch_data_samples))
        return losses

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predict with the branch named by ``eval_module``.

        Args:
            batch_inputs (Tensor): Images (bs, 3, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): Batch samples.
            rescale (bool): Return results in the original image scale.
                Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: Samples with ``pred_instances``
                (``bboxes``, ``scores``, ``labels`` and, with the mask branch,
                ``masks`` of the image size).
        """
        img_shapes = [
            self._resized_image_shape(sample.metainfo)
            for sample in batch_data_samples
        ]
        with self._image_shapes_for_lsj(batch_data_samples):
            results_list = self._predict_instances(batch_inputs,
                                                   batch_data_samples,
                                                   img_shapes, rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)

    @staticmethod
    def _resized_image_shape(metainfo: dict) -> tuple:
        """The (h, w) of the resized image, without the padding around it.

        mmdet's ``Pad`` sets ``img_shape`` to the padded size (the LSJ test
        pipelines pad to a fixed square), so the image's own extent comes from
        the original size and the resize factor when both are known.
        """
        ori_shape, scale = metainfo.get('ori_shape'), metainfo.get(
            'scale_factor')
        if ori_shape is None or scale is None:
            return tuple(metainfo['img_shape'][:2])
        img_h, img_w = metainfo['img_shape'][:2]
        return (min(img_h, ori_shape[0] * scale[1]),
                min(img_w, ori_shape[1] * scale[0]))

    def _predict_instances(self, batch_inputs: Tensor,
                           batch_data_samples: SampleList,
                           img_shapes: List[tuple],
                           rescale: bool) -> InstanceList:
        """Boxes of the evaluated branch, then masks and rescaling.

        ``img_shapes`` are the real image shapes (with ``use_lsj`` the metas
        hold the padded shape while this runs).
        """
        img_feats = self.extract_feat(batch_inputs)
        encoder_inputs_dict, decoder_inputs_dict = self.pre_transformer(
            img_feats, batch_data_samples)
        encoder_outputs_dict = self.forward_encoder(**encoder_inputs_dict)
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        aux_feats = None
        # Boxes stay in the network input frame until masks are pasted.
        if self.eval_module == 'detr':
            tmp_dec_in, head_inputs_dict = self.pre_decoder(
                **encoder_outputs_dict, batch_data_samples=batch_data_samples)
            decoder_inputs_dict.update(tmp_dec_in)
            head_inputs_dict.update(
                self.forward_decoder(**decoder_inputs_dict))
            results_list = self.bbox_head.predict(
                **head_inputs_dict,
                rescale=False,
                batch_data_samples=batch_data_samples)
        else:
            aux_feats = self.memory_to_aux_feats(
                encoder_outputs_dict['memory'], img_feats)
            if self.eval_module == 'one-stage':
                results_list = self.aux_bbox_head[self.eval_index].predict(
                    aux_feats, batch_data_samples, rescale=False)
            else:
                roi_head = self.roi_head[self.eval_index]
                proposals = self.rpn_head.predict(
                    aux_feats, batch_data_samples, rescale=False)
                results_list = roi_head.predict_bbox(
                    aux_feats,
                    batch_img_metas,
                    proposals,
                    roi_head.test_cfg,
                    rescale=False)
        if self.use_lsj:
            # Boxes may reach into the padding, which is no part of the
            # image (and would break mask pasting).
            for results, (img_h, img_w) in zip(results_list, img_shapes):
                results.bboxes[:, 0::2].clamp_(min=0, max=img_w)
                results.bboxes[:, 1::2].clamp_(min=0, max=img_h)

        mask_index = self.mask_head_index
        if mask_index is not None:
            if aux_feats is None:
                aux_feats = self.memory_to_aux_feats(
                    encoder_outputs_dict['memory'], img_feats)
            # rescales the boxes together with pasting the masks
            results_list = self.roi_head[mask_index].predict_mask(
                aux_feats, batch_img_metas, results_list, rescale=rescale)
        elif rescale:
            for results, meta in zip(results_list, batch_img_metas):
                results.bboxes /= results.bboxes.new_tensor(
                    meta['scale_factor']).repeat((1, 2))
        return results_list
