# The whole challenge in one model (the structure-track winner's system):
# Co-DINO Swin-L instances with score >= 0.3, OR-ed into the distortion mask,
# and LoDa on DINOv2 ViT-L/14-reg4 for the structure score. Each member runs
# its own test pipeline (or, with --tta, its own TTA) on the original image;
# StructureMetric prints the final score, StructureSubmissionWriter writes the
# challenge zip.
#
# Train the members with their own configs first, then point at their
# checkpoints (or edit the paths below):
#   CFG=configs/joint/structure-assessor_co-dino-swin-l_loda-dinov2-l_evalmuse-structure.py  # noqa
#   python tools/test.py $CFG --tta --cfg-options \
#       model.detectors.0.checkpoint=work_dirs/<co-dino run>/best.pth \
#       model.regressor.checkpoint=work_dirs/<loda run>/best.pth
# Submission for the challenge's test images (no labels: only the zip counts):
#   ... test_dataloader.dataset.ann_file=annotations/evalmuse_test.json \
#       test_dataloader.dataset.data_prefix.img=test/images/ \
#       test_evaluator.1.split_file=data/evalmuse_structure/test/test_info.json
_base_ = [
    '../_base_/datasets/evalmuse_structure_instance.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['struct_det'], allow_failed_imports=False)

model = dict(
    type='StructureAssessor',
    regressor=dict(
        config='configs/loda/'
        'loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py',
        checkpoint='checkpoints/'
        'loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.pth'),
    detectors=[
        dict(
            config='configs/codetr/'
            'co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py',
            checkpoint='checkpoints/'
            'co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.pth',
            score_thr=0.3),
    ],
    # 'union' is the winner's choice; with several detectors 'wbf' or
    # 'mask_vote' fuse agreeing instances instead of OR-ing them.
    merge_mode='union',
    max_per_img=100)

# Members apply their own test pipelines to the original image: the joint
# pipeline only loads it and its ground truth (for the metric).
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys={{_base_.meta_keys}}),
]
# Inference only: the members are trained with their own configs.
train_dataloader = None
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Each detector already applied its own score_thr: score the output as is.
val_evaluator = [
    dict(type='StructureMetric', score_thr=0.0),
    dict(
        type='StructureSubmissionWriter',
        out_file='work_dirs/structure-assessor_co-dino-swin-l_loda-dinov2-l_'
        'evalmuse-structure/submission.zip',
        description='Co-DINO Swin-L instances (score >= 0.3, union) + LoDa '
        'DINOv2 ViT-L/14-reg4, struct_det StructureAssessor'),
]
test_evaluator = val_evaluator

# tools/test.py --tta: every member under its own config's tta_model /
# tta_pipeline (Co-DINO: flips x scales with mask voting; LoDa: flips of
# the centre crop).
tta_model = dict(type='build_assessor_with_member_tta')
tta_pipeline = test_pipeline
