//! Every adapter heuristic in one place: which kernel variant, launch shape
//! or schedule runs on which kind of adapter. Correctness never depends on
//! these; speed does, and each choice names the BENCHMARKS.md section whose
//! measurement justifies it. CPU adapters (lavapipe) are our test bench, not
//! our target: their variants stay here, behind [`Tuning::cpu`].

use super::AdapterSelector;

/// The smallest row operand (h_{t-1}, da_i) whose packing into texels
/// before every step pays for its dispatch, in elements per row and in the
/// product's outputs per row. BENCHMARKS.md, "Weights and operands as
/// texels".
pub(crate) const ROW_TEXELS_MIN_LENGTH: usize = 128;

/// Outputs below this many elements per tile edge waste most of a 64x64
/// tile: the 4x4-block dot kernel takes them. BENCHMARKS.md, "Thin and
/// few-tile products: `gemm_dot`".
const GEMM_THIN: u32 = 16;
/// On SwiftShader, products this shallow take 8x8 register blocks rather
/// than workgroup tiles (at K = 2 the tiles lost, at 64 and 256 they won:
/// BENCHMARKS.md, "In the browser").
const SWIFTSHADER_TILES_MIN_K: u32 = 64;
/// K per invocation the split-K path aims for (same section).
pub(crate) const GEMM_K_PER_SPLIT: u32 = 256;
/// Workgroups a product should keep busy before K is split (same section).
pub(crate) const GEMM_BUSY_GROUPS: u32 = 16;

/// The largest batch whose stream steps run fused by default.
pub(crate) const FUSED_STREAM_MAX_BATCH: usize = 16;
/// The most multiply-adds one row's step may take through the stack for
/// the fused step: one workgroup runs them all in sequence per layer.
pub(crate) const FUSED_STREAM_MAX_WORK: usize = 1 << 20;
/// On CPU adapters, the most multiply-adds per step of a chunk of steps
/// that still runs fused: past it a chunk's GEMMs and persistent kernel
/// win there (BENCHMARKS.md, "A stream step in one dispatch").
pub(crate) const FUSED_STREAM_CPU_CHUNK_WORK: usize = 1 << 16;

/// Lanes of the subgroups the subgroup kernels assume (`LANES` in
/// `subgroup/subgroup.wgsl`): llvmpipe's width with AVX2.
pub const SUBGROUP_LANES: u32 = 8;
/// Most groups of 8 batch rows one subgroup step workgroup takes
/// (`ROW_GROUPS` in `subgroup/products.wgsl`).
const MAX_ROW_GROUPS: u32 = 8;

/// The GEMM kernels, in the order [`Tuning::gemm_candidates`] prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GemmPath {
    /// 64x32 output blocks from texels, subgroup broadcasts (CPU adapters
    /// with 8-lane subgroups).
    Texels,
    /// 4x4 register blocks: thin or few-tile products anywhere.
    Dot4,
    /// 8x8 register blocks with direct loads (other CPU adapters).
    Dot8,
    /// 64x64 workgroup tiles (GPUs), always possible.
    Tiled,
}

/// The choices made for one device, from its adapter and the
/// [`crate::AdapterSelector`]'s overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    cpu: bool,
    swiftshader: bool,
    step_tiles: bool,
    gemm_tiles: bool,
    subgroup_kernels: bool,
    immediates: bool,
    row_texels: Option<bool>,
    persistent: Option<bool>,
    fused_stream: Option<bool>,
}

/// What [`Tuning::choose`] reads from the adapter and device.
pub(crate) struct AdapterFacts<'a> {
    pub info: &'a wgpu::AdapterInfo,
    pub subgroup: bool,
    pub immediates: bool,
    pub max_immediate_size: u32,
}

