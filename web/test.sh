#!/usr/bin/env bash
# The browser suite (web/tests): compiled to wasm32 and run by
# wasm-bindgen-test-runner in headless Chromium on WebGPU (flags in
# webdriver.json). Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")"
source ./env.sh
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
# The whole suite runs as one page; the default 20 s is for one test.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-600}
$WEB_CARGO test --release $WEB_TARGET_FLAGS "$@"
