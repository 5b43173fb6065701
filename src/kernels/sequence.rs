//! `sequence/sequence.wgsl`: moving sequences between time order and the step order a
//! layer runs in (per-row reversal for the reverse direction, batch-first
//! transposition), with zeros past each row's length.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Dispatch};
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::tensor::storage_buffer;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct SeqParams {
    pub seq: u32,
    pub batch: u32,
    pub width: u32,
    /// Row stride and column offset of the time-ordered side.
    pub stride: u32,
    pub col: u32,
    pub batch_first: u32,
    pub reverse: u32,
    pub grid_width: u32,
    /// Scatter: slot of step 0 in the source (1 for `hs`, 0 otherwise).
    pub src_slot: u32,
    /// Gather: element offset of step 0 in the destination.
    pub dst_offset: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

impl WgslTwin for SeqParams {
    const WGSL_NAME: &'static str = "SeqParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("seq", offset_of!(Self, seq)),
            ("batch", offset_of!(Self, batch)),
            ("width", offset_of!(Self, width)),
            ("stride", offset_of!(Self, stride)),
            ("col", offset_of!(Self, col)),
            ("batch_first", offset_of!(Self, batch_first)),
            ("reverse", offset_of!(Self, reverse)),
            ("grid_width", offset_of!(Self, grid_width)),
            ("src_slot", offset_of!(Self, src_slot)),
            ("dst_offset", offset_of!(Self, dst_offset)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
        ]
    }
}

/// One gather or scatter over `seq * batch * width` elements;
/// `kernel` is [`Kernel::GatherSteps`] or [`Kernel::ScatterOutput`] and
/// `params.grid_width` is filled in here. `accumulate` makes a scatter add to
/// its destination.
pub fn sequence_copy(
    gpu: &Gpu,
    kernel: Kernel,
    accumulate: bool,
    mut params: SeqParams,
    lengths: &wgpu::Buffer,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
) -> Result<Dispatch> {
    let n = u64::from(params.seq) * u64::from(params.batch) * u64::from(params.width);
    let (groups, grid_width) = elementwise_grid(gpu, n);
    params.grid_width = grid_width;
    let constants = [("ACCUMULATE", f64::from(u8::from(accumulate)))];
    Dispatch::new(
        gpu,
        kernel,
        &constants,
        &params,
        &[("lengths", lengths), ("src", src), ("dst", dst)],
        groups,
    )
}

/// The gather that puts a layer input `src` (`[T, B, width]` in time order,
/// or `[B, T, width]` batch-first) into the step order the layer runs in,
/// with its buffer; `None` where it already is (forward and time-major).
pub(crate) fn gather_steps(
    gpu: &Gpu,
    lengths: &wgpu::Buffer,
    src: &wgpu::Buffer,
    (seq, batch, width): (usize, usize, usize),
    (batch_first, reverse): (bool, bool),
) -> Result<Option<(Dispatch, wgpu::Buffer)>> {
    if !reverse && !batch_first {
        return Ok(None);
    }
    let steps_in = storage_buffer(gpu, "input in step order", seq * batch * width)?;
    let params = SeqParams {
        seq: seq as u32,
        batch: batch as u32,
        width: width as u32,
        stride: width as u32,
        batch_first: u32::from(batch_first),
        reverse: u32::from(reverse),
        ..Default::default()
    };
    let copy = sequence_copy(
        gpu,
        Kernel::GatherSteps,
        false,
        params,
        lengths,
        src,
        &steps_in,
    )?;
    Ok(Some((copy, steps_in)))
}
