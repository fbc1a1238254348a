# mmdet's DINO schedule (dino-4scale_r50_8xb2-12e_coco.py): AdamW at 1e-4 for
# 8 GPUs x 2 images, the backbone at a tenth of it, gradients clipped at 0.1,
# 12 epochs with one step down before the last.
max_epochs = 12
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.0001),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# one scheduler, as a dict: a config overrides its keys (end, by_epoch,
# milestones) without restating it
param_scheduler = dict(
    type='MultiStepLR',
    begin=0,
    end=max_epochs,
    by_epoch=True,
    milestones=[11],
    gamma=0.1)
auto_scale_lr = dict(enable=False, base_batch_size=16)
