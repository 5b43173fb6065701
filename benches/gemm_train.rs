//! Criterion: the GEMM (the kernel `gemm()` picks for this adapter) on the
//! input projection of the throughput issue's M configuration, and one
//! training step (forward with tape, backward, Adam) per cell. Each is
//! checked first: the GEMM against an f64 product, the training step by a
//! finite loss. GPU work is waited for inside every iteration.
//!
//!     cargo bench --bench gemm_train

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wgpu_rnn::train::mse_loss;
use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::train::{Linear, LinearGrads};
use wgpu_rnn::train::{Optimizer, OptimizerConfig};
use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};

fn values(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 + salt) % 101) as f32 / 50.0 - 1.0)
        .collect()
}

fn gemm(c: &mut Criterion) {
    let gpu = Gpu::new().expect("benchmarks need a wgpu adapter");
    // M's input projection: [T*B, I] x [4H, I]^T.
    let (m, n, k) = (1024, 1024, 256);
    let (a, b) = (values(m * k, 1), values(n * k, 2));
    let bias = vec![0.0; n];
    // The product as a Linear layer runs it: x [M, K] times W [N, K]^T.
    let linear = Linear::new(&gpu, (k, n), &b, &bias).unwrap();
    let x = GpuTensor::from_slice(&gpu, "a", &a, &[m, k]).unwrap();
    let got = linear.forward(&x).unwrap().to_vec().unwrap();
    for (r, col) in [(0, 0), (m / 2, n / 3), (m - 1, n - 1)] {
        let want: f64 = (0..k)
            .map(|i| f64::from(a[r * k + i]) * f64::from(b[col * k + i]))
            .sum();
        let err = (want - f64::from(got[r * n + col])).abs();
        assert!(err < 1e-4 * (k as f64), "not timing a wrong GEMM: {err}");
    }
    let mut group = c.benchmark_group("gemm");
    group.throughput(Throughput::Elements((2 * m * n * k) as u64));
    group.sample_size(10);
    group.bench_function("1024x1024x256", |bench| {
        bench.iter(|| linear.forward(&x).unwrap().to_vec().unwrap())
    });
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let gpu = Gpu::new().expect("benchmarks need a wgpu adapter");
    let (seq, batch, input, hidden) = (32, 8, 16, 32);
    let mut group = c.benchmark_group("train_step");
    group.throughput(Throughput::Elements((seq * batch) as u64));
    group.sample_size(10);
    for cell in CellKind::ALL {
        let config = StackConfig::new(RnnConfig::new(cell, input, hidden).unwrap());
        let rnn = RnnStack::new(&gpu, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
        let head = Linear::random(&gpu, (hidden, 1), 1).unwrap();
        let (grads, head_grads) = (
            StackGrads::zeros(&rnn).unwrap(),
            LinearGrads::zeros(&head).unwrap(),
        );
        let mut adam = Optimizer::new(&gpu, OptimizerConfig::adam(1e-3)).unwrap();
        adam.add_stack(&rnn, &grads).unwrap();
        adam.add_linear(&head, &head_grads).unwrap();
        let x = GpuTensor::from_slice(
            &gpu,
            "x",
            &values(seq * batch * input, 3),
            &[seq, batch, input],
        )
        .unwrap();
        let target =
            GpuTensor::from_slice(&gpu, "target", &values(batch, 4), &[1, batch, 1]).unwrap();
        let mut step = || {
            let (out, tape) = rnn
                .forward_train(&x, None, None, None, TrainOptions::default())
                .unwrap();
            let loss = mse_loss(&head.forward(&out.h_n).unwrap(), &target).unwrap();
            let dh = head
                .backward(&out.h_n, &loss.grad, &head_grads, GradMode::Overwrite)
                .unwrap();
            let seeds = Seeds {
                h_n: Some(&dh),
                ..Default::default()
            };
            rnn.backward(&tape, seeds, &grads, GradMode::Overwrite)
                .unwrap();
            adam.step().unwrap();
            loss
        };
        let first = step().value_host().unwrap();
        assert!(first.is_finite(), "{}: loss {first}", cell.name());
        group.bench_function(cell.name(), |bench| {
            bench.iter(|| {
                step();
                gpu.device()
                    .poll(wgpu::PollType::wait_indefinitely())
                    .unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gemm, train_step);
criterion_main!(benches);
