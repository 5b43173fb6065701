//! The GPU context: instance, chosen adapter, device, queue, the features we
//! may use and the pipeline cache. One per process is the usual pattern; it is
//! cheap to clone (an `Arc`).

pub(crate) mod pipelines;
pub(crate) mod recorder;
pub(crate) mod tensor;
mod tuning;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use pipelines::{CachedPipeline, KernelSpec, PipelineCache};
pub use recorder::KernelProfile;
pub use tensor::{GpuTensor, TENSOR_USAGE};
use tuning::AdapterFacts;
pub use tuning::Tuning;
pub(crate) use tuning::SUBGROUP_LANES;
pub(crate) use tuning::{GemmPath, GEMM_BUSY_GROUPS, GEMM_K_PER_SPLIT};

/// Environment variable naming the backend (`vulkan|metal|dx12|gl`).
pub const ENV_BACKEND: &str = "WGPU_RNN_BACKEND";
/// Environment variable with a substring of the adapter name to pick.
pub const ENV_ADAPTER: &str = "WGPU_RNN_ADAPTER";
/// Environment variable choosing every default as for a GPU (1) or as for a
/// CPU adapter (0), whatever device type the adapter reports.
pub const ENV_GPU_TUNING: &str = "WGPU_RNN_GPU_TUNING";
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
/// Environment variable forcing a stream's fused step (one dispatch per call
/// for the whole stack) on (1) or off (0).
pub const ENV_FUSED_STREAM: &str = "WGPU_RNN_FUSED_STREAM";

/// Which adapter to use. Empty fields mean "any"; among candidates, hardware
/// GPUs are preferred over CPU/software ones, and Vulkan over GL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterSelector {
    /// Backend name (`vulkan`, `metal`, `dx12`, `gl`; case-insensitive).
    pub backend: Option<String>,
    /// Substring of the adapter name (case-insensitive).
    pub name: Option<String>,
    /// Lower the device's `max_storage_buffer_binding_size` below the adapter's
    /// (to test the splitting and refusal paths without huge buffers).
    pub max_storage_binding: Option<u32>,
    /// Choose every kernel default as for a GPU (`Some(true)`) or as for a
    /// CPU adapter (`Some(false)`) whatever device type the adapter
    /// reports (default: its device type; `WGPU_RNN_GPU_TUNING=1|0`). Run a
    /// software driver with `Some(true)` to exercise the paths a GPU takes.
    /// The fields below override single choices on top of it.
    pub gpu_tuning: Option<bool>,
    /// Force the workgroup-tiled kernels (step kernels, big GEMMs) on or off
    /// (default: on for GPUs; off for CPU adapters, which run direct reads
    /// and 8x8 register-blocked GEMMs; `WGPU_RNN_STEP_TILES=1|0`).
    pub step_tiles: Option<bool>,
    /// Force the persistent LSTM kernel (one dispatch per chunk of steps)
    /// on or off where it applies (default: see [`Tuning::persistent_steps`];
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
    /// its buffer (default: see [`Tuning::row_texels`];
    /// `WGPU_RNN_ROW_TEXELS=1|0`).
    pub row_texels: Option<bool>,
    /// Force a [`crate::Stream`]'s fused step (one dispatch per call for
    /// the whole stack) on or off for f32 stacks (default: see
    /// [`Tuning::fused_stream`]; `WGPU_RNN_FUSED_STREAM=1|0`).
    pub fused_stream: Option<bool>,
    /// Turn off the per-step kernels' params as immediates (`Some(false)`,
    /// or `WGPU_RNN_IMMEDIATES=0`): they then read them from one uniform
    /// array at a dynamic offset per step. They cannot be forced on where
    /// the device lacks the `IMMEDIATES` feature.
    pub immediates: Option<bool>,
}

