#!/bin/bash
# Inference with the recurrent weights in f32 and in f16 (`--precision`),
# alternated in one session, for the throughput issue's configurations and
# the reset-before GRU; `--plain` adds both on the kernels CPU adapters
# without 8-lane subgroups run (WGPU_RNN_SUBGROUP_KERNELS=0: weights from
# storage buffers instead of texels). One line per run; BENCHMARKS.md has
# the table. Run after `cargo build --release`, from the repository root.
set -euo pipefail
variants=("DEFAULT=1")
[ "${1:-}" = "--plain" ] && variants+=("WGPU_RNN_SUBGROUP_KERNELS=0")
for cfg in "lstm 1 64 64 64 1" "lstm 16 64 256 256 1" "lstm 16 32 256 256 2" \
    "gru 16 64 256 256 1" "lstm 64 32 512 512 1" "gru-reset-before 16 64 256 256 1"; do
  read -r cell b t i h l <<< "$cfg"
  reps=5
  [ "$h" = 512 ] && reps=3
  for variant in "${variants[@]}"; do
    for precision in f32 f16; do
      json=$(env "$variant" ./target/release/wgpu-rnn bench --cell "$cell" \
        --batch "$b" --seq "$t" --input "$i" --hidden "$h" --layers "$l" \
        --precision "$precision" --reps "$reps" --warmup 1 --json)
      echo "$cfg $variant $precision $(echo "$json" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("median_ms %.1f min_ms %.1f err %.1e" % (d["median_s"] * 1e3, d["min_s"] * 1e3, d["max_abs_err"]))')"
    done
  done
done
