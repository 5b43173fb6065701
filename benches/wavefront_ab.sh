#!/bin/bash
# Inference of stacked layers in the two schedules (`--schedule layered`
# and `--schedule wavefront`), alternated in one session, two rounds; with
# `--plain` also on the kernels GPUs and CPU adapters without 8-lane
# subgroups run (WGPU_RNN_SUBGROUP_KERNELS=0), the fair comparison for the
# wavefront kernel, which has no subgroup twin. One line per run;
# BENCHMARKS.md, "Layer wavefront", has the table. Run after
# `cargo build --release`, from the repository root.
set -euo pipefail
variants=("DEFAULT=1")
[ "${1:-}" = "--plain" ] && variants+=("WGPU_RNN_SUBGROUP_KERNELS=0")
for cfg in "lstm 16 32 256 256 2" "gru 16 64 256 256 2" "lstm 1 64 128 128 4" \
    "lstm 4 64 256 256 2" "rnn 8 128 128 128 3"; do
  read -r cell b t i h l <<< "$cfg"
  for variant in "${variants[@]}"; do
    for round in 1 2; do
      for schedule in layered wavefront; do
        json=$(env "$variant" ./target/release/wgpu-rnn bench --cell "$cell" \
          --batch "$b" --seq "$t" --input "$i" --hidden "$h" --layers "$l" \
          --schedule "$schedule" --reps 5 --warmup 1 --json)
        echo "$cfg $variant round$round $schedule $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("median_ms %.2f min_ms %.2f err %.1e" % (d["median_s"] * 1e3, d["min_s"] * 1e3, d["max_abs_err"]))')"
      done
    done
  done
done
