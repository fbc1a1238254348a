# A tiny LoDa for CPU on the bundled sample data (tests and the demo): a 4-block,
# 96-wide ViT and a ResNet-10t, both randomly initialised and frozen as in the real
# model, on 112 px crops from a 128 px short side (antialiased Pillow resize, as the
# LoDa configs). Trains in well under a minute on 2
# CPU cores and reaches a clearly positive SRCC on the sample's val split:
#   python tools/train.py configs/tiny/loda_tiny_evalmuse-sample.py
#   python tools/test.py configs/tiny/loda_tiny_evalmuse-sample.py \
#       work_dirs/loda_tiny_evalmuse-sample/iter_450.pth [--tta]
_base_ = [
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/evalmuse_sample_score.py',
]
custom_imports = dict(imports=['struct_det'], allow_failed_imports=False)

short_side = 128
crop_size = (112, 112)
max_iters = 450

model = dict(
    type='LoDa',
    data_preprocessor=dict(
        type='ScoreDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    vit=dict(
        model_name='vit_tiny_patch16_224',
        img_size=crop_size[0],
        depth=4,
        embed_dim=96,
        num_heads=3,
        pretrained=None),
    cnn=dict(
        # Random frozen features need width to be useful: the full-width ResNet-10t
        # (5M parameters) learns far more reliably than slimmed ones.
        model_name='resnet10t',
        out_indices=(1, 2, 3, 4),
        pretrained=None),
    latent_dim=32,
    grid_size=4,
    num_heads=4,
    dropout=0.1,
    score_range=(1.0, 5.0),
    loss=dict(type='NormInNormLoss', loss_weight=1.0))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=8, drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
# The learning rate above is for one process of 8 images (`--auto-scale-lr` scales it).
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

# tools/test.py --tta: the mean score of a 2x2 grid of crops.
tta_model = dict(type='ScoreTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='GridCrop', crop_size=crop_size, grid=(2, 2), index=i)
                for i in range(4)
            ],
            [dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}})],
        ]),
]
