#!/bin/bash
# The throughput issue's configurations (and the reset-before GRU) three
# ways in one session, one line per run: the subgroup kernels off
# (WGPU_RNN_SUBGROUP_KERNELS=0, what CPU adapters without 8-lane subgroups
# run), on with every step's row operand read from its buffer
# (WGPU_RNN_ROW_TEXELS=0), and the default (rows of 128 or more as
# texels). BENCHMARKS.md has the table. Run after `cargo build --release`,
# from the repository root; `--quick` skips the slow "off" runs.
set -euo pipefail
variants=("WGPU_RNN_SUBGROUP_KERNELS=0" "WGPU_RNN_ROW_TEXELS=0" "DEFAULT=1")
[ "${1:-}" = "--quick" ] && variants=("WGPU_RNN_ROW_TEXELS=0" "DEFAULT=1")
for cfg in "lstm 1 64 64 64 1" "lstm 16 64 256 256 1" "lstm 16 32 256 256 2" \
    "gru 16 64 256 256 1" "lstm 64 32 512 512 1" "gru 64 32 512 512 1" \
    "gru-reset-before 16 64 256 256 1"; do
  read -r cell b t i h l <<< "$cfg"
  reps=5
  [ "$h" = 512 ] && reps=3
  for mode in infer train; do
    for variant in "${variants[@]}"; do
      json=$(env "$variant" ./target/release/wgpu-rnn bench --cell "$cell" \
        --batch "$b" --seq "$t" --input "$i" --hidden "$h" --layers "$l" --mode "$mode" \
        --reps "$reps" --warmup 1 --json)
      echo "$cfg $mode $variant $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("median_ms %.1f min_ms %.1f gflops %.2f err %.1e" % (d["median_s"] * 1e3, d["min_s"] * 1e3, d["gflops"], d["max_abs_err"]))')"
    done
  done
done
