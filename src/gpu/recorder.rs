//! How every pass reaches the device: a [`Recorder`] takes its dispatches,
//! each attributed to a kernel family, into one command encoder. Plain, runs
//! of dispatches share one compute pass; timed (`bench --profile`), each run
//! of one family is a pass of its own with a timestamp at its start and end,
//! and [`submit_profiled`] sums them per family ([`KernelProfile`]). The
//! dispatches and their order are the same either way.

use crate::error::{Error, Result};
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

/// Hands out timestamp slots to compute passes: room for as many as one
/// query set holds; past that, passes go untimed and the submit is refused.
pub(crate) struct PassTimer {
    set: wgpu::QuerySet,
    labels: Vec<&'static str>,
    /// Timed passes asked for past the query set's capacity.
    overflow: usize,
}

impl PassTimer {
    /// Pairs of queries one query set holds.
    const CAPACITY: u32 = wgpu::QUERY_SET_MAX_QUERIES / 2;

    fn new(gpu: &Gpu) -> Result<Self> {
        if cfg!(target_arch = "wasm32") {
            // Reading the timestamps back would wait on the calling thread.
            return Err(Error::config(
                "profile",
                "profiles are read back with a blocking wait: not available on wasm32",
            ));
        }
        if !gpu.capabilities().timestamp_query {
            return Err(Error::config(
                "profile",
                format!("{} has no TIMESTAMP_QUERY feature", gpu.describe()),
            ));
        }
        let set = gpu.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("pass timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * Self::CAPACITY,
        });
        Ok(Self {
            set,
            labels: Vec::new(),
            overflow: 0,
        })
    }

    /// Timestamp writes for the next pass, attributed to `family`; `None`
    /// once the query set is full.
    fn writes(&mut self, family: &'static str) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.labels.len() as u32 >= Self::CAPACITY {
            self.overflow += 1;
            return None;
        }
        let i = 2 * self.labels.len() as u32;
        self.labels.push(family);
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(i),
            end_of_pass_write_index: Some(i + 1),
        })
    }

    /// Refuses a recording that timed more passes than the set holds.
    fn check(&self) -> Result<()> {
        if self.overflow == 0 {
            return Ok(());
        }
        Err(Error::OverLimit {
            what: "timestamp queries of a profiled pass".into(),
            requested: 2 * (self.labels.len() + self.overflow) as u64,
            limit_name: "QUERY_SET_MAX_QUERIES",
            limit: u64::from(wgpu::QUERY_SET_MAX_QUERIES),
        })
    }

    /// Records the copy of the timestamps into a buffer that
    /// [`PassTimer::read`] maps after the submit.
    fn resolve(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder) -> wgpu::Buffer {
        let n = 2 * self.labels.len() as u32;
        let bytes = u64::from(n.max(1)) * 8;
        let resolved = gpu.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readable = gpu.create_buffer(&wgpu::BufferDescriptor {
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
    #[cfg(not(target_arch = "wasm32"))]
    fn read(&self, gpu: &Gpu, readable: &wgpu::Buffer) -> Result<KernelProfile> {
        let bytes =
            pollster::block_on(crate::gpu::tensor::read_mapped(gpu, readable, "timestamps"))?;
        let ticks: &[u64] = bytemuck::cast_slice(&bytes);
        let period_ns = f64::from(gpu.queue().get_timestamp_period());
        let mut profile = KernelProfile::default();
        for (i, family) in self.labels.iter().enumerate() {
            let seconds = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period_ns * 1e-9;
            profile.add(family, seconds);
        }
        Ok(profile)
    }

    /// No timer is made on wasm32 ([`PassTimer::new`] refuses), so there is
    /// nothing to read; this keeps the blocking wait off that target.
    #[cfg(target_arch = "wasm32")]
    fn read(&self, _gpu: &Gpu, _readable: &wgpu::Buffer) -> Result<KernelProfile> {
        Err(Error::config("profile", "not available on wasm32"))
    }
}

/// Takes a pass's dispatches into a command encoder (see the module docs).
pub(crate) struct Recorder<'e> {
    encoder: &'e mut wgpu::CommandEncoder,
    timer: Option<PassTimer>,
    /// The compute pass being recorded and the family it was opened for.
    /// It does not borrow the encoder (`forget_lifetime`); it is ended
    /// before the encoder is used again.
    open: Option<(&'static str, wgpu::ComputePass<'static>)>,
}

impl<'e> Recorder<'e> {
    fn new(encoder: &'e mut wgpu::CommandEncoder, timer: Option<PassTimer>) -> Self {
        Self {
            encoder,
            timer,
            open: None,
        }
    }

    /// Records what `f` dispatches, attributed to `family`: into the open
    /// compute pass where it may go on (plain; timed, the same family),
    /// else into a new one.
    pub fn run(&mut self, family: &'static str, f: impl FnOnce(&mut wgpu::ComputePass<'static>)) {
        let go_on = match &self.open {
            Some((open, _)) => self.timer.is_none() || *open == family,
            None => false,
        };
        if !go_on {
            self.open = None;
            let timed = self.timer.is_some();
            let timestamp_writes = self.timer.as_mut().and_then(|t| t.writes(family));
            let pass = self
                .encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(if timed { family } else { "wgpu-rnn" }),
                    timestamp_writes,
                })
                .forget_lifetime();
            self.open = Some((family, pass));
        }
        if let Some((_, pass)) = self.open.as_mut() {
            f(pass);
        }
    }

    /// The encoder, for copies and clears between dispatches (ends the open
    /// compute pass).
    pub fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.open = None;
        self.encoder
    }

    /// Ends the open pass and gives the timer back.
    fn finish(mut self) -> Option<PassTimer> {
        self.open = None;
        self.timer.take()
    }
}

