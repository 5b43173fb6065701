#!/usr/bin/env bash
# Installs what the browser build, tests and pages need, each only when
# missing: Debian's wasm32 Rust toolchain, Chromium with its driver, Node,
# wasm-bindgen-cli at the version web/Cargo.lock pins, and the page's npm
# packages (TensorFlow.js for the bench, playwright-core to drive Chromium).
set -euo pipefail
cd "$(dirname "$0")"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
packages="chromium chromium-driver rustc-web cargo-web rust-web-src lld-22 nodejs"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
# Debian's nodejs ships npm apart; NodeSource's ships it inside.
command -v npm >/dev/null || missing="$missing npm"
if [ -n "$missing" ]; then
  echo "installing:" $missing
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
  # Not --locked: one of its locked dependencies is no longer on crates.io.
  cargo install wasm-bindgen-cli --version "$want"
fi
if [ ! -d node_modules/@tensorflow/tfjs ] || [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
