# A really tiny Co-DINO for CPU tests and the demo (128 px inputs): the R50
# model (./co-dino_r50.py) with a ResNet-18 layout at 1/4 width, 4 feature
# levels of 32 channels, one encoder and two decoder layers, 30 queries, at
# most 10 denoising queries, both auxiliary heads (RPN + RoI with the mask
# branch, ATSS; losses unscaled but the RPN's) and their positive-query
# groups, smaller samplers and proposal counts, random init. mmdet's
# sub-modules each take their own widths, so the sizes are written where
# each one takes them.
_base_ = ['./co-dino_r50.py']

embed_dims = 32
num_levels = 4
num_queries = 30
aux_strides = [8, 16, 32, 64, 128]  # 4 memory levels + the extra one

model = dict(
    num_queries=num_queries,
    num_feature_levels=num_levels,
    data_preprocessor=dict(pad_mask=False),
    backbone=dict(
        depth=18,
        base_channels=16,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        in_channels=[32, 64, 128],
        out_channels=embed_dims,
        norm_cfg=dict(num_groups=8),
        num_outs=num_levels),
    encoder=dict(
        num_layers=1,
        layer_cfg=dict(
            self_attn_cfg=dict(
                embed_dims=embed_dims,
                num_heads=4,
                num_levels=num_levels,
                num_points=2),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
            cross_attn_cfg=dict(
                embed_dims=embed_dims,
                num_heads=4,
                num_levels=num_levels,
                num_points=2),
            ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=64))),
    positional_encoding=dict(num_feats=embed_dims // 2),
    bbox_head=dict(embed_dims=embed_dims),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
    pos_query_cfg=dict(max_queries_per_group=num_queries),
    aux_norm_cfg=dict(num_groups=8),
    rpn_head=dict(
        in_channels=embed_dims,
        feat_channels=embed_dims,
        anchor_generator=dict(strides=aux_strides)),
    roi_head=dict(
        bbox_roi_extractor=dict(
            out_channels=embed_dims, featmap_strides=aux_strides[:-1]),
        bbox_head=dict(
            in_channels=embed_dims,
            fc_out_channels=64,
            loss_cls=dict(loss_weight=1.0),
            loss_bbox=dict(loss_weight=10.0)),
        mask_roi_extractor=dict(
            out_channels=embed_dims, featmap_strides=aux_strides[:-1]),
        mask_head=dict(
            num_convs=1, in_channels=embed_dims,
            conv_out_channels=embed_dims)),
    aux_bbox_head=dict(
        atss=dict(
            in_channels=embed_dims,
            feat_channels=embed_dims,
            norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
            anchor_generator=dict(strides=aux_strides),
            loss_cls=dict(loss_weight=1.0),
            loss_bbox=dict(loss_weight=2.0),
            loss_centerness=dict(loss_weight=1.0))),
    # partial dicts by branch, merged into the model base's
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        detr=dict(
            _delete_=True,
            max_per_img=num_queries,
            nms=dict(type='nms', iou_threshold=0.8)),
        rpn=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(max_per_img=num_queries),
        atss=dict(nms_pre=200, max_per_img=num_queries)))
tta_model = dict(max_per_img=num_queries, mask_iou_stride=1)
