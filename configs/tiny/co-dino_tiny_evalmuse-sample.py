# A really tiny Co-DINO (../_base_/models/co-dino_tiny.py) on the bundled
# sample data (128 px), for CPU tests and the demo. Trains in seconds: 40
# iterations of the DINO schedule's AdamW at 1e-3.
_base_ = [
    '../_base_/models/co-dino_tiny.py',
    '../_base_/datasets/evalmuse_sample_instance.py',
    '../_base_/schedules/dino_adamw_12e.py', 'mmdet::_base_/default_runtime.py'
]

max_iters = 40
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = dict(end=max_iters, by_epoch=False, milestones=[30])
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=1.0))
auto_scale_lr = dict(base_batch_size=4)
# one validation and one checkpoint, after the last iteration; the best one
# carries its calibrated threshold, as the R50 config's
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(
        by_epoch=False,
        interval=max_iters,
        save_best='structure/f1_score',
        rule='greater'))
log_processor = dict(by_epoch=False, window_size=10)
