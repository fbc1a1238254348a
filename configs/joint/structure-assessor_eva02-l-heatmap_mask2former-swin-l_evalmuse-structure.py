# The two-tier system of Wecan EvalAIG in one model: tier 1, an EVA02-CLIP ViT-L heatmap
# segmentor (mmseg, its own TTA under --tta); tier 2, Mask2Former Swin-L instances with
# score >= 0.3; the tiers' regions OR-ed (fusion 'union'). The structure score comes from
# the segmentor's score head; to score with LoDa instead add
#   regressor=dict(config='configs/loda/loda_dinov2-l14-reg4-518_8xb8-10e_evalmuse-structure.py',
#                  checkpoint=...)
# Other fusion rules: 'gated' keeps only the instances the heatmap supports (mean heatmap
# under the mask >= gate_thr), 'vote' thresholds the weighted mean of heatmap and
# instance mask (heatmap_weight / instance_weight, vote_thr).
#
#   CFG=configs/joint/structure-assessor_eva02-l-heatmap_mask2former-swin-l_evalmuse-structure.py
#   python tools/test.py $CFG --tta --cfg-options \
#       model.segmentors.0.checkpoint=work_dirs/<heatmap run>/best.pth \
#       model.detectors.0.checkpoint=work_dirs/<mask2former run>/best.pth \
#       model.fusion.heatmap_thr=<the segmentor's calibrated threshold>
_base_ = [
    './structure-assessor_co-dino-swin-l_loda-dinov2-l_evalmuse-structure.py'
]

model = dict(
    regressor=None,
    detectors=[
        dict(
            config='configs/mask2former/'
            'mask2former_swin-l-p4-w12-384-in21k_8xb2-lsj-50e_evalmuse-structure.py',
            checkpoint='checkpoints/'
            'mask2former_swin-l-p4-w12-384-in21k_8xb2-lsj-50e_evalmuse-structure.pth',
            score_thr=0.3),
    ],
    segmentors=[
        dict(
            config='configs/heatmap/'
            'unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.py',
            checkpoint='checkpoints/'
            'unet-heatmap-score_eva02-l14-clip-448_8xb4-20k_evalmuse-structure.pth'
        ),
    ],
    fusion=dict(mode='union', heatmap_thr=0.5, gate_thr=0.3, vote_thr=0.5))

val_evaluator = [
    dict(type='StructureMetric', score_thr=0.0),
    dict(
        type='StructureSubmissionWriter',
        out_file=
        'work_dirs/structure-assessor_eva02-l-heatmap_mask2former-swin-l_'
        'evalmuse-structure/submission.zip',
        description=
        'EVA02-CLIP-L heatmap segmentor (mmseg TTA) OR Mask2Former Swin-L '
        'instances (score >= 0.3); score from the segmentor, struct_det StructureAssessor'
    ),
]
test_evaluator = val_evaluator
