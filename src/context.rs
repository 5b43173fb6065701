//! The GPU context: instance, chosen adapter, device, queue, the features we
//! may use and the pipeline cache. One per process is the usual pattern; it is
//! cheap to clone (an `Arc`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::kernels::{Kernel, ModuleOptions, PipelineKey};

/// Environment variable naming the backend (`vulkan|metal|dx12|gl`).
pub const ENV_BACKEND: &str = "WGPU_RNN_BACKEND";
/// Environment variable with a substring of the adapter name to pick.
pub const ENV_ADAPTER: &str = "WGPU_RNN_ADAPTER";
/// Environment variable forcing the step kernels' workgroup tiles (1) or
/// direct reads (0).
pub const ENV_STEP_TILES: &str = "WGPU_RNN_STEP_TILES";
/// Environment variable forcing the persistent LSTM kernel on (1) or off (0).
pub const ENV_PERSISTENT: &str = "WGPU_RNN_PERSISTENT";
/// Environment variable turning the subgroup kernels of CPU adapters off (0).
pub const ENV_SUBGROUP_KERNELS: &str = "WGPU_RNN_SUBGROUP_KERNELS";
/// Environment variable forcing the subgroup step kernels' row operands
/// into texels (1) or not (0).
pub const ENV_ROW_TEXELS: &str = "WGPU_RNN_ROW_TEXELS";
/// Environment variable turning the per-step params as immediates off (0).
pub const ENV_IMMEDIATES: &str = "WGPU_RNN_IMMEDIATES";

/// The smallest row operand (h_{t-1}, da_i) whose packing into texels
/// before every step pays for its dispatch, in elements per row and in the
/// product's outputs per row (BENCHMARKS.md: a loss at K = 64, even at
/// K = 128, a gain from 256; the LSTM backward at H = 64, 256-long rows
/// into 64 outputs, loses too).
pub const ROW_TEXELS_MIN_LENGTH: usize = 128;

/// Which adapter to use. Empty fields mean "any"; among candidates, hardware
/// GPUs are preferred over CPU/software ones, and Vulkan over GL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterSelector {
    pub backend: Option<String>,
    pub name: Option<String>,
    /// Lower the device's `max_storage_buffer_binding_size` below the adapter's
    /// (to test the splitting and refusal paths without huge buffers).
    pub max_storage_binding: Option<u32>,
    /// Force the workgroup-tiled kernels (step kernels, big GEMMs) on or off
    /// (default: on for GPUs; off for CPU adapters, which run direct reads
    /// and 8x8 register-blocked GEMMs; `WGPU_RNN_STEP_TILES=1|0`).
    pub step_tiles: Option<bool>,
    /// Force the persistent LSTM kernel (one dispatch per chunk of steps)
    /// on or off where it applies (default: see [`Gpu::persistent_steps`];
    /// `WGPU_RNN_PERSISTENT=1|0`).
    pub persistent: Option<bool>,
    /// Turn off the subgroup kernels that CPU adapters with 8-lane
    /// subgroups use for big GEMMs and the per-step kernels (`Some(false)`,
    /// or `WGPU_RNN_SUBGROUP_KERNELS=0`); they cannot be forced on where the
    /// adapter lacks such subgroups, and forced workgroup tiles
    /// (`step_tiles`) turn them off.
    pub subgroup_kernels: Option<bool>,
    /// Force the subgroup step kernels to read their row operand (h_{t-1}
    /// forward, da_i backward) as texels packed before every step, or from
    /// its buffer (default: see [`Gpu::row_texels`];
    /// `WGPU_RNN_ROW_TEXELS=1|0`).
    pub row_texels: Option<bool>,
    /// Turn off the per-step kernels' params as immediates (`Some(false)`,
    /// or `WGPU_RNN_IMMEDIATES=0`): they then read them from one uniform
    /// array at a dynamic offset per step. They cannot be forced on where
    /// the device lacks the `IMMEDIATES` feature.
    pub immediates: Option<bool>,
}

