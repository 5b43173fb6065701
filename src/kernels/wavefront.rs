//! `wavefront/step.wgsl`: one dispatch per wave of a layer wavefront, each
//! running one step of every layer (see [`crate::Schedule::Wavefront`]).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::WgslTwin;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct WaveParams {
    pub batch: u32,
    pub units: u32,
    pub layers: u32,
    /// Layer `z` runs step `wave - z`.
    pub wave: u32,
    pub seq: u32,
    /// Element offset of layer 0's step `wave` in its gate pre-activations.
    pub xg_offset: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

impl WgslTwin for WaveParams {
    const WGSL_NAME: &'static str = "WaveParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("units", offset_of!(Self, units)),
            ("layers", offset_of!(Self, layers)),
            ("wave", offset_of!(Self, wave)),
            ("seq", offset_of!(Self, seq)),
            ("xg_offset", offset_of!(Self, xg_offset)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
        ]
    }
}
