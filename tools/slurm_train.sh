#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# Example: GPUS=16 tools/slurm_train.sh gpu codino configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py work_dirs/codino
source "$(dirname "$0")/misc/launch_common.sh"
slurm_launch "$1" "$2" "$(dirname "$0")/train.py" "$3" --work-dir="$4" \
    --launcher="slurm" "${@:5}"
