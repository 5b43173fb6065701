//! The per-step kernels (`*_step.wgsl`): one fused dispatch per time step (two
//! for the reset-before GRU), with the step's offsets at a dynamic uniform
//! offset so that one bind group serves the whole sequence.

use std::mem::{offset_of, size_of};
use std::num::NonZeroU64;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::gemm::entry;
use super::{Kernel, WgslTwin};
use crate::config::{CellKind, GruReset, Nonlinearity};
use crate::context::{CachedPipeline, Gpu};
use crate::error::Result;

/// Hidden units per workgroup (`WG` in `common.wgsl`).
pub const UNITS_PER_GROUP: u32 = 64;
/// Batch rows per workgroup (`BT` in `common.wgsl`).
pub const ROWS_PER_GROUP: u32 = 4;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct StepParams {
    pub batch: u32,
    pub hidden: u32,
    pub xg_offset: u32,
    pub h_prev_offset: u32,
    pub h_out_offset: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

impl WgslTwin for StepParams {
    const WGSL_NAME: &'static str = "StepParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("hidden", offset_of!(Self, hidden)),
            ("xg_offset", offset_of!(Self, xg_offset)),
            ("h_prev_offset", offset_of!(Self, h_prev_offset)),
            ("h_out_offset", offset_of!(Self, h_out_offset)),
            ("_pad0", offset_of!(Self, _pad0)),
            ("_pad1", offset_of!(Self, _pad1)),
            ("_pad2", offset_of!(Self, _pad2)),
        ]
    }
}

/// The entry points one step of `cell` dispatches, in order, with their
/// override constants.
pub fn step_kernels(cell: CellKind) -> Vec<(Kernel, Vec<(&'static str, f64)>)> {
    match cell {
        CellKind::Lstm => vec![(Kernel::LstmStep, vec![("PEEPHOLE", 0.0)])],
        CellKind::PeepholeLstm => vec![(Kernel::LstmStep, vec![("PEEPHOLE", 1.0)])],
        CellKind::Gru(GruReset::After) => vec![(Kernel::GruStep, vec![])],
        CellKind::Gru(GruReset::Before) => {
            vec![(Kernel::GruGates, vec![]), (Kernel::GruCandidate, vec![])]
        }
        CellKind::Rnn(act) => vec![(
            Kernel::RnnStep,
            vec![("RELU", f64::from(u8::from(act == Nonlinearity::Relu)))],
        )],
    }
}

/// All the step dispatches of one sequence, ready to record.
pub struct Steps {
    stages: Vec<(Arc<CachedPipeline>, wgpu::BindGroup)>,
    stride: u32,
    groups: [u32; 3],
}

impl Steps {
    /// `params[t]` describes step `t`; `buffers` are bindings 1.. of the
    /// cell's kernel in order.
    pub fn new(
        gpu: &Gpu,
        cell: CellKind,
        batch: u32,
        hidden: u32,
        params: &[StepParams],
        buffers: &[&wgpu::Buffer],
    ) -> Result<Self> {
        let groups = [
            hidden.div_ceil(UNITS_PER_GROUP),
            batch.div_ceil(ROWS_PER_GROUP),
            1,
        ];
        gpu.check_dispatch("step kernel", groups)?;
        let align = gpu.limits().min_uniform_buffer_offset_alignment;
        let stride = (size_of::<StepParams>() as u32).next_multiple_of(align);
        let mut bytes = vec![0u8; stride as usize * params.len()];
        for (chunk, p) in bytes.chunks_exact_mut(stride as usize).zip(params) {
            chunk[..size_of::<StepParams>()].copy_from_slice(bytemuck::bytes_of(p));
        }
        let uniform = gpu
            .device()
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("step params"),
                contents: &bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut stages = Vec::new();
        for (kernel, constants) in step_kernels(cell) {
            let pipeline = gpu.pipeline(kernel, &constants)?;
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniform,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<StepParams>() as u64),
                }),
            }];
            entries.extend(
                buffers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| entry(i as u32 + 1, b)),
            );
            let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(kernel.label()),
                layout: &pipeline.layout,
                entries: &entries,
            });
            stages.push((pipeline, bind_group));
        }
        Ok(Self {
            stages,
            stride,
            groups,
        })
    }

    /// Records step `t` (its params are `params[t]` given to [`Steps::new`]).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, t: usize) {
        let [x, y, z] = self.groups;
        for (pipeline, bind_group) in &self.stages {
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, bind_group, &[t as u32 * self.stride]);
            pass.dispatch_workgroups(x, y, z);
        }
    }
}
