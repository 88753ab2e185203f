#!/usr/bin/env bash
# The main job: the whole paper in miniature on the embedded FashionWSOL benchmark.
#   1. install the dependencies and build (scripts/setup.sh)
#   2. build the dataset from Debian's Fashion-MNIST        -> out/fashion-wsol/
#   3. train the mini-CLIP (class labels only)              -> out/mini_clip.safetensors
#   4. run the quickstart grid (TeD-Loc + baselines)        -> out/tedloc.db
#   5. write its report                                     -> out/quickstart.md
# Re-running reuses every step already done. Options are passed to `tedloc grid` (e.g. --jobs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
tedloc=build/release/tedloc
mkdir -p out

step() { printf '\n== %s (%ss so far)\n' "$1" "$(( $(date +%s) - start ))"; }

step "dataset"
if [[ -f out/fashion-wsol/metadata/FashionWSOL/dataset.json ]]; then  # written last
  echo "out/fashion-wsol exists: reused"
else
  $tedloc data fashion-wsol --out out/fashion-wsol
fi

step "mini-CLIP"
$tedloc clip train-mini --data out/fashion-wsol --out out/mini_clip.safetensors

step "quickstart grid"
status=0
$tedloc grid experiments/quickstart.json --db out/tedloc.db "$@" || status=$?

step "report"
if $tedloc report --list >/dev/null 2>&1; then
  $tedloc report quickstart --db out/tedloc.db --format md --out out/quickstart.md && cat out/quickstart.md
fi
$tedloc query "SELECT e.label AS cell, m.split, m.name, ROUND(m.value, 2) AS value FROM metrics m
  JOIN experiment_runs e ON e.run_id = m.run_id JOIN experiments x ON x.id = e.experiment_id
  WHERE x.name = 'quickstart' AND m.epoch = -1 AND m.split = 'test'
  AND m.name IN ('maxboxacc_50', 'maxboxacc_v2', 'top1_loc', 'cl_top1', 'dot_gt_maxboxacc_50')
  ORDER BY e.position, m.name" --db out/tedloc.db
echo "quickstart: $(( $(date +%s) - start ))s in all; results in out/tedloc.db (tedloc runs --db out/tedloc.db)"
exit $status
