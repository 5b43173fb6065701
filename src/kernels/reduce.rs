//! `reduce.wgsl`: column sums (the bias gradients of the backward pass).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::Dispatch;
use super::{Kernel, WgslTwin};
use crate::context::Gpu;
use crate::error::Result;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct ReduceParams {
    pub rows: u32,
    pub cols: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

impl WgslTwin for ReduceParams {
    const WGSL_NAME: &'static str = "ReduceParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("rows", offset_of!(Self, rows)),
            ("cols", offset_of!(Self, cols)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
        ]
    }
}

/// `out[n] (+)= Σ_m x[m, n]` for `x` `[rows, cols]`.
pub fn column_sums(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    accumulate: bool,
    x: &wgpu::Buffer,
    out: &wgpu::Buffer,
) -> Result<Dispatch> {
    let params = ReduceParams {
        rows: rows as u32,
        cols: cols as u32,
        ..Default::default()
    };
    let constants = [("ACCUMULATE", f64::from(u8::from(accumulate)))];
    let groups = [(cols as u32).div_ceil(256), 1, 1];
    Dispatch::new(
        gpu,
        Kernel::ColumnSums,
        &constants,
        &params,
        &[x, out],
        groups,
    )
}

/// Column sums of host data `x` `[rows, cols]` added to `out_init` when
/// `accumulate` (tests).
pub fn column_sums_host(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    accumulate: bool,
    x: &[f32],
    out_init: &[f32],
) -> Result<Vec<f32>> {
    use crate::tensor::{storage_buffer_with, GpuTensor};
    let x_buf = storage_buffer_with(gpu, "x", x)?;
    let out = GpuTensor::from_slice(gpu, "column sums", out_init, &[cols])?;
    column_sums(gpu, rows, cols, accumulate, &x_buf, out.buffer())?
        .submit_alone(gpu, "column sums")?;
    out.to_vec()
}
