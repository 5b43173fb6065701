//! Compiled pipelines: what a kernel is to the device (its WGSL, entry
//! point and bindings, [`KernelSpec`]), how one module is specialized
//! ([`ModuleOptions`], override constants) and the cache that compiles each
//! specialization once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Not a WGSL override: set to 1 among a kernel's constants, it compiles
/// the module with `Weight` = f16 (`enable f16`), the element type of the
/// step kernels' weight bindings and of what the repacking kernels write;
/// without it `Weight` is f32. See [`crate::Precision`].
pub(crate) const F16_WEIGHTS: &str = "F16_WEIGHTS";

/// Not a WGSL override: set to the params struct's size in bytes among a
/// kernel's constants, it compiles the module with its params `p` as
/// immediates (`var<immediate>`, set per dispatch by `set_immediates`)
/// instead of the uniform at group 0 binding 0, which the bind group then
/// lacks. For the per-step kernels where [`crate::gpu::Tuning::immediates`].
pub(crate) const IMMEDIATE_PARAMS: &str = "IMMEDIATE_PARAMS";

/// How every kernel declares its params (the one uniform at binding 0).
pub(crate) const PARAMS_UNIFORM: &str = "@group(0) @binding(0) var<uniform> p:";

/// What the device needs to know of one kernel (a row of the registry in
/// `crate::kernels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSpec {
    /// Pipeline and profile name, unique among kernels.
    pub label: &'static str,
    pub entry: &'static str,
    pub params: ParamsBinding,
    /// The module's WGSL: its files concatenated.
    pub source: &'static str,
}

/// How a kernel's params uniform is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsBinding {
    /// One uniform per dispatch.
    Uniform,
    /// One buffer of every step's params read at a dynamic offset (or
    /// immediates): the kernels dispatched once per time step.
    PerStep,
}

/// How a binding is declared in a kernel's bind group layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// `var<uniform>` read at a per-dispatch dynamic offset.
    UniformDynamic,
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    StorageRead,
    /// `var<storage, read_write>`.
    StorageReadWrite,
    /// `texture_2d<f32>` read with `textureLoad` (see `subgroup/texels.wgsl`).
    Texels,
    /// `texture_storage_2d<rgba32float, write>`.
    TexelsWrite,
}

/// Every `@group(group) @binding(i) var… name: type;` of `source`, in
/// binding order, as `(name, kind)`. The WGSL is the one place bindings
/// are written; layouts are built from this. Panics where the declarations
/// leave a gap or repeat a binding (the registry test runs this on every
/// kernel).
impl BindingKind {
    /// Whether the binding counts against `max_storage_buffers_per_shader_stage`.
    pub fn is_storage_buffer(self) -> bool {
        matches!(self, Self::StorageRead | Self::StorageReadWrite)
    }
}

pub(crate) fn declared_bindings(source: &str, group: u32) -> Vec<(&str, BindingKind)> {
    let prefix = format!("@group({group}) @binding(");
    let mut found: Vec<(u32, &str, BindingKind)> = Vec::new();
    for (at, _) in source.match_indices(&prefix) {
        let rest = &source[at + prefix.len()..];
        let Some((number, rest)) = rest.split_once(')') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("var") else {
            continue;
        };
        let Ok(binding) = number.parse::<u32>() else {
            continue;
        };
        let (qualifier, rest) = match rest.strip_prefix('<') {
            Some(r) => r.split_once('>').unwrap_or(("", r)),
            None => ("", rest),
        };
        let Some((name, ty)) = rest.split_once(':') else {
            continue;
        };
        let ty = ty.split(';').next().unwrap_or("");
        let kind = match qualifier.replace(' ', "").as_str() {
            "uniform" => BindingKind::Uniform,
            "storage,read" => BindingKind::StorageRead,
            "storage,read_write" => BindingKind::StorageReadWrite,
            _ if ty.contains("texture_storage") => BindingKind::TexelsWrite,
            _ if ty.contains("texture_2d") => BindingKind::Texels,
            other => panic!(
                "binding {binding} `{}`: unknown declaration <{other}>",
                name.trim()
            ),
        };
        found.push((binding, name.trim(), kind));
    }
    found.sort_by_key(|&(b, _, _)| b);
    for (i, &(b, name, _)) in found.iter().enumerate() {
        assert_eq!(
            b as usize, i,
            "binding {b} ({name}): bindings must run 0, 1, 2, ..."
        );
    }
    found.into_iter().map(|(_, n, k)| (n, k)).collect()
}

