//! Burn's gate weights to PyTorch's layout and back, on the GPU: Burn
//! keeps each gate's `Linear` weight as `[in, out]`, one tensor per gate;
//! our parameters are `[G*out, in]`. The gate blocks are copied end to end
//! into a staging buffer and transposed there by one dispatch per matrix
//! (and the other way for the gradients), so no Burn operation runs for
//! the conversion.

use wgpu::util::DeviceExt;
use wgpu_rnn::{Gpu, GpuTensor};

/// One transposition of `blocks` `[rows, cols]` matrices from `src` into
/// `dst` (both `blocks * rows * cols` values): its bindings and grid.
struct Transpose {
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
}

impl Transpose {
    fn new(
        gpu: &Gpu,
        pipeline: &wgpu::ComputePipeline,
        (src, dst): (&GpuTensor, &GpuTensor),
        [blocks, rows, cols]: [usize; 3],
    ) -> Self {
        let device = gpu.device();
        let dims = [rows as u32, cols as u32, blocks as u32, 0];
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("transpose dims"),
            contents: bytemuck::cast_slice(&dims),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        fn view(t: &GpuTensor) -> wgpu::BindingResource<'_> {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: t.buffer(),
                offset: t.offset(),
                size: wgpu::BufferSize::new(t.byte_len()),
            })
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("transpose gate blocks"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: view(src),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: view(dst),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: uniform.as_entire_binding(),
                },
            ],
        });
        let grid = [
            (cols as u32).div_ceil(16),
            (rows as u32).div_ceil(16),
            blocks as u32,
        ];
        Self { bind_group, grid }
    }
}

/// The staging buffers of one layer's weights in Burn's layout, and the
/// transpositions between them and the layer's parameters and gradients.
pub(crate) struct GateLayout {
    /// `[G, I, H]`: each gate's `W_ih` as Burn holds it.
    pub staging_ih: GpuTensor,
    /// `[G, H, H]`.
    pub staging_hh: GpuTensor,
    /// `transpose_blocks.wgsl`, compiled once for the four below.
    pipeline: wgpu::ComputePipeline,
    /// Staging into the parameters.
    to_ours: [Transpose; 2],
    /// The gradients into staging.
    to_burn: [Transpose; 2],
}

impl GateLayout {
    pub fn new(
        gpu: &Gpu,
        (gates, input, hidden): (usize, usize, usize),
        (w_ih, w_hh): (&GpuTensor, &GpuTensor),
        (d_ih, d_hh): (&GpuTensor, &GpuTensor),
    ) -> wgpu_rnn::Result<Self> {
        let staging_ih = GpuTensor::zeros(gpu, "Burn-layout W_ih", &[gates, input, hidden])?;
        let staging_hh = GpuTensor::zeros(gpu, "Burn-layout W_hh", &[gates, hidden, hidden])?;
        let device = gpu.device();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("transpose gate blocks"),
            source: wgpu::ShaderSource::Wgsl(
                include_str!("../shaders/transpose_blocks.wgsl").into(),
            ),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("transpose gate blocks"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let transpose = |pair, dims| Transpose::new(gpu, &pipeline, pair, dims);
        Ok(Self {
            to_ours: [
                transpose((&staging_ih, w_ih), [gates, input, hidden]),
                transpose((&staging_hh, w_hh), [gates, hidden, hidden]),
            ],
            to_burn: [
                transpose((d_ih, &staging_ih), [gates, hidden, input]),
                transpose((d_hh, &staging_hh), [gates, hidden, hidden]),
            ],
            staging_ih,
            staging_hh,
            pipeline,
        })
    }

    /// Records the staged weights' transposition into the parameters.
    pub fn record_to_ours(&self, enc: &mut wgpu::CommandEncoder) {
        self.record(enc, &self.to_ours);
    }

    /// Records the gradients' transposition into the staging buffers.
    pub fn record_to_burn(&self, enc: &mut wgpu::CommandEncoder) {
        self.record(enc, &self.to_burn);
    }

    fn record(&self, enc: &mut wgpu::CommandEncoder, transposes: &[Transpose; 2]) {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        for t in transposes {
            pass.set_bind_group(0, &t.bind_group, &[]);
            let [x, y, z] = t.grid;
            pass.dispatch_workgroups(x, y, z);
        }
    }
}
