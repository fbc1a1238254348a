#!/usr/bin/env bash
# The main job on the bundled sample data (CPU, a few minutes): convert -> train a tiny
# detector, a tiny LoDa and a tiny heatmap segmentor -> TTA test of the joint model, of the
# heatmap model and of the fused two-tier model -> final scores next to a trivial baseline
# -> submission zip -> overlays and a predicted-vs-MOS scatter plot.
# Usage: tools/misc/demo.sh [RESULTS_DIR]   (run through `make demo`)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-results/demo}"
DATA=data/evalmuse_sample
WORK="$OUT/work_dirs"
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1

echo "== 1. sample data and its consensus masks"
python tools/misc/show_consensus.py "$DATA/annotations/evalmuse_train.json" "$DATA/train/images" \
  "$OUT/consensus_masks.png" --num 12

echo "== 2. train a tiny detector (Co-DINO), a tiny LoDa and a tiny heatmap segmentor"
# Seeded, so the numbers below repeat run to run on the same machine.
python tools/train.py configs/tiny/co-dino_tiny-demo_evalmuse-sample.py --work-dir "$WORK/detector" \
  --cfg-options randomness.seed=0
python tools/train.py configs/tiny/loda_tiny_evalmuse-sample.py --work-dir "$WORK/loda" \
  --cfg-options randomness.seed=0
# The heatmap path (mmseg): a tiny ViT + U-Net heatmap + score head on the same COCO files.
python tools/train.py configs/tiny/heatmap-score_tiny_evalmuse-sample.py --work-dir "$WORK/heatmap" \
  --cfg-options randomness.seed=0
DET_CKPT="$(cat "$WORK/detector/last_checkpoint")"
LODA_CKPT="$(cat "$WORK/loda/last_checkpoint")"
HEAT_CKPT="$(cat "$WORK/heatmap/last_checkpoint")"
HEAT_THR="$(python -c "from struct_det.engine import load_calibration as l; print((l('$HEAT_CKPT') or {}).get('score_thr', 0.5))")"
# The joint model: the trained Co-DINO finds the regions (at the threshold calibrated on
# val during its training), the trained LoDa gives the score.
DET_THR="$(python -c "from struct_det.engine import load_calibration as l; print((l('$DET_CKPT') or {}).get('score_thr', 0.3))")"
JOINT=(--cfg-options "model.detectors.0.config=configs/tiny/co-dino_tiny-demo_evalmuse-sample.py"
       "model.detectors.0.checkpoint=$DET_CKPT" "model.detectors.0.score_thr=$DET_THR"
       "model.regressor.checkpoint=$LODA_CKPT")

echo "== 3. joint model, test-time augmented, on the held-out split (writes its submission zip)"
python tools/test.py configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py --tta --work-dir "$WORK/joint" \
  --out "$OUT/val_predictions.pkl" "${JOINT[@]}" \
  "test_evaluator.1.out_file=$OUT/val_submission.zip" 2>&1 | tee "$OUT/joint_val.log"

echo "== 4. the challenge score (released scorer's rules) next to a trivial baseline"
python tools/misc/make_gt_pkl.py "$DATA/annotations/evalmuse_val.json" "$OUT/val_gt.pkl"
python tools/evaluate_submission.py "$OUT/val_submission.zip" "$OUT/val_gt.pkl" \
  --out-json "$OUT/score_joint.json"
python tools/misc/trivial_baseline.py "$OUT/val_gt.pkl" "$OUT/baseline_submission.zip"
python tools/evaluate_submission.py "$OUT/baseline_submission.zip" "$OUT/val_gt.pkl" \
  --out-json "$OUT/score_baseline.json"
# The heatmap model alone (regions = heatmap > its calibrated threshold, its own score),
# and the two tiers fused: Co-DINO instances OR the heatmap's regions, LoDa's score.
python tools/test.py configs/tiny/heatmap-score_tiny_evalmuse-sample.py "$HEAT_CKPT" --tta \
  --work-dir "$WORK/heatmap_test" --cfg-options "test_evaluator.2.out_file=$OUT/val_submission_heatmap.zip" \
  > "$OUT/heatmap_val.log" 2>&1
python tools/evaluate_submission.py "$OUT/val_submission_heatmap.zip" "$OUT/val_gt.pkl" \
  --out-json "$OUT/score_heatmap.json"
python tools/test.py configs/tiny/structure-assessor_heatmap-tiny_mask2former-tiny_evalmuse-sample.py --tta --work-dir "$WORK/fused" \
  "${JOINT[@]}" "model.segmentors.0.checkpoint=$HEAT_CKPT" "model.fusion.heatmap_thr=$HEAT_THR" \
  "test_evaluator.1.out_file=$OUT/val_submission_fused.zip" > "$OUT/fused_val.log" 2>&1
python tools/evaluate_submission.py "$OUT/val_submission_fused.zip" "$OUT/val_gt.pkl" \
  --out-json "$OUT/score_fused.json"
python tools/misc/compare_scores.py "joint: Co-DINO + LoDa, TTA=$OUT/score_joint.json" \
  "heatmap: tiny ViT U-Net heatmap + score head, TTA=$OUT/score_heatmap.json" \
  "fused: Co-DINO OR heatmap regions + LoDa, TTA=$OUT/score_fused.json" \
  "trivial baseline=$OUT/score_baseline.json" | tee "$OUT/scores.md"

echo "== 5. the challenge submission for the (unlabelled) test split"
python tools/test.py configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py --tta --work-dir "$WORK/joint_test" \
  "${JOINT[@]}" "test_dataloader.dataset.ann_file=annotations/evalmuse_test.json" \
  "test_dataloader.dataset.data_prefix.img=test/images/" \
  "test_evaluator.1.split_file=$DATA/test/test_info.json" \
  "test_evaluator.1.out_file=$OUT/submission.zip" > "$OUT/joint_test.log" 2>&1
echo "wrote $OUT/submission.zip"

echo "== 6. overlays and the score scatter plot"
python tools/infer.py configs/tiny/structure-assessor_mask2former-tiny_loda-tiny_evalmuse-sample.py "$DATA/test/images" \
  --out-dir "$OUT/overlays" --tta --score-thr 0 "${JOINT[@]}"
python tools/misc/plot_scores.py "$OUT/val_predictions.pkl" "$OUT/score_scatter.png"
echo "== done: results in $OUT (scores.md, submission.zip, overlays/, score_scatter.png)"
