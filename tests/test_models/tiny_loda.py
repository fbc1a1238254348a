"""The tiny LoDa the model tests build (a 32 px ViT and a narrow ResNet-10t,
seconds on a CPU), as configs: callers copy before they change them.
"""
TINY_VIT = dict(
    model_name='vit_tiny_patch16_224',
    img_size=32,
    patch_size=8,
    depth=2,
    embed_dim=48,
    num_heads=3)
TINY_CNN = dict(
    model_name='resnet10t',
    channels=(8, 16, 32, 64),
    stem_width=8,
    out_indices=(1, 2, 3, 4))
TINY_LODA = dict(
    vit=TINY_VIT, cnn=TINY_CNN, latent_dim=16, grid_size=2, num_heads=2)
