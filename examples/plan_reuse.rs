//! What reusing a forward's buffers saves on the host: the time
//! `RnnStack::forward` takes to return (planning, recording, submitting;
//! the GPU work is waited for outside the timed span) when every call
//! reuses the previous call's plan (one stack, always the same input
//! tensor) against when every call plans afresh (a second stack of the same
//! weights, a new input tensor each time), alternated in one process. Numbers in BENCHMARKS.md ("Reusing a forward's buffers").
//!
//!     cargo run --release --example plan_reuse

use std::time::Instant;

use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};

fn main() -> wgpu_rnn::Result<()> {
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());
    println!("config (lstm B T I H L)      reused ms   fresh ms   (median host time of forward())");
    for (b, t, i, h, l) in [
        (1, 64, 64, 64, 1),
        (16, 64, 256, 256, 1),
        (16, 32, 256, 256, 2),
    ] {
        let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, i, h)?).with_layers(l);
        let weights = StackWeights::random(config, 1, 1.0)?;
        let (reusing, planning) = (
            RnnStack::new(&gpu, &weights)?,
            RnnStack::new(&gpu, &weights)?,
        );
        let data = vec![0.5f32; t * b * i];
        let shape = [t, b, i];
        let same = GpuTensor::from_slice(&gpu, "input", &data, &shape)?;
        let wait = || gpu.device().poll(wgpu::PollType::wait_indefinitely());
        let (mut reused, mut fresh) = (vec![], vec![]);
        for rep in 0..24 {
            let new_input = GpuTensor::from_slice(&gpu, "input", &data, &shape)?;
            wait().expect("poll");
            for (stack, input, times) in [
                (&reusing, &same, &mut reused),
                (&planning, &new_input, &mut fresh),
            ] {
                let start = Instant::now();
                let out = stack.forward(input, None, None, None)?;
                let elapsed = start.elapsed().as_secs_f64() * 1e3;
                wait().expect("poll");
                drop(out);
                // The first two calls of each kind plan (and compile).
                if rep >= 2 {
                    times.push(elapsed);
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "{:<28} {:>9.3} {:>10.3}",
            format!("{b} {t} {i} {h} {l}"),
            median(&mut reused),
            median(&mut fresh)
        );
    }
    Ok(())
}
