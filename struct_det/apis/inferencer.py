"""Python API: images in; distortion masks, regions and structure scores out.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint

from struct_det.evaluation.functional.prediction_masks import \
    instance_union_masks
from struct_det.evaluation.functional.sample_fields import sample_field
from struct_det.evaluation.submission_preds import DEFAULT_SCORE_THR
from struct_det.utils import apply_tta, atomic_write, from_array_pipeline

JOINT_MODELS = ('StructureAssessor', 'build_assessor_with_member_tta')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
ImageInput = Union[str, np.ndarray]


def list_images(
        inputs: Union[ImageInput, Sequence[ImageInput]]) -> List[ImageInput]:
    """Expand a file, a folder, a list file (``.txt``) or a list of them.

    Args:
        inputs (str | np.ndarray | Sequence): An image path, an RGB array, a
            folder (its images, sorted, not recursive), a text file with one
            path a line (relative to the file), or a sequence of those.

    Returns:
        list: The image paths and arrays, in order.
    """
    if isinstance(inputs, (np.ndarray, str, os.PathLike)):
        inputs = [inputs]
    images: List[ImageInput] = []
    for item in inputs:
        if isinstance(item, np.ndarray):
            images.append(item)
            continue
        item = os.fspath(item)
        if osp.isdir(item):
            images += sorted(
                osp.join(item, f) for f in os.listdir(item)
                if f.lower().endswith(IMAGE_SUFFIXES))
        elif item.lower().endswith('.txt'):
            with open(item, encoding='utf-8') as f:
                base = osp.dirname(item)
                images += [
                    line if osp.isabs(line) else osp.join(base, line)
                    for line in (ln.strip() for ln in f) if line
                ]
        else:
            images.append(item)
    return images


class StructureInferencer:
    """Run a detector, a score regressor or a joint assessor on images.

    The config's test pipeline is fed with the decoded image (see
    :func:`~struct_det.utils.from_array_pipeline`, which the
    ``StructureAssessor`` members use too).

    Args:
        config (str | Config): A model config: any struct_det or mmdet
            detector, ``LoDa`` or ``StructureAssessor``.
        checkpoint (str, optional): Weights to load; optional for a joint
            config that names its members' weights. Defaults to None.
        device (str): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
            Defaults to ``'cpu'``.
        score_thr (float, optional): Instances with a lower score are not
            part of the mask. Defaults to None: the threshold calibrated on
            val and stored in the checkpoint, else 0 for a joint model (its
            detectors threshold their own instances), else
            ``DEFAULT_SCORE_THR``.
        tta (bool): Wrap the model in the config's ``tta_model`` and use its
            ``tta_pipeline``. Defaults to False.

    Examples:
        >>> inferencer = StructureInferencer('configs/tiny/'
        ...     'structure-assessor_mask2former-tiny_loda-tiny_'
        ...     'evalmuse-sample.py')
        >>> for result in inferencer(['a.jpg', 'b.jpg']):
        ...     print(result['image'], result['score'],
        ...           len(result['regions']))
    """

    def __init__(self,
                 config: Union[str, Config],
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 score_thr: Optional[float] = None,
                 tta: bool = False) -> None:
        from mmdet.registry import MODELS
        from mmengine.registry import init_default_scope

        import struct_det  # noqa: F401  registers the modules

        cfg = config if isinstance(config, Config) else Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        if tta:
            # A copy: the caller's config stays as given.
            cfg = apply_tta(
                copy.deepcopy(cfg),
                getattr(cfg, 'filename', None) or str(config))
        model_cfg = cfg.model
        pipeline = from_array_pipeline(
            get_test_pipeline_cfg(cfg),
            getattr(cfg, 'filename', None) or str(config),
            load_type='mmdet.LoadImageFromNDArray')
        self.model = MODELS.build(model_cfg)
        if checkpoint is not None:
            load_checkpoint(self.model, checkpoint, map_location='cpu')
        self.model.to(device).eval()
        self.device = device
        if score_thr is None and cfg.model.get('type') in JOINT_MODELS:
            score_thr = 0.0
        self.score_thr = self._resolve_score_thr(score_thr, checkpoint)
        self.pipeline = Compose(pipeline)

    @staticmethod
    def _resolve_score_thr(score_thr: Optional[float],
                           checkpoint: Optional[str]) -> float:
        if score_thr is not None:
            return float(score_thr)
        from struct_det.engine import load_calibration
        calibration = load_calibration(checkpoint) if checkpoint else None
        stored = (calibration or {}).get('score_thr')
        return float(stored) if stored is not None else DEFAULT_SCORE_THR

    @staticmethod
    def read_image(image: ImageInput) -> np.ndarray:
        """Decode an image to BGR (mmcv's convention).

        Args:
            image (str | np.ndarray): A file, or an ``(H, W, 3)`` RGB array.

        Returns:
            np.ndarray: The ``(H, W, 3)`` BGR image.

        Raises:
            ValueError: When the file is missing, corrupt or not an image, or
                the array is not ``(H, W, 3)``.
        """
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(
                    f'expected an (H, W, 3) array, got shape {image.shape}')
            return np.ascontiguousarray(image[..., ::-1])
        if not osp.isfile(image):
            raise ValueError(f'{image}: no such file')
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(
                f'{image}: not a readable image (corrupt or unsupported)')
        return bgr

    @torch.no_grad()
    def predict_one(self, image: ImageInput) -> Dict:
        """Predict one image.

        Args:
            image (str | np.ndarray): A file, or an ``(H, W, 3)`` RGB array.

        Returns:
            dict: The result (see :meth:`__call__`).

        Raises:
            ValueError: When the image cannot be read.
        """
        bgr = self.read_image(image)
        name = image if isinstance(image, str) else '<array>'
        data = self.pipeline(dict(img=bgr, img_id=0, img_path=name))
        batch = pseudo_collate([data])
        sample = self.model.test_step(batch)[0]
        return self.to_result(sample, name, bgr.shape[:2])

    def to_result(self, sample, name: str, shape) -> Dict:
        """Turn a predicted data sample into plain Python and numpy values.

        Args:
            sample (DetDataSample): The model's prediction.
            name (str): The image's path (``'<array>'`` for an array).
            shape (tuple[int, int]): ``(H, W)`` of the image.

        Returns:
            dict: The result (see :meth:`__call__`).
        """
        height, width = shape
        result: Dict = dict(
            image=name,
            height=height,
            width=width,
            score=None,
            regions=[],
            mask=np.zeros((height, width), np.uint8),
            score_thr=self.score_thr)
        score = sample_field(sample, 'pred_score')
        if score is not None:
            result['score'] = float(torch.as_tensor(score).reshape(-1)[0])
        inst = sample_field(sample, 'pred_instances')
        if inst is not None:
            keep = inst.scores >= self.score_thr
            result['regions'] = [
                dict(
                    bbox=[round(float(v), 2) for v in box],
                    score=round(float(s), 4)) for box, s in zip(
                        inst.bboxes[keep].cpu(), inst.scores[keep].cpu())
            ]
            result['mask'] = instance_union_masks(
                inst.scores, [self.score_thr], (height, width),
                masks=inst.masks if 'masks' in inst else None,
                boxes=inst.bboxes)[0]
        return result

    def __call__(self,
                 inputs: Union[ImageInput, Sequence[ImageInput]],
                 progress: bool = True) -> Iterator[Dict]:
        """Yield one result per readable image.

        Unreadable images are reported and skipped.

        Args:
            inputs (str | np.ndarray | Sequence): Images, as
                :func:`list_images` takes them.
            progress (bool): Show a progress bar for more than one image.
                Defaults to True.

        Yields:
            dict: ``image`` (path), ``height``, ``width``, ``score`` (the
                predicted MOS, or None), ``regions`` (a list of
                ``{'bbox': xyxy, 'score': float}``), ``mask`` (``(H, W)`` uint8
                0/1 distortion mask) and ``score_thr``.
        """
        images = list_images(inputs)
        bar = None
        if progress and len(images) > 1:
            from mmengine.utils import ProgressBar
            bar = ProgressBar(len(images))
        for image in images:
            try:
                yield self.predict_one(image)
            except Exception as err:  # one bad image must not end the batch
                name = image if isinstance(image, str) else '<array>'
                print_log(f'skipped {name}: {err}', logger='current', level=30)
            if bar is not None:
                bar.update()


def result_to_json(result: Dict) -> Dict:
    """The JSON-serialisable part of a result: the mask becomes its area.

    Idempotent: a result already reduced is returned as a copy.

    Args:
        result (dict): A result of :class:`StructureInferencer`.

    Returns:
        dict: The result without ``mask``, with ``mask_area`` (pixels).
    """
    out = {k: v for k, v in result.items() if k != 'mask'}
    if 'mask' in result:
        out['mask_area'] = int(result['mask'].sum())
    return out


def write_results_json(results: List[Dict], out_file: str) -> None:
    """Write results as JSON, atomically.

    Args:
        results (list[dict]): Results of :class:`StructureInferencer`.
        out_file (str): The JSON file to write.
    """
    payload = [result_to_json(r) for r in results]
    atomic_write(out_file, lambda f: json.dump(payload, f, indent=1), 'w')
