#!/bin/bash
# The throughput issue's configurations with the subgroup kernels off, then
# on (WGPU_RNN_SUBGROUP_KERNELS=0|1), one line per run; BENCHMARKS.md has
# the table. Run after `cargo build --release`, from the repository root.
set -euo pipefail
for cfg in "lstm 1 64 64 64 1" "lstm 16 64 256 256 1" "lstm 16 32 256 256 2" \
    "gru 16 64 256 256 1" "lstm 64 32 512 512 1"; do
  read -r cell b t i h l <<< "$cfg"
  reps=5
  [ "$h" = 512 ] && reps=3
  for mode in infer train; do
    for on in 0 1; do
      json=$(WGPU_RNN_SUBGROUP_KERNELS=$on ./target/release/wgpu-rnn bench --cell "$cell" \
        --batch "$b" --seq "$t" --input "$i" --hidden "$h" --layers "$l" --mode "$mode" \
        --reps "$reps" --warmup 1 --json)
      echo "$cfg $mode subgroup=$on $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("median_ms %.1f min_ms %.1f gflops %.2f err %.1e" % (d["median_s"] * 1e3, d["min_s"] * 1e3, d["gflops"], d["max_abs_err"]))')"
    done
  done
done
