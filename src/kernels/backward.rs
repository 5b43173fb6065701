//! The backward step kernels (`*_backward.wgsl`): per step, the gradient of
//! the state and the cell's gate gradients, walking the sequence in reverse
//! (the scheme is in `backward_common.wgsl`).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::WgslTwin;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct BackParams {
    pub batch: u32,
    pub step: u32,
    pub seq: u32,
    pub hidden: u32,
    pub out_size: u32,
    pub _pad0: u32,
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
            ("_pad0", offset_of!(Self, _pad0)),
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
