# LoDa (Xu et al., CVPR 2024) on EvalMuse-Structure in the paper's setting: frozen
# ViT-B/16 (augreg2, in21k -> in1k) + frozen ResNet-50, local distortion tokens injected
# before every ViT block; ~8.9M of ~118M parameters train. Short side 384, random 224
# crops with independent h/v flips, each image 3 times per epoch (the released code's
# patch_num=3), global batch 128, AdamW 3e-4 / wd 0.01, cosine per iteration, 10 epochs.
# The short side is resized with Pillow's antialiased bilinear filter, as the released code
# resizes its images offline (torchvision Resize(384) on PIL images; KADID-10k: bicubic).
# Test: one centre crop; `tools/test.py --tta` runs the released code's test protocol: the
# mean over 15 random 224 crops (seeded: the same crops on every run; change tta_seed or
# tta_crops below), or a 3x3 grid of crops with the commented views.
#
# Pretrained weights are read from local files only (nothing is downloaded at run time).
# Fetch them once on a machine with internet, e.g.
#   huggingface-cli download timm/vit_base_patch16_224.augreg2_in21k_ft_in1k \
#       model.safetensors --local-dir checkpoints/vit_base_patch16_224.augreg2_in21k_ft_in1k
#   huggingface-cli download timm/resnet50.a1_in1k \
#       model.safetensors --local-dir checkpoints/resnet50.a1_in1k
# (or timm.create_model(name, pretrained=True) and save its state_dict). A checkpoint of
# the released LoDa code converts with tools/model_converters/loda_official_to_struct_det.py.
_base_ = [
    'mmdet::_base_/default_runtime.py',
    '../_base_/datasets/evalmuse_structure_score.py',
]
custom_imports = dict(imports=['struct_det'], allow_failed_imports=False)

short_side = 384
crop_size = (224, 224)
# The released code normalises both backbones' shared input with ImageNet statistics.
model = dict(
    type='LoDa',
    data_preprocessor=dict(
        type='ScoreDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    vit=dict(
        model_name='vit_base_patch16_224.augreg2_in21k_ft_in1k',
        pretrained=
        'checkpoints/vit_base_patch16_224.augreg2_in21k_ft_in1k/model.safetensors'
    ),
    cnn=dict(
        model_name='resnet50',
        out_indices=(1, 2, 3, 4),  # strides 4, 8, 16, 32
        pretrained='checkpoints/resnet50.a1_in1k/model.safetensors'),
    latent_dim=64,
    grid_size=7,
    num_heads=4,
    dropout=0.1,
    score_range=(1.0, 5.0),
    loss=dict(type='NormInNormLoss', loss_weight=1.0))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    # Two independent flips: none, h, v or both, each with probability 1/4.
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),  # centre crop
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]

train_dataloader = dict(
    batch_size=16,
    # Batch statistics losses need >= 2 samples: never a last batch of 1.
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=3,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='annotations/evalmuse_train.json',
            data_prefix=dict(img='train/images/'),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=train_pipeline,
            backend_args={{_base_.backend_args}})))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.01))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=10,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='structure/srcc',
        rule='greater'))

# tools/test.py --tta: the released code's protocol, the mean score of 15 random 224
# crops (SeededRandomCrop: reproducible per image from tta_seed).
tta_crops = 15
tta_seed = 0
tta_model = dict(type='ScoreTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=short_side, interpolation='bilinear'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='SeededRandomCrop',
                    crop_size=crop_size,
                    seed=tta_seed,
                    index=i) for i in range(tta_crops)
            ],
            # A 3x3 grid of crops instead:
            # [dict(type='GridCrop', crop_size=crop_size, grid=(3, 3), index=i)
            #  for i in range(9)],
            [dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}})],
        ]),
]
