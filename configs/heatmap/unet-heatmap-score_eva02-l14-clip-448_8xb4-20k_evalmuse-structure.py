# Heatmap + score in one model (the RAHF baseline's and OPDAI's framing) on EVA02-CLIP
# ViT-L/14 (the encoder of Wecan EvalAIG's segmentation tier): whole images at 448, the
# first 12 of 24 blocks frozen, patch tokens of blocks 6/12/18/24 into a 4-stage U-Net
# decoder (MSE + Dice on the soft annotator map), mean-pooled last-block tokens into an
# MLP score head (MSE + 0.3 (1 - PLCC) + pairwise ranking, the OPDAI recipe with our
# losses). 8 GPUs x batch 4, 20k iterations, AdamW: heads 1e-4, unfrozen blocks 1e-5.
#
# Local weights, fetched once (nothing is downloaded at run time; timm's filter converts
# the OpenCLIP layout and resamples the position embedding to 448):
#   huggingface-cli download timm/eva02_large_patch14_clip_336.merged2b_s6b_b61k \
#       open_clip_pytorch_model.bin --local-dir checkpoints/eva02_large_patch14_clip_336.merged2b
#
#   bash tools/dist_train.sh configs/heatmap/unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.py 8
#   bash tools/dist_test.sh  configs/heatmap/unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.py \
#       work_dirs/<run>/iter_20000.pth 8 --tta
_base_ = [
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
    '../_base_/datasets/evalmuse_structure_heatmap.py',
]
custom_imports = dict(imports=['struct_det'], allow_failed_imports=False)
default_scope = 'mmseg'

img_scale = (448, 448)
patch = 14
width = 1024

model = dict(
    type='HeatmapSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        # OpenAI CLIP normalisation, as EVA-CLIP was trained with
        mean=[122.771, 116.746, 104.094],
        std=[68.501, 66.632, 70.323],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size_divisor=patch,
        test_cfg=dict(size_divisor=patch)),
    backbone=dict(
        type='TimmViT',
        model_name='eva02_large_patch14_clip_336.merged2b',
        pretrained='checkpoints/eva02_large_patch14_clip_336.merged2b/'
        'open_clip_pytorch_model.bin',
        img_size=img_scale[0],
        out_indices=(5, 11, 17, 23),
        frozen_stages=12,
        drop_path_rate=0.1,
        with_cp=True),
    decode_head=dict(
        type='UNetHeatmapHead',
        in_channels=[width] * 4,
        in_index=(0, 1, 2, 3),
        channels=256,
        decoder_channels=(256, 128, 64, 32),
        threshold=0.5,
        loss_decode=[
            dict(type='HeatmapMSELoss', loss_weight=1.0),
            dict(type='DiceIoULoss', mode='dice', loss_weight=1.0),
        ]),
    score_head=dict(
        type='PooledScoreHead',
        in_channels=width,
        hidden_channels=(512, ),
        dropout=0.1,
        score_range=(1.0, 5.0),
        losses=[
            dict(type='mmdet.ScoreMSELoss', loss_weight=1.0),
            dict(type='mmdet.PLCCLoss', loss_weight=0.3),
            dict(type='mmdet.PairwiseRankingLoss', loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=4, drop_last=True)

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=500,
        end=20000,
        by_epoch=False),
]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=2000,
        save_best='structure/final_score',
        rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=32)

# The test run also writes the challenge zip: heatmap > the calibrated threshold, the
# score head's score (on the unlabelled test split see the dataset base's comment).
test_evaluator = [
    dict(type='mmdet.StructureMetric', score_thr='calibrated'),
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(
        type='mmdet.StructureSubmissionWriter',
        out_file=
        'work_dirs/unet-heatmap-score_evalmuse-structure/submission.zip',
        score_thr='calibrated',
        description=
        'struct_det HeatmapSegmentor: timm ViT + U-Net heatmap + score head'),
]

# tools/test.py --tta: two scales x {none, horizontal flip}; heatmaps and scores averaged.
tta_model = dict(type='HeatmapTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=s, keep_ratio=False)
                for s in [(448, 448), (560, 560)]
            ],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            ],
            [dict(type='LoadHeatmapAnnotations')],
            [dict(type='PackHeatmapInputs', meta_keys={{_base_.meta_keys}})],
        ]),
]
