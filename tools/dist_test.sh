#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# NNODES/NODE_RANK/MASTER_ADDR/PORT set a multi-node run.
source "$(dirname "$0")/misc/launch_common.sh"
dist_launch "$3" "$(dirname "$0")/test.py" "$1" "$2" --launcher pytorch "${@:4}"
