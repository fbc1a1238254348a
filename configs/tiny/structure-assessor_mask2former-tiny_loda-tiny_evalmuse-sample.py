# The joint model on the bundled sample data, for CPU tests and the demo: the
# real joint recipe with the tiny Mask2Former finding the distortion regions
# and the tiny LoDa scoring the image.
#
#   python tools/test.py configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py [--tta] \
#     --cfg-options \
#     model.detectors.0.checkpoint=work_dirs/mask2former_tiny_evalmuse-sample/iter_40.pth \
#     model.regressor.checkpoint=work_dirs/loda_tiny_evalmuse-sample/iter_450.pth
#
# Without checkpoints the members run with random weights (plumbing checks).
_base_ = [
    '../joint/structure-assessor_co-dino-swin-l_loda-dinov2-l_evalmuse-structure.py'  # noqa
]

model = dict(
    regressor=dict(
        config='configs/tiny/loda_tiny_evalmuse-sample.py', checkpoint=None),
    detectors=[
        dict(
            config='configs/tiny/mask2former_tiny_evalmuse-sample.py',
            checkpoint=None,
            score_thr=0.2),
    ])

data_root = 'data/evalmuse_sample/'
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='StructureMetric', score_thr=0.0),
    dict(
        type='StructureSubmissionWriter',
        out_file=
        'work_dirs/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample/submission.zip',
        description='struct_det StructureAssessor: tiny Mask2Former + tiny '
        'LoDa'),
]
test_evaluator = val_evaluator

default_hooks = dict(logger=dict(interval=10))
log_processor = dict(by_epoch=False, window_size=10)
