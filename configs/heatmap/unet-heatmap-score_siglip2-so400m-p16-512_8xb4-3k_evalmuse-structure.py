# Heatmap + score on SigLIP 2 So400m/16 at 512 ("out of memory", 4th in the structure
# track): image features into a heatmap head and a mean-pooled score head, loss
# 16 MSE_heatmap + 4 MSE_score, AdamW 2.1e-5 with cosine decay, AMP, 32 images per step
# (here 8 GPUs x 4 instead of batch 1 x 32 accumulation), 3,000 iterations. The patch
# embedding stays frozen; all 27 blocks train (gradient checkpointing).
#
# Local weights, fetched once (nothing is downloaded at run time):
#   huggingface-cli download timm/vit_so400m_patch16_siglip_512.v2_webli \
#       model.safetensors --local-dir checkpoints/vit_so400m_patch16_siglip_512.v2_webli
_base_ = [
    './unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.py'
]

img_scale = (512, 512)
patch = 16
width = 1152
max_iters = 3000

model = dict(
    data_preprocessor=dict(
        # SigLIP normalises to [-1, 1]
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        size_divisor=patch,
        test_cfg=dict(size_divisor=patch)),
    backbone=dict(
        _delete_=True,
        type='TimmViT',
        model_name='vit_so400m_patch16_siglip_512.v2_webli',
        pretrained=
        'checkpoints/vit_so400m_patch16_siglip_512.v2_webli/model.safetensors',
        img_size=img_scale[0],
        out_indices=(6, 13, 20, 26),
        frozen_stages=0,
        with_cp=True),
    decode_head=dict(
        in_channels=[width] * 4,
        loss_decode=[
            dict(type='HeatmapMSELoss', loss_weight=16.0),
        ]),
    score_head=dict(
        in_channels=width,
        losses=[dict(type='mmdet.ScoreMSELoss', loss_weight=4.0)]))

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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
optim_wrapper = dict(
    optimizer=dict(lr=2.1e-5, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - 100,
        eta_min=0.0,
        by_epoch=False,
        begin=100,
        end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=500))

tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=s, keep_ratio=False)
                for s in [(512, 512), (640, 640)]
            ],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadHeatmapAnnotations')],
            [dict(type='PackHeatmapInputs', meta_keys={{_base_.meta_keys}})],
        ]),
]
