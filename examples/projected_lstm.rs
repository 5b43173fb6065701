//! Inference and training time of a projected LSTM (B=16, T=64, I=256,
//! H=256, proj_size 128), min of 5 runs (the first compiles): the
//! measurement behind BENCHMARKS.md's "Projection kernels on CPU adapters".
//!
//!     cargo run --release --example projected_lstm

use std::time::Instant;

use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};

fn main() -> wgpu_rnn::Result<()> {
    let gpu = Gpu::new()?;
    let (b, t, i, h) = (16, 64, 256, 256);
    let c = RnnConfig::new(CellKind::Lstm, i, h)?.with_projection(128)?;
    let stack = RnnStack::new(&gpu, &StackWeights::random(StackConfig::new(c), 1, 1.0)?)?;
    let x = GpuTensor::from_slice(&gpu, "x", &vec![0.3; t * b * i], &[t, b, i])?;
    let g = GpuTensor::from_slice(
        &gpu,
        "g",
        &vec![0.1; t * b * c.output_size()],
        &[t, b, c.output_size()],
    )?;
    let grads = StackGrads::zeros(&stack)?;
    let (mut fwd, mut train) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let s = Instant::now();
        let o = stack.forward(&x, None, None, None)?;
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        drop(o);
        fwd = fwd.min(s.elapsed().as_secs_f64() * 1e3);
        let s = Instant::now();
        let (o, tape) = stack.forward_train(&x, None, None, None, TrainOptions::default())?;
        stack.backward(
            &tape,
            Seeds {
                output: Some(&g),
                ..Default::default()
            },
            &grads,
            GradMode::Overwrite,
        )?;
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        drop(o);
        train = train.min(s.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "lstm B={b} T={t} I={i} H={h} proj 128: infer {fwd:.1} ms, train {train:.1} ms (min of 5)"
    );
    Ok(())
}
