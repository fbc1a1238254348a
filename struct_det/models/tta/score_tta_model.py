"""Test-time augmentation for image-level score regressors: average over
views."""
from typing import List

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.model import BaseTTAModel

from .utils import WrappedModelInit


@MODELS.register_module()
class ScoreTTAModel(WrappedModelInit, BaseTTAModel):
    """Averages the ``pred_score`` of every view of an image (e.g. N grid
    crops).

    Used through ``tools/test.py --tta`` with a ``tta_pipeline`` whose
    ``TestTimeAug`` lists the views (``GridCrop`` with ``index=0..N-1``).
    Each view runs through the wrapped model's ``test_step``; the merged
    sample is the first view's sample with the mean score and
    ``metainfo['num_tta_views']``.

    Args:
        module (dict | nn.Module): The score model or its config.
        data_preprocessor (dict | nn.Module, optional): Overrides the
            model's data preprocessor if given. Defaults to None.
    """

    # mmdet's registry resolves the model without a default scope
    wrapped_registry = MODELS

    def merge_preds(
            self, data_samples_list: List[List[DetDataSample]]
    ) -> List[DetDataSample]:
        """Merges the views of each image.

        Args:
            data_samples_list (list[list[DetDataSample]]): Per image, the
                list of its views' predicted samples.

        Returns:
            list[DetDataSample]: One sample per image with the averaged
                ``pred_score``.

        Raises:
            ValueError: If a view has no ``pred_score``.
        """
        merged = []
        for views in data_samples_list:
            scores = []
            for view in views:
                if 'pred_score' not in view:
                    raise ValueError(
                        'ScoreTTAModel: a view of '
                        f'{view.metainfo.get("img_path", "an image")} has '
                        'no pred_score; wrap a score regressor such as LoDa')
                scores.append(view.pred_score.reshape(-1).float())
            sample = views[0]
            sample.pred_score = torch.stack(scores).mean(dim=0)
            sample.set_metainfo(dict(num_tta_views=len(views)))
            merged.append(sample)
        return merged
