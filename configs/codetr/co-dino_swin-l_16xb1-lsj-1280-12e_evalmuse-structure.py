# Co-DINO (5 scales, Swin-L) at 1280 px for EvalMuse-Structure, as the
# structure-track winner fine-tuned its Co-DINO (12 epochs, AdamW 5e-5, 1280,
# instance masks). Starts from the released COCO model trained with LSJ at
# 1280 (box AP 59.3); everything else is the R50 config.
#
# Weights: download and convert once
#   wget https://download.openmmlab.com/mmdetection/v3.0/codetr/co_dino_5scale_lsj_swin_large_1x_coco-3af73af2.pth  # noqa
#   python tools/model_converters/codetr_to_struct_det.py \
#       co_dino_5scale_lsj_swin_large_1x_coco-3af73af2.pth \
#       checkpoints/co_dino_5scale_lsj_swin_large_1x_coco-3af73af2_struct-det.pth \
#       --drop-class-specific
# The Objects365->COCO model (box AP 64.1,
# co_dino_5scale_swin_large_16e_o365tococo-614254c9.pth) converts the same
# way; it was trained without LSJ, so set model.use_lsj=False with it.
#
# Memory: batches hold 1 image per GPU (16 GPUs x 1 in the released recipe);
# Swin-L at 1280 needs > 24 GB per image without activation checkpointing. On
# smaller GPUs train
# co-dino_swin-l_16xb1-lsj-1280-cp-amp-12e_evalmuse-structure.py (with_cp +
# AMP, same model); on many GPUs, the FSDP variant
# co-dino_swin-l_16xb1-lsj-1280-fsdp-12e_evalmuse-structure.py.
_base_ = ['./co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py']

image_size = (1280, 1280)
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window12_384_22k.pth'  # noqa

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
    ]),
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        window_size=12,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 384, 768, 1536]))

load_from = 'checkpoints/co_dino_5scale_lsj_swin_large_1x_coco-3af73af2_struct-det.pth'  # noqa

# ---------------------------------------------------------------- data
meta_keys = {{_base_.meta_keys}}
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=1, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# ---------------------------------------------------------------- schedule
optim_wrapper = dict(optimizer=dict(lr=5e-5))
auto_scale_lr = dict(enable=False, base_batch_size=16)

# ---------------------------------------------------------------- TTA
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
                dict(type='Resize', scale=image_size, keep_ratio=True),
            ],
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [
                dict(
                    type='Pad',
                    size=image_size,
                    pad_val=dict(img=(114, 114, 114)))
            ],
            [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
            [dict(type='PackDetInputs', meta_keys=meta_keys)],
        ])
]
