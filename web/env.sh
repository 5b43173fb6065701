# Sourced by the web scripts: Debian's Rust for wasm32 (rustc-web, cargo-web,
# rust-web-src, lld-22). rustup's toolchains here have no wasm32 target and
# cannot download one, and rustup's cargo shadows Debian's on PATH.
export RUSTC=/usr/bin/rustc
export RUSTDOC=/usr/bin/rustdoc
export WEB_CARGO=/usr/bin/cargo
# -Zbuild-std: Debian ships the standard library's source, not a wasm32 build.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/web}"
export WEB_TARGET_FLAGS="--target wasm32-unknown-unknown -Zbuild-std=std,panic_abort"
