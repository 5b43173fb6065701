//! `repack/repack.wgsl`: the forward kernels' weight layouts rebuilt on the device
//! from the parameters in PyTorch's layout (the twins are in
//! [`crate::cells::packing`]).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Dispatch};
use super::{precision_constants, Kernel, WgslTwin};
use crate::config::Precision;
use crate::error::Result;
use crate::gpu::Gpu;

/// The shader's marker for a zero slot.
const NONE: u32 = u32::MAX;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct RepackParams {
    pub len: u32,
    pub grid_width: u32,
    pub hidden: u32,
    pub k_len: u32,
    pub width: u32,
    pub a_offset: u32,
    pub b_rows: u32,
    /// interleave_gates: the element of `dst` that element 0 goes to.
    pub dst_offset: u32,
    pub gate0: u32,
    pub gate1: u32,
    pub gate2: u32,
    pub gate3: u32,
}

impl WgslTwin for RepackParams {
    const WGSL_NAME: &'static str = "RepackParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("len", offset_of!(Self, len)),
            ("grid_width", offset_of!(Self, grid_width)),
            ("hidden", offset_of!(Self, hidden)),
            ("k_len", offset_of!(Self, k_len)),
            ("width", offset_of!(Self, width)),
            ("a_offset", offset_of!(Self, a_offset)),
            ("b_rows", offset_of!(Self, b_rows)),
            ("dst_offset", offset_of!(Self, dst_offset)),
            ("gate0", offset_of!(Self, gate0)),
            ("gate1", offset_of!(Self, gate1)),
            ("gate2", offset_of!(Self, gate2)),
            ("gate3", offset_of!(Self, gate3)),
        ]
    }
}

/// `dst` holds f32, or f16 with `precision` f16.
fn dispatch(
    gpu: &Gpu,
    kernel: Kernel,
    mut params: RepackParams,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    (dst, precision): (&wgpu::Buffer, Precision),
) -> Result<Dispatch> {
    let (groups, grid_width) = elementwise_grid(gpu, u64::from(params.len));
    params.grid_width = grid_width;
    let constants = precision_constants(precision);
    Dispatch::new(
        gpu,
        kernel,
        &constants,
        &params,
        &[("a", a), ("b", b), ("dst", dst)],
        groups,
    )
}

/// `dst` `[K, H, width]` from `src` `[gates*H, K]`: slot `s` of unit `j` at
/// column `k` is `src[(gates[s]*H + j), k]`, zero past `gates.len()`
/// ([`crate::cells::packing::interleave_recurrent`]). `dst` holds `precision`
/// values (the weights of an f16 layer are f16 already, see
/// [`crate::RnnWeights::rounded_for`]).
pub fn interleave_gates(
    gpu: &Gpu,
    src: &wgpu::Buffer,
    sizes: (usize, usize),
    gates: &[usize],
    width: usize,
    dst: (&wgpu::Buffer, Precision),
) -> Result<Dispatch> {
    interleave_gates_at(gpu, src, sizes, gates, width, dst, 0)
}

/// [`interleave_gates`] into `dst` from element `dst_offset` on (one
/// layer's block of the layer wavefront's weights).
pub fn interleave_gates_at(
    gpu: &Gpu,
    src: &wgpu::Buffer,
    (hidden, k_len): (usize, usize),
    gates: &[usize],
    width: usize,
    dst: (&wgpu::Buffer, Precision),
    dst_offset: usize,
) -> Result<Dispatch> {
    debug_assert!(gates.len() <= width && width <= 4);
    let mut slots = [NONE; 4];
    for (slot, &g) in slots.iter_mut().zip(gates) {
        *slot = g as u32;
    }
    let params = RepackParams {
        len: (k_len * hidden * width) as u32,
        hidden: hidden as u32,
        k_len: k_len as u32,
        width: width as u32,
        dst_offset: dst_offset as u32,
        gate0: slots[0],
        gate1: slots[1],
        gate2: slots[2],
        gate3: slots[3],
        ..Default::default()
    };
    dispatch(gpu, Kernel::InterleaveGates, params, src, src, dst)
}

/// `dst[r] = a[a_offset + r] (+ b[r] for r < b_rows)` for `r < len`.
pub fn add_rows(
    gpu: &Gpu,
    len: usize,
    (a, a_offset): (&wgpu::Buffer, usize),
    (b, b_rows): (&wgpu::Buffer, usize),
    dst: &wgpu::Buffer,
) -> Result<Dispatch> {
    let params = RepackParams {
        len: len as u32,
        a_offset: a_offset as u32,
        b_rows: b_rows as u32,
        ..Default::default()
    };
    dispatch(gpu, Kernel::AddRows, params, a, b, (dst, Precision::F32))
}
