# The tiny Co-DINO trained long enough to find the sample's distortions (`make demo`):
# 300 iterations, ~1.5 min on 2 CPU cores, region F1 ~0.6 on the held-out split.
_base_ = ['./co-dino_tiny_evalmuse-sample.py']

max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = dict(end=max_iters, milestones=[240])
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=max_iters))
