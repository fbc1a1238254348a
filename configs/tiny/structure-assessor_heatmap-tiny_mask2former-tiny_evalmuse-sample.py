# The two-tier joint model on the bundled sample data, for CPU tests and the demo: the
# tiny heatmap segmentor's regions fused with the tiny Mask2Former's instances (and
# LoDa's score), as Wecan EvalAIG fused a semantic segmentor with Mask2Former.
#
#   python tools/test.py configs/tiny/structure-assessor_heatmap-tiny_mask2former-tiny_evalmuse-sample.py [--tta] \
#     --cfg-options \
#     model.segmentors.0.checkpoint=work_dirs/heatmap-score_tiny_evalmuse-sample/iter_200.pth \
#     model.detectors.0.checkpoint=work_dirs/mask2former_tiny_evalmuse-sample/iter_40.pth \
#     model.regressor.checkpoint=work_dirs/loda_tiny_evalmuse-sample/iter_450.pth \
#     model.fusion.heatmap_thr=<the segmentor's calibrated threshold>
#
# Without checkpoints the members run with random weights (plumbing checks).
_base_ = ['./structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py']

model = dict(
    segmentors=[
        dict(
            config='configs/tiny/heatmap-score_tiny_evalmuse-sample.py',
            checkpoint=None),
    ],
    # 'union' ORs the tiers; 'gated' keeps the instances the heatmap supports
    # (mean heatmap under the mask >= gate_thr); 'vote' thresholds the weighted mean of
    # the heatmap and the instance mask.
    fusion=dict(mode='union', heatmap_thr=0.5, gate_thr=0.3, vote_thr=0.5))

val_evaluator = [
    dict(type='StructureMetric', score_thr=0.0),
    dict(
        type='StructureSubmissionWriter',
        out_file=
        'work_dirs/structure-assessor_heatmap-tiny_mask2former-tiny_evalmuse-sample/submission.zip',
        description=
        'struct_det StructureAssessor: tiny heatmap segmentor fused with tiny '
        'Mask2Former + tiny LoDa'),
]
test_evaluator = val_evaluator