/// Whether a CPU adapter is SwiftShader (natively, or as a browser's
/// fallback adapter: Chromium's is SwiftShader, and WebGPU names no
/// driver). Its big GEMMs measured 2.7x faster with workgroup tiles than
/// with 8x8 register blocks, and its LSTM 1.2x faster with the persistent
/// kernels at B=16, H=256, as on GPUs (BENCHMARKS.md, "In the browser").
fn swiftshader(info: &wgpu::AdapterInfo) -> bool {
    info.backend == wgpu::Backend::BrowserWebGpu
        || info.name.to_ascii_lowercase().contains("swiftshader")
}

impl Tuning {
    /// The choices for an adapter, where the selector forces none.
    pub(crate) fn choose(facts: AdapterFacts<'_>, forced: &AdapterSelector) -> Self {
        let cpu = match forced.gpu_tuning {
            Some(gpu) => !gpu,
            None => facts.info.device_type == wgpu::DeviceType::Cpu,
        };
        // Workgroup barriers cost more than the cache misses they save on
        // CPU adapters: BENCHMARKS.md, "Step kernels without workgroup
        // tiles on CPU adapters".
        let step_tiles = forced.step_tiles.unwrap_or(!cpu);
        let swiftshader = cpu && swiftshader(facts.info);
        Self {
            cpu,
            swiftshader,
            step_tiles,
            gemm_tiles: forced.step_tiles.unwrap_or(!cpu || swiftshader),
            // Written for (and measured on) CPU adapters with 8-lane
            // subgroups only, and giving way to forced workgroup tiles
            // (which then test the GPU kernels on a CPU adapter):
            // BENCHMARKS.md, "Subgroup kernels on CPU adapters".
            subgroup_kernels: forced.subgroup_kernels != Some(false)
                && cpu
                && !step_tiles
                && facts.subgroup
                && facts.info.subgroup_min_size == SUBGROUP_LANES
                && facts.info.subgroup_max_size == SUBGROUP_LANES,
            // Every per-step params struct is 32 bytes: BENCHMARKS.md,
            // "Per-step params as immediates".
            immediates: forced.immediates != Some(false)
                && facts.immediates
                && facts.max_immediate_size >= 32,
            row_texels: forced.row_texels,
            persistent: forced.persistent,
            fused_stream: forced.fused_stream,
        }
    }

    /// Whether the defaults are a CPU adapter's (lavapipe, SwiftShader):
    /// the adapter's device type, unless
    /// [`AdapterSelector::gpu_tuning`](crate::AdapterSelector::gpu_tuning)
    /// says otherwise.
    pub fn cpu(&self) -> bool {
        self.cpu
    }

    /// Whether step kernels stage `h_{t-1}` in workgroup memory (GPUs), or
    /// not (CPU adapters).
    pub fn step_tiles(&self) -> bool {
        self.step_tiles
    }

    /// Whether big GEMMs without subgroup kernels use workgroup tiles (GPUs
    /// and SwiftShader), or 8x8 register blocks (llvmpipe). Forced together
    /// with [`Tuning::step_tiles`].
    pub fn gemm_tiles(&self) -> bool {
        self.gemm_tiles
    }

    /// Whether big GEMMs and the per-step kernels run the subgroup kernels
    /// (CPU adapters with 8-lane subgroups: values shared across lanes by
    /// subgroup broadcasts instead of loaded by every lane).
    pub fn subgroup_kernels(&self) -> bool {
        self.subgroup_kernels
    }

    /// Whether the per-step kernels take their params as immediates (one
    /// `set_immediates` per dispatch) rather than from one uniform array at
    /// a dynamic offset per step.
    pub fn immediates(&self) -> bool {
        self.immediates
    }

    /// Whether a subgroup step kernel whose row operand has `len` elements
    /// per row, multiplied into `outputs` values per row, reads it as
    /// texels packed before every step (forced by the selector, else where
    /// both reach 128, the shortest whose packing pays for its dispatch).
    pub fn row_texels(&self, len: usize, outputs: usize) -> bool {
        self.row_texels
            .unwrap_or(len.min(outputs) >= ROW_TEXELS_MIN_LENGTH)
    }