/// Records one command encoder with `record`, timed when `timer` is given,
/// and submits it (`during` names any device error); reads the timestamps
/// back.
fn submit_with(
    gpu: &Gpu,
    during: &'static str,
    timer: Option<PassTimer>,
    record: impl FnOnce(&mut Recorder<'_>),
) -> Result<Option<KernelProfile>> {
    let finished = gpu.scoped(during, || -> Result<Option<(PassTimer, wgpu::Buffer)>> {
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(during),
            });
        let mut recorder = Recorder::new(&mut encoder, timer);
        record(&mut recorder);
        let timer = recorder.finish();
        let readable = match timer {
            Some(timer) => {
                timer.check()?;
                let readable = timer.resolve(gpu, &mut encoder);
                Some((timer, readable))
            }
            None => None,
        };
        gpu.queue().submit([encoder.finish()]);
        Ok(readable)
    })??;
    finished
        .map(|(timer, readable)| timer.read(gpu, &readable))
        .transpose()
}

/// Records `record` into one encoder and submits it.
pub(crate) fn submit(
    gpu: &Gpu,
    during: &'static str,
    record: impl FnOnce(&mut Recorder<'_>),
) -> Result<()> {
    submit_with(gpu, during, None, record).map(|_| ())
}

/// [`submit`] with each run of a kernel family timed; waits for the GPU to
/// read the timestamps back. Needs the `TIMESTAMP_QUERY` feature.
pub(crate) fn submit_profiled(
    gpu: &Gpu,
    during: &'static str,
    record: impl FnOnce(&mut Recorder<'_>),
) -> Result<KernelProfile> {
    let timer = PassTimer::new(gpu)?;
    let profile = submit_with(gpu, during, Some(timer), record)?;
    Ok(profile.unwrap_or_default())
}

/// How a convenience method submits what it records: [`Plain`] or
/// [`Profiled`]; one recording either way.
pub(crate) trait Submit {
    /// What the submit returns besides the pass's own results.
    type Out;
    /// Records `record` into one encoder and submits it.
    fn submit(
        self,
        gpu: &Gpu,
        during: &'static str,
        record: &dyn Fn(&mut Recorder<'_>),
    ) -> Result<Self::Out>;
}

/// [`submit`]: nothing comes back.
pub(crate) struct Plain;

/// Into a caller's encoder: no submit, no wait, no error scope (a device
/// error surfaces where the caller submits).
pub(crate) struct IntoEncoder<'e>(pub &'e mut wgpu::CommandEncoder);

/// [`submit_profiled`]: each kernel family's GPU time comes back.
pub(crate) struct Profiled;

impl Submit for Plain {
    type Out = ();
    fn submit(
        self,
        gpu: &Gpu,
        during: &'static str,
        record: &dyn Fn(&mut Recorder<'_>),
    ) -> Result<()> {
        submit(gpu, during, record)
    }
}

impl Submit for Profiled {
    type Out = KernelProfile;
    fn submit(
        self,
        gpu: &Gpu,
        during: &'static str,
        record: &dyn Fn(&mut Recorder<'_>),
    ) -> Result<KernelProfile> {
        submit_profiled(gpu, during, record)
    }
}

impl Submit for IntoEncoder<'_> {
    type Out = ();
    fn submit(
        self,
        gpu: &Gpu,
        _during: &'static str,
        record: &dyn Fn(&mut Recorder<'_>),
    ) -> Result<()> {
        gpu.check_alive()?;
        let mut recorder = Recorder::new(self.0, None);
        record(&mut recorder);
        recorder.finish();
        Ok(())
    }
}
