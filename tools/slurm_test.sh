#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
# Example: GPUS=8 tools/slurm_test.sh gpu codino-test configs/codetr/co-dino_swin-l_16xb1-lsj-1280-12e_evalmuse-structure.py work_dirs/codino/epoch_12.pth --tta
source "$(dirname "$0")/misc/launch_common.sh"
slurm_launch "$1" "$2" "$(dirname "$0")/test.py" "$3" "$4" \
    --launcher="slurm" "${@:5}"
