#!/bin/bash
# Run jobs/grid.toml as a SLURM job array: each array task takes one shard of the runs (by run
# id), all shards write into the same results directory, and `rnnbatch report results` reads
# them as one table. Resubmitting the array only fills the gaps.
#
#   sbatch jobs/slurm_array.sh
#
#SBATCH --job-name=rnnbatch
#SBATCH --array=0-3            # 4 shards: SLURM_ARRAY_TASK_ID 0..3, SLURM_ARRAY_TASK_COUNT 4
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --output=logs/rnnbatch-%A_%a.log

set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
# The dataset is made by whichever shard gets there first; generation is atomic and idempotent.
.venv/bin/rnnbatch run jobs/grid.toml --out results --shard slurm --jobs "${SLURM_CPUS_PER_TASK:-1}"
