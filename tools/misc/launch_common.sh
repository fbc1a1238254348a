#!/usr/bin/env bash
# Shared body of tools/{dist,slurm}_{train,test}.sh; those scripts source it
# and say which entry point and arguments to run. Not a command of its own.
#
# dist_launch NPROC COMMAND...: runs COMMAND (a python file and its arguments)
#   as NPROC processes of torch.distributed.run on this node. NNODES,
#   NODE_RANK, MASTER_ADDR and PORT set a multi-node run.
# slurm_launch PARTITION JOB_NAME COMMAND...: runs COMMAND as GPUS srun tasks,
#   GPUS_PER_NODE a node, CPUS_PER_TASK CPUs each; SRUN_ARGS goes to srun.
# Both put the repository root on PYTHONPATH and run ${PYTHON:-python}.

REPO_ROOT="$(dirname "${BASH_SOURCE[0]}")/../.."

dist_launch() {
    local nproc=$1
    shift
    PYTHONPATH="$REPO_ROOT":$PYTHONPATH \
    ${PYTHON:-python} -m torch.distributed.run \
        --nnodes=${NNODES:-1} \
        --node_rank=${NODE_RANK:-0} \
        --master_addr=${MASTER_ADDR:-"127.0.0.1"} \
        --nproc_per_node=$nproc \
        --master_port=${PORT:-29500} \
        "$@"
}

slurm_launch() {
    local partition=$1 job_name=$2
    shift 2
    local gpus_per_node=${GPUS_PER_NODE:-8}
    set -x
    PYTHONPATH="$REPO_ROOT":$PYTHONPATH \
    srun -p ${partition} \
        --job-name=${job_name} \
        --gres=gpu:${gpus_per_node} \
        --ntasks=${GPUS:-8} \
        --ntasks-per-node=${gpus_per_node} \
        --cpus-per-task=${CPUS_PER_TASK:-5} \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS} \
        ${PYTHON:-python} -u "$@"
}
