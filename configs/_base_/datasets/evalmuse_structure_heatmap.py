# EvalMuse-Structure as dense prediction (mmseg): the converter's COCO files, no second
# conversion step. LoadHeatmapAnnotations rasterises every annotator's raw regions (kept
# in the COCO image records) into the annotator-count map; PackHeatmapInputs packs the
# binary consensus map (gt_sem_seg: >= K annotators, the COCO instances' union pixel for
# pixel) and the soft agreement map (gt_heatmap: 0, 1/3, 2/3, 1 for three annotators).
# Convert first (see README):
#   python tools/dataset_converters/evalmuse_structure.py \
#     --info data/evalmuse_structure/train/train_info.json \
#     --img-dir data/evalmuse_structure/train/images \
#     --out data/evalmuse_structure/annotations/evalmuse.json --val-ratio 0.1 --seed 0
# Model configs add custom_imports and mmseg's default_runtime beside this base.

dataset_type = 'EvalMuseHeatmapDataset'
data_root = 'data/evalmuse_structure/'
backend_args = None
# Whole images at a fixed square input: the heatmap is judged on the entire picture (the
# RAHF baseline resizes to 448); mmseg resizes the logits back to the original size.
img_scale = (448, 448)
meta_keys = ('img_path', 'img_id', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
             'mos', 'prompt', 'num_annotators', 'min_annotators')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadHeatmapAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackHeatmapInputs', meta_keys=meta_keys),
]
# Annotations load after Resize so the metrics see the targets at the original size.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadHeatmapAnnotations'),
    dict(type='PackHeatmapInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/evalmuse_train.json',
        data_prefix=dict(img_path='train/images/'),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/evalmuse_val.json',
        data_prefix=dict(img_path='train/images/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
# The challenge's test split has no labels: for its submission run tools/test.py with
#   --cfg-options test_dataloader.dataset.ann_file=annotations/evalmuse_test.json \
#                 test_dataloader.dataset.data_prefix.img_path=test/images/ \
#                 test_evaluator.1.format_only=True \
#                 test_evaluator.2.split_file=data/evalmuse_structure/test/test_info.json
# (item 1: IoUMetric, which has no GT there; item 2: the StructureSubmissionWriter the model
# configs add).
test_dataloader = val_dataloader

# StructureMetric binarises the heatmap (> thr) at each threshold and keeps the best F1
# (the calibration hook stores it for tools/test.py); mmseg's IoUMetric scores the
# binary map at the decode head's threshold.
heatmap_thrs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
val_evaluator = [
    dict(type='mmdet.StructureMetric', score_thr=heatmap_thrs),
    dict(type='IoUMetric', iou_metrics=['mIoU']),
]
# tools/test.py replaces 'calibrated' by the best val threshold stored in the checkpoint,
# for the metric and for the submission writer.
test_evaluator = [
    dict(type='mmdet.StructureMetric', score_thr='calibrated'),
    dict(type='IoUMetric', iou_metrics=['mIoU']),
]

# Logs the F1-vs-threshold curve after each validation and stores the best threshold in
# the checkpoints; RandomStateHook makes --resume exact.
custom_hooks = [
    dict(type='mmdet.StructureCalibrationHook'),
    dict(type='mmdet.RandomStateHook'),
]