impl AdapterSelector {
    /// Reads `WGPU_RNN_BACKEND`, `WGPU_RNN_ADAPTER` and the tuning
    /// overrides (`WGPU_RNN_GPU_TUNING`, `WGPU_RNN_STEP_TILES`, ...).
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            backend: get(ENV_BACKEND),
            name: get(ENV_ADAPTER),
            max_storage_binding: None,
            gpu_tuning: get(ENV_GPU_TUNING).map(|v| v != "0"),
            step_tiles: get(ENV_STEP_TILES).map(|v| v != "0"),
            persistent: get(ENV_PERSISTENT).map(|v| v != "0"),
            subgroup_kernels: get(ENV_SUBGROUP_KERNELS).map(|v| v != "0"),
            row_texels: get(ENV_ROW_TEXELS).map(|v| v != "0"),
            immediates: get(ENV_IMMEDIATES).map(|v| v != "0"),
            fused_stream: get(ENV_FUSED_STREAM).map(|v| v != "0"),
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
    /// `SHADER_F16`: f16 arithmetic in shaders (needed by [`Precision::F16`](crate::Precision::F16)).
    pub shader_f16: bool,
    /// `TIMESTAMP_QUERY`: GPU timestamps for kernel profiles.
    pub timestamp_query: bool,
    /// `SUBGROUP`: subgroup operations in compute shaders.
    pub subgroup: bool,
    /// `IMMEDIATES`: per-dispatch immediate data (the per-step params).
    pub immediates: bool,
}

struct Inner {
    /// `None` for an app's device ([`Gpu::from_wgpu`]).
    instance: Option<wgpu::Instance>,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    caps: Capabilities,
    limits: wgpu::Limits,
    tuning: Tuning,
    pipelines: PipelineCache,
    /// Buffers, bind groups, textures and query sets made through
    /// [`Gpu::created`]'s helpers: what a steady-state call must not add to.
    created: AtomicU64,
    /// What our own device's callbacks reported (an app's device keeps the
    /// app's callbacks).
    health: Arc<Health>,
}

/// Device loss and errors outside any error scope, as the device's
/// callbacks report them.
#[derive(Default)]
struct Health {
    lost: std::sync::Mutex<Option<String>>,
    uncaptured: std::sync::Mutex<Option<String>>,
}

impl Health {
    /// Routes `device`'s loss and uncaptured errors here (instead of
    /// wgpu's default handler, which panics).
    fn watch(self: &Arc<Self>, device: &wgpu::Device) {
        let health = self.clone();
        device.set_device_lost_callback(move |reason, message| {
            let reason = match message.is_empty() {
                true => format!("{reason:?}"),
                false => format!("{reason:?}: {message}"),
            };
            *health.lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        });
        let health = self.clone();
        device.on_uncaptured_error(Arc::new(move |error| {
            let mut slot = health.uncaptured.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| error.to_string());
        }));
    }
}

/// The optional features the crate uses where a device has them: f16
/// weights, kernel profiles, the subgroup kernels and per-step params as
/// immediates. Every kernel runs without them (on the plain kernels).
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::IMMEDIATES);

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
#[cfg(not(target_arch = "wasm32"))]
pub fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = new_instance(wgpu::Backends::all());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| a.get_info())
        .collect()
}

