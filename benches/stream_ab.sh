#!/usr/bin/env bash
# A stream's step, (a) to (d) of `wgpu-rnn bench --mode stream`, with the
# fused step off (WGPU_RNN_FUSED_STREAM=0: layer by layer) and as the
# tuning chooses, one after the other in one run:
#   bash benches/stream_ab.sh          B=1, I=H=64, LSTM and GRU, 1 and 2
#                                      layers, three alternating rounds
#   bash benches/stream_ab.sh matrix   B 1 and 8, H 64 and 256, 1 and 2
#                                      layers, also with the fused step
#                                      forced on (=1), one round
# Prints one line per run: cell, layers (and B, H), path, medians in us.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p wgpu-rnn-cli
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
run() { # path cell batch hidden layers
  if [ "$1" = default ]; then unset WGPU_RNN_FUSED_STREAM; else export WGPU_RNN_FUSED_STREAM=$1; fi
  ./target/release/wgpu-rnn bench --mode stream --cell "$2" --batch "$3" --input "$4" \
    --hidden "$4" --layers "$5" --steps "${STEPS:-400}" --json |
    python3 -c "import json,sys; d=json.load(sys.stdin); print('$2 B=$3 H=$4 L=$5 $1', ' '.join('%s=%.1f' % (k.split('_')[0], v * 1e6) for k, v in sorted(d.items()) if k.endswith('median_s')), 'err=%.1e' % d['max_abs_err'])"
}
if [ "${1:-}" = matrix ]; then
  for cell in lstm gru; do for b in 1 8; do for h in 64 256; do for l in 1 2; do
    for path in 0 default 1; do run $path $cell $b $h $l; done
  done; done; done; done
else
  for round in 1 2 3; do for cell in lstm gru; do for l in 1 2; do
    for path in 0 default; do run $path $cell 1 64 $l; done
  done; done; done
fi
