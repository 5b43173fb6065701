//! Per-kernel-family GPU times from timestamp queries (`bench --profile`).
//! A profiled forward or backward records each family's dispatches in passes
//! of their own, with a timestamp at the start and end of each pass.

use crate::error::{Error, Result};
use crate::gpu::tensor::read_mapped;
use crate::gpu::Gpu;

/// Seconds of GPU time per kernel family, in the order first recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KernelProfile {
    /// `(family, seconds)` pairs.
    pub families: Vec<(&'static str, f64)>,
}

impl KernelProfile {
    /// Seconds over every family.
    pub fn total(&self) -> f64 {
        self.families.iter().map(|(_, s)| s).sum()
    }

    /// Adds `seconds` to `family`, appending it if new.
    pub fn add(&mut self, family: &'static str, seconds: f64) {
        match self.families.iter_mut().find(|(f, _)| *f == family) {
            Some((_, s)) => *s += seconds,
            None => self.families.push((family, seconds)),
        }
    }

    /// This profile followed by `other` (a training step: the forward's
    /// families, then the backward's).
    pub fn then(mut self, other: &KernelProfile) -> KernelProfile {
        for &(family, seconds) in &other.families {
            self.add(family, seconds);
        }
        self
    }
}

/// Hands out timestamp slots to compute passes.
pub(crate) struct PassTimer {
    set: wgpu::QuerySet,
    labels: Vec<&'static str>,
    capacity: u32,
}

impl PassTimer {
    /// Room for `passes` timed passes.
    pub fn new(gpu: &Gpu, passes: usize) -> Result<Self> {
        if !gpu.capabilities().timestamp_query {
            return Err(Error::config(
                "profile",
                format!("{} has no TIMESTAMP_QUERY feature", gpu.describe()),
            ));
        }
        let count = (2 * passes) as u64;
        if count > u64::from(wgpu::QUERY_SET_MAX_QUERIES) {
            return Err(Error::OverLimit {
                what: "timestamp queries of a profiled pass".into(),
                requested: count,
                limit_name: "QUERY_SET_MAX_QUERIES",
                limit: u64::from(wgpu::QUERY_SET_MAX_QUERIES),
            });
        }
        let set = gpu.device().create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("pass timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: count as u32,
        });
        Ok(Self {
            set,
            labels: Vec::new(),
            capacity: count as u32,
        })
    }

    /// Timestamp writes for the next pass, attributed to `family`.
    pub fn writes(&mut self, family: &'static str) -> wgpu::ComputePassTimestampWrites<'_> {
        let i = 2 * self.labels.len() as u32;
        assert!(i + 1 < self.capacity, "PassTimer sized for fewer passes");
        self.labels.push(family);
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(i),
            end_of_pass_write_index: Some(i + 1),
        }
    }

    /// Records the copy of the timestamps into a buffer that
    /// [`PassTimer::read`] maps after the submit.
    pub fn resolve(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder) -> wgpu::Buffer {
        let n = 2 * self.labels.len() as u32;
        let bytes = u64::from(n.max(1)) * 8;
        let resolved = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readable = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if n > 0 {
            encoder.resolve_query_set(&self.set, 0..n, &resolved, 0);
            encoder.copy_buffer_to_buffer(&resolved, 0, &readable, 0, bytes);
        }
        readable
    }

    /// Reads the timestamps back and sums each family's pass durations.
    pub fn read(&self, gpu: &Gpu, readable: &wgpu::Buffer) -> Result<KernelProfile> {
        let bytes = pollster::block_on(read_mapped(gpu, readable, "timestamps"))?;
        let ticks: &[u64] = bytemuck::cast_slice(&bytes);
        let period_ns = f64::from(gpu.queue().get_timestamp_period());
        let mut profile = KernelProfile::default();
        for (i, family) in self.labels.iter().enumerate() {
            let seconds = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period_ns * 1e-9;
            profile.add(family, seconds);
        }
        Ok(profile)
    }
}

/// Records one command encoder with `record` (given a [`PassTimer`] with
/// room for `passes` timed passes when that is `Some`), submits it with
/// `during` naming any device error, and reads the timestamps back.
pub(crate) fn submit_timed(
    gpu: &Gpu,
    during: &'static str,
    passes: Option<usize>,
    record: impl FnOnce(&mut wgpu::CommandEncoder, Option<&mut PassTimer>),
) -> Result<Option<KernelProfile>> {
    let mut timer = passes.map(|n| PassTimer::new(gpu, n)).transpose()?;
    let readable = gpu.scoped(during, || {
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(during),
            });
        record(&mut encoder, timer.as_mut());
        let readable = timer.as_ref().map(|t| t.resolve(gpu, &mut encoder));
        gpu.queue().submit([encoder.finish()]);
        readable
    })?;
    match (&timer, readable) {
        (Some(timer), Some(buffer)) => Ok(Some(timer.read(gpu, &buffer)?)),
        _ => Ok(None),
    }
}
