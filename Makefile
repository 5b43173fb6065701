# wgpu-rnn: the two commands of the README, plus what they need.
#   make bench  - adapter info, then every cell validated against the f64 reference and timed
#   make test   - the whole test suite (GPU tests run on lavapipe when there is no GPU),
#                 then the two integration examples, which check their own results
#   make test-drivers - the GPU tests again on OpenGL (llvmpipe) and on SwiftShader's Vulkan
#                 with a GPU's defaults (CI runs it after make test; installs the drivers)
#   make demo   - RNN, LSTM, peephole LSTM and GRU trained on long-memory tasks (about 4 min on lavapipe)
#   make plots  - the speed pictures in docs/plots, measured on this adapter: scaling, stream
#                 latency, ours beside PyTorch on the CPU (and Burn where its peer is built)
# In the browser (web/: wasm32 on WebGPU, Debian's Chromium; web/setup.sh installs the rest):
#   make test-web  - the browser suite, in headless Chromium
#   make web       - builds the training page and serves it on http://127.0.0.1:8000
#   make web-check - the page trained headless: every loss finite, LSTM and GRU below the RNN
#                    (screenshot in target/web/page.png)
#   make bench-web - ours beside TensorFlow.js (WebGPU and WebGL) in one page, JSON lines
# In Burn (burn/: the wgpu-rnn-burn crate, its own lock file and target; Burn builds for ~13 min):
#   make test-burn  - Burn's modules on our kernels against Burn's own, lints, the example
#   make bench-burn - Burn's Lstm/Gru against the same modules on our kernels, JSON lines
.PHONY: bench test test-drivers demo plots lint vulkan-driver web-setup web-build test-web web web-check bench-web test-burn bench-burn

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

bench: vulkan-driver
	cargo build --release -p wgpu-rnn-cli
	./target/release/wgpu-rnn info
	./target/release/wgpu-rnn bench

demo: vulkan-driver
	cargo build --release -p wgpu-rnn-cli
	./target/release/wgpu-rnn demo --out docs/demo

plots: vulkan-driver
	cargo build --release -p wgpu-rnn-cli
	mkdir -p docs/plots
	rm -f docs/plots/peers_*.csv
	python3 benches/peers/pytorch_cpu.py --csv docs/plots/peers_pytorch_cpu.csv
	if [ -x "$${BURN_PEER:-/tmp/burn-target/release/burn-peer}" ]; then \
	  bash benches/peers/burn_vs_ours.sh --csv docs/plots/peers_burn.csv; fi
	./target/release/wgpu-rnn plots --out docs/plots $$(for f in docs/plots/peers_*.csv; do echo --peers $$f; done)

test: vulkan-driver
	cargo test --workspace --all-targets
	cargo test --workspace --doc
	cargo run --example in_your_app
	cargo run --example streaming

test-drivers: vulkan-driver
	.ci/drivers

lint:
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

web-setup:
	web/setup.sh

web-build: web-setup
	web/build.sh

test-web: web-setup
	web/test.sh

web: web-build
	node web/serve.mjs 8000

web-check: web-build
	node web/drive.mjs check --screenshot target/web/page.png

bench-web: web-build
	node web/drive.mjs bench

test-burn: vulkan-driver
	cd burn && cargo fmt --check
	cd burn && cargo clippy --all-targets -- -D warnings
	cd burn && RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
	cd burn && cargo test --all-targets
	cd burn && cargo test --doc
	cd burn && cargo run --example train_lstm

bench-burn: vulkan-driver
	cd burn && cargo bench --bench burn_vs_ours

# Installs Mesa's software Vulkan driver (lavapipe) and the Vulkan loader,
# only on Linux and only when no Vulkan driver is present (a Mac uses Metal).
vulkan-driver:
	@icds=$$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null); \
	if [ "$$(uname -s)" != Linux ]; then \
	  echo "not Linux: using the system's GPU driver"; \
	elif [ -n "$$icds" ] && ldconfig -p | grep -q 'libvulkan\.so\.1'; then \
	  echo "Vulkan driver present:" $$icds; \
	else \
	  echo "No Vulkan driver found: installing Mesa's software Vulkan driver (mesa-vulkan-drivers libvulkan1)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mesa-vulkan-drivers libvulkan1; \
	fi
