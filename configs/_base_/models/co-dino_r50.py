# Co-DINO (5 scales, R50) for single-class detection with instance masks:
# mmdetection's projects/CO-DETR recipe (co_dino_5scale_r50_lsj_8xb2_1x_coco.py)
# on struct_det's CoDETR, plus the instance-mask branch (an FCN mask head in the
# RoI auxiliary head, applied to the final DETR boxes at test time).
#
# The ResNet-50, the RPN and the RoI head (with its mask branch) and their
# train/test configs are mmdet's Mask R-CNN model base; only what differs is
# written here. mmdet ships DINO and ATSS only as whole COCO configs, whose
# dataset keys mmengine would refuse beside a dataset base (bases must not
# share keys), so their values are written out below. Model configs add a
# dataset, a schedule and mmdet's default_runtime beside this base.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
custom_imports = dict(imports=['struct_det'], allow_failed_imports=False)

num_classes = 1
num_levels = 5
embed_dims = 256  # as wide as mmdet's RPN and RoI heads
num_queries = 900
num_dec_layer = 6
# the auxiliary heads' losses are scaled by num_dec_layer * loss_lambda
loss_lambda = 2.0
aux_weight = num_dec_layer * loss_lambda
aux_strides = [4, 8, 16, 32, 64, 128]  # 5 memory levels + the extra one

model = dict(
    type='CoDETR',
    num_queries=num_queries,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=num_levels,
    # True with LSJ pipelines (the padded square is the image, no padding
    # masks), which the configs pair with a BatchFixedSizePad.
    use_lsj=False,
    # 'detr' (COCO box AP 52.1), 'one-stage' (ATSS, 49.4) or 'two-stage'
    # (Faster R-CNN, 47.9); only the chosen branch runs at test time.
    eval_module='detr',
    # DETR's (Mask R-CNN's base pads to 32)
    data_preprocessor=dict(pad_size_divisor=1),
    backbone=dict(norm_cfg=dict(requires_grad=False)),
    neck=dict(
        _delete_=True,
        type='ChannelMapper',
        in_channels=[256, 512, 1024, 2048],
        kernel_size=1,
        out_channels=embed_dims,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=num_levels),
    # the DINO core: mmdet's dino-4scale_r50_8xb2-12e_coco.py at 5 levels,
    # with Co-DINO's QualityFocalLoss
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(
                embed_dims=embed_dims, num_levels=num_levels, dropout=0.0),
            ffn_cfg=dict(
                embed_dims=embed_dims, feedforward_channels=2048,
                ffn_drop=0.0))),
    decoder=dict(
        num_layers=num_dec_layer,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(
                embed_dims=embed_dims, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(
                embed_dims=embed_dims, num_levels=num_levels, dropout=0.0),
            ffn_cfg=dict(
                embed_dims=embed_dims, feedforward_channels=2048,
                ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(
        num_feats=embed_dims // 2, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='CoDINOHead',
        num_classes=num_classes,
        sync_cls_avg_factor=True,
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)),
    # customized positive queries: at most 300 per auxiliary head and image
    pos_query_cfg=dict(max_queries_per_group=300, min_queries_per_group=9),
    aux_norm_cfg=dict(type='GN', num_groups=32),
    # the auxiliary heads read the encoder memory at aux_strides
    rpn_head=dict(
        anchor_generator=dict(
            _delete_=True,
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=aux_strides),
        loss_cls=dict(loss_weight=1.0 * aux_weight),
        loss_bbox=dict(loss_weight=1.0 * aux_weight)),
    # one RoI head (the branch 'rcnn' of train_cfg/test_cfg), with the
    # instance-mask branch
    roi_head=dict(
        type='CoStandardRoIHead',
        bbox_roi_extractor=dict(
            featmap_strides=aux_strides[:-1], finest_scale=56),
        bbox_head=dict(
            num_classes=num_classes,
            reg_decoded_bbox=True,
            loss_cls=dict(loss_weight=1.0 * aux_weight),
            loss_bbox=dict(type='GIoULoss', loss_weight=10.0 * aux_weight)),
        mask_roi_extractor=dict(
            featmap_strides=aux_strides[:-1], finest_scale=56),
        mask_head=dict(num_classes=num_classes)),
    # dense auxiliary heads by branch name: mmdet's ATSS head
    aux_bbox_head=dict(
        atss=dict(
            type='CoATSSHead',
            num_classes=num_classes,
            in_channels=embed_dims,
            stacked_convs=1,
            feat_channels=embed_dims,
            anchor_generator=dict(
                type='AnchorGenerator',
                ratios=[1.0],
                octave_base_scale=8,
                scales_per_octave=1,
                strides=aux_strides),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0 * aux_weight),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0 * aux_weight),
            loss_centerness=dict(
                type='CrossEntropyLoss',
                use_sigmoid=True,
                loss_weight=1.0 * aux_weight))),
    # by branch: the DETR head, mmdet's rpn/rpn_proposal/rcnn, the ATSS head
    train_cfg=dict(
        detr=dict(
            assigner=dict(
                type='HungarianAssigner',
                match_costs=[
                    dict(type='FocalLossCost', weight=2.0),
                    dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                    dict(type='IoUCost', iou_mode='giou', weight=2.0)
                ])),
        rpn_proposal=dict(nms_pre=4000),
        rcnn=dict(assigner=dict(match_low_quality=False)),
        atss=dict(
            assigner=dict(type='ATSSAssigner', topk=9),
            allowed_border=-1,
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        detr=dict(
            # Distortion maps come from at most a few dozen regions per image;
            # boxes below 0.05 never pass StructureMetric's thresholds and
            # would only cost mask-head time.
            max_per_img=100,
            score_thr=0.05,
            nms=dict(type='soft_nms', iou_threshold=0.8)),
        rcnn=dict(score_thr=0.0),
        atss=dict(
            nms_pre=1000,
            min_bbox_size=0,
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.6),
            max_per_img=100)))

# tools/test.py --tta: boxes and masks of the views are merged by
# score-weighted mask voting (struct_det DetMaskTTAModel; mmdet's DetTTAModel
# refuses masks); the configs' tta_pipeline gives the views.
tta_model = dict(
    type='DetMaskTTAModel',
    merge_mode='mask_vote',
    iou_thr=0.5,
    score_thr=0.05,
    max_per_img=100,
    mask_iou_stride=2)