impl KernelSpec {
    /// Group 0's bindings: the params uniform (dynamic for per-step
    /// kernels) then the buffers, in binding order.
    pub fn bindings(&self) -> Vec<(&'static str, BindingKind)> {
        let mut bindings = declared_bindings(self.source, 0);
        if let (Some(first), ParamsBinding::PerStep) = (bindings.first_mut(), self.params) {
            first.1 = BindingKind::UniformDynamic;
        }
        bindings
    }

    /// How many texture matrices group 1 binds (0: no group 1).
    pub fn texel_matrices(&self) -> u32 {
        declared_bindings(self.source, 1).len() as u32
    }

    /// The WGSL compiled for `options`: the `Weight` alias, and the params
    /// as immediates where asked for.
    pub fn module_source(&self, options: ModuleOptions) -> String {
        let mut source = self.source.to_string();
        if options.immediates() {
            source = source.replace(PARAMS_UNIFORM, "var<immediate> p:");
        }
        if options.f16_weights {
            source = source.replace(
                "texture_storage_2d<rgba32float, write>",
                "texture_storage_2d<rgba16float, write>",
            );
            format!("enable f16;\nalias Weight = f16;\n{source}")
        } else {
            format!("alias Weight = f32;\n{source}")
        }
    }

    /// The layout of group 0 of the module built with `options` (no
    /// binding 0 with immediates).
    fn bind_group_layout(
        &self,
        device: &wgpu::Device,
        options: ModuleOptions,
    ) -> wgpu::BindGroupLayout {
        let first = usize::from(options.immediates());
        let entries: Vec<_> = self
            .bindings()
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, &(_, kind))| binding_layout(i as u32, kind, options.f16_weights))
            .collect();
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(self.label),
            entries: &entries,
        })
    }

    /// The layout of group 1 (texture matrices), where there is one.
    fn texels_group_layout(&self, device: &wgpu::Device) -> Option<wgpu::BindGroupLayout> {
        let count = self.texel_matrices();
        (count > 0).then(|| {
            let entries: Vec<_> = (0..count)
                // The sample type takes f32 and f16 texels alike.
                .map(|i| binding_layout(i, BindingKind::Texels, false))
                .collect();
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("texels"),
                entries: &entries,
            })
        })
    }
}

/// The texture format the packing kernels write and the subgroup kernels
/// read.
pub(crate) fn texel_format(f16: bool) -> wgpu::TextureFormat {
    if f16 {
        wgpu::TextureFormat::Rgba16Float
    } else {
        wgpu::TextureFormat::Rgba32Float
    }
}

fn binding_layout(binding: u32, kind: BindingKind, f16: bool) -> wgpu::BindGroupLayoutEntry {
    use BindingKind::*;
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: match kind {
            UniformDynamic | Uniform => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: kind == UniformDynamic,
                min_binding_size: None,
            },
            StorageRead | StorageReadWrite => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage {
                    read_only: kind == StorageRead,
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            Texels => wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            TexelsWrite => wgpu::BindingType::StorageTexture {
                access: wgpu::StorageTextureAccess::WriteOnly,
                format: texel_format(f16),
                view_dimension: wgpu::TextureViewDimension::D2,
            },
        },
        count: None,
    }
}

/// How a module is compiled beyond its override constants: what the
/// pseudo-constants [`F16_WEIGHTS`] and [`IMMEDIATE_PARAMS`] ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleOptions {
    pub f16_weights: bool,
    /// Size of the params struct read as immediates; 0: a uniform.
    pub immediate_bytes: u32,
}

