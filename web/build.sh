#!/usr/bin/env bash
# Builds the page's wasm (web/src) with Debian's wasm32 toolchain and writes
# the module and its JavaScript glue into web/www/pkg.
set -euo pipefail
cd "$(dirname "$0")"
source ./env.sh
$WEB_CARGO build --release $WEB_TARGET_FLAGS --lib
wasm=$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/wgpu_rnn_web.wasm
wasm-bindgen --target web --no-typescript --out-dir www/pkg "$wasm"
echo "web/www/pkg/wgpu_rnn_web_bg.wasm: $(stat -c %s www/pkg/wgpu_rnn_web_bg.wasm) bytes"
