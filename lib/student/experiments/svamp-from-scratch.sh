#!/usr/bin/env bash
# The from-scratch experiment of the README: standard fine-tuning against distilling step-by-step (PaLM or
# gpt-3.5 rationales) on svamp, equal data and epochs, 3 seeds, a 1.2M-parameter student (zsd-scratch) with the
# task's own vocabulary, on 2 CPU cores. Idempotent: a finished run (test.json present) is not trained again.
#
#   bash lib/student/experiments/svamp-from-scratch.sh [WORKSPACE]   (default /tmp/zsd-svamp-from-scratch)
#
# The gpt-3.5 rationales come from the recorded study (prompt mix 4, every train row answered); the results are
# copied, without checkpoints, into the repository's results/experiments/svamp-from-scratch/ (a results root of its
# own, committed) so the notebooks and `zsd figures` can plot them.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
workspace="${1:-/tmp/zsd-svamp-from-scratch}"
zsd() { node "$repo/lib/cli/zsd.js" "$@"; }
mkdir -p "$workspace"

zsd generate --task svamp --mix 4 --splits train --workspace "$workspace"

common=(--task svamp --workspace "$workspace" --model zsd-scratch --vocabulary task --epochs 8 --batch-size 16
  --lr 3e-3 --warmup-steps 30 --schedule linear --max-input-length 96 --max-target-length 48
  --eval-steps 90 --eval-max-new-tokens 24 --workers 2 --skip-finished)
for seed in 0 1 2; do
  for variant in standard palm gpt35; do
    case "$variant" in
      standard) flags=(--mode standard) ;;
      palm) flags=(--mode task_prefix --rationales palm) ;;
      gpt35) flags=(--mode task_prefix --rationales gpt35 --mix 4) ;;
    esac
    echo "== seed $seed: $variant"
    zsd train "${common[@]}" "${flags[@]}" --seed "$seed" 2>&1 | grep -v '^step [0-9]*/' || true
  done
done

# The record: every finished run's JSON files (no checkpoints) under results/ of the repository.
record="$repo/results/experiments/svamp-from-scratch"
(cd "$workspace/results" && find svamp -name test.json -printf '%h\n') | while read -r run; do
  mkdir -p "$record/$run"
  cp "$workspace/results/$run"/*.json "$record/$run/"
done
echo "results copied to $record"