impl ModuleOptions {
    pub fn from_constants(constants: &[(&'static str, f64)]) -> Self {
        let mut options = Self::default();
        for &(k, v) in constants {
            match k {
                F16_WEIGHTS => options.f16_weights = v != 0.0,
                IMMEDIATE_PARAMS => options.immediate_bytes = v as u32,
                _ => {}
            }
        }
        options
    }

    /// `constants` without the pseudo-constants: the WGSL overrides.
    pub fn overrides(constants: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
        constants
            .iter()
            .copied()
            .filter(|&(k, _)| k != F16_WEIGHTS && k != IMMEDIATE_PARAMS)
            .collect()
    }

    pub fn immediates(self) -> bool {
        self.immediate_bytes > 0
    }
}

/// A compiled pipeline and the bind group layouts it was built with.
pub struct CachedPipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Group 1 of a kernel that reads texture matrices.
    pub texels_layout: Option<wgpu::BindGroupLayout>,
}

/// Cache key: the kernel's label plus its constants (values by bit
/// pattern, sorted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    label: &'static str,
    constants: Vec<(&'static str, u64)>,
}

/// Every pipeline compiled on one device, each key once.
#[derive(Default)]
pub(crate) struct PipelineCache {
    pipelines: Mutex<HashMap<PipelineKey, Arc<CachedPipeline>>>,
    compiled: AtomicUsize,
    /// Every module compiled, as the device got it (the translation test
    /// runs them through naga's other back ends).
    #[cfg(test)]
    pub modules: Mutex<Vec<CompiledModule>>,
}

/// A module as compiled: its source after the host's rewriting, the entry
/// point and the override constants.
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct CompiledModule {
    pub label: &'static str,
    pub entry: &'static str,
    pub source: String,
    pub overrides: Vec<(&'static str, f64)>,
}

impl PipelineCache {
    pub fn compiled(&self) -> usize {
        self.compiled.load(Ordering::SeqCst)
    }

    /// The pipeline of `spec` with `constants`, compiled on first use by
    /// `compile` (which checks what the options need of the device). The
    /// lock is held while compiling so that concurrent callers of one key
    /// compile it once.
    pub fn get(
        &self,
        device: &wgpu::Device,
        spec: &KernelSpec,
        constants: &[(&'static str, f64)],
        check: impl FnOnce(ModuleOptions) -> Result<()>,
    ) -> Result<Arc<CachedPipeline>> {
        let mut sorted: Vec<_> = constants.iter().map(|&(k, v)| (k, v.to_bits())).collect();
        sorted.sort_unstable();
        let key = PipelineKey {
            label: spec.label,
            constants: sorted,
        };
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let options = ModuleOptions::from_constants(constants);
        check(options)?;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let overrides = ModuleOptions::overrides(constants);
        let source = spec.module_source(options);
        #[cfg(test)]
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(CompiledModule {
                label: spec.label,
                entry: spec.entry,
                source: source.clone(),
                overrides: overrides.clone(),
            });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(spec.label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let layout = spec.bind_group_layout(device, options);
        let texels_layout = spec.texels_group_layout(device);
        let mut groups = vec![Some(&layout)];
        groups.extend(texels_layout.as_ref().map(Some));
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(spec.label),
            bind_group_layouts: &groups,
            immediate_size: options.immediate_bytes,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &overrides,
                // Every kernel writes its workgroup tiles before reading them.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(e) = super::ready(scope.pop()).flatten() {
            return Err(Error::Wgpu {
                during: format!("compiling {}", spec.label),
                message: e.to_string(),
            });
        }
        self.compiled.fetch_add(1, Ordering::SeqCst);
        let entry = Arc::new(CachedPipeline {
            pipeline,
            layout,
            texels_layout,
        });
        cache.insert(key, entry.clone());
        Ok(entry)
    }
}
