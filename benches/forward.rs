//! Criterion: one forward pass over a whole sequence per cell, and one time
//! step per cell (the step kernel: a sequence of length 1 with one input
//! feature, so the input projection is negligible), GPU work waited for.
//! Each layer is validated against the f64 reference before it is timed.
//! Where the adapter has timestamp queries, each is also timed on the GPU
//! (`CELL/gpu`: the sum of the kernel families' timestamped passes of
//! `forward_profiled`, without the host's recording and submitting).
//! Sized for lavapipe (a few GFLOP/s); `wgpu-rnn bench` takes any size.
//!
//!     cargo bench --bench forward

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use wgpu_rnn::reference::check::{compare, Tolerance};

use wgpu_rnn::{
    reference, CellKind, Gpu, GpuTensor, Rnn, RnnConfig, RnnStack, RnnWeights, StackConfig,
    StackWeights,
};

fn forward(c: &mut Criterion) {
    let gpu = Gpu::new().expect("benchmarks need a wgpu adapter");
    let (seq, batch, input_size, hidden) = (32, 8, 64, 64);
    let x: Vec<f32> = (0..seq * batch * input_size)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let input = GpuTensor::from_slice(&gpu, "input", &x, &[seq, batch, input_size]).unwrap();
    let mut group = c.benchmark_group("forward");
    group.throughput(Throughput::Elements((seq * batch) as u64));
    for cell in CellKind::ALL {
        let config = RnnConfig::new(cell, input_size, hidden).unwrap();
        let weights = RnnWeights::random(config, 1, 1.0).unwrap();
        bench_forward(&mut group, &gpu, &weights, (&x, &input), (seq, batch));
    }
    group.finish();
}

/// Validates `layer` on `input` against the reference, then times its
/// forward (GPU work waited for) as `group/name`.
fn bench_forward(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    gpu: &Gpu,
    weights: &RnnWeights,
    (x, input): (&[f32], &GpuTensor),
    (seq, batch): (usize, usize),
) {
    let config = *weights.config();
    let layer = Rnn::new(gpu, weights).unwrap();
    let got = layer
        .forward(input, None, None)
        .unwrap()
        .output
        .to_vec()
        .unwrap();
    let truth = reference::forward(weights, x, seq, batch, None, None).unwrap();
    let tol = Tolerance::recurrent(
        config.input_size + config.hidden_size,
        seq,
        truth.preactivation_scale,
    );
    let name = config.cell.name();
    compare(
        name,
        &truth.output,
        &got,
        &[seq, batch, config.hidden_size],
        tol,
    )
    .unwrap_or_else(|m| panic!("not timing a wrong kernel: {m}"));
    group.bench_function(name, |b| {
        b.iter(|| {
            let out = layer.forward(input, None, None).unwrap();
            gpu.device()
                .poll(wgpu::PollType::wait_indefinitely())
                .unwrap();
            out
        })
    });
    if gpu.capabilities().timestamp_query {
        let stack = RnnStack::new(
            gpu,
            &StackWeights::new(StackConfig::new(config), vec![weights.clone()]).unwrap(),
        )
        .unwrap();
        group.bench_function(format!("{name}/gpu"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (_, profile) = stack.forward_profiled(input, None, None, None).unwrap();
                        Duration::from_secs_f64(profile.total())
                    })
                    .sum()
            })
        });
    }
}

/// One step at B=16, H=256 per cell; "Gelem/s" counts the step's FLOPs
/// (2 * G * H * H * B, the recurrent product).
fn one_step(c: &mut Criterion) {
    let gpu = Gpu::new().expect("benchmarks need a wgpu adapter");
    let (batch, hidden) = (16, 256);
    let x: Vec<f32> = (0..batch).map(|i| (i as f32 / 8.0) - 1.0).collect();
    let input = GpuTensor::from_slice(&gpu, "input", &x, &[1, batch, 1]).unwrap();
    let mut group = c.benchmark_group("step");
    for cell in CellKind::ALL {
        let config = RnnConfig::new(cell, 1, hidden).unwrap();
        let flops = 2 * config.gate_rows() * hidden * batch;
        group.throughput(Throughput::Elements(flops as u64));
        let weights = RnnWeights::random(config, 2, 1.0).unwrap();
        bench_forward(&mut group, &gpu, &weights, (&x, &input), (1, batch));
    }
    group.finish();
}

criterion_group!(benches, forward, one_step);
criterion_main!(benches);
