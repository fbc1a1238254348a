# The bundled synthetic sample (tools/misc/make_sample_data.py) as dense targets, 64 px
# inputs for CPU runs.
_base_ = ['./evalmuse_structure_heatmap.py']

data_root = 'data/evalmuse_sample/'
img_scale = (64, 64)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadHeatmapAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackHeatmapInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadHeatmapAnnotations'),
    dict(type='PackHeatmapInputs', meta_keys={{_base_.meta_keys}}),
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
