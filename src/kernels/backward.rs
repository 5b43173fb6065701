//! The backward step kernels (`<cell>/backward.wgsl`): per step, the gradient of
//! the state and the cell's gate gradients, walking the sequence in reverse
//! (the scheme is in `common/backward.wgsl`).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::step::{
    persistent_pieces, rows_constant, PerStepDispatch, PERSISTENT_MAX_UNITS, ROWS_PER_GROUP,
};
use super::texels::TexelMatrix;
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct BackParams {
    pub batch: u32,
    pub step: u32,
    pub seq: u32,
    pub hidden: u32,
    pub out_size: u32,
    /// The persistent LSTM backward: slots `step, step-1, ..`, this many.
    pub steps: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

impl WgslTwin for BackParams {
    const WGSL_NAME: &'static str = "BackParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("step", offset_of!(Self, step)),
            ("seq", offset_of!(Self, seq)),
            ("hidden", offset_of!(Self, hidden)),
            ("out_size", offset_of!(Self, out_size)),
            ("steps", offset_of!(Self, steps)),
            ("_pad1", offset_of!(Self, _pad1)),
            ("_pad2", offset_of!(Self, _pad2)),
        ]
    }
}

/// `BackParams` of dispatches `0..=seq` (index = the state slot finished).
pub fn back_params(batch: usize, seq: usize, hidden: usize, out_size: usize) -> Vec<BackParams> {
    (0..=seq)
        .map(|i| BackParams {
            batch: batch as u32,
            step: i as u32,
            seq: seq as u32,
            hidden: hidden as u32,
            out_size: out_size as u32,
            ..Default::default()
        })
        .collect()
}

/// The persistent LSTM backward (`lstm/backward_sequence.wgsl`; no
/// projection, `hidden <= PERSISTENT_MAX_UNITS`) over slots `seq..=0`: one
/// dispatch per piece of slots, highest first, each within
/// [`super::LOOP_BUDGET`] (see [`persistent_pieces`]). `buffers` are
/// [`Kernel::LstmBackwardStep`]'s, except that `buffers[0]` is the forward's
/// interleaved weights; CPU adapters with the subgroup kernels read those as
/// `texels`; `cell` holds its `PEEPHOLE` and function constants. Returns the
/// dispatch and its number of pieces (the params indices to record, in
/// order).
pub fn persistent_backward(
    gpu: &Gpu,
    (batch, seq, hidden): (usize, usize, usize),
    cell: &[(&'static str, f64)],
    buffers: &[&wgpu::Buffer],
    texels: Option<&TexelMatrix>,
) -> Result<(PerStepDispatch, usize)> {
    debug_assert!(hidden <= PERSISTENT_MAX_UNITS);
    // Per slot: the staging (up to ROWS_PER_GROUP), the product (hidden)
    // and the rows' finishing (ROWS_PER_GROUP) loop iterations.
    let per_slot = hidden + 2 * ROWS_PER_GROUP as usize;
    let params: Vec<BackParams> = persistent_pieces(0..seq + 1, per_slot)
        .into_iter()
        .rev()
        .map(|slots| BackParams {
            batch: batch as u32,
            step: (slots.end - 1) as u32,
            seq: seq as u32,
            hidden: hidden as u32,
            out_size: hidden as u32,
            steps: slots.len() as u32,
            ..Default::default()
        })
        .collect();
    let mut constants = cell.to_vec();
    constants.extend([
        ("PROJ", 0.0),
        ("SEQ_WG", hidden.next_multiple_of(32) as f64),
        rows_constant(batch),
    ]);
    let (kernel, texels) = match texels {
        Some(w) if gpu.tuning().subgroup_kernels() => (Kernel::LstmBackwardSequenceTexels, vec![w]),
        _ => (Kernel::LstmBackwardSequence, vec![]),
    };
    let groups = [1, (batch as u32).div_ceil(ROWS_PER_GROUP), 1];
    let dispatch =
        PerStepDispatch::new(gpu, kernel, &constants, &params, buffers, &texels, groups)?;
    Ok((dispatch, params.len()))
}
