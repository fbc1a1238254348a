# LoDa on a frozen DINOv2 ViT-L/14 with 4 registers at 518x518, as the NTIRE 2025
# EvalMuse-Structure winner (HNU-VPAI) ran it: 8 GPUs x batch 8, ~10 epochs (their
# 1,000-image hold-out: SRCC 0.667 / PLCC 0.712). 24 adapted blocks, ~29M trainable
# parameters; the rest of the recipe is the paper's (see the ViT-B config).
#
# Local weights, fetched once (nothing is downloaded at run time):
#   huggingface-cli download timm/vit_large_patch14_reg4_dinov2.lvd142m \
#       model.safetensors --local-dir checkpoints/vit_large_patch14_reg4_dinov2.lvd142m
#   huggingface-cli download timm/resnet50.a1_in1k \
#       model.safetensors --local-dir checkpoints/resnet50.a1_in1k
# Facebook's original DINOv2 checkpoints load too (timm converts their layout).
# Memory: the frozen ViT-L's activations are kept for the adapters' backward; with less
# than ~40 GB per GPU train loda_dinov2-l14-reg4-518_8xb8-cp-amp-10e_evalmuse-structure.py
# (the same model with with_cp=True and AMP).
_base_ = ['./loda_vit-b16-r50_8xb16-10e_evalmuse-structure.py']

img_size = 518
crop_size = (img_size, img_size)
model = dict(
    vit=dict(
        _delete_=True,
        model_name='vit_large_patch14_reg4_dinov2.lvd142m',
        img_size=img_size,
        pretrained=
        'checkpoints/vit_large_patch14_reg4_dinov2.lvd142m/model.safetensors'),
    with_cp=False)

# Most EvalMuse images are square: the short side at 518 makes the crop the whole image.
# Resized with Pillow's antialiased bilinear filter, as the LoDa reference resizes.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=img_size, interpolation='bilinear'),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=img_size, interpolation='bilinear'),
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=8, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=64)

# tools/test.py --tta: on square images grid crops at 518 would all be the same view, so
# the views are the centre crop under the flips seen in training (none, h, v, both).
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='PillowResize', size=img_size, interpolation='bilinear'),
    dict(type='GridCrop', crop_size=crop_size, grid=(1, 1)),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='RandomFlip', prob=0.0),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='vertical'),
                dict(type='RandomFlip', prob=1.0, direction='diagonal'),
            ],
            [dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}})],
        ]),
]
