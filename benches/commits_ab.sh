#!/bin/bash
# Two builds of the `wgpu-rnn` binary (say, before and after a refactor)
# on the issue configurations S, M, L, D, G, inference and training,
# alternated per configuration and mode, two rounds, in one session.
# Usage, from the repository root:
#   bash benches/commits_ab.sh OLD_BINARY NEW_BINARY
# CONFIGS (optional) replaces the configurations, ';'-separated
# "NAME CELL B T I H L" (for example "R rnn 16 64 256 256 1").
# (build the old commit in a `git worktree` with `cargo build --release`).
# One line per run; BENCHMARKS.md has the tables.
set -euo pipefail
old=$1
new=$2
default="S lstm 1 64 64 64 1;M lstm 16 64 256 256 1;L lstm 64 32 512 512 1;D lstm 16 32 256 256 2;G gru 16 64 256 256 1"
IFS=';' read -r -a configs <<< "${CONFIGS:-$default}"
for cfg in "${configs[@]}"; do
  read -r name cell b t i h l <<< "$cfg"
  for mode in infer train; do
    for round in 1 2; do
      for which in old new; do
        bin=$old
        [ "$which" = new ] && bin=$new
        json=$("$bin" bench --cell "$cell" --batch "$b" --seq "$t" --input "$i" \
          --hidden "$h" --layers "$l" --mode "$mode" --reps 5 --warmup 1 --json)
        echo "$name $mode round$round $which $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("median_ms %.2f min_ms %.2f err %.1e" % (d["median_s"] * 1e3, d["min_s"] * 1e3, d["max_abs_err"]))')"
      done
    done
  done
done
