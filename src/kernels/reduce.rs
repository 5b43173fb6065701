//! `reduce.wgsl`: column sums (the bias gradients of the backward pass).

use std::mem::offset_of;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::gemm::entry;
use super::{Kernel, WgslTwin};
use crate::context::{CachedPipeline, Gpu};
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
pub struct ColumnSums {
    pipeline: Arc<CachedPipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl ColumnSums {
    pub fn new(
        gpu: &Gpu,
        rows: usize,
        cols: usize,
        accumulate: bool,
        x: &wgpu::Buffer,
        out: &wgpu::Buffer,
    ) -> Result<Self> {
        let groups = [(cols as u32).div_ceil(256), 1, 1];
        gpu.check_dispatch("column sums", groups)?;
        let pipeline = gpu.pipeline(
            Kernel::ColumnSums,
            &[("ACCUMULATE", f64::from(u8::from(accumulate)))],
        )?;
        let params = ReduceParams {
            rows: rows as u32,
            cols: cols as u32,
            ..Default::default()
        };
        let uniform = gpu
            .device()
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("reduce params"),
                contents: bytemuck::bytes_of(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let bind_group = gpu.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("column sums"),
            layout: &pipeline.layout,
            entries: &[entry(0, &uniform), entry(1, x), entry(2, out)],
        });
        Ok(Self {
            pipeline,
            bind_group,
            groups,
        })
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.groups;
        pass.dispatch_workgroups(x, y, z);
    }
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
    let kernel = ColumnSums::new(gpu, rows, cols, accumulate, &x_buf, out.buffer())?;
    gpu.scoped("column sums", || {
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            kernel.record(&mut pass);
        }
        gpu.queue().submit([encoder.finish()]);
    })?;
    out.to_vec()
}
