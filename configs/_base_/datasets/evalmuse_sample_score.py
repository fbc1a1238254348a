# The bundled synthetic sample for the score regressor on CPU: short side 96, 64 px crops.
_base_ = ['./evalmuse_structure_score.py']

data_root = 'data/evalmuse_sample/'
short_side = 96
crop_size = (64, 64)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(100000, short_side), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    # Two independent flips: none, either or both (a list prob picks exactly one).
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(100000, short_side), keep_ratio=True),
    # The centre crop, by the same transform as the multi-crop TTA views.
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
