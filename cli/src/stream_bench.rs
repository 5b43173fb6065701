//! `wgpu-rnn bench --mode stream`: the latency of one real-time step, after
//! checking a stream against the reference. Four measurements per step, in
//! one run: (a) `Stream::step_host` (input written, one submit, wait, the
//! new `h` read back); (b) `Stream::steps_host` of 8 frames, per step; (c)
//! the workaround before streams (`forward` of T=1 with `h_n` fed back and
//! read back, new output tensors each call); (d) the adapter's floor for a
//! real-time step: one input write, one trivial dispatch, submit, wait and
//! a read-back of `h`'s size.

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use wgpu_rnn::reference;
use wgpu_rnn::wgpu;
use wgpu_rnn::{CellKind, Error, Gpu, GpuTensor, Result};
use wgpu_rnn::{RnnConfig, RnnStack, StackConfig, StackWeights};

/// One stream benchmark.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    pub cell: CellKind,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub layers: usize,
    /// Timed steps per measurement (after `warmup` untimed ones).
    pub steps: usize,
    pub warmup: usize,
}

/// Frames per call of the chunked measurement (b).
pub const CHUNK: usize = 8;

/// Seconds per step: median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_s: f64,
    pub p99_s: f64,
}

/// What a stream benchmark measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamResult {
    /// (a) one step, waited for and read back.
    pub step: Latency,
    /// (b) per step of `CHUNK`-step calls.
    pub chunk: Latency,
    /// (c) `forward` of T=1 with `h_n` fed back.
    pub workaround: Latency,
    /// (d) write, one trivial dispatch, submit, wait, read back.
    pub floor: Latency,
    /// GPU time of one step's kernels (timestamp queries around a T=1
    /// forward's passes), median; `None` without `TIMESTAMP_QUERY`.
    pub kernels_s: Option<f64>,
    /// Worst |stream - reference| over the validated steps.
    pub max_abs_err: f64,
}

/// Steps checked against the f64 reference before timing.
const VALIDATED_STEPS: usize = 16;

fn latency(mut samples: Vec<f64>) -> Latency {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Latency {
        median_s: at(0.5),
        p99_s: at(0.99),
    }
}

/// Times `f` once per step: `warmup` untimed calls, then `steps` timed.
fn per_call(steps: usize, warmup: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut samples = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed().as_secs_f64());
    }
    Ok(samples)
}