impl AdapterSelector {
    /// Reads `WGPU_RNN_BACKEND` and `WGPU_RNN_ADAPTER`.
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            backend: get(ENV_BACKEND),
            name: get(ENV_ADAPTER),
            max_storage_binding: None,
            step_tiles: get(ENV_STEP_TILES).map(|v| v != "0"),
            persistent: get(ENV_PERSISTENT).map(|v| v != "0"),
            subgroup_kernels: get(ENV_SUBGROUP_KERNELS).map(|v| v != "0"),
            row_texels: get(ENV_ROW_TEXELS).map(|v| v != "0"),
            immediates: get(ENV_IMMEDIATES).map(|v| v != "0"),
        }
    }

    fn backends(&self) -> Result<wgpu::Backends> {
        match self
            .backend
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(wgpu::Backends::all()),
            Some("vulkan") => Ok(wgpu::Backends::VULKAN),
            Some("metal") => Ok(wgpu::Backends::METAL),
            Some("dx12") => Ok(wgpu::Backends::DX12),
            Some("gl") => Ok(wgpu::Backends::GL),
            Some(other) => Err(Error::UnknownBackend(other.to_string())),
        }
    }
}

/// Optional capabilities present on the device (requested when the adapter
/// has them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub shader_f16: bool,
    pub timestamp_query: bool,
    pub subgroup: bool,
    pub immediates: bool,
}

struct Inner {
    instance: wgpu::Instance,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    caps: Capabilities,
    limits: wgpu::Limits,
    step_tiles: bool,
    persistent: Option<bool>,
    subgroup_kernels: bool,
    row_texels: Option<bool>,
    immediates: bool,
    cpu: bool,
    pipelines: Mutex<HashMap<PipelineKey, Arc<CachedPipeline>>>,
    /// How many pipelines were compiled (for the cache test).
    compiled: std::sync::atomic::AtomicUsize,
}

/// A compiled pipeline and the bind group layout it was built with.
pub struct CachedPipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Group 1 of a kernel that [`Kernel::reads_texels`].
    pub texels_layout: Option<wgpu::BindGroupLayout>,
}

/// A GPU device ready to run the crate's kernels.
#[derive(Clone)]
pub struct Gpu {
    inner: Arc<Inner>,
}

impl fmt::Debug for Gpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gpu({})", describe_adapter(&self.inner.info))
    }
}

/// One line: name, backend, driver, device type.
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} ({:?}, driver {} {}, {:?})",
        info.name, info.backend, info.driver, info.driver_info, info.device_type
    )
}

fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    // GL adapters are a last resort: lavapipe also shows up through GL.
    let backend = u8::from(info.backend == wgpu::Backend::Gl);
    (backend, device)
}

fn matches_name(adapter: &wgpu::Adapter, sel: &AdapterSelector) -> bool {
    let name = adapter.get_info().name.to_lowercase();
    sel.name
        .as_ref()
        .is_none_or(|n| name.contains(&n.to_lowercase()))
}

fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

/// Every adapter wgpu can see on every backend, for `wgpu-rnn info`.
pub fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = new_instance(wgpu::Backends::all());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| a.get_info())
        .collect()
}

impl Gpu {
    /// Picks an adapter as `WGPU_RNN_BACKEND` / `WGPU_RNN_ADAPTER` say.
    pub fn new() -> Result<Self> {
        Self::with_selector(&AdapterSelector::from_env())
    }

    /// Picks an adapter by backend and name substring (case-insensitive).
    pub fn with_selector(sel: &AdapterSelector) -> Result<Self> {
        pollster::block_on(Self::with_selector_async(sel))
    }

