//! `stream/step.wgsl`: a stream's K steps through every layer of the stack
//! in one dispatch (one workgroup per batch row).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::Dispatch;
use super::{Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct StreamParams {
    pub batch: u32,
    pub layers: u32,
    pub steps: u32,
    pub input: u32,
    pub hidden: u32,
    pub out_size: u32,
    pub batch_first: u32,
    pub scratch_width: u32,
}

impl WgslTwin for StreamParams {
    const WGSL_NAME: &'static str = "StreamParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("layers", offset_of!(Self, layers)),
            ("steps", offset_of!(Self, steps)),
            ("input", offset_of!(Self, input)),
            ("hidden", offset_of!(Self, hidden)),
            ("out_size", offset_of!(Self, out_size)),
            ("batch_first", offset_of!(Self, batch_first)),
            ("scratch_width", offset_of!(Self, scratch_width)),
        ]
    }
}

/// Layout entries per layer in the `offsets` buffer (see the shader).
pub const LAYOUT_WORDS: usize = 8;
/// Values of a layer's input and state the kernel stages in workgroup
/// memory per row (`STAGED` in the shader): `I_l + Ho` may not pass it.
pub const STAGED: usize = 2048;

/// The buffers `stream_step` binds, by the shader's names.
pub struct StreamBuffers<'a> {
    pub x: &'a wgpu::Buffer,
    /// W_ih and W_hh as gate vectors.
    pub vectors: &'a wgpu::Buffer,
    /// Biases, peepholes, W_hr transposed.
    pub scalars: &'a wgpu::Buffer,
    pub offsets: &'a wgpu::Buffer,
    pub h: &'a wgpu::Buffer,
    /// A placeholder for cells without a cell state.
    pub c: &'a wgpu::Buffer,
    pub scratch: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
}

/// The dispatch of `params.steps` steps of `params.batch` rows, one
/// workgroup per row; `constants` choose the cell, its options and the
/// workgroup size. With `texels` (the gate vectors packed as a
/// [`super::texels::TexelMatrix`]) the weights are fetched from it.
pub fn stream_step(
    gpu: &Gpu,
    constants: &[(&'static str, f64)],
    params: StreamParams,
    b: StreamBuffers<'_>,
    texels: Option<&wgpu::TextureView>,
) -> Result<Dispatch> {
    let kernel = match texels {
        Some(_) => Kernel::StreamStepTexels,
        None => Kernel::StreamStep,
    };
    let dispatch = Dispatch::new(
        gpu,
        kernel,
        constants,
        &params,
        &[
            ("x", b.x),
            ("wv", b.vectors),
            ("w", b.scalars),
            ("offsets", b.offsets),
            ("h", b.h),
            ("c", b.c),
            ("scratch", b.scratch),
            ("out", b.out),
        ],
        [params.batch, 1, 1],
    )?;
    Ok(match texels {
        Some(view) => dispatch.reading_texels(gpu, vec![view.clone()]),
        None => dispatch,
    })
}
