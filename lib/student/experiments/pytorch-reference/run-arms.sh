#!/usr/bin/env bash
# Accuracy parity (issue 20, item 4): the svamp from-scratch student trained by `zsd train` and by the PyTorch
# reference (train.py on the plan export-plan.js writes for the same flags), 3 seeds x 6 arms: standard, step-by-step
# with PaLM rationales, step-by-step with gpt-3.5 rationales (prompt mix 4 of the recorded study), each without and
# with --number-mapping. One JSON line per finished run in results/experiments/svamp-parity/runs.jsonl:
#   {"framework":"zsd"|"pytorch","arm":...,"seed":...,"validationAccuracy":...,"testAccuracy":...,"step":...,"seconds":...}
# Idempotent: a (framework, arm, seed) with a line is not run again; a killed zsd run resumes from its latest
# checkpoint (--resume; --skip-finished skips one whose test.json exists), a killed PyTorch run starts over.
# A workspace and a RECORD hold one configuration: neither zsd's run path nor the finished check names EPOCHS, so
# another EPOCHS needs a fresh workspace and RECORD (e.g. EPOCHS=2 RECORD=/tmp/parity-2 ... run-arms.sh /tmp/ws-2).
#
#   bash lib/student/experiments/pytorch-reference/run-arms.sh [WORKSPACE]   (default /tmp/zsd-svamp-parity)
#
# Environment: PYTHON (with torch + transformers; default /work/torch-venv/bin/python, else python3), EPOCHS (30),
# SEEDS ("0 1 2"), FRAMEWORKS ("zsd pytorch"), ARMS ("standard palm gpt35"), MAPPINGS ("off on"),
# ZSD_WORKERS (1), TORCH_THREADS (1), RECORD (where runs.jsonl and the runs' JSON files go). Hours of CPU at the defaults (the issue measured ~215-575 s per PyTorch run).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../../.." && pwd)"
workspace="$(mkdir -p "${1:-/tmp/zsd-svamp-parity}" && cd "${1:-/tmp/zsd-svamp-parity}" && pwd)"
python="${PYTHON:-$( [ -x /work/torch-venv/bin/python ] && echo /work/torch-venv/bin/python || echo python3 )}"
epochs="${EPOCHS:-30}"
record="${RECORD:-$repo/results/experiments/svamp-parity}"
runs="$record/runs.jsonl"
tool="$repo/dist/lib/student/experiments/pytorch-reference"
here="$repo/lib/student/experiments/pytorch-reference"
zsd() { node "$repo/lib/cli/zsd.js" "$@"; }
mkdir -p "$record"
[ -f "$tool/export-plan.js" ] && [ -f "$tool/score.js" ] || (cd "$repo" && npm run build)

case " ${ARMS:-standard palm gpt35} " in *" gpt35 "*) zsd generate --task svamp --mix 4 --splits train --workspace "$workspace" ;; esac

# The README's from-scratch configuration (lib/student/experiments/svamp-from-scratch.sh), with more epochs.
common=(--task svamp --workspace "$workspace" --model zsd-scratch --vocabulary task --epochs "$epochs" --batch-size 16
  --lr 3e-3 --warmup-steps 30 --schedule linear --max-input-length 96 --max-target-length 48
  --eval-steps 90 --eval-max-new-tokens 24 --alpha 0.5)

finished() { [ -f "$runs" ] && grep -qF "{\"framework\":\"$1\",\"arm\":\"$2\",\"seed\":$3," "$runs"; }

for seed in ${SEEDS:-0 1 2}; do
  for variant in ${ARMS:-standard palm gpt35}; do
    for mapping in ${MAPPINGS:-off on}; do
      case "$variant" in
        standard) flags=(--mode standard); arm=standard ;;
        palm) flags=(--mode task_prefix --rationales palm); arm=task_prefix-palm ;;
        gpt35) flags=(--mode task_prefix --rationales gpt35 --mix 4); arm=task_prefix-gpt35 ;;
        *) echo "unknown arm $variant (standard, palm, gpt35)" >&2; exit 2 ;;
      esac
      if [ "$mapping" = on ]; then flags+=(--number-mapping); arm="$arm-number-mapping"; fi

      for framework in ${FRAMEWORKS:-zsd pytorch}; do
        if finished "$framework" "$arm" "$seed"; then echo "== $framework $arm seed $seed: finished"; continue; fi
        echo "== $framework $arm seed $seed"
        if [ "$framework" = zsd ]; then
          log="$workspace/zsd-$arm-$seed.log"
          zsd train "${common[@]}" "${flags[@]}" --seed "$seed" --workers "${ZSD_WORKERS:-1}" --skip-finished --resume 2>&1 | grep -v '^step [0-9]*/' | tee "$log"
          run="$(sed -n 's/^results: //p; s/^finished already: //p' "$log" | tail -1)"
          node "$tool/score.js" --zsd-run "$run" --arm "$arm" --seed "$seed" --task svamp --append "$runs"
          relative="${run#"$workspace/results/"}"
          mkdir -p "$record/zsd/$relative" && cp "$run"/*.json "$record/zsd/$relative/"
        else
          directory="$workspace/pytorch/$arm/seed-$seed"
          node "$tool/export-plan.js" "${common[@]}" "${flags[@]}" --seed "$seed" --out "$directory"
          [ -f "$directory/predictions-$seed.json" ] || "$python" "$here/train.py" "$directory/plan.json" --threads "${TORCH_THREADS:-1}"
          node "$tool/score.js" "$directory/plan.json" "$directory/predictions-$seed.json" --append "$runs"
          mkdir -p "$record/pytorch/$arm" && cp "$directory/score-$seed.json" "$record/pytorch/$arm/score-$seed.json"
        fi
      done
    done
  done
done
echo "runs: $runs"
