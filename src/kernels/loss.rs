//! `train/mse_loss.wgsl` and `train/cross_entropy.wgsl`: a loss's gradient and its
//! per-element (per-row) terms, which [`super::sum`] reduces to the mean.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Bound, Dispatch};
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct LossParams {
    pub len: u32,
    pub classes: u32,
    pub scale: f32,
    pub grid_width: u32,
}

impl WgslTwin for LossParams {
    const WGSL_NAME: &'static str = "LossParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("len", offset_of!(Self, len)),
            ("classes", offset_of!(Self, classes)),
            ("scale", offset_of!(Self, scale)),
            ("grid_width", offset_of!(Self, grid_width)),
        ]
    }
}

/// `kernel` over `len` elements (MSE) or rows (cross-entropy):
/// `buffers` named as the kernel's WGSL names them.
pub fn loss_terms(
    gpu: &Gpu,
    kernel: Kernel,
    (len, classes): (usize, usize),
    scale: f32,
    buffers: [(&'static str, Bound<'_>); 4],
) -> Result<Dispatch> {
    let (groups, grid_width) = elementwise_grid(gpu, len as u64);
    let params = LossParams {
        len: len as u32,
        classes: classes as u32,
        scale,
        grid_width,
    };
    Dispatch::new(gpu, kernel, &[], &params, &buffers, groups)
}