    /// Whether an LSTM layer (no projection, H <= 256) of this batch and
    /// hidden size runs the persistent kernels (one dispatch per chunk of
    /// steps) instead of one dispatch per step. Forced by the selector,
    /// else on CPU adapters where it measured faster (BENCHMARKS.md, "Small
    /// batches and the persistent LSTM kernel" and "The persistent LSTM
    /// reads texels"), and on GPUs and SwiftShader for batches up to 16,
    /// where a launch per step is most of the time (not yet measured on a
    /// GPU).
    pub fn persistent_steps(&self, batch: usize, hidden: usize) -> bool {
        let default = if self.llvmpipe_defaults() {
            if self.subgroup_kernels {
                batch == 1 && hidden <= 64
            } else {
                hidden <= 32 || (hidden <= 64 && batch <= 4)
            }
        } else {
            batch <= 16
        };
        self.persistent.unwrap_or(default)
    }

    /// Whether a stream's call of `steps` steps of `batch` rows through a
    /// stack whose one row takes `work` multiply-adds per step runs the
    /// fused step (one dispatch for the whole stack, a workgroup per row
    /// running every layer): forced by the selector; else on GPUs for
    /// batches up to 16 (one launch instead of two per layer and step, not
    /// yet measured on a GPU); on CPU adapters for one row only: its single
    /// steps, and its chunks up to 2^16 multiply-adds per step (I = H = 64
    /// and two layers), where it measured faster or as fast (BENCHMARKS.md,
    /// "A stream step in one dispatch"); never past 2^20 multiply-adds per
    /// row and step.
    pub fn fused_stream(&self, batch: usize, work: usize, steps: usize) -> bool {
        let default = work <= FUSED_STREAM_MAX_WORK
            && if self.cpu {
                batch == 1 && (steps == 1 || work <= FUSED_STREAM_CPU_CHUNK_WORK)
            } else {
                batch <= FUSED_STREAM_MAX_BATCH
            };
        self.fused_stream.unwrap_or(default)
    }

    /// Invocations of a fused stream step's workgroup for states `width`
    /// wide: one per unit up to 256 on GPUs; 64 on CPU adapters (8 to 128
    /// measured the same on lavapipe).
    pub fn stream_workgroup(&self, width: usize) -> u32 {
        if self.cpu {
            return 64;
        }
        (width as u32).next_power_of_two().clamp(64, 256)
    }

    /// Where [`Tuning::fused_stream`] takes the fused step, in words.
    fn fused_stream_rule(&self) -> String {
        match (self.fused_stream, self.cpu) {
            (Some(true), _) => "always for f32 stacks (forced)".into(),
            (Some(false), _) => "never (forced)".into(),
            (None, true) => format!(
                "batch 1, f32 stacks: single steps up to {FUSED_STREAM_MAX_WORK} \
                 multiply-adds per step, chunks up to {FUSED_STREAM_CPU_CHUNK_WORK}"
            ),
            (None, false) => format!(
                "batch <= {FUSED_STREAM_MAX_BATCH}, f32 stacks of up to \
                 {FUSED_STREAM_MAX_WORK} multiply-adds per row and step"
            ),
        }
    }

    /// Whether the rules measured on llvmpipe apply: a CPU adapter other
    /// than SwiftShader.
    fn llvmpipe_defaults(&self) -> bool {
        self.cpu && !self.swiftshader
    }

