#!/usr/bin/env bash
# A real `zsd train` of the small from-scratch student on each backend, one after the other (never concurrently:
# each wants both cores): step-by-step with PaLM rationales on svamp, zsd-scratch with the task vocabulary, 60 updates
# of batch 16, inputs 96 and targets 48 tokens. Prints the trainer's own tokens/s and the wall time per backend.
#
#   bash lib/student/experiments/train-backends.sh [WORKSPACE]   (default: a fresh temporary directory)
#
# The native runs need `npm run native-backend` first; without it they are skipped.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
workspace="${1:-$(mktemp -d)}"
common=(--task svamp --workspace "$workspace" --model zsd-scratch --vocabulary task --max-steps 60 --batch-size 16
  --lr 3e-3 --warmup-steps 30 --schedule linear --max-input-length 96 --max-target-length 48 --eval-steps 1000
  --eval-max-new-tokens 24 --mode task_prefix --rationales palm)
seed=100
for configuration in "node 1" "node 2" "wasm 2" "wasm 1"; do
  read -r backend workers <<<"$configuration"
  seed=$((seed + 1)) # a run directory of its own per configuration
  log="$workspace/train-$backend-$workers.log"
  start=$(date +%s.%N)
  if ! node "$repo/lib/cli/zsd.js" train "${common[@]}" --backend "$backend" --workers "$workers" --seed "$seed" >/dev/null 2>"$log"; then
    echo "$backend, $workers worker(s): failed (see $log)"; continue
  fi
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  last=$(grep -E '^step 60/60' "$log" | tail -1)
  echo "$backend, $workers worker(s): $last · ${seconds%.*} s wall (training, final validation and test included)"
done