pub fn run(gpu: &Gpu, cfg: &StreamConfig) -> Result<StreamResult> {
    if cfg.batch == 0 || cfg.steps == 0 || cfg.input == 0 || cfg.hidden == 0 {
        return Err(Error::ZeroSize {
            what: "stream bench batch, steps, input and hidden".into(),
        });
    }
    let config =
        StackConfig::new(RnnConfig::new(cfg.cell, cfg.input, cfg.hidden)?).with_layers(cfg.layers);
    let weights = StackWeights::random(config, 42, 1.0)?;
    let stack = RnnStack::new(gpu, &weights)?;
    let frame = cfg.batch * cfg.input;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut next_frame =
        move || -> Vec<f32> { (0..frame).map(|_| rng.random_range(-1.0..=1.0)).collect() };

    // Validate: a stream of VALIDATED_STEPS single steps against the
    // reference over the whole sequence.
    let frames: Vec<Vec<f32>> = (0..VALIDATED_STEPS).map(|_| next_frame()).collect();
    let mut stream = stack.stream(cfg.batch)?;
    let mut got = Vec::new();
    for f in &frames {
        got.extend(stream.step_host(f)?);
    }
    let x: Vec<f32> = frames.concat();
    let truth =
        reference::forward_stack(&weights, &x, VALIDATED_STEPS, cfg.batch, None, None, None)?;
    let max_abs_err = truth
        .output
        .iter()
        .zip(&got)
        .map(|(r, g)| (r - f64::from(*g)).abs())
        .fold(0.0, f64::max);

    let x_t = next_frame();
    let chunk: Vec<f32> = (0..CHUNK).flat_map(|_| next_frame()).collect();

    // (a) one step, waited for and read back.
    let mut stream = stack.stream(cfg.batch)?;
    let step = per_call(cfg.steps, cfg.warmup, || stream.step_host(&x_t).map(drop))?;
    // (b) CHUNK steps per call.
    let calls = cfg.steps.div_ceil(CHUNK);
    let chunk_samples = per_call(calls, cfg.warmup.div_ceil(CHUNK), || {
        stream.steps_host(&chunk).map(drop)
    })?;
    let chunk = latency(chunk_samples.iter().map(|s| s / CHUNK as f64).collect());
    // (c) the workaround: a forward of T=1 from the last h_n / c_n.
    let input = GpuTensor::from_slice(gpu, "x_t", &x_t, &[1, cfg.batch, cfg.input])?;
    let mut state = stack.forward(&input, None, None, None)?;
    let workaround = per_call(cfg.steps, cfg.warmup, || {
        input.write(&x_t)?;
        state = stack.forward(&input, Some(&state.h_n), state.c_n.as_ref(), None)?;
        state.h_n.to_vec().map(drop)
    })?;
    // (d) the floor.
    let floor = Floor::new(gpu, frame, cfg.batch * config.output_size())?;
    let floor = per_call(cfg.steps, cfg.warmup, || floor.step(gpu, &x_t))?;
    // The step kernels' own GPU time: a T=1 forward, profiled.
    let kernels_s = if gpu.capabilities().timestamp_query {
        let mut samples = Vec::new();
        for _ in 0..cfg.warmup + 50 {
            let (_, profile) = stack.forward_profiled(&input, None, None, None)?;
            samples.push(profile.total());
        }
        Some(latency(samples[cfg.warmup..].to_vec()).median_s)
    } else {
        None
    };
    Ok(StreamResult {
        step: latency(step),
        chunk,
        workaround: latency(workaround),
        floor: latency(floor),
        kernels_s,
        max_abs_err,
    })
}

/// The least a real-time step can cost on this adapter: the input written,
/// one dispatch that reads it and writes `h`'s size, one submit, a wait and
/// the read-back.
struct Floor {
    input: wgpu::Buffer,
    output: wgpu::Buffer,
    readable: wgpu::Buffer,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: u32,
}

const FLOOR_WGSL: &str = "
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&h) {
        h[id.x] = x[id.x % arrayLength(&x)];
    }
}
";

impl Floor {
    fn new(gpu: &Gpu, input: usize, output: usize) -> Result<Self> {
        let device = gpu.device();
        let storage = |label, n: usize, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (n * 4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let input = storage("floor x", input, wgpu::BufferUsages::STORAGE | copy);
        let out = storage("floor h", output, wgpu::BufferUsages::STORAGE | copy);
        let readable = storage(
            "floor read-back",
            output,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("floor"),
            source: wgpu::ShaderSource::Wgsl(FLOOR_WGSL.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("floor"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("floor"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: input.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: out.as_entire_binding(),
                },
            ],
        });
        Ok(Self {
            input,
            output: out,
            readable,
            pipeline,
            bind_group,
            groups: (output as u32).div_ceil(64),
        })
    }

    fn step(&self, gpu: &Gpu, x: &[f32]) -> Result<()> {
        gpu.queue()
            .write_buffer(&self.input, 0, bytemuck::cast_slice(x));
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.dispatch_workgroups(self.groups, 1, 1);
        }
        encoder.copy_buffer_to_buffer(&self.output, 0, &self.readable, 0, self.output.size());
        gpu.queue().submit([encoder.finish()]);
        let slice = self.readable.slice(..);
        let (sender, receiver) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        let failed = |e: String| Error::Readback {
            what: "floor read-back".into(),
            reason: e,
        };
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| failed(e.to_string()))?;
        receiver
            .recv()
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))?;
        let _h: Vec<f32> = bytemuck::cast_slice(
            &slice
                .get_mapped_range()
                .map_err(|e| failed(e.to_string()))?,
        )
        .to_vec();
        self.readable.unmap();
        Ok(())
    }
}
