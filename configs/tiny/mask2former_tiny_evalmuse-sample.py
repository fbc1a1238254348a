# A really tiny Mask2Former on the bundled sample data (128 px), for CPU tests and
# the demo: ResNet-18 layout at 1/4 width, 32-channel pixel decoder with one
# deformable encoder layer, one masked-attention decoder layer, 10 queries,
# 256 sampled points in the mask losses, random init. Trains in seconds.
_base_ = ['../mask2former/mask2former_r50_8xb2-lsj-50e_evalmuse-structure.py']

image_size = (128, 128)
embed_dims = 32
num_queries = 10

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(
            type='BatchFixedSizePad',
            size=image_size,
            img_pad_value=0,
            pad_mask=True,
            mask_pad_value=0,
            pad_seg=False)
    ]),
    backbone=dict(
        depth=18,
        base_channels=16,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    panoptic_head=dict(
        in_channels=[16, 32, 64, 128],
        feat_channels=embed_dims,
        out_channels=embed_dims,
        num_queries=num_queries,
        pixel_decoder=dict(
            norm_cfg=dict(type='GN', num_groups=8),
            encoder=dict(
                num_layers=1,
                layer_cfg=dict(
                    self_attn_cfg=dict(
                        embed_dims=embed_dims, num_heads=4, num_points=2),
                    ffn_cfg=dict(
                        embed_dims=embed_dims,
                        feedforward_channels=2 * embed_dims))),
            positional_encoding=dict(num_feats=embed_dims // 2)),
        positional_encoding=dict(num_feats=embed_dims // 2),
        transformer_decoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                ffn_cfg=dict(
                    embed_dims=embed_dims,
                    feedforward_channels=2 * embed_dims)))),
    train_cfg=dict(num_points=256),
    test_cfg=dict(max_per_image=num_queries))
load_from = None

# ---------------------------------------------------------------- data
data_root = 'data/evalmuse_sample/'
train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomResize',
        scale=image_size,
        ratio_range=(0.5, 1.5),
        resize_type='Resize',
        keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_size=image_size,
        crop_type='absolute',
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# ---------------------------------------------------------------- schedule
max_iters = 40
param_scheduler = dict(end=max_iters, milestones=[30, 36])
train_cfg = dict(
    max_iters=max_iters, val_interval=max_iters, dynamic_intervals=None)
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=1.0))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=10)
auto_scale_lr = dict(enable=False, base_batch_size=2)

# ---------------------------------------------------------------- TTA
# Two scales x {none, horizontal, vertical}: exercises every un-flip path.
tta_model = dict(max_per_img=num_queries, mask_iou_stride=1)
tta_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(96, 96), keep_ratio=True),
                dict(type='Resize', scale=image_size, keep_ratio=True),
            ],
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='vertical'),
            ],
            [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
            [dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}})],
        ])
]