    /// When [`Tuning::persistent_steps`] picks the persistent kernels, in
    /// words.
    fn persistent_rule(&self) -> &'static str {
        match (
            self.persistent,
            self.llvmpipe_defaults(),
            self.subgroup_kernels,
        ) {
            (Some(true), ..) => "always (forced)",
            (Some(false), ..) => "never (forced)",
            (None, false, _) => "batch <= 16",
            (None, true, true) => "batch 1 and hidden <= 64",
            (None, true, false) => "hidden <= 32, or hidden <= 64 and batch <= 4",
        }
    }

    /// The GEMM kernels worth trying for an `m x n x k` product of `tiles`
    /// 64x64 tiles, best first; the caller takes the first one the
    /// device's limits allow ([`GemmPath::Tiled`] always fits).
    /// BENCHMARKS.md, "GEMM on CPU adapters: 8x8 register blocks" and
    /// "Weights and operands as texels" (gemm_texels 9x gemm_dot8 there).
    pub(crate) fn gemm_candidates(&self, m: u32, n: u32, k: u32, tiles: u32) -> Vec<GemmPath> {
        let thin = m.min(n) < GEMM_THIN;
        let few_tiles = tiles < GEMM_BUSY_GROUPS && k >= 4 * GEMM_K_PER_SPLIT;
        let mut paths = Vec::with_capacity(3);
        if self.subgroup_kernels && !thin {
            paths.push(GemmPath::Texels);
        }
        if thin || few_tiles {
            paths.push(GemmPath::Dot4);
        } else if !self.gemm_tiles || (self.swiftshader && k < SWIFTSHADER_TILES_MIN_K) {
            paths.push(GemmPath::Dot8);
        }
        paths.push(GemmPath::Tiled);
        paths
    }

    /// The subgroup step kernels' launch shape for `batch` rows:
    /// `(LANE_ROWS, ROW_GROUPS)`. A pipeline of these takes seconds to
    /// compile on lavapipe, so the constants take few values: one row
    /// (B = 1, the latency case) or 8 per lane group; 1, 2, 4 or 8 groups of
    /// 8 rows per workgroup, more groups reusing each loaded weight for more
    /// rows (BENCHMARKS.md, "Subgroup kernels on CPU adapters").
    pub(crate) fn subgroup_rows(&self, batch: u32) -> (u32, u32) {
        let lane_rows = if batch == 1 { 1 } else { SUBGROUP_LANES };
        let row_groups = batch
            .div_ceil(SUBGROUP_LANES)
            .next_power_of_two()
            .min(MAX_ROW_GROUPS);
        (lane_rows, row_groups)
    }
}

