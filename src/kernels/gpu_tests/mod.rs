//! Kernel-level tests on a real adapter (they fail, never skip, without
//! one): the GEMM and reductions against f64 twins, and the texel packing.

use std::sync::OnceLock;

use rand::rngs::SmallRng;
use rand::Rng;

use crate::gpu::{AdapterSelector, Gpu};

mod gemm_reduce;
mod texels;

/// A device of the default adapter with `edit` applied to the selector
/// from the environment.
fn device(cell: &'static OnceLock<Gpu>, edit: fn(&mut AdapterSelector)) -> &'static Gpu {
    cell.get_or_init(|| {
        let mut sel = AdapterSelector::from_env();
        edit(&mut sel);
        Gpu::with_selector(&sel).unwrap_or_else(|e| panic!("GPU tests need a wgpu adapter: {e}"))
    })
}

fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    device(&GPU, |_| {})
}

/// Workgroup tiles forced on: the GPU kernels on a CPU adapter.
fn tiled_gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    device(&GPU, |s| {
        s.step_tiles = Some(true);
        s.persistent = Some(false);
    })
}

/// The subgroup kernels off: what CPU adapters without 8-lane subgroups run.
fn plain_gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    device(&GPU, |s| {
        s.persistent = Some(false);
        s.subgroup_kernels = Some(false);
    })
}

fn random_vec(rng: &mut SmallRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..=scale)).collect()
}
