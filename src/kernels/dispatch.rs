//! A compute dispatch ready to record: a cached pipeline, its bind group
//! (binding 0 a uniform params struct, then the buffers in order) and the
//! workgroup grid; or a short chain of them. The shared shape of every
//! kernel but the step kernels.

use std::sync::Arc;

use bytemuck::Pod;

use super::Kernel;
use crate::error::{Error, Result};
use crate::gpu::pipelines::CachedPipeline;
use crate::gpu::recorder::{submit, Submit};
use crate::gpu::Gpu;
use crate::gpu::GpuTensor;

/// Invocations per workgroup of the one-element-per-invocation kernels.
pub(crate) const ELEMENTWISE_WORKGROUP: u32 = 256;

/// The grid for `len` invocations of `ELEMENTWISE_WORKGROUP`: x up to the
/// per-dimension limit, y for the rest. Returns the groups and the grid's
/// width in invocations (element `n` is `gid.y * width + gid.x`).
pub(crate) fn elementwise_grid(gpu: &Gpu, len: u64) -> ([u32; 3], u32) {
    let groups_needed = len.div_ceil(u64::from(ELEMENTWISE_WORKGROUP));
    let max_x = u64::from(gpu.limits().max_compute_workgroups_per_dimension);
    let x = groups_needed.clamp(1, max_x);
    let y = groups_needed.div_ceil(x).max(1);
    let groups = [x as u32, y.min(u64::from(u32::MAX)) as u32, 1];
    (groups, groups[0] * ELEMENTWISE_WORKGROUP)
}

/// A storage binding: a whole buffer, or the bytes of a view into one
/// (a [`GpuTensor`] made by [`GpuTensor::from_buffer`]), which the kernel
/// sees from its index 0. View offsets are multiples of the device's
/// storage offset alignment, as wgpu requires of a binding.
#[derive(Debug, Clone, Copy)]
pub struct Bound<'a> {
    buffer: &'a wgpu::Buffer,
    offset: u64,
    size: Option<std::num::NonZeroU64>,
}

impl<'a> From<&'a wgpu::Buffer> for Bound<'a> {
    fn from(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            offset: 0,
            size: None,
        }
    }
}

impl<'a> From<&'a GpuTensor> for Bound<'a> {
    fn from(t: &'a GpuTensor) -> Self {
        if t.offset() == 0 {
            return t.buffer().into();
        }
        Self {
            buffer: t.buffer(),
            offset: t.offset(),
            size: std::num::NonZeroU64::new(t.byte_len()),
        }
    }
}

impl<'a> Bound<'a> {
    /// The binding resource.
    pub(crate) fn resource(self) -> wgpu::BindingResource<'a> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buffer,
            offset: self.offset,
            size: self.size,
        })
    }
}

/// One or more dependent dispatches recorded in order (a split-K product
/// and the reduction of its slices), with the scratch buffers they share.
pub struct Dispatch {
    stages: Vec<Stage>,
    _scratch: Vec<wgpu::Buffer>,
    /// Texture matrices group 1 reads (each view keeps its texture).
    _texels: Vec<wgpu::TextureView>,
}

struct Stage {
    pipeline: Arc<CachedPipeline>,
    bind_group: wgpu::BindGroup,
    /// Group 1 of a kernel that reads texels.
    texels_group: Option<wgpu::BindGroup>,
    groups: [u32; 3],
}

/// The bind group of `kernel`: `uniform` at binding 0 (none where the
/// params are immediates), `resources` (buffers, texture views) at 1.. in
/// order.
pub(crate) fn bind_resources<'a>(
    gpu: &Gpu,
    kernel: Kernel,
    pipeline: &CachedPipeline,
    uniform: Option<wgpu::BindingResource<'a>>,
    resources: Vec<wgpu::BindingResource<'a>>,
) -> wgpu::BindGroup {
    let entries: Vec<_> = std::iter::once(uniform)
        .chain(resources.into_iter().map(Some))
        .enumerate()
        .filter_map(|(i, resource)| {
            resource.map(|resource| wgpu::BindGroupEntry {
                binding: i as u32,
                resource,
            })
        })
        .collect();
    gpu.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(kernel.label()),
        layout: &pipeline.layout,
        entries: &entries,
    })
}

