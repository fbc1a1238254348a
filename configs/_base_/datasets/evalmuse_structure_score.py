# EvalMuse-Structure for the structure-score regressor (image -> MOS): LoDa's recipe,
# short side 384, random 224 crops with h/v flips; one centre crop at test (multi-crop
# averaging with `tools/test.py --tta`, see the model configs' tta_pipeline).
# Model configs add custom_imports and mmdet's default_runtime beside this base.

dataset_type = 'EvalMuseStructureDataset'
data_root = 'data/evalmuse_structure/'
backend_args = None
short_side = 384
crop_size = (224, 224)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'flip', 'flip_direction', 'mos', 'prompt')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # keep_ratio with scale (inf, s) scales the short side to s.
    dict(type='Resize', scale=(100000, short_side), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    # Two independent flips: none, either or both (a list prob picks exactly one).
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(100000, short_side), keep_ratio=True),
    # The centre crop, by the same transform as the multi-crop TTA views.
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/evalmuse_train.json',
        data_prefix=dict(img='train/images/'),
        # Clean images carry the high MOS values: the regressor needs them.
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/evalmuse_val.json',
        data_prefix=dict(img='train/images/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# With scores only, StructureMetric reports SRCC and PLCC (after the scorer's logistic).
val_evaluator = dict(type='StructureMetric')
test_evaluator = val_evaluator

# Makes --resume continue exactly (random streams saved with the checkpoints).
custom_hooks = [dict(type='RandomStateHook')]