impl Gpu {
    /// Picks an adapter as `WGPU_RNN_BACKEND` / `WGPU_RNN_ADAPTER` say.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        Self::with_selector(&AdapterSelector::from_env())
    }

    /// Picks an adapter by backend and name substring (case-insensitive).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_selector(sel: &AdapterSelector) -> Result<Self> {
        pollster::block_on(Self::with_selector_async(sel))
    }

    /// [`Gpu::new`] without blocking: the constructor for the browser
    /// (WebGPU), where a thread must never wait.
    pub async fn new_async() -> Result<Self> {
        Self::with_selector_async(&AdapterSelector::from_env()).await
    }

    /// [`Gpu::with_selector`] without blocking.
    pub async fn with_selector_async(sel: &AdapterSelector) -> Result<Self> {
        let backends = sel.backends()?;
        // Without a backend named, try the native APIs first and GL only when
        // they have nothing: probing GL (EGL) is slow and noisy, and lavapipe
        // shows up through both.
        let mut tried = None;
        // Every adapter of every tier tried, for the error.
        let mut seen: Vec<String> = Vec::new();
        for tier in [wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY] {
            let tier = tier & backends;
            if tier.is_empty() {
                continue;
            }
            let instance = new_instance(tier);
            let adapters = instance.enumerate_adapters(tier).await;
            seen.extend(adapters.iter().map(|a| describe_adapter(&a.get_info())));
            let found = adapters.iter().any(|a| matches_name(a, sel));
            tried = Some((instance, adapters));
            if found {
                break;
            }
        }
        // `backends` is never empty, so at least one tier was tried.
        let (instance, adapters) = tried.unwrap_or_else(|| (new_instance(backends), Vec::new()));
        let adapter = adapters
            .into_iter()
            .filter(|a| matches_name(a, sel))
            .min_by_key(|a| rank(&a.get_info()))
            .ok_or_else(|| Error::NoAdapter {
                backend: sel.backend.clone(),
                name: sel.name.clone(),
                seen,
            })?;
        Self::open(instance, &adapter, sel).await
    }

    /// A device on every adapter of every backend that `sel`'s backend and
    /// name allow, with `sel`'s tuning overrides, in wgpu's order: what
    /// `wgpu-rnn info --all` describes. An adapter that would not give a
    /// device is an error in its place.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn every_adapter(sel: &AdapterSelector) -> Result<Vec<Result<Self>>> {
        let backends = sel.backends()?;
        let instance = new_instance(backends);
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        Ok(adapters
            .iter()
            .filter(|a| matches_name(a, sel))
            .map(|a| pollster::block_on(Self::open(instance.clone(), a, sel)))
            .collect())
    }

    /// A device on `adapter` with the recommended features and limits (the
    /// storage binding size capped as `sel` says), watched by our own
    /// loss and error handlers.
    async fn open(
        instance: wgpu::Instance,
        adapter: &wgpu::Adapter,
        sel: &AdapterSelector,
    ) -> Result<Self> {
        let mut limits = Self::recommended_limits(adapter);
        if let Some(cap) = sel.max_storage_binding {
            let cap = u64::from(cap).min(limits.max_storage_buffer_binding_size);
            limits.max_storage_buffer_binding_size = cap;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-rnn"),
                required_features: Self::recommended_features(adapter),
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::RequestDevice {
                adapter: describe_adapter(&adapter.get_info()),
                reason: e.to_string(),
            })?;
        let health = Arc::new(Health::default());
        health.watch(&device);
        Ok(Self::from_parts(
            Some(instance),
            adapter,
            (device, queue),
            sel,
            health,
        ))
    }

    /// Runs on a device the app made (wgpu's handles are cheap clones of
    /// one device). Kernels are chosen from the features and limits the
    /// device was created with: without `SUBGROUP`, `SHADER_F16`,
    /// `IMMEDIATES` or `TIMESTAMP_QUERY` every cell still runs, on the plain
    /// kernels (f16 weights and profiles are then refused); a size over a
    /// limit is an [`Error::OverLimit`] naming it. Ask for
    /// [`Gpu::recommended_features`] and [`Gpu::recommended_limits`] when
    /// creating the device to get the fast paths and the largest sizes. The
    /// tuning overrides of [`AdapterSelector::from_env`] apply.
    pub fn from_wgpu(adapter: &wgpu::Adapter, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        Self::from_wgpu_tuned(adapter, device, queue, &AdapterSelector::from_env())
    }

    /// [`Gpu::from_wgpu`] with the kernel choices `tuning` forces (its
    /// `step_tiles`, `persistent`, `subgroup_kernels`, `row_texels`,
    /// `immediates` and `fused_stream`; the adapter fields are ignored).
    pub fn from_wgpu_tuned(
        adapter: &wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        tuning: &AdapterSelector,
    ) -> Self {
        Self::from_parts(None, adapter, (device, queue), tuning, Arc::default())
    }

    /// The features to request from `adapter` for every fast path: those of
    /// [`OPTIONAL_FEATURES`] that it has.
    pub fn recommended_features(adapter: &wgpu::Adapter) -> wgpu::Features {
        adapter.features() & OPTIONAL_FEATURES
    }

    /// The limits to request from `adapter` for the largest layers and
    /// batches: all it offers (the storage binding size bounds a layer's
    /// `T*B*G*H`, immediates carry the per-step params).
    pub fn recommended_limits(adapter: &wgpu::Adapter) -> wgpu::Limits {
        adapter.limits()
    }

    fn from_parts(
        instance: Option<wgpu::Instance>,
        adapter: &wgpu::Adapter,
        (device, queue): (wgpu::Device, wgpu::Queue),
        sel: &AdapterSelector,
        health: Arc<Health>,
    ) -> Self {
        let info = adapter.get_info();
        let features = device.features();
        let limits = device.limits();
        let caps = Capabilities {
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroup: features.contains(wgpu::Features::SUBGROUP),
            immediates: features.contains(wgpu::Features::IMMEDIATES),
        };
        let tuning = Tuning::choose(
            AdapterFacts {
                info: &info,
                subgroup: caps.subgroup,
                immediates: caps.immediates,
                max_immediate_size: limits.max_immediate_size,
            },
            sel,
        );
        Self {
            inner: Arc::new(Inner {
                limits,
                tuning,
                instance,
                adapter: adapter.clone(),
                device,
                queue,
                info,
                caps,
                pipelines: PipelineCache::default(),
                created: AtomicU64::new(0),
                health,
            }),
        }
    }

    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }
    /// The device's queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }
    /// The chosen adapter.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.inner.adapter
    }
    /// The instance the adapter came from; `None` for an app's device
    /// ([`Gpu::from_wgpu`]).
    pub fn instance(&self) -> Option<&wgpu::Instance> {
        self.inner.instance.as_ref()
    }
    /// The adapter's name, backend, driver and device type.
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }
    /// The optional features the device was created with.
    pub fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }
    /// The limits the device was created with (and enforces).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }
    /// The kernel variants and launch shapes chosen for this device.
    pub fn tuning(&self) -> &Tuning {
        &self.inner.tuning
    }

    /// One line describing the adapter.
    pub fn describe(&self) -> String {
        describe_adapter(&self.inner.info)
    }

    /// Buffers, bind groups, textures and query sets the crate has made on
    /// this device so far: a steady-state call (a reused plan, a stream
    /// step) leaves it unchanged.
    pub fn resources_created(&self) -> u64 {
        self.inner.created.load(Ordering::Relaxed)
    }

    /// Counts one resource made for [`Gpu::resources_created`].
    fn count(&self) {
        self.inner.created.fetch_add(1, Ordering::Relaxed);
    }

    /// `device.create_buffer`, counted.
    pub(crate) fn create_buffer(&self, desc: &wgpu::BufferDescriptor<'_>) -> wgpu::Buffer {
        self.count();
        self.inner.device.create_buffer(desc)
    }

    /// `device.create_buffer_init`, counted.
    pub(crate) fn create_buffer_init(
        &self,
        desc: &wgpu::util::BufferInitDescriptor<'_>,
    ) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.count();
        self.inner.device.create_buffer_init(desc)
    }

    /// `device.create_bind_group`, counted.
    pub(crate) fn create_bind_group(
        &self,
        desc: &wgpu::BindGroupDescriptor<'_>,
    ) -> wgpu::BindGroup {
        self.count();
        self.inner.device.create_bind_group(desc)
    }

    /// `device.create_texture`, counted.
    pub(crate) fn create_texture(&self, desc: &wgpu::TextureDescriptor<'_>) -> wgpu::Texture {
        self.count();
        self.inner.device.create_texture(desc)
    }

    /// `device.create_query_set`, counted.
    pub(crate) fn create_query_set(&self, desc: &wgpu::QuerySetDescriptor<'_>) -> wgpu::QuerySet {
        self.count();
        self.inner.device.create_query_set(desc)
    }

    /// Every module compiled on this device so far.
    #[cfg(test)]
    pub(crate) fn compiled_modules(&self) -> Vec<pipelines::CompiledModule> {
        let modules = self.inner.pipelines.modules.lock();
        modules.unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of pipelines compiled so far (each key compiles once).
    pub fn pipelines_compiled(&self) -> usize {
        self.inner.pipelines.compiled()
    }

    /// The pipeline of `spec` with these constants (override constants and
    /// the pseudo-constants of [`pipelines::ModuleOptions`]), compiled on
    /// first use.
    pub(crate) fn pipeline(
        &self,
        spec: &KernelSpec,
        constants: &[(&'static str, f64)],
    ) -> Result<Arc<CachedPipeline>> {
        self.check_alive()?;
        self.inner
            .pipelines
            .get(&self.inner.device, spec, constants, |options| {
                // Caught here, by name, rather than as a validation error
                // when the layout is made (an app's device may have less).
                let storage = spec
                    .bindings()
                    .iter()
                    .filter(|(_, kind)| kind.is_storage_buffer())
                    .count() as u64;
                let limit = self.limits().max_storage_buffers_per_shader_stage;
                if storage > u64::from(limit) {
                    return Err(Error::OverLimit {
                        what: format!("storage buffers of the kernel {}", spec.label),
                        requested: storage,
                        limit_name: "max_storage_buffers_per_shader_stage",
                        limit: u64::from(limit),
                    });
                }
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
                Ok(())
            })
    }

    /// Runs `f` (which records and submits work) inside validation and
    /// out-of-memory error scopes, turning any wgpu error into [`Error::Wgpu`].
    /// Never waits: native wgpu reports a scope's errors at once; where the
    /// report would take a wait (WebGPU), it goes to the device's
    /// uncaptured-error handler instead.
    pub(crate) fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check_alive()?;
        let device = &self.inner.device;
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            ready(validation.pop()).flatten(),
            ready(oom.pop()).flatten(),
        ];
        self.check_lost()?;
        match errors.into_iter().flatten().next() {
            None => Ok(out),
            Some(e) => Err(Error::Wgpu {
                during: during.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// [`Error::DeviceLost`] once our device is lost; an error that wgpu
    /// reported outside any error scope since the last check, as
    /// [`Error::Wgpu`].
    pub(crate) fn check_alive(&self) -> Result<()> {
        self.check_lost()?;
        let health = &self.inner.health;
        let uncaptured = health
            .uncaptured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match uncaptured {
            Some(message) => Err(Error::Wgpu {
                during: "an earlier operation (reported outside any error scope)".into(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// [`Error::DeviceLost`] once our device is lost (leaves errors reported
    /// outside any scope for the next [`Gpu::check_alive`]: they belong to
    /// earlier work, not to what was just done).
    pub(crate) fn check_lost(&self) -> Result<()> {
        let health = &self.inner.health;
        match health
            .lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            Some(reason) => Err(Error::DeviceLost { reason }),
            None => Ok(()),
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

    /// Checks that a module of `config` fits this device's limits, from the
    /// configuration alone: its largest weight matrices (`weight_ih`,
    /// `weight_hh`, their kernel layouts, `weight_hr`) must each fit one
    /// storage binding. [`crate::RnnStack::new`] calls it before copying or
    /// uploading a weight; a loader can call it as soon as it knows the
    /// sizes.
    pub fn check_config(&self, config: &crate::config::StackConfig) -> Result<()> {
        let f32s = |what: String, dims: &[usize]| -> Result<()> {
            let bytes = dims
                .iter()
                .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64))
                .unwrap_or(u64::MAX);
            self.check_storage_binding(&what, bytes)
        };
        for l in 0..config.num_layers {
            let layer = config.layer_config(l);
            let (rows, h, ho) = (layer.gate_rows(), layer.hidden_size, layer.output_size());
            let at = |name: &str| format!("{name} of layer {l} [{rows} x ..]");
            f32s(at("weight_ih"), &[rows, layer.input_size])?;
            f32s(at("weight_hh"), &[rows, ho])?;
            if layer.proj_size.is_some() {
                f32s(format!("weight_hr of layer {l} [{ho} x {h}]"), &[ho, h])?;
            }
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

/// The output of `future` if it is complete without waiting, else `None`:
/// polled once, never blocking the thread.
pub(crate) fn ready<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => Some(value),
        std::task::Poll::Pending => None,
    }
}
