# Copyright (c) struct_det contributors. All rights reserved.
"""The joint model: distortion regions from detectors + a structure score."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.registry import MODELS, TRANSFORMS
from mmdet.structures import DetDataSample
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint
from mmengine.structures import InstanceData
from mmengine.utils import import_modules_from_strings
from torch import nn

from struct_det.utils import from_array_pipeline, resolve_config_path
from ...evaluation.functional.prediction_masks import boxes_to_masks
from ...evaluation.functional.sample_heatmap import sample_heatmap
from ..tta.instance_merge import (MERGE_MODES, SCORE_MODES,
                                  merge_instance_groups)
from .region_fusion import FUSION_MODES, empty_instances, fuse_regions

# Metainfo the joint pipeline computed for the original image; members
# recompute their own.
_GEOMETRY_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                  'batch_input_shape', 'scale_factor', 'flip',
                  'flip_direction', 'homography_matrix')
_MEMBER_KEYS = {
    'config', 'model', 'checkpoint', 'pipeline', 'tta', 'tta_model',
    'tta_pipeline', 'cfg_options', 'name'
}
_DETECTOR_KEYS = _MEMBER_KEYS | {'score_thr', 'weight'}
_SEGMENTOR_KEYS = _MEMBER_KEYS | {'weight'}
_FUSION_KEYS = {
    'mode', 'heatmap_thr', 'gate_thr', 'vote_thr', 'heatmap_weight',
    'instance_weight', 'min_area'
}


class _Member:
    """What the assessor needs to run one member on raw images.

    Args:
        name (str): The member's name, for messages.
        pipeline (Compose): Its test pipeline, fed with the decoded image.
        score_thr (float): Its instances' score threshold (detectors).
            Defaults to 0.
        weight (float): Its weight in fusion. Defaults to 1.
    """

    def __init__(self,
                 name: str,
                 pipeline: Compose,
                 score_thr: float = 0.0,
                 weight: float = 1.0):
        self.name = name
        self.pipeline = pipeline
        self.score_thr = score_thr
        self.weight = weight


@MODELS.register_module()
class StructureAssessor(BaseModel):
    """One model for the whole challenge: distortion regions and score.

    Built from a structure-score regressor (e.g. LoDa) and one or more
    distortion detectors (e.g. Co-DINO, Mask2Former). Every member comes
    from its own config file (``config=...``) and checkpoint, or inline
    (``model=dict(...)`` + ``pipeline=[...]``); each runs its own test pipeline
    (or, with TTA, its own ``tta_pipeline`` wrapped in its ``tta_model``) on
    the original image, exactly as when it is tested alone. Per image the
    assessor returns

    * ``pred_instances``: the detectors' instances above each one's
      ``score_thr``, merged across detectors by ``merge_mode``;
    * ``pred_score``: the regressor's predicted MOS, shape ``(1,)``;

    Segmentors (heatmap models such as :class:`HeatmapSegmentor`, mmseg
    configs) can be members beside the detectors: their heatmaps (weighted
    mean over segmentors) are merged with the detectors' instances by
    ``fusion`` (union, heatmap-gated instances, weighted vote; see
    :func:`~struct_det.models.assessors.region_fusion.fuse_regions`), so a
    two-tier system (a semantic segmentor + Mask2Former, as Wecan EvalAIG)
    is one config. Without a regressor the score comes from the segmentors'
    score heads (weighted mean), so a heatmap + score model alone is a
    complete joint model too;

    so ``tools/test.py configs/joint/<cfg>.py`` prints the challenge's final
    score through ``StructureMetric``; with ``StructureSubmissionWriter`` in
    ``test_evaluator`` (the joint configs have it) the same run writes the
    submission zip. ``tools/test.py --tta`` with
    ``tta_model = dict(type='build_assessor_with_member_tta')`` runs every
    member under its own test-time augmentation.

    The joint dataloader must hand over the original image: load it (BGR, as
    ``LoadImageFromFile`` does), load the annotations for the metric, and
    pack without resizing.

    Args:
        regressor (dict): The score regressor member (see below).
        detectors (dict | Sequence[dict]): Detector members. Extra keys:
            ``score_thr`` (default 0.3, the winning team's setting) and
            ``weight`` (trust in weighted fusion, default 1).
        merge_mode (str): How detectors combine: 'union' (all instances,
            the winner's choice), 'nms' (box IoU), 'mask_nms', 'wbf'
            (weighted box fusion; masks voted) or 'mask_vote'.
        iou_thr (float): Overlap for 'nms' / 'mask_nms' / 'wbf' / 'mask_vote'.
        score_mode (str, optional): Fused score for 'wbf' / 'mask_vote':
            'max', 'mean' (over detectors that found it) or 'mean_all'
            (missing detectors count 0). Default: 'mean'.
        vote_thr (float): Weighted share of detectors covering a pixel.
        max_per_img (int): At most this many merged instances (-1: all).
        tta (bool): Run every member with its config's ``tta_model`` /
            ``tta_pipeline`` (members without them run plainly, with a
            warning). A member's own ``tta`` key overrides this.
        data_preprocessor (dict, optional): Unused by members (each has its
            own); kept for the mmengine interface.
        init_cfg (dict, optional): Unused; members load their checkpoints.
        segmentors (dict | Sequence[dict]): Heatmap segmentor members (their
            configs' ``default_scope``, e.g. mmseg, is used to build them).
            Extra key: ``weight`` (in the heatmap mean, default 1).
        fusion (dict, optional): How heatmap and instances merge:
            ``mode`` ('union' default, 'gated', 'vote', 'heatmap',
            'instances'), ``heatmap_thr`` (0.5), ``gate_thr`` (0.5),
            ``vote_thr`` (0.5), ``heatmap_weight`` / ``instance_weight`` (1),
            ``min_area`` (0).

    A member is a dict with either ``config`` (path of its config file,
    optional ``cfg_options`` dict) or ``model`` (a model dict) and
    ``pipeline`` (its test pipeline), plus optional ``checkpoint``, ``tta``,
    ``tta_model``, ``tta_pipeline`` (defaults from its config) and ``name``.

    Examples:
        >>> model = dict(
        ...     type='StructureAssessor',
        ...     regressor=dict(config='configs/loda/x.py',
        ...                    checkpoint='work_dirs/loda/best.pth'),
        ...     detectors=[dict(config='configs/co_dino/y.py',
        ...                     checkpoint='work_dirs/codino/best.pth',
        ...                     score_thr=0.3)],
        ...     merge_mode='union')
    """

    def __init__(self,
                 regressor: Optional[dict] = None,
                 detectors: Union[dict, Sequence[dict]] = (),
                 merge_mode: str = 'union',
                 iou_thr: float = 0.5,
                 score_mode: Optional[str] = None,
                 vote_thr: float = 0.5,
                 max_per_img: int = 100,
                 tta: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 segmentors: Union[dict, Sequence[dict]] = (),
                 fusion: Optional[dict] = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if merge_mode not in MERGE_MODES:
            raise ValueError(f'StructureAssessor: unknown merge_mode '
                             f'{merge_mode!r}; expected one of {MERGE_MODES}')
        if score_mode is not None and score_mode not in SCORE_MODES:
            raise ValueError(f'StructureAssessor: unknown score_mode '
                             f'{score_mode!r}; expected one of {SCORE_MODES}')
        if isinstance(detectors, dict):
            detectors = [detectors]
        if isinstance(segmentors, dict):
            segmentors = [segmentors]
        if len(detectors) == 0 and len(segmentors) == 0:
            raise ValueError(
                'StructureAssessor needs at least one detector or segmentor')
        self.fusion = self._check_fusion(fusion, bool(segmentors))
        self.merge_mode = merge_mode
        self.iou_thr = float(iou_thr)
        self.score_mode = score_mode
        self.vote_thr = float(vote_thr)
        self.max_per_img = int(max_per_img)
        self.tta = bool(tta)

        if regressor is not None:
            model, self._regressor_member = self._build_member(
                regressor, 'regressor', _MEMBER_KEYS)
        else:
            model, self._regressor_member = None, None
        self.regressor = model
        detector_models, self._detector_members = [], []
        for idx, spec in enumerate(detectors):
            model, member = self._build_member(spec, f'detector {idx}',
                                               _DETECTOR_KEYS)
            member.score_thr = float(spec.get('score_thr', 0.3))
            member.weight = float(spec.get('weight', 1.0))
            detector_models.append(model)
            self._detector_members.append(member)
        self.detectors = nn.ModuleList(detector_models)
        segmentor_models, self._segmentor_members = [], []
        for idx, spec in enumerate(segmentors):
            model, member = self._build_member(
                spec, f'segmentor {idx}', _SEGMENTOR_KEYS, scope='mmseg')
            member.weight = float(spec.get('weight', 1.0))
            segmentor_models.append(model)
            self._segmentor_members.append(member)
        self.segmentors = nn.ModuleList(segmentor_models)
        self._score_segmentors = [
            idx for idx, model in enumerate(segmentor_models) if getattr(
                getattr(model, 'module', model), 'with_score_head', False)
        ]
        if self.regressor is None and not self._score_segmentors:
            raise ValueError(
                'StructureAssessor needs a score: give a `regressor`, or a '
                'segmentor with a score head '
                '(HeatmapSegmentor(score_head=...))')

    @staticmethod
    def _check_fusion(fusion: Optional[dict], with_segmentors: bool) -> dict:
        fusion = dict(fusion or {})
        unknown = set(fusion) - _FUSION_KEYS
        if unknown:
            raise TypeError(
                f'StructureAssessor fusion: unknown keys '
                f'{sorted(unknown)}; allowed: {sorted(_FUSION_KEYS)}')
        fusion.setdefault('mode', 'union')
        if fusion['mode'] not in FUSION_MODES:
            raise ValueError(
                f'StructureAssessor: unknown fusion mode '
                f"{fusion['mode']!r}; expected one of {FUSION_MODES}")
        if not with_segmentors and fusion['mode'] != 'union' and \
                fusion['mode'] != 'instances':
            raise ValueError(
                f"StructureAssessor: fusion mode {fusion['mode']!r} "
                'needs a segmentor member')
        return fusion

    # ------------------------------------------------------------ building
    def _build_member(self,
                      spec: dict,
                      role: str,
                      allowed: set,
                      scope: str = 'mmdet'):
        spec = dict(spec)
        unknown = set(spec) - allowed
        if unknown:
            raise TypeError(f'StructureAssessor {role}: unknown keys '
                            f'{sorted(unknown)}; allowed: {sorted(allowed)}')
        has_config, has_model = 'config' in spec, 'model' in spec
        if has_config == has_model:
            raise ValueError(
                f'StructureAssessor {role}: give exactly one of `config` (a '
                'config file path) or `model` (a model dict + `pipeline`)')
        if has_config:
            try:
                path = resolve_config_path(spec['config'])
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'StructureAssessor {role}: {err}') from None
            cfg = Config.fromfile(path)
            if spec.get('cfg_options'):
                cfg.merge_from_dict(spec['cfg_options'])
            if cfg.get('custom_imports'):
                import_modules_from_strings(**cfg.custom_imports)
            scope = cfg.get('default_scope', scope)
            model_cfg = cfg.model
            pipeline = spec.get('pipeline') or list(get_test_pipeline_cfg(cfg))
            tta_model = spec.get('tta_model', cfg.get('tta_model'))
            tta_pipeline = spec.get('tta_pipeline', cfg.get('tta_pipeline'))
            name = spec.get('name', osp.splitext(osp.basename(path))[0])
        else:
            model_cfg = spec['model']
            if 'pipeline' not in spec:
                raise ValueError(
                    f'StructureAssessor {role}: an inline `model` needs its '
                    'test `pipeline`')
            pipeline = spec['pipeline']
            tta_model = spec.get('tta_model')
            tta_pipeline = spec.get('tta_pipeline')
            name = spec.get('name', f'{role} ({model_cfg.get("type")})')

        use_tta = spec.get('tta')
        if use_tta is None:
            use_tta = self.tta
            if use_tta and (tta_model is None or tta_pipeline is None):
                print_log(
                    f'StructureAssessor: {name} has no tta_model/'
                    'tta_pipeline; it runs without test-time augmentation',
                    logger='current')
                use_tta = False
        elif use_tta and (tta_model is None or tta_pipeline is None):
            raise ValueError(
                f'StructureAssessor {role} ({name}): tta=True needs '
                '`tta_model` and `tta_pipeline` (in its config or the member '
                'dict)')

        checkpoint = spec.get('checkpoint')
        if checkpoint and '://' not in str(checkpoint) and \
                not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'StructureAssessor {role} ({name}): checkpoint '
                f'{checkpoint!r} not found; train the member first or point '
                'at its weights, e.g. --cfg-options '
                'model.detectors.0.checkpoint=PATH')
        with DefaultScope.overwrite_default_scope(scope):
            model = MODELS.build(copy.deepcopy(model_cfg))
            if checkpoint:
                load_checkpoint(
                    model, checkpoint, map_location='cpu', logger='current')
            if use_tta:
                model = MODELS.build(
                    dict(copy.deepcopy(dict(tta_model)), module=model))
                pipeline = tta_pipeline
            transforms = [
                TRANSFORMS.build(t) for t in from_array_pipeline(
                    pipeline, f'StructureAssessor member {name}')
            ]
        model.eval()
        print_log(
            f'StructureAssessor: {role} {name} = {type(model).__name__}' +
            (f' around {type(model.module).__name__}' if use_tta else '') +
            (f', weights from {checkpoint}'
             if checkpoint else ', no checkpoint (random weights)'),
            logger='current')
        return model, _Member(name, Compose(transforms))

    # ------------------------------------------------------------ running
    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'predict'):
        """Predict; the members are trained on their own.

        Args:
            inputs (Tensor | list[Tensor]): Original images ``(C, H, W)``.
            data_samples (list[DetDataSample], optional): Their samples.
                Defaults to None.
            mode (str): Only ``'predict'``. Defaults to ``'predict'``.

        Returns:
            list[DetDataSample]: ``data_samples`` with predictions.

        Raises:
            RuntimeError: For any other mode.
        """
        if mode != 'predict':
            raise RuntimeError(
                f'StructureAssessor is inference-only (mode={mode!r}); train '
                'its regressor and detectors with their own configs')
        return self.predict(inputs, data_samples)

    def test_step(self, data: Union[dict, tuple, list]) -> List[DetDataSample]:
        """Run every member on a batch of original images and combine.

        Args:
            data (dict): ``inputs`` (original images, ``(C, H, W)`` each) and
                ``data_samples`` from the joint pipeline.

        Returns:
            list[DetDataSample]: The joint samples with ``pred_instances`` and
                ``pred_score``.
        """
        if not isinstance(data, dict):
            raise TypeError('StructureAssessor expects a dict batch with '
                            f'`inputs` and `data_samples`, got {type(data)}')
        inputs = data['inputs']
        if len(inputs) and isinstance(inputs[0], (list, tuple)):
            raise ValueError(
                'StructureAssessor got test-time-augmented views: do not use '
                'TestTimeAug in the joint pipeline; members run their own '
                'TTA (tta=True, or tools/test.py --tta with tta_model='
                "dict(type='build_assessor_with_member_tta'))")
        return self.predict(inputs, data['data_samples'])

    val_step = test_step

    @torch.no_grad()
    def predict(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: List[DetDataSample]) -> List[DetDataSample]:
        """Predict regions and scores for original images.

        Args:
            inputs (Tensor | list[Tensor]): Original images ``(C, H, W)``,
                BGR as loaded by ``LoadImageFromFile``.
            data_samples (list[DetDataSample]): Their samples (metainfo, GT).

        Returns:
            list[DetDataSample]: ``data_samples`` with predictions.
        """
        if data_samples is None:
            data_samples = [DetDataSample() for _ in inputs]
        images = [
            self._to_image(img, sample)
            for img, sample in zip(inputs, data_samples)
        ]
        extras = [self._member_meta(sample) for sample in data_samples]

        score_samples = None
        if self.regressor is not None:
            score_samples = self._run(self.regressor, self._regressor_member,
                                      images, extras)
        detections = [
            self._run(model, member, images, extras)
            for model, member in zip(self.detectors, self._detector_members)
        ]
        segmentations = [
            self._run(model, member, images, extras)
            for model, member in zip(self.segmentors, self._segmentor_members)
        ]

        for idx, sample in enumerate(data_samples):
            shape = tuple(images[idx].shape[:2])
            if score_samples is not None:
                score_sample = score_samples[idx]
                if 'pred_score' not in score_sample:
                    raise KeyError(
                        f'StructureAssessor: the regressor '
                        f'{self._regressor_member.name} gave no pred_score')
                sample.pred_score = score_sample.pred_score.detach().reshape(
                    -1)[:1].float()
            else:
                sample.pred_score = self._segmentor_score(
                    [per_seg[idx] for per_seg in segmentations])
            if self.detectors:
                instances = self.merge_detections(
                    [per_detector[idx] for per_detector in detections], shape)
            else:
                instances = empty_instances(*shape)
            if self.segmentors:
                heatmap = self.merge_heatmaps(
                    [per_seg[idx] for per_seg in segmentations], shape)
                instances = self._fuse(instances, heatmap, shape)
            sample.pred_instances = instances
        return data_samples

    def merge_heatmaps(self, segmentations: Sequence,
                       image_shape) -> torch.Tensor:
        """The segmentors' heatmaps of one image, weighted by ``weight``.

        Args:
            segmentations (Sequence[SegDataSample]): One predicted sample per
                segmentor (``seg_logits`` at the original size).
            image_shape (tuple[int, int]): ``(H, W)`` of the original image.

        Returns:
            torch.Tensor: ``(H, W)`` heatmap in [0, 1].
        """
        total, weights = None, 0.0
        for member, seg in zip(self._segmentor_members, segmentations):
            heat = sample_heatmap(seg, 'auto')
            if heat is None:
                raise KeyError(
                    f'StructureAssessor: segmentor {member.name} gave '
                    'no seg_logits / pred_sem_seg')
            if tuple(heat.shape) != tuple(image_shape):
                raise ValueError(
                    f'StructureAssessor: segmentor {member.name} returned a '
                    f'heatmap of size {tuple(heat.shape)} for an image of '
                    f'{tuple(image_shape)}; members must predict at the '
                    'original size')
            heat = torch.from_numpy(heat) * member.weight
            total = heat if total is None else total + heat
            weights += member.weight
        return total / max(weights, 1e-12)

    def _fuse(self, instances: InstanceData, heatmap: torch.Tensor,
              image_shape) -> InstanceData:
        height, width = int(image_shape[0]), int(image_shape[1])
        if len(instances) and 'masks' not in instances:
            instances.masks = self._box_masks(instances.bboxes, height, width)
        elif 'masks' not in instances:
            instances.masks = torch.zeros((0, height, width),
                                          dtype=torch.bool,
                                          device=instances.bboxes.device)
        return fuse_regions(instances, heatmap, **self.fusion)

    def _segmentor_score(self, segmentations: Sequence) -> torch.Tensor:
        total, weights = 0.0, 0.0
        for idx in self._score_segmentors:
            seg = segmentations[idx]
            member = self._segmentor_members[idx]
            if 'pred_score' not in seg:
                raise KeyError(
                    f'StructureAssessor: segmentor {member.name} gave '
                    'no pred_score')
            score = seg.pred_score.detach().reshape(-1)[:1].float().cpu()
            total = total + score * member.weight
            weights += member.weight
        return total / max(weights, 1e-12)

    def merge_detections(self, detections: Sequence[DetDataSample],
                         image_shape) -> InstanceData:
        """Threshold each detector's instances and merge them.

        Args:
            detections (Sequence[DetDataSample]): One prediction per detector
                for the same image, at its original size.
            image_shape (tuple[int, int]): ``(H, W)`` of the original image.

        Returns:
            InstanceData: Merged ``bboxes``, ``scores``, ``labels`` and (when
                any detector predicts masks) ``masks``; a box-only detector's
                instances then get their filled boxes as masks.
        """
        height, width = int(image_shape[0]), int(image_shape[1])
        kept = []
        for member, det in zip(self._detector_members, detections):
            if 'pred_instances' not in det:
                raise KeyError(f'StructureAssessor: detector {member.name} '
                               'gave no pred_instances')
            pred = det.pred_instances
            inst = InstanceData()
            inst.bboxes = pred.bboxes.float().reshape(-1, 4)
            inst.scores = pred.scores.float().reshape(-1)
            inst.labels = pred.labels.long().reshape(-1)
            if 'masks' in pred:
                masks = torch.as_tensor(pred.masks).to(
                    inst.bboxes.device).bool()
                if tuple(masks.shape[-2:]) != (height, width):
                    raise ValueError(
                        f'StructureAssessor: detector {member.name} returned '
                        f'masks of size {tuple(masks.shape[-2:])} for an '
                        f'image of {(height, width)}; members must predict '
                        'at the original size (rescale=True)')
                inst.masks = masks
            kept.append(inst[inst.scores >= member.score_thr])

        if any('masks' in inst for inst in kept):
            for inst in kept:
                if 'masks' not in inst:
                    inst.masks = self._box_masks(inst.bboxes, height, width)
        device = kept[0].bboxes.device
        kept = [inst.to(device) for inst in kept]
        return merge_instance_groups(
            kept,
            with_masks=any('masks' in inst for inst in kept),
            mode=self.merge_mode,
            iou_thr=self.iou_thr,
            score_mode=self.score_mode,
            vote_thr=self.vote_thr,
            group_weights=[m.weight for m in self._detector_members],
            class_agnostic=True,
            max_num=self.max_per_img)

    @staticmethod
    def _box_masks(bboxes: torch.Tensor, height: int,
                   width: int) -> torch.Tensor:
        # The metric's and the submission's rule, so that a box-only
        # detector's region is the same pixels before and after fusion.
        masks = boxes_to_masks(bboxes, (height, width))
        return torch.from_numpy(masks).to(bboxes.device)

    @staticmethod
    def _to_image(img: torch.Tensor, sample: DetDataSample) -> np.ndarray:
        if img.dim() == 2:
            img = img[None]
        ori_shape = sample.metainfo.get('ori_shape')
        if ori_shape is not None and tuple(img.shape[-2:]) != tuple(
                ori_shape[:2]):
            raise ValueError(
                f'StructureAssessor: image {sample.metainfo.get("img_path")} '
                f'arrives at {tuple(img.shape[-2:])} but its original size is '
                f'{tuple(ori_shape[:2])}; the joint pipeline must not resize '
                '(each member applies its own test pipeline)')
        array = img.detach().permute(1, 2, 0).cpu().numpy()
        return np.ascontiguousarray(array)

    @staticmethod
    def _member_meta(sample: DetDataSample) -> Dict:
        return {
            key: value
            for key, value in sample.metainfo.items()
            if key not in _GEOMETRY_KEYS
        }

    @staticmethod
    def _run(model: nn.Module, member: _Member, images: List[np.ndarray],
             extras: List[Dict]) -> list:
        batch = [
            member.pipeline(dict(extra, img=img))
            for img, extra in zip(images, extras)
        ]
        return model.test_step(pseudo_collate(batch))


def build_assessor_with_member_tta(module: Union[dict, ConfigDict],
                                   **overrides) -> StructureAssessor:
    """``tools/test.py --tta`` entry: the same assessor, members under TTA.

    A factory, not a TTA wrapper, registered in ``MODELS`` under its own
    name as mmengine registers functions: a joint config sets
    ``tta_model = dict(type='build_assessor_with_member_tta')`` and
    ``tta_pipeline`` = its test pipeline; ``--tta`` then builds the assessor
    with ``tta=True`` (no wrapper: each member wraps itself in its own TTA
    model).

    Args:
        module (dict): The assessor config (``cfg.model``).
        **overrides: Assessor arguments to change, e.g. ``merge_mode``.

    Returns:
        StructureAssessor: Built with ``tta=True`` unless overridden.
    """
    cfg = copy.deepcopy(dict(module))
    cfg.update(overrides)
    cfg['tta'] = overrides.get('tta', True)
    return MODELS.build(cfg)


MODELS.register_module(module=build_assessor_with_member_tta)
