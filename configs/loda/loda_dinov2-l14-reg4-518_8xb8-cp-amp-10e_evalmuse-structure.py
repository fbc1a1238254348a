# LoDa on DINOv2 ViT-L/14-reg4 at 518 for GPUs below ~40 GB: the same model and
# recipe as loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py, with
# gradient checkpointing of every injector + ViT block pair (LoDa's with_cp: the
# frozen ViT's activations are recomputed in backward instead of kept; LoDa runs
# the timm blocks itself, so this is its switch rather than timm's
# set_grad_checkpointing) and fp16 mixed precision with a dynamic loss scale.
# Same weights, same checkpoints as the plain config.
#
#   python tools/train.py configs/loda/loda_dinov2-l14-reg4-518_8xb8-cp-amp-10e_evalmuse-structure.py  # noqa
_base_ = ['./loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py']

model = dict(with_cp=True)
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
