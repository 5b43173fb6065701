//! `train/optimizer.wgsl`: one SGD or Adam step on one parameter tensor.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Bound, Dispatch};
use super::{flag, Kernel, WgslTwin};
use crate::error::Result;
use crate::gpu::Gpu;

/// Per tensor, fixed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct OptimizerTensor {
    pub len: u32,
    pub grid_width: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Per step, shared by every tensor (see the shader for the fields).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct OptimizerStep {
    pub lr: f32,
    pub momentum: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub bias_correction1: f32,
    pub bias_correction2_sqrt: f32,
    pub _pad0: u32,
}

impl WgslTwin for OptimizerTensor {
    const WGSL_NAME: &'static str = "OptimizerTensor";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("len", offset_of!(Self, len)),
            ("grid_width", offset_of!(Self, grid_width)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
        ]
    }
}

impl WgslTwin for OptimizerStep {
    const WGSL_NAME: &'static str = "OptimizerStep";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("lr", offset_of!(Self, lr)),
            ("momentum", offset_of!(Self, momentum)),
            ("beta2", offset_of!(Self, beta2)),
            ("eps", offset_of!(Self, eps)),
            ("weight_decay", offset_of!(Self, weight_decay)),
            ("bias_correction1", offset_of!(Self, bias_correction1)),
            (
                "bias_correction2_sqrt",
                offset_of!(Self, bias_correction2_sqrt),
            ),
            ("_pad0", offset_of!(Self, _pad0)),
        ]
    }
}

/// The buffers one tensor's update binds.
pub struct UpdateBuffers<'a> {
    /// The [`OptimizerStep`] uniform.
    pub step: Bound<'a>,
    pub param: Bound<'a>,
    pub grad: Bound<'a>,
    pub m: Bound<'a>,
    /// Adam's second moment; a placeholder for SGD.
    pub v: Bound<'a>,
    /// `(norm, coefficient)`: the gradient is multiplied by the coefficient.
    pub clip: Bound<'a>,
}

/// The update of one `len`-element tensor.
pub fn update(
    gpu: &Gpu,
    len: usize,
    adam: bool,
    nesterov: bool,
    b: UpdateBuffers<'_>,
) -> Result<Dispatch> {
    let (groups, grid_width) = elementwise_grid(gpu, len as u64);
    let params = OptimizerTensor {
        len: len as u32,
        grid_width,
        ..Default::default()
    };
    let constants = [("ADAM", flag(adam)), ("NESTEROV", flag(nesterov))];
    Dispatch::new(
        gpu,
        Kernel::OptimizerStep,
        &constants,
        &params,
        &[
            ("s", b.step),
            ("param", b.param),
            ("grad", b.grad),
            ("m", b.m),
            ("v", b.v),
            ("clip", b.clip),
        ],
        groups,
    )
}
