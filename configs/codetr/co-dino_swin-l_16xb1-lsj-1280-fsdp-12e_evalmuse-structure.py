# Co-DINO Swin-L at 1280 trained with fully sharded data parallel (FSDP): the
# same model and recipe as
# co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py, run by mmengine's
# FlexibleRunner with FSDPStrategy. Every GPU keeps only its shard of the fp32
# weights, gradients and AdamW states (~3.8 GB for the whole model, /N on N
# GPUs), mixed precision runs with a sharded loss scaler, and the gradient
# clipping (max_norm 0.1) is over the whole model, not per shard (struct_det's
# FSDPAmpOptimWrapper). Meant for GPUs, one node or several
# (tools/misc/smoke_configs.py checks it on CPU: one gloo rank, fp32):
#   bash tools/dist_train.sh configs/codetr/co-dino_swin-l_16xb1-lsj-1280-fsdp-12e_evalmuse-structure.py 8  # noqa
#   GPUS=16 bash tools/slurm_train.sh PARTITION codino-fsdp \
#       configs/codetr/co-dino_swin-l_16xb1-lsj-1280-fsdp-12e_evalmuse-structure.py work_dirs/codino-fsdp  # noqa
# Checkpoints are full (unsharded) state dicts saved by rank 0, so
# tools/test.py tests them with this config or the plain one (testing runs the
# default runner: sharding is for training).
_base_ = ['./co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        # One unit per Swin block (197M of the 237M parameters); neck,
        # transformer and heads stay in the root unit (the heads are driven
        # through methods other than forward, which a unit of their own would
        # not gather for).
        auto_wrap_policy=dict(
            type='module_name_wrap_policy', module_names=['SwinBlock']),
        # the original parameters: paramwise lr multipliers and frozen
        # parameters need them
        use_orig_params=True,
        # FSDP cannot shard the ATSS head's scalar per-level scales: they stay
        # whole on every rank, FSDPAmpOptimWrapper averages their gradients
        ignored_modules=['aux_bbox_head.0.scales']),
    state_dict_cfg='full')
optim_wrapper = dict(type='FSDPAmpOptimWrapper', loss_scale='dynamic')