/// The kernel paths in a few lines, for `wgpu-rnn info` and the tests'
/// headers.
impl std::fmt::Display for Tuning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        writeln!(
            f,
            "defaults: {}",
            match (self.cpu, self.swiftshader) {
                (true, true) => "CPU adapter (SwiftShader)",
                (true, false) => "CPU adapter",
                (false, _) => "GPU",
            }
        )?;
        writeln!(
            f,
            "step kernels: {}",
            match (self.subgroup_kernels, self.step_tiles) {
                (true, _) => "subgroup broadcasts (8 lanes)",
                (false, true) => "workgroup tiles",
                (false, false) => "direct reads",
            }
        )?;
        writeln!(
            f,
            "persistent LSTM (no projection, hidden <= 256): {}",
            self.persistent_rule()
        )?;
        writeln!(
            f,
            "stream step in one dispatch: {}",
            self.fused_stream_rule()
        )?;
        writeln!(
            f,
            "GEMM: {} (4x4 blocks for thin or few-tile products)",
            match (self.subgroup_kernels, self.gemm_tiles) {
                (true, _) => "64x32 blocks from texels",
                (false, true) => "64x64 workgroup tiles",
                (false, false) => "8x8 register blocks",
            }
        )?;
        write!(
            f,
            "per-step params: {}; subgroup kernels: {}",
            if self.immediates {
                "immediates"
            } else {
                "uniform array at dynamic offsets"
            },
            on(self.subgroup_kernels)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(device_type: wgpu::DeviceType, forced: &AdapterSelector) -> Tuning {
        let info = wgpu::AdapterInfo {
            subgroup_min_size: SUBGROUP_LANES,
            subgroup_max_size: SUBGROUP_LANES,
            ..wgpu::AdapterInfo::new(device_type, wgpu::Backend::Vulkan)
        };
        let facts = AdapterFacts {
            info: &info,
            subgroup: true,
            immediates: true,
            max_immediate_size: 128,
        };
        Tuning::choose(facts, forced)
    }

    #[test]
    fn gpu_tuning_overrides_the_device_type() {
        let cpu = choose(wgpu::DeviceType::Cpu, &AdapterSelector::default());
        assert!(cpu.cpu() && !cpu.step_tiles() && cpu.subgroup_kernels());
        assert!(cpu.persistent_steps(1, 64) && !cpu.persistent_steps(16, 64));

        let as_gpu = AdapterSelector {
            gpu_tuning: Some(true),
            ..Default::default()
        };
        let gpu = choose(wgpu::DeviceType::Cpu, &as_gpu);
        assert_eq!(
            gpu,
            choose(wgpu::DeviceType::DiscreteGpu, &Default::default())
        );
        assert!(!gpu.cpu() && gpu.step_tiles() && !gpu.subgroup_kernels());
        assert!(gpu.persistent_steps(16, 64) && !gpu.persistent_steps(17, 64));
        // The fused stream step: GPUs up to batch 16; CPU adapters one row,
        // its chunks only while small.
        assert!(gpu.fused_stream(16, 1 << 20, 64) && !gpu.fused_stream(17, 64, 1));
        assert!(!gpu.fused_stream(1, (1 << 20) + 1, 1));
        assert!(cpu.fused_stream(1, 1 << 19, 1) && !cpu.fused_stream(1, 1 << 19, 8));
        assert!(cpu.fused_stream(1, 1 << 16, 8) && !cpu.fused_stream(2, 64, 1));
        assert!(gpu.to_string().contains("defaults: GPU"), "{gpu}");

        let as_cpu = AdapterSelector {
            gpu_tuning: Some(false),
            ..Default::default()
        };
        assert_eq!(choose(wgpu::DeviceType::DiscreteGpu, &as_cpu), cpu);
        // Single overrides still apply on top.
        let tiles_off = AdapterSelector {
            step_tiles: Some(false),
            ..as_gpu
        };
        assert!(!choose(wgpu::DeviceType::Cpu, &tiles_off).step_tiles());
    }

    #[test]
    fn swiftshader_and_the_browsers_fallback_tile_their_gemms() {
        let tuning = |name: &str, backend| {
            let info = wgpu::AdapterInfo {
                name: name.into(),
                ..wgpu::AdapterInfo::new(wgpu::DeviceType::Cpu, backend)
            };
            let facts = AdapterFacts {
                info: &info,
                subgroup: false,
                immediates: true,
                max_immediate_size: 128,
            };
            Tuning::choose(facts, &AdapterSelector::default())
        };
        let llvmpipe = tuning("llvmpipe (LLVM 15.0.6, 256 bits)", wgpu::Backend::Gl);
        let swiftshader = tuning("SwiftShader Device (Subzero)", wgpu::Backend::Vulkan);
        let fallback = tuning("", wgpu::Backend::BrowserWebGpu);
        assert!(llvmpipe.cpu() && !llvmpipe.gemm_tiles());
        assert!(!llvmpipe.persistent_steps(16, 256) && llvmpipe.persistent_steps(17, 32));
        for t in [swiftshader, fallback] {
            assert!(t.cpu() && !t.step_tiles() && t.gemm_tiles(), "{t}");
            assert!(t.persistent_steps(16, 256) && !t.persistent_steps(17, 32));
            assert_eq!(t.gemm_candidates(256, 256, 256, 16), [GemmPath::Tiled]);
            let shallow = t.gemm_candidates(3200, 128, 2, 100);
            assert_eq!(shallow, [GemmPath::Dot8, GemmPath::Tiled]);
        }
    }
}
