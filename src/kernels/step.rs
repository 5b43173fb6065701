//! The per-step kernels (`*_step.wgsl`): one fused dispatch per time step (two
//! for the reset-before GRU), with the step's offsets at a dynamic uniform
//! offset so that one bind group serves the whole sequence.

use std::mem::{offset_of, size_of};
use std::num::NonZeroU64;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::dispatch::entry;
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
    pub units: u32,
    pub rec: u32,
    pub step: u32,
    pub xg_offset: u32,
    pub h_prev_offset: u32,
    pub h_out_offset: u32,
    pub _pad0: u32,
}

impl WgslTwin for StepParams {
    const WGSL_NAME: &'static str = "StepParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("units", offset_of!(Self, units)),
            ("rec", offset_of!(Self, rec)),
            ("step", offset_of!(Self, step)),
            ("xg_offset", offset_of!(Self, xg_offset)),
            ("h_prev_offset", offset_of!(Self, h_prev_offset)),
            ("h_out_offset", offset_of!(Self, h_out_offset)),
            ("_pad0", offset_of!(Self, _pad0)),
        ]
    }
}

/// Where step `s` reads and writes (shared by every stage of the step).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOffsets {
    pub xg_offset: u32,
    pub h_prev_offset: u32,
    pub h_out_offset: u32,
}

/// The entry points one step of `cell` dispatches before any projection, in
/// order, with their override constants.
pub fn step_kernels(cell: CellKind, projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)> {
    let flag = |b: bool| f64::from(u8::from(b));
    match cell {
        CellKind::Lstm | CellKind::PeepholeLstm => vec![(
            Kernel::LstmStep,
            vec![
                ("PEEPHOLE", flag(cell == CellKind::PeepholeLstm)),
                ("PROJ", flag(projected)),
            ],
        )],
        CellKind::Gru(GruReset::After) => vec![(Kernel::GruStep, vec![])],
        CellKind::Gru(GruReset::Before) => {
            vec![(Kernel::GruGates, vec![]), (Kernel::GruCandidate, vec![])]
        }
        CellKind::Rnn(act) => vec![(
            Kernel::RnnStep,
            vec![("RELU", flag(act == Nonlinearity::Relu))],
        )],
    }
}

/// One dispatch of every step: which kernel, its sizes and its buffers
/// (bindings 1.. in order).
pub struct StepStage<'a> {
    pub kernel: Kernel,
    pub constants: Vec<(&'static str, f64)>,
    /// Units this kernel computes (H, or Ho for the projection).
    pub units: u32,
    /// Length of the vector its dot products run over.
    pub rec: u32,
    pub buffers: Vec<&'a wgpu::Buffer>,
}

struct Stage {
    pipeline: Arc<CachedPipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

/// All the step dispatches of one sequence, ready to record.
pub struct Steps {
    stages: Vec<Stage>,
    stride: u32,
}

impl Steps {
    /// `offsets[s]` says where step `s` reads and writes; each stage gets its
    /// own per-step params (a dynamic-offset uniform array).
    pub fn new(
        gpu: &Gpu,
        batch: u32,
        offsets: &[StepOffsets],
        stages: Vec<StepStage<'_>>,
    ) -> Result<Self> {
        let align = gpu.limits().min_uniform_buffer_offset_alignment;
        let stride = (size_of::<StepParams>() as u32).next_multiple_of(align);
        let mut built = Vec::new();
        for stage in stages {
            let groups = [
                stage.units.div_ceil(UNITS_PER_GROUP),
                batch.div_ceil(ROWS_PER_GROUP),
                1,
            ];
            gpu.check_dispatch(stage.kernel.label(), groups)?;
            let mut bytes = vec![0u8; stride as usize * offsets.len()];
            for (s, (chunk, o)) in bytes
                .chunks_exact_mut(stride as usize)
                .zip(offsets)
                .enumerate()
            {
                let p = StepParams {
                    batch,
                    units: stage.units,
                    rec: stage.rec,
                    step: s as u32,
                    xg_offset: o.xg_offset,
                    h_prev_offset: o.h_prev_offset,
                    h_out_offset: o.h_out_offset,
                    _pad0: 0,
                };
                chunk[..size_of::<StepParams>()].copy_from_slice(bytemuck::bytes_of(&p));
            }
            let uniform = gpu
                .device()
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("step params"),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::UNIFORM,
                });
            let mut constants = stage.constants;
            constants.push(("TILED", f64::from(u8::from(gpu.step_tiles()))));
            let pipeline = gpu.pipeline(stage.kernel, &constants)?;
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniform,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<StepParams>() as u64),
                }),
            }];
            entries.extend(
                stage
                    .buffers
                    .iter()
                    .enumerate()
                    .map(|(i, b)| entry(i as u32 + 1, b)),
            );
            let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(stage.kernel.label()),
                layout: &pipeline.layout,
                entries: &entries,
            });
            built.push(Stage {
                pipeline,
                bind_group,
                groups,
            });
        }
        Ok(Self {
            stages: built,
            stride,
        })
    }

    /// Records step `s` of every stage.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, s: usize) {
        for stage in &self.stages {
            let [x, y, z] = stage.groups;
            pass.set_pipeline(&stage.pipeline.pipeline);
            pass.set_bind_group(0, &stage.bind_group, &[s as u32 * self.stride]);
            pass.dispatch_workgroups(x, y, z);
        }
    }
}
