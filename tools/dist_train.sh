#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args]
# Multi-process training on one node (GPUs with NCCL, or CPU processes with gloo when no
# GPU is visible). NNODES/NODE_RANK/MASTER_ADDR/PORT set a multi-node run.
source "$(dirname "$0")/misc/launch_common.sh"
dist_launch "$2" "$(dirname "$0")/train.py" "$1" --launcher pytorch "${@:3}"
