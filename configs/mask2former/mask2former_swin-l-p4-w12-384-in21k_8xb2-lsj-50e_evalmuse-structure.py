# Mask2Former Swin-L (ImageNet-21k, 384) on EvalMuse-Structure, fine-tuned from
# mmdet's COCO Swin-L model (the panoptic one: mmdet releases no Swin-L
# instance model; backbone, pixel decoder and transformer decoder are the same
# modules and load, only the class embedding 134 -> 2 does not).
# Same recipe as the R50 config; the backbone and its optimiser multipliers
# follow mmdet's Swin configs. At 1024 px with 2 images per GPU it needs a
# large-memory GPU; set model.backbone.with_cp=True to trade speed for memory.
_base_ = ['./mask2former_r50_8xb2-lsj-50e_evalmuse-structure.py']

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window12_384_22k.pth'  # noqa
depths = [2, 2, 18, 2]
num_queries = 200  # as the released Swin-L model, so its queries load
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=192,
        depths=depths,
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
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(
        in_channels=[192, 384, 768, 1536], num_queries=num_queries),
    test_cfg=dict(max_per_image=num_queries))

load_from = 'https://download.openmmlab.com/mmdetection/v3.0/mask2former/mask2former_swin-l-p4-w12-384-in21k_16xb1-lsj-100e_coco-panoptic/mask2former_swin-l-p4-w12-384-in21k_16xb1-lsj-100e_coco-panoptic_20220407_104949-82f8d28d.pth'  # noqa

# Backbone at 0.1x learning rate; no weight decay on norms and embeddings.
backbone_norm_multi = dict(lr_mult=0.1, decay_mult=0.0)
backbone_embed_multi = dict(lr_mult=0.1, decay_mult=0.0)
embed_multi = dict(lr_mult=1.0, decay_mult=0.0)
custom_keys = {
    'backbone': dict(lr_mult=0.1, decay_mult=1.0),
    'backbone.patch_embed.norm': backbone_norm_multi,
    'backbone.norm': backbone_norm_multi,
    'absolute_pos_embed': backbone_embed_multi,
    'relative_position_bias_table': backbone_embed_multi,
    'query_embed': embed_multi,
    'query_feat': embed_multi,
    'level_embed': embed_multi,
}
custom_keys.update({
    f'backbone.stages.{stage}.blocks.{block}.norm':
    backbone_norm_multi
    for stage, num_blocks in enumerate(depths)
    for block in range(num_blocks)
})
custom_keys.update({
    f'backbone.stages.{stage}.downsample.norm':
    backbone_norm_multi
    for stage in range(len(depths) - 1)
})
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=custom_keys, norm_decay_mult=0.0))

tta_model = dict(max_per_img=num_queries)