    pub async fn with_selector_async(sel: &AdapterSelector) -> Result<Self> {
        let backends = sel.backends()?;
        // Without a backend named, try the native APIs first and GL only when
        // they have nothing: probing GL (EGL) is slow and noisy, and lavapipe
        // shows up through both.
        let mut tried = None;
        for tier in [wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY] {
            let tier = tier & backends;
            if tier.is_empty() {
                continue;
            }
            let instance = new_instance(tier);
            let adapters = instance.enumerate_adapters(tier).await;
            let found = adapters.iter().any(|a| matches_name(a, sel));
            tried = Some((instance, adapters));
            if found {
                break;
            }
        }
        // `backends` is never empty, so at least one tier was tried.
        let (instance, adapters) = tried.unwrap_or_else(|| (new_instance(backends), Vec::new()));
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| describe_adapter(&a.get_info()))
            .collect();
        let adapter = adapters
            .into_iter()
            .filter(|a| matches_name(a, sel))
            .min_by_key(|a| rank(&a.get_info()))
            .ok_or_else(|| Error::NoAdapter {
                backend: sel.backend.clone(),
                name: sel.name.clone(),
                seen,
            })?;
        let info = adapter.get_info();
        let have = adapter.features();
        let optional = wgpu::Features::SHADER_F16
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::SUBGROUP
            | wgpu::Features::IMMEDIATES;
        let features = have & optional;
        let mut limits = adapter.limits();
        if let Some(cap) = sel.max_storage_binding {
            let cap = u64::from(cap).min(limits.max_storage_buffer_binding_size);
            limits.max_storage_buffer_binding_size = cap;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-rnn"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::RequestDevice {
                adapter: describe_adapter(&info),
                reason: e.to_string(),
            })?;
        let caps = Capabilities {
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroup: features.contains(wgpu::Features::SUBGROUP),
            immediates: features.contains(wgpu::Features::IMMEDIATES),
        };
        // Measured on lavapipe: workgroup barriers cost more than the cache
        // misses they save (BENCHMARKS.md).
        let step_tiles = sel
            .step_tiles
            .unwrap_or(info.device_type != wgpu::DeviceType::Cpu);
        Ok(Self {
            inner: Arc::new(Inner {
                limits: device.limits(),
                step_tiles,
                persistent: sel.persistent,
                // The kernels hard-code 8 lanes, the width llvmpipe uses
                // with AVX2; they are written for (and measured on) CPU
                // adapters only, and give way to forced workgroup tiles
                // (which then test the GPU kernels on a CPU adapter).
                subgroup_kernels: sel.subgroup_kernels != Some(false)
                    && info.device_type == wgpu::DeviceType::Cpu
                    && !step_tiles
                    && caps.subgroup
                    && info.subgroup_min_size == 8
                    && info.subgroup_max_size == 8,
                row_texels: sel.row_texels,
                // Every per-step params struct is 32 bytes.
                immediates: sel.immediates != Some(false)
                    && caps.immediates
                    && limits.max_immediate_size >= 32,
                cpu: info.device_type == wgpu::DeviceType::Cpu,
                instance,
                adapter,
                device,
                queue,
                info,
                caps,
                pipelines: Mutex::new(HashMap::new()),
                compiled: Default::default(),
            }),
        })
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.inner.adapter
    }
    pub fn instance(&self) -> &wgpu::Instance {
        &self.inner.instance
    }
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }
    pub fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }
    /// The limits the device was created with (and enforces).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }
    /// Whether step kernels stage `h_{t-1}` in workgroup memory and big
    /// GEMMs use workgroup tiles (GPUs), or not (CPU adapters).
    pub fn step_tiles(&self) -> bool {
        self.inner.step_tiles
    }

    /// Whether big GEMMs and LSTM steps run the subgroup kernels (CPU
    /// adapters with 8-lane subgroups: values shared across lanes by
    /// subgroup broadcasts instead of loaded by every lane; see
    /// `shaders/subgroup.wgsl`).
    pub fn subgroup_kernels(&self) -> bool {
        self.inner.subgroup_kernels
    }

    /// Whether the per-step kernels take their params as immediates
    /// (`var<immediate>`, one `set_immediates` per dispatch) rather than
    /// from one uniform array at a dynamic offset per step: where the
    /// device has `IMMEDIATES` (Vulkan push constants) and the selector does
    /// not turn it off.
    pub fn immediate_params(&self) -> bool {
        self.inner.immediates
    }

    /// Whether a subgroup step kernel whose row operand has `len` elements
    /// per row, multiplied into `outputs` values per row, reads it as
    /// texels packed before every step (forced by the selector, else where
    /// both reach [`ROW_TEXELS_MIN_LENGTH`]).
    pub fn row_texels(&self, len: usize, outputs: usize) -> bool {
        self.inner
            .row_texels
            .unwrap_or(len.min(outputs) >= ROW_TEXELS_MIN_LENGTH)
    }

    /// Whether an LSTM layer (no projection, H <= 256) of this batch and
    /// hidden size runs the persistent kernels (one dispatch per chunk of
    /// steps: the forward, and in training the backward too) instead of one
    /// dispatch per step. Forced by the selector, else:
    /// - CPU adapters: where it measured faster on lavapipe (BENCHMARKS.md):
    ///   with the subgroup kernels (its weights then as texels) B = 1 and
    ///   H <= 64; without them H <= 32, or H <= 64 with B <= 4 (the
    ///   per-step grid is then one workgroup as well; with more units it
    ///   spreads over more cores).
    /// - GPUs: batches up to 16, where a launch per step is most of the
    ///   time (not yet measured on a GPU).
    pub fn persistent_steps(&self, batch: usize, hidden: usize) -> bool {
        let default = if self.inner.cpu {
            if self.inner.subgroup_kernels {
                // Weights as texels: one row of up to 64 units. With more
                // rows (one workgroup per 4) or units the subgroup step
                // kernels spread better over the cores (BENCHMARKS.md,
                // "The persistent LSTM reads texels").
                batch == 1 && hidden <= 64
            } else {
                hidden <= 32 || (hidden <= 64 && batch <= 4)
            }
        } else {
            batch <= 16
        };
        self.inner.persistent.unwrap_or(default)
    }

    /// One line describing the adapter.
    pub fn describe(&self) -> String {
        describe_adapter(&self.inner.info)
    }

    /// Number of pipelines compiled so far (each key compiles once).
    pub fn pipelines_compiled(&self) -> usize {
        self.inner
            .compiled
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The pipeline for `kernel` with these override constants, compiled on
    /// first use. The cache lock is held while compiling so that concurrent
    /// callers of the same key compile it once.
    pub(crate) fn pipeline(
        &self,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
    ) -> Result<Arc<CachedPipeline>> {
        let key = PipelineKey::new(kernel, constants);
        let mut cache = self
            .inner
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let device = &self.inner.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let options = ModuleOptions::from_constants(constants);
        if options.f16_weights && !self.capabilities().shader_f16 {
            return Err(Error::config(
                "precision f16",
                format!("the adapter {} has no SHADER_F16", self.describe()),
            ));
        }
        if options.immediates()
            && !(self.capabilities().immediates
                && options.immediate_bytes <= self.limits().max_immediate_size)
        {
            return Err(Error::config(
                "immediate params",
                format!(
                    "{} bytes asked for; the device has immediates: {}, max_immediate_size {}",
                    options.immediate_bytes,
                    self.capabilities().immediates,
                    self.limits().max_immediate_size
                ),
            ));
        }
        let overrides = ModuleOptions::overrides(constants);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.label()),
            source: wgpu::ShaderSource::Wgsl(kernel.module_source(options).into()),
        });
        let layout = kernel.bind_group_layout(device, options);
        let texels_layout = kernel
            .reads_texels()
            .then(|| kernel.texels_group_layout(device));
        let mut groups = vec![Some(&layout)];
        groups.extend(texels_layout.as_ref().map(Some));
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.label()),
            bind_group_layouts: &groups,
            immediate_size: options.immediate_bytes,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.label()),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(kernel.entry_point()),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &overrides,
                // Every kernel writes its workgroup tiles before reading them.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Wgpu {
                during: format!("compiling {}", kernel.label()),
                message: e.to_string(),
            });
        }
        self.inner
            .compiled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let entry = Arc::new(CachedPipeline {
            pipeline,
            layout,
            texels_layout,
        });
        cache.insert(key, entry.clone());
        Ok(entry)
    }

    /// Runs `f` (which records and submits work) inside validation and
    /// out-of-memory error scopes, turning any wgpu error into [`Error::Wgpu`].
    pub(crate) fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        let device = &self.inner.device;
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        match errors.into_iter().flatten().next() {
            None => Ok(out),
            Some(e) => Err(Error::Wgpu {
                during: during.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Checks one storage binding of `bytes` against the device limit.
    pub(crate) fn check_storage_binding(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.inner.limits.max_storage_buffer_binding_size;
        if bytes > limit {
            return Err(Error::OverLimit {
                what: what.to_string(),
                requested: bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit,
            });
        }
        let limit = self.inner.limits.max_buffer_size;
        if bytes > limit {
            return Err(Error::OverLimit {
                what: what.to_string(),
                requested: bytes,
                limit_name: "max_buffer_size",
                limit,
            });
        }
        Ok(())
    }

    /// Checks a dispatch size against `max_compute_workgroups_per_dimension`.
    pub(crate) fn check_dispatch(&self, what: &str, groups: [u32; 3]) -> Result<()> {
        let limit = self.inner.limits.max_compute_workgroups_per_dimension;
        match groups.iter().find(|&&g| g > limit) {
            None => Ok(()),
            Some(&g) => Err(Error::OverLimit {
                what: what.to_string(),
                requested: u64::from(g),
                limit_name: "max_compute_workgroups_per_dimension",
                limit: u64::from(limit),
            }),
        }
    }
}

impl Gpu {
    /// Whether two handles share one device (tensors must not cross devices).
    pub fn same_device(&self, other: &Gpu) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
