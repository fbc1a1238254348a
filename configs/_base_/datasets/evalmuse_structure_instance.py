# EvalMuse-Structure as single-class instance segmentation (boxes + consensus masks).
# Convert first (see README):
#   python tools/dataset_converters/evalmuse_structure.py \
#     --info data/evalmuse_structure/train/train_info.json \
#     --img-dir data/evalmuse_structure/train/images \
#     --out data/evalmuse_structure/annotations/evalmuse.json --val-ratio 0.1 --seed 0
# Model configs add custom_imports and mmdet's default_runtime beside this base.

dataset_type = 'EvalMuseStructureDataset'
data_root = 'data/evalmuse_structure/'
backend_args = None
image_size = (1024, 1024)
# `mos` and `prompt` travel with every sample: StructureMetric scores the MOS.
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'flip', 'flip_direction', 'mos', 'prompt')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
# Annotations load after Resize so the metric sees GT masks at the original size.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/evalmuse_train.json',
        data_prefix=dict(img='train/images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
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
# The challenge's test split has no labels: score the held-out split; for a submission
# on the test images run tools/test.py with
#   --cfg-options test_dataloader.dataset.ann_file=annotations/evalmuse_test.json \
#                 test_dataloader.dataset.data_prefix.img=test/images/
# and tools/make_submission.py on its --out file.
test_dataloader = val_dataloader

# Region F1 depends on the instance score threshold: report it for several and keep the
# best (the calibration hook stores it in the checkpoint for tools/test.py).
val_evaluator = dict(
    type='StructureMetric', score_thr=[0.1, 0.2, 0.3, 0.4, 0.5])
# tools/test.py replaces 'calibrated' by the best val threshold stored in the checkpoint.
test_evaluator = dict(type='StructureMetric', score_thr='calibrated')

# Logs the F1-vs-threshold curve after each validation and stores the best threshold in
# the checkpoints (tools/test.py applies it); RandomStateHook makes --resume exact.
custom_hooks = [
    dict(type='StructureCalibrationHook'),
    dict(type='RandomStateHook')
]
