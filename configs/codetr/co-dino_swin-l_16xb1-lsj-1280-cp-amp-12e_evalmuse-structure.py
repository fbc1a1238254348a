# Co-DINO Swin-L at 1280 for GPUs below ~40 GB: the same model and recipe as
# co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py, with activation
# checkpointing of the Swin blocks (mmdet's with_cp: each block's activations
# are recomputed in backward instead of kept) and fp16 mixed precision with a
# dynamic loss scale (mmengine's AmpOptimWrapper; mmcv's deformable attention
# kernels take fp16). Same weights, same checkpoints: a model trained with
# either config tests with either.
#
#   python tools/train.py configs/codetr/co-dino_swin-l_16xb1-lsj-1280-cp-amp-12e_evalmuse-structure.py  # noqa
_base_ = ['./co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py']

model = dict(backbone=dict(with_cp=True))
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
