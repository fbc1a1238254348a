"""Data preprocessor of image-level score regressors (LoDa)."""
from typing import Optional, Sequence, Union

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseDataPreprocessor


@MODELS.register_module()
class ScoreDataPreprocessor(BaseDataPreprocessor):
    """Stack equally sized crops, convert BGR to RGB and normalise.

    Unlike ``DetDataPreprocessor`` it never pads: padding would put black
    borders into the images whose quality is being scored, so a batch of
    differently sized images is an error that names them (the pipeline must
    crop to a fixed size, e.g. ``RandomCrop`` for training and ``GridCrop``
    for testing).

    Args:
        mean (Sequence[float], optional): Per-channel mean, in the channel
            order after the optional BGR->RGB swap. Defaults to None.
        std (Sequence[float], optional): Per-channel std; ``mean`` and
            ``std`` are given together or not at all. Defaults to None.
        bgr_to_rgb (bool): Swap the channels of BGR images (what
            ``LoadImageFromFile`` reads). Defaults to False.
        non_blocking (bool): Non-blocking host-to-device copies.
            Defaults to False.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: bool = False,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        if (mean is None) != (std is None):
            raise ValueError(
                'ScoreDataPreprocessor: give both mean and std, or neither')
        self.bgr_to_rgb = bgr_to_rgb
        self._normalize = mean is not None
        if self._normalize:
            if len(mean) not in (1, 3) or len(std) != len(mean):
                raise ValueError(
                    'ScoreDataPreprocessor: mean and std need 1 or 3 values '
                    f'each, got {len(mean)} and {len(std)}')
            # Not persistent: these are config values, not learned state.
            self.register_buffer(
                'mean',
                torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)
            self.register_buffer(
                'std',
                torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)

    def forward(self, data: dict, training: bool = False) -> Union[dict, list]:
        """Turn a collated batch into a normalised ``(N, C, H, W)`` tensor.

        Args:
            data (dict): ``inputs`` (uint8 ``(C, H, W)`` tensors, or an
                ``(N, C, H, W)`` tensor) and ``data_samples``, as collated by
                ``pseudo_collate``.
            training (bool): Unused (no batch augmentation).
                Defaults to False.

        Returns:
            dict: ``inputs`` (a float tensor) and ``data_samples`` (unchanged).

        Raises:
            ValueError: For images of different sizes in one batch.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples')
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 4:
                raise ValueError(
                    'ScoreDataPreprocessor: expected an (N, C, H, W) tensor '
                    'or a list of (C, H, W) tensors, got shape '
                    f'{tuple(inputs.shape)}')
            batch = inputs
        else:
            shapes = [tuple(img.shape) for img in inputs]
            if len(set(shapes)) > 1:
                raise ValueError(
                    self._size_mismatch_message(shapes, data_samples))
            batch = torch.stack(list(inputs))
        batch = batch.float()
        if self.bgr_to_rgb:
            if batch.shape[1] != 3:
                raise ValueError(
                    'ScoreDataPreprocessor: bgr_to_rgb needs 3-channel '
                    f'images, got {batch.shape[1]} channels')
            batch = batch.flip(1)
        if self._normalize:
            batch = (batch - self.mean) / self.std
        return dict(inputs=batch, data_samples=data_samples)

    @staticmethod
    def _size_mismatch_message(shapes: list,
                               data_samples: Optional[list]) -> str:
        names = []
        for index, shape in enumerate(shapes):
            path = None
            if data_samples is not None and index < len(data_samples):
                path = data_samples[index].metainfo.get('img_path')
            names.append(f'{path or f"image {index}"}: {shape}')
        return ('ScoreDataPreprocessor: a batch needs images of one size (no '
                'padding, it would distort the quality score), got ' +
                '; '.join(names) + '. Crop to a fixed size in the pipeline '
                '(RandomCrop for training, GridCrop for testing).')
