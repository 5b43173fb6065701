//! `reduce/sum.wgsl`: deterministic sums of many values (a loss's mean, the global
//! gradient norm) in two stages, per-workgroup partials then one workgroup.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{Bound, Dispatch};
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

const WORKGROUP: usize = 256;
/// Most partials one tensor contributes: the finishing workgroup reads them
/// all, so keep their number small.
const MAX_PARTIALS: usize = 64;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct SumParams {
    pub len: u32,
    pub x_offset: u32,
    pub chunk: u32,
    pub out_offset: u32,
    pub scale: f32,
    pub max_norm: f32,
    pub _pad0: u32,
    pub _pad1: u32,
}

impl WgslTwin for SumParams {
    const WGSL_NAME: &'static str = "SumParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("len", offset_of!(Self, len)),
            ("x_offset", offset_of!(Self, x_offset)),
            ("chunk", offset_of!(Self, chunk)),
            ("out_offset", offset_of!(Self, out_offset)),
            ("scale", offset_of!(Self, scale)),
            ("max_norm", offset_of!(Self, max_norm)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
        ]
    }
}

/// How many partials [`partial_sums`] writes for `len` elements.
pub fn partial_count(len: usize) -> usize {
    len.div_ceil(WORKGROUP * 4).clamp(1, MAX_PARTIALS)
}

/// `out[out_offset + w]` = the sum of chunk `w` of `x[..len]` (of its
/// squares with `square`), for the [`partial_count`] chunks.
pub fn partial_sums(
    gpu: &Gpu,
    x: Bound<'_>,
    len: usize,
    square: bool,
    out: &wgpu::Buffer,
    out_offset: usize,
) -> Result<Dispatch> {
    let groups = partial_count(len);
    let params = SumParams {
        len: len as u32,
        chunk: len.div_ceil(groups) as u32,
        out_offset: out_offset as u32,
        ..Default::default()
    };
    let constants = [("SQUARE", f64::from(u8::from(square)))];
    Dispatch::new(
        gpu,
        Kernel::PartialSums,
        &constants,
        &params,
        &[("x", x), ("out", out.into())],
        [groups as u32, 1, 1],
    )
}

/// What [`finish_sum`] writes.
#[derive(Debug, Clone, Copy)]
pub enum Finish {
    /// `out[0] = scale * sum`.
    Scaled(f32),
    /// `out[0..2] = (norm, min(1, max_norm / (norm + 1e-6)))` with
    /// `norm = sqrt(sum)`: PyTorch's `clip_grad_norm_` coefficient.
    ClipCoefficient { max_norm: f32 },
}

/// Sums `partials[..len]` in one workgroup into `out[0]` (and `out[1]`).
pub fn finish_sum(
    gpu: &Gpu,
    partials: &wgpu::Buffer,
    len: usize,
    finish: Finish,
    out: &wgpu::Buffer,
) -> Result<Dispatch> {
    let (scale, max_norm, clip) = match finish {
        Finish::Scaled(scale) => (scale, 0.0, false),
        Finish::ClipCoefficient { max_norm } => (1.0, max_norm, true),
    };
    let params = SumParams {
        len: len as u32,
        scale,
        max_norm,
        ..Default::default()
    };
    let constants = [("CLIP", f64::from(u8::from(clip)))];
    Dispatch::new(
        gpu,
        Kernel::FinishSum,
        &constants,
        &params,
        &[("x", partials), ("out", out)],
        [1, 1, 1],
    )
}
