# Copyright (c) struct_det contributors. All rights reserved.
"""Test-time augmentation for detectors with (or without) instance masks."""
from typing import List, Optional, Sequence, Union

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torch import nn

from .instance_merge import (MERGE_MODES, SCORE_MODES, _as_tensor,
                             flip_instances, merge_instance_groups,
                             resize_instances)
from .utils import build_wrapped_model


@MODELS.register_module()
class DetMaskTTAModel(BaseTTAModel):
    """Merge instance predictions (boxes and masks) over flips and scales.

    mmdet's ``DetTTAModel`` refuses masks. This model takes the views produced
    by a ``TestTimeAug`` pipeline, brings every view's boxes **and** masks
    back to the original image (un-flip: horizontal, vertical or diagonal;
    rescale to ``ori_shape``), and merges them by box NMS, mask NMS or mask
    voting. It serves Mask2Former, Co-DETR and any mmdet detector, with or
    without masks (mask modes use box IoU where a model gives no masks).

    Predictions are expected as mmdet returns them with ``rescale=True``:
    in the original image frame but still flipped. Masks of another size
    (e.g. a model that returns them at the network input size) are taken to
    define the frame of that view's boxes and are resized to ``ori_shape``.

    Scores stay meaningful: NMS modes keep each survivor's own score; voting
    gives a cluster the mean, over the views that found it, of each view's
    best score (``score_mode='mean'``), so a view that finds nothing changes
    nothing. ``score_mode='mean_all'`` counts views that missed it as 0.

    Args:
        module (dict | nn.Module): The detector.
        merge_mode (str): 'nms' (box IoU), 'mask_nms' (mask IoU),
            'mask_vote' (mask IoU clusters, score-weighted pixel vote),
            'wbf' (box clusters, weighted mean box) or 'union'.
        iou_thr (float): IoU above which predictions of different views are
            the same instance.
        score_thr (float): Drop predictions below this score in every view
            before merging (keeps the merge cheap; Mask2Former returns
            ``max_per_image`` instances whatever their score).
        max_per_img (int): Keep at most this many merged instances.
        score_mode (str, optional): Fused score for voting modes: 'max',
            'mean' or 'mean_all' (see above). Default: 'mean'.
        vote_thr (float): Weighted share of views that must cover a pixel in
            mask voting.
        class_agnostic (bool): Merge across labels.
        mask_iou_stride (int): Pixel stride of the mask IoU (1 = exact; 2-4
            is a close, much cheaper approximation at 1024 px).
        view_weights (Sequence[float], optional): Weight of each view in the
            order the ``TestTimeAug`` pipeline emits them. Default: equal.
        tta_cfg (dict, optional): mmdet ``DetTTAModel``-style settings, for
            drop-in use: ``nms.iou_threshold`` and ``max_per_img`` are read,
            any other key is taken as one of the arguments above.
        data_preprocessor (dict | nn.Module, optional): Overrides the
            module's data preprocessor.

    Examples:
        >>> tta_model = dict(
        ...     type='DetMaskTTAModel', merge_mode='mask_vote', iou_thr=0.5,
        ...     score_thr=0.05, max_per_img=100)
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 merge_mode: str = 'mask_nms',
                 iou_thr: float = 0.5,
                 score_thr: float = 0.0,
                 max_per_img: int = 100,
                 score_mode: Optional[str] = None,
                 vote_thr: float = 0.5,
                 class_agnostic: bool = False,
                 mask_iou_stride: int = 1,
                 view_weights: Optional[Sequence[float]] = None,
                 tta_cfg: Optional[dict] = None,
                 data_preprocessor: Union[dict, nn.Module, None] = None):
        # mmdet's registry resolves the detector without a default scope
        super().__init__(
            module=build_wrapped_model(module, MODELS, data_preprocessor))
        settings = dict(
            merge_mode=merge_mode,
            iou_thr=iou_thr,
            score_thr=score_thr,
            max_per_img=max_per_img,
            score_mode=score_mode,
            vote_thr=vote_thr,
            class_agnostic=class_agnostic,
            mask_iou_stride=mask_iou_stride,
            view_weights=view_weights)
        if tta_cfg:
            tta_cfg = dict(tta_cfg)
            nms_cfg = tta_cfg.pop('nms', None)
            if nms_cfg is not None and 'iou_threshold' in nms_cfg:
                settings['iou_thr'] = nms_cfg['iou_threshold']
            unknown = set(tta_cfg) - set(settings)
            if unknown:
                raise TypeError(
                    f'DetMaskTTAModel: unknown tta_cfg keys '
                    f'{sorted(unknown)}; known: {sorted(settings)}')
            settings.update(tta_cfg)
        if settings['merge_mode'] not in MERGE_MODES:
            raise ValueError(f'DetMaskTTAModel: unknown merge_mode '
                             f'{settings["merge_mode"]!r}; expected one of '
                             f'{MERGE_MODES}')
        if settings['score_mode'] not in (None, ) + SCORE_MODES:
            raise ValueError(f'DetMaskTTAModel: unknown score_mode '
                             f'{settings["score_mode"]!r}; expected one of '
                             f'{SCORE_MODES}')
        if not 0.0 <= settings['iou_thr'] <= 1.0:
            raise ValueError('DetMaskTTAModel: iou_thr must be in [0, 1], '
                             f'got {settings["iou_thr"]}')
        if int(settings['mask_iou_stride']) < 1:
            raise ValueError('DetMaskTTAModel: mask_iou_stride must be >= 1, '
                             f'got {settings["mask_iou_stride"]}')
        self.merge_mode = settings['merge_mode']
        self.iou_thr = float(settings['iou_thr'])
        self.score_thr = float(settings['score_thr'])
        self.max_per_img = int(settings['max_per_img'])
        self.score_mode = settings['score_mode']
        self.vote_thr = float(settings['vote_thr'])
        self.class_agnostic = bool(settings['class_agnostic'])
        self.mask_iou_stride = int(settings['mask_iou_stride'])
        weights = settings['view_weights']
        self.view_weights = None if weights is None else [
            float(w) for w in weights
        ]
        self._warned_no_flip_key = False

    def merge_preds(
            self, data_samples_list: List[List[DetDataSample]]
    ) -> List[DetDataSample]:
        """Merge the views of every image of a batch.

        Args:
            data_samples_list (list[list[DetDataSample]]): Outer list: images;
                inner list: that image's views.

        Returns:
            list[DetDataSample]: One merged sample per image.
        """
        return [self.merge_views(views) for views in data_samples_list]

    def merge_views(self, views: Sequence[DetDataSample]) -> DetDataSample:
        """Merge the views of one image into one prediction.

        Args:
            views (Sequence[DetDataSample]): Predictions of the same image
                under different augmentations, each with ``pred_instances``
                and ``ori_shape``, ``flip``, ``flip_direction`` metainfo.

        Returns:
            DetDataSample: The metainfo and other fields (e.g. GT) of the first
                unflipped view with the merged ``pred_instances`` at the
                original image size.
        """
        if len(views) == 0:
            raise ValueError('DetMaskTTAModel: got an image without views')
        if self.view_weights is not None and \
                len(self.view_weights) != len(views):
            raise ValueError(
                f'DetMaskTTAModel: {len(self.view_weights)} view_weights for '
                f'{len(views)} views; give one weight per TestTimeAug view')
        restored = [
            self.restore_view(view, idx) for idx, view in enumerate(views)
        ]
        merged = merge_instance_groups(
            restored,
            mode=self.merge_mode,
            iou_thr=self.iou_thr,
            score_mode=self.score_mode,
            vote_thr=self.vote_thr,
            group_weights=self.view_weights or [1.0] * len(views),
            class_agnostic=self.class_agnostic,
            max_num=self.max_per_img,
            mask_iou_stride=self.mask_iou_stride)

        base_idx = next((idx for idx, view in enumerate(views)
                         if not view.metainfo.get('flip', False)), 0)
        base = views[base_idx]
        # a new sample: the views stay as the detector returned them
        result = DetDataSample(metainfo=base.metainfo)
        for key, value in base.items():
            if key != 'pred_instances':
                setattr(result, key, value)
        if result.metainfo.get('flip', False):
            result.set_metainfo(dict(flip=False, flip_direction=None))
        result.pred_instances = merged
        return result

    def restore_view(self,
                     view: DetDataSample,
                     view_idx: int = 0) -> InstanceData:
        """Bring one view's predictions to the original, unflipped image.

        Args:
            view (DetDataSample): A view with ``pred_instances``.
            view_idx (int): Its position, for error messages.

        Returns:
            InstanceData: ``bboxes``, ``scores``, ``labels`` (+ ``masks``) at
                ``ori_shape``, filtered by ``score_thr``.
        """
        meta = view.metainfo
        if 'pred_instances' not in view:
            raise KeyError(f'DetMaskTTAModel: view {view_idx} of '
                           f'{meta.get("img_path", "an image")} has no '
                           'pred_instances; wrap a detector')
        if 'ori_shape' not in meta:
            raise KeyError(
                'DetMaskTTAModel: metainfo lacks ori_shape; keep it in the '
                'PackDetInputs meta_keys of tta_pipeline')
        if 'flip' not in meta and not self._warned_no_flip_key:
            print_log(
                'DetMaskTTAModel: no "flip" in metainfo, views are taken as '
                'unflipped; add "flip" and "flip_direction" to the '
                'PackDetInputs meta_keys of tta_pipeline if it flips',
                logger='current')
            self._warned_no_flip_key = True
        pred = view.pred_instances
        device = pred.bboxes.device
        inst = InstanceData()
        inst.bboxes = _as_tensor(pred.bboxes, device).float().reshape(-1, 4)
        inst.scores = _as_tensor(pred.scores, device).float().reshape(-1)
        inst.labels = _as_tensor(pred.labels, device).long().reshape(-1)
        ori_shape = tuple(int(v) for v in meta['ori_shape'][:2])
        frame = ori_shape
        if 'masks' in pred:
            masks = _as_tensor(pred.masks, device).bool()
            if masks.dim() != 3:
                raise ValueError(
                    f'DetMaskTTAModel: view {view_idx} masks must be (N, H, '
                    f'W), got shape {tuple(masks.shape)}')
            inst.masks = masks
            frame = tuple(masks.shape[-2:])
        keep = inst.scores >= self.score_thr
        if not bool(keep.all()):
            inst = inst[keep]
        if meta.get('flip', False):
            direction = meta.get('flip_direction')
            if direction is None:
                raise KeyError(
                    'DetMaskTTAModel: a flipped view has no flip_direction; '
                    'add it to the PackDetInputs meta_keys of tta_pipeline')
            inst = flip_instances(inst, frame, direction)
        return resize_instances(inst, frame, ori_shape)
