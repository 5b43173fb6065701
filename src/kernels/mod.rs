//! The WGSL kernels: the registry (one row per kernel) and, per kernel
//! family, its params struct and the code that builds its dispatches.

pub mod backward;
pub mod dispatch;
pub mod dropout;
pub mod gemm;
pub mod loss;
pub mod optimizer;
pub mod reduce;
mod registry;
pub mod repack;
pub mod sequence;
pub mod step;
pub mod stream;
pub mod sum;
pub mod texels;
pub mod wavefront;

use bytemuck::{Pod, Zeroable};

pub(crate) use crate::gpu::pipelines::{F16_WEIGHTS, IMMEDIATE_PARAMS};
pub(crate) use registry::Kernel;

/// The most loop iterations one invocation of our kernels may run.
/// lavapipe (llvmpipe) stops every loop of an invocation after 65535
/// iterations in total (a guard against hangs) and the kernel silently goes
/// on with partial results; kernels whose loops grow with the problem (a
/// GEMM's K, a reduction's rows, the persistent kernel's steps) split their
/// work so that no invocation comes near it.
pub const LOOP_BUDGET: usize = 16384;

/// 1.0 or 0.0: a boolean override constant.
pub(crate) fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// [`F16_WEIGHTS`] for a layer of `precision`: what its weight-reading
/// kernels add to their constants.
pub(crate) fn precision_constants(precision: crate::Precision) -> Vec<(&'static str, f64)> {
    match precision {
        crate::Precision::F32 => vec![],
        crate::Precision::F16 => vec![(F16_WEIGHTS, 1.0)],
    }
}

/// A `#[repr(C)]` struct that mirrors a WGSL struct, field for field
/// (checked by the shader tests, its only reader).
#[cfg_attr(not(test), allow(dead_code))]
pub trait WgslTwin: Pod + Zeroable {
    /// The struct's name in WGSL.
    const WGSL_NAME: &'static str;
    /// `(name, byte offset)` of every field, in order.
    fn fields() -> Vec<(&'static str, usize)>;
}

#[cfg(test)]
mod gpu_tests;
#[cfg(test)]
mod tests;