/// `resources` in the order `kernel`'s WGSL declares them after its params
/// (binding 1..), found by name; every declared binding must be given once.
fn in_declared_order<T>(kernel: Kernel, mut resources: Vec<(&'static str, T)>) -> Result<Vec<T>> {
    let declared = kernel.bindings();
    let wrong = |message: String| Error::Wgpu {
        during: format!("binding {}", kernel.label()),
        message,
    };
    let mut ordered = Vec::with_capacity(resources.len());
    for &(name, _) in declared.iter().skip(1) {
        let at = resources
            .iter()
            .position(|(given, _)| *given == name)
            .ok_or_else(|| wrong(format!("no resource named `{name}` given")))?;
        ordered.push(resources.swap_remove(at).1);
    }
    if let Some((extra, _)) = resources.first() {
        return Err(wrong(format!("`{extra}` is not a binding of the kernel")));
    }
    Ok(ordered)
}

impl Dispatch {
    /// Checks the grid against the device limits and binds `params` and
    /// `buffers`, each named as `kernel`'s WGSL declares it (the WGSL's
    /// declarations give the binding order), with its override `constants`.
    pub fn new<'b, P: Pod, B: Copy + Into<Bound<'b>>>(
        gpu: &Gpu,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
        params: &P,
        buffers: &[(&'static str, B)],
        groups: [u32; 3],
    ) -> Result<Self> {
        let resources = buffers
            .iter()
            .map(|&(name, b)| (name, b.into().resource()))
            .collect();
        Self::with_resources(gpu, kernel, constants, params, resources, groups)
    }

    /// [`Dispatch::new`] for any named resources (textures too).
    pub(crate) fn with_resources<P: Pod>(
        gpu: &Gpu,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
        params: &P,
        resources: Vec<(&'static str, wgpu::BindingResource<'_>)>,
        groups: [u32; 3],
    ) -> Result<Self> {
        let resources = in_declared_order(kernel, resources)?;
        gpu.check_dispatch(kernel.label(), groups)?;
        let pipeline = gpu.pipeline(&kernel.spec(), constants)?;
        let uniform = gpu.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(kernel.label()),
            contents: bytemuck::bytes_of(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = bind_resources(
            gpu,
            kernel,
            &pipeline,
            Some(uniform.as_entire_binding()),
            resources,
        );
        Ok(Self {
            stages: vec![Stage {
                pipeline,
                bind_group,
                texels_group: None,
                groups,
            }],
            _scratch: Vec::new(),
            _texels: Vec::new(),
        })
    }

    /// Binds `matrices` as group 1 of this (one-stage) dispatch, whose
    /// kernel reads them as texels, and keeps them alive with it.
    pub(crate) fn reading_texels(mut self, gpu: &Gpu, views: Vec<wgpu::TextureView>) -> Self {
        let stage = &mut self.stages[0];
        let layout = stage
            .pipeline
            .texels_layout
            .as_ref()
            .expect("a kernel that reads texels");
        let refs: Vec<&wgpu::TextureView> = views.iter().collect();
        stage.texels_group = Some(texels_bind_group(gpu, layout, &refs));
        self._texels.extend(views);
        self
    }

    /// This dispatch, then `next` (which may read what this one wrote).
    pub(crate) fn then(mut self, next: Dispatch) -> Self {
        self.stages.extend(next.stages);
        self._scratch.extend(next._scratch);
        self._texels.extend(next._texels);
        self
    }

    /// Keeps `scratch`, which the stages share, alive as long as they are.
    pub(crate) fn keeping(mut self, scratch: wgpu::Buffer) -> Self {
        self._scratch.push(scratch);
        self
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        for stage in &self.stages {
            pass.set_pipeline(&stage.pipeline.pipeline);
            pass.set_bind_group(0, &stage.bind_group, &[]);
            if let Some(texels) = &stage.texels_group {
                pass.set_bind_group(1, texels, &[]);
            }
            let [x, y, z] = stage.groups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// Records this dispatch alone and submits it (host helpers and tests).
    #[cfg(test)]
    pub(crate) fn submit_alone(&self, gpu: &Gpu, during: &'static str) -> Result<()> {
        submit_all(gpu, during, during, [self])
    }
}

/// Records `dispatches` in order, as kernel family `family`, submitted
/// (or recorded into a caller's encoder) as `how` says.
pub(crate) fn record_all<S: Submit>(
    gpu: &Gpu,
    during: &'static str,
    family: &'static str,
    dispatches: &[Dispatch],
    how: S,
) -> Result<S::Out> {
    how.submit(gpu, during, &|rec| {
        rec.run(family, |pass| {
            dispatches.iter().for_each(|d| d.record(pass))
        })
    })
}

/// Records `dispatches` in order, as kernel family `family`, and submits
/// them in one encoder.
pub(crate) fn submit_all<'a>(
    gpu: &Gpu,
    during: &'static str,
    family: &'static str,
    dispatches: impl IntoIterator<Item = &'a Dispatch>,
) -> Result<()> {
    submit(gpu, during, |rec| {
        rec.run(family, |pass| {
            dispatches.into_iter().for_each(|d| d.record(pass))
        })
    })
}

/// The group-1 bind group of a kernel that reads texture matrices:
/// `views` at bindings 0.. in order.
pub(crate) fn texels_bind_group(
    gpu: &Gpu,
    layout: &wgpu::BindGroupLayout,
    views: &[&wgpu::TextureView],
) -> wgpu::BindGroup {
    let entries: Vec<_> = views
        .iter()
        .enumerate()
        .map(|(i, &view)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: wgpu::BindingResource::TextureView(view),
        })
        .collect();
    gpu.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("texels"),
        layout,
        entries: &entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_resources_are_bound_in_the_declared_order() {
        // sequence/sequence.wgsl declares p, lengths, src, dst.
        let given = vec![("dst", 3), ("lengths", 1), ("src", 2)];
        assert_eq!(
            in_declared_order(Kernel::GatherSteps, given).unwrap(),
            [1, 2, 3]
        );
        let missing = vec![("dst", 3), ("src", 2)];
        let err = in_declared_order(Kernel::GatherSteps, missing).unwrap_err();
        assert!(err.to_string().contains("`lengths`"), "{err}");
        let extra = vec![("dst", 3), ("lengths", 1), ("src", 2), ("bias", 4)];
        let err = in_declared_order(Kernel::GatherSteps, extra).unwrap_err();
        assert!(err.to_string().contains("`bias`"), "{err}");
    }
}
