//! Criterion: one forward pass over a whole sequence per cell, GPU work waited
//! for. Each layer is validated against the f64 reference before it is timed.
//! Sized for lavapipe (a few GFLOP/s); `wgpu-rnn bench` takes any size.
//!
//!     cargo bench --bench forward

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wgpu_rnn::check::{compare, Tolerance};
use wgpu_rnn::{reference, CellKind, Gpu, GpuTensor, Rnn, RnnConfig, RnnWeights};

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
        let layer = Rnn::new(&gpu, &weights).unwrap();

        let got = layer
            .forward(&input, None, None)
            .unwrap()
            .output
            .to_vec()
            .unwrap();
        let truth = reference::forward(&weights, &x, seq, batch, None, None).unwrap();
        let tol = Tolerance::recurrent(input_size + hidden, seq, truth.preactivation_scale);
        compare(cell.name(), &truth.output, &got, &[seq, batch, hidden], tol)
            .unwrap_or_else(|m| panic!("not timing a wrong kernel: {m}"));

        group.bench_function(cell.name(), |b| {
            b.iter(|| {
                let out = layer.forward(&input, None, None).unwrap();
                gpu.device()
                    .poll(wgpu::PollType::wait_indefinitely())
                    .unwrap();
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
